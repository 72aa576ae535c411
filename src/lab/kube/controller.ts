/**
 * The lab "controller manager + scheduler + kubelets" running inside the API server process. It
 * watches the store and, after a short simulated delay (latencyMs), brings workloads to their
 * spec: ReplicaSets and pods for Deployments, pods for StatefulSets/DaemonSets, node placement
 * and pod IPs, pods Running/Ready, graceful termination, namespace finalization, pod garbage
 * collection for deleted nodes, and Events. Status changes reach kubectl as MODIFIED watch events.
 */
import { randomBytes } from 'node:crypto';
import type { KubeApi } from './api.js';
import { defaultPodSpec } from './defaults.js';
import { clone, k8sTime, newUid, type KObject } from './object.js';
import { allocatePodCidr, allocatePodIp, namespaceNodeSelector, placePod } from './scheduler.js';
import type { KubeStore, StoreEvent } from './store.js';
import {
  controllerRef,
  syncBudgets,
  syncDaemonSet,
  syncDeployment,
  syncJob,
  syncReplicaSet,
  syncStatefulSet,
  type WorkloadContext,
} from './workloads.js';

export interface ControllerTiming {
  /** Delay before a controller observes a change / a pod starts (ms). */
  stepMs(): number;
  /** How long a deleted pod stays Terminating (ms). */
  terminateMs(): number;
}

type Kind = 'Deployment' | 'ReplicaSet' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'Budgets' | 'Namespace' | 'PodStart' | 'PodRemove' | 'Schedule';

const KEY_OF: Record<string, Kind> = {
  'deployments.apps': 'Deployment',
  'replicasets.apps': 'ReplicaSet',
  'statefulsets.apps': 'StatefulSet',
  'daemonsets.apps': 'DaemonSet',
  'jobs.batch': 'Job',
};

const OWNER_KIND: Record<string, Kind> = { ReplicaSet: 'ReplicaSet', StatefulSet: 'StatefulSet', DaemonSet: 'DaemonSet', Job: 'Job' };

export class LabController {
  private timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private unsubscribe?: () => void;
  private running = false;

  constructor(
    private readonly store: KubeStore,
    private readonly api: KubeApi,
    private readonly timing: ControllerTiming,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe = this.store.subscribe((e) => this.route(e));
    this.resyncAll();
  }

  stop(): void {
    this.running = false;
    this.unsubscribe?.();
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
  }

  /** Everything, as after a restart: state persisted by an earlier process continues where it was. */
  resyncAll(): void {
    for (const n of this.store.scan('nodes')) if (!n.spec?.podCIDR) this.assignPodCidr(n.metadata.name);
    for (const ns of this.store.scan('namespaces')) if (ns.metadata.deletionTimestamp) this.enqueue('Namespace', undefined, ns.metadata.name, this.timing.stepMs());
    for (const p of this.store.scan('pods')) this.podChanged(p);
    for (const [key, kind] of Object.entries(KEY_OF)) for (const o of this.store.scan(key)) this.enqueue(kind, o.metadata.namespace, o.metadata.name, 0);
    for (const ns of new Set(this.store.scan('poddisruptionbudgets.policy').map((p) => p.metadata.namespace!))) this.enqueue('Budgets', ns, '', 0);
  }

  /** Runs every controller to a steady state at once, without timers (seeding): pods start immediately. */
  settle(): void {
    const ctx = this.context();
    for (let i = 0; i < 50; i++) {
      const before = this.store.resourceVersion;
      for (const ns of this.store.scan('namespaces')) this.populateNamespace(ns.metadata.name);
      for (const n of this.store.scan('nodes')) if (!n.spec?.podCIDR) this.assignPodCidr(n.metadata.name);
      for (const d of this.store.scan('deployments.apps')) syncDeployment(ctx, d.metadata.namespace!, d.metadata.name, Date.now());
      for (const s of this.store.scan('statefulsets.apps')) syncStatefulSet(ctx, s.metadata.namespace!, s.metadata.name);
      for (const d of this.store.scan('daemonsets.apps')) syncDaemonSet(ctx, d.metadata.namespace!, d.metadata.name);
      for (const j of this.store.scan('jobs.batch')) syncJob(ctx, j.metadata.namespace!, j.metadata.name);
      this.schedulePending();
      for (const p of this.store.scan('pods')) {
        if (p.metadata.deletionTimestamp) this.store.remove('pods', p.metadata.namespace, p.metadata.name);
        else if (p.spec?.nodeName && p.status?.phase === 'Pending') this.startPod(p.metadata.namespace!, p.metadata.name);
      }
      for (const ns of new Set(this.store.scan('poddisruptionbudgets.policy').map((p) => p.metadata.namespace!))) syncBudgets(ctx, ns);
      if (this.store.resourceVersion === before) break;
    }
  }

  // ---- queue ----

  private enqueue(kind: Kind, ns: string | undefined, name: string, delay: number): void {
    if (!this.running) return;
    const id = `${kind}|${ns ?? ''}|${name}`;
    const at = Date.now() + delay;
    const cur = this.timers.get(id);
    if (cur && cur.at <= at) return;
    if (cur) clearTimeout(cur.timer);
    const timer = setTimeout(() => {
      this.timers.delete(id);
      this.run(kind, ns, name);
    }, Math.max(0, delay));
    timer.unref?.();
    this.timers.set(id, { at, timer });
  }

  private run(kind: Kind, ns: string | undefined, name: string): void {
    if (!this.running) return;
    try {
      const ctx = this.context();
      switch (kind) {
        case 'Deployment':
          syncDeployment(ctx, ns!, name, Date.now());
          break;
        case 'ReplicaSet':
          syncReplicaSet(ctx, ns!, name);
          break;
        case 'StatefulSet':
          syncStatefulSet(ctx, ns!, name);
          break;
        case 'DaemonSet':
          syncDaemonSet(ctx, ns!, name);
          break;
        case 'Job':
          syncJob(ctx, ns!, name);
          break;
        case 'Budgets':
          syncBudgets(ctx, ns!);
          break;
        case 'Namespace':
          if (this.store.peek('namespaces', undefined, name)?.metadata.deletionTimestamp) this.api.finalizeNamespace(name);
          break;
        case 'PodStart':
          this.startPod(ns!, name);
          break;
        case 'PodRemove':
          this.removePod(ns!, name);
          break;
        case 'Schedule':
          this.schedulePending();
          break;
      }
    } catch (e) {
      process.emitWarning(`lab kube controller: ${kind} ${ns ?? ''}/${name}: ${(e as Error).message}`);
    }
  }

  // ---- reacting to changes ----

  private route(e: StoreEvent): void {
    const o = e.object;
    const ns = o.metadata.namespace;
    const kind = KEY_OF[e.key];
    if (kind) {
      const specChanged = e.type === 'ADDED' || (e.type === 'MODIFIED' && e.old?.metadata.generation !== o.metadata.generation);
      if (e.type === 'DELETED') return;
      if (specChanged) this.enqueue(kind, ns, o.metadata.name, kind === 'ReplicaSet' ? 0 : kind === 'Job' ? 2 * this.timing.stepMs() : this.timing.stepMs());
      return;
    }
    switch (e.key) {
      case 'pods':
        if (e.type === 'DELETED') {
          this.ownerChanged(o, this.timing.stepMs() / 2);
          this.enqueue('Budgets', ns, '', 0);
          return;
        }
        this.podChanged(o, e.old);
        return;
      case 'nodes':
        if (e.type === 'ADDED' && !o.spec?.podCIDR) this.assignPodCidr(o.metadata.name);
        if (e.type === 'DELETED') {
          for (const p of this.store.scan('pods').filter((x) => x.spec?.nodeName === o.metadata.name))
            this.store.remove('pods', p.metadata.namespace, p.metadata.name);
        }
        if (e.type === 'MODIFIED' && Boolean(e.old?.spec?.unschedulable) !== Boolean(o.spec?.unschedulable))
          this.event(o, o.spec?.unschedulable ? 'NodeNotSchedulable' : 'NodeSchedulable', `Node ${o.metadata.name} status is now: ${o.spec?.unschedulable ? 'NodeNotSchedulable' : 'NodeSchedulable'}`, 'Normal', 'kubelet');
        if (e.type !== 'MODIFIED' || JSON.stringify([e.old?.spec, e.old?.metadata.labels, e.old?.status?.conditions]) !== JSON.stringify([o.spec, o.metadata.labels, o.status?.conditions])) {
          for (const ds of this.store.scan('daemonsets.apps')) this.enqueue('DaemonSet', ds.metadata.namespace, ds.metadata.name, this.timing.stepMs() / 2);
          this.enqueue('Schedule', undefined, '', 0);
        }
        return;
      case 'namespaces':
        if (e.type === 'ADDED') this.populateNamespace(o.metadata.name);
        if (o.metadata.deletionTimestamp && e.type !== 'DELETED') this.enqueue('Namespace', undefined, o.metadata.name, this.timing.stepMs());
        return;
      case 'poddisruptionbudgets.policy':
        if (e.type === 'ADDED' || (e.type === 'MODIFIED' && e.old?.metadata.generation !== o.metadata.generation)) this.enqueue('Budgets', ns, '', 0);
        return;
      default:
        return;
    }
  }

  private podChanged(pod: KObject, old?: KObject): void {
    const ns = pod.metadata.namespace!;
    const name = pod.metadata.name;
    if (pod.metadata.deletionTimestamp) {
      if (!old?.metadata.deletionTimestamp) {
        const grace = Number(pod.metadata.deletionGracePeriodSeconds ?? 30);
        this.enqueue('PodRemove', ns, name, Math.min(this.timing.terminateMs(), grace * 1000));
        this.ownerChanged(pod, this.timing.stepMs() / 2);
        this.enqueue('Budgets', ns, '', 0);
      }
      return;
    }
    if (!pod.spec?.nodeName) {
      this.enqueue('Schedule', undefined, '', 0);
      return;
    }
    if (pod.status?.phase === 'Pending' && !old?.spec?.nodeName) this.enqueue('PodStart', ns, name, this.timing.stepMs());
    if (old && JSON.stringify(old.status) !== JSON.stringify(pod.status)) {
      this.ownerChanged(pod, 0);
      this.enqueue('Budgets', ns, '', 0);
    }
  }

  /** The controller of a pod (and, for a ReplicaSet, its Deployment) re-syncs. */
  private ownerChanged(pod: KObject, delay: number): void {
    const ref = pod.metadata.ownerReferences?.find((r) => r.controller);
    if (!ref) return;
    const kind = OWNER_KIND[ref.kind];
    if (!kind) return;
    const ns = pod.metadata.namespace;
    this.enqueue(kind, ns, ref.name, delay);
    if (ref.kind === 'ReplicaSet') {
      const rs = this.store.peek('replicasets.apps', ns, ref.name);
      const dref = rs?.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'Deployment');
      if (dref) this.enqueue('Deployment', ns, dref.name, delay);
    }
  }

  /** What the service-account and root-CA publishers put in every new namespace. */
  populateNamespace(ns: string): void {
    if (!this.store.peek('serviceaccounts', ns, 'default'))
      this.store.create('serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } });
    if (!this.store.peek('configmaps', ns, 'kube-root-ca.crt'))
      this.store.create('configmaps', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kube-root-ca.crt', namespace: ns, annotations: { 'kubernetes.io/description': 'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IPs or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.' } },
        data: { 'ca.crt': '-----BEGIN CERTIFICATE-----\nMIIBiDCCAS+gAwIBAgIQLabCortexLabCA0123456789wCgYIKoZIzj0EAwIwFTET\n-----END CERTIFICATE-----\n' },
      });
  }

  private assignPodCidr(name: string): void {
    const node = this.store.get('nodes', undefined, name);
    if (!node) return;
    const cidr = allocatePodCidr(this.store.scan('nodes'));
    node.spec = { ...(node.spec ?? {}), podCIDR: cidr, podCIDRs: [cidr] };
    this.store.update('nodes', node);
  }

  // ---- scheduler + kubelet ----

  private context(): WorkloadContext {
    return {
      peek: (key, ns, name) => this.store.peek(key, ns, name),
      scan: (key, ns) => this.store.scan(key, ns),
      create: (key, obj) => this.store.create(key, obj),
      update: (key, obj) => this.store.update(key, obj),
      createPod: (owner, template, name, extra) => this.createPod(owner, template, name, extra),
      deletePod: (pod) => {
        this.api.deletePod(clone(pod));
      },
      event: (obj, reason, message, type, component) => this.event(obj, reason, message, type, component),
      later: (kind, ns, name, ms) => this.enqueue(kind as Kind, ns, name, ms),
    };
  }

  private createPod(owner: KObject, template: KObject, name: string, extra: { labels?: Record<string, string>; nodeName?: string; spec?: Record<string, unknown> } = {}): void {
    const ns = owner.metadata.namespace!;
    const spec = { ...clone(template.spec ?? {}), ...(extra.spec ?? {}) } as Record<string, unknown>;
    const nsSelector = namespaceNodeSelector(this.store.peek('namespaces', undefined, ns));
    if (Object.keys(nsSelector).length) spec.nodeSelector = { ...((spec.nodeSelector as Record<string, string>) ?? {}), ...nsSelector };
    defaultPodSpec(spec);
    spec.serviceAccountName ??= 'default';
    spec.enableServiceLinks ??= true;
    spec.priority ??= 0;
    spec.tolerations ??= [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ];
    const pod: KObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: ns,
        uid: newUid(),
        labels: { ...(template.metadata?.labels ?? {}), ...(extra.labels ?? {}) },
        ...(template.metadata?.annotations ? { annotations: clone(template.metadata.annotations) } : {}),
        ownerReferences: [controllerRef(owner)],
      },
      spec,
      status: { phase: 'Pending', qosClass: qosClass(spec) },
    };
    if (extra.nodeName) {
      spec.nodeName = extra.nodeName;
      pod.status.conditions = [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: k8sTime() }];
    } else {
      this.bind(pod);
    }
    const created = this.store.create('pods', pod);
    if (created.spec.nodeName) this.event(created, 'Scheduled', `Successfully assigned ${ns}/${name} to ${created.spec.nodeName}`, 'Normal', 'default-scheduler');
    else this.event(created, 'FailedScheduling', created.status?.conditions?.[0]?.message ?? 'no nodes available', 'Warning', 'default-scheduler');
  }

  /** Sets nodeName (or the Unschedulable condition) on a pod object in place. */
  private bind(pod: KObject): boolean {
    const placed = placePod(pod, this.store.scan('nodes'), this.store.scan('pods'));
    if ('node' in placed) {
      pod.spec.nodeName = placed.node.metadata.name;
      pod.status = { ...(pod.status ?? {}), conditions: [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: k8sTime() }] };
      return true;
    }
    pod.status = {
      ...(pod.status ?? {}),
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: k8sTime(), reason: 'Unschedulable', message: placed.reason }],
    };
    return false;
  }

  private schedulePending(): void {
    for (const p of this.store.scan('pods')) {
      if (p.spec?.nodeName || p.metadata.deletionTimestamp) continue;
      const pod = clone(p);
      if (this.bind(pod)) {
        const stored = this.store.update('pods', pod);
        this.event(stored, 'Scheduled', `Successfully assigned ${stored.metadata.namespace}/${stored.metadata.name} to ${stored.spec.nodeName}`, 'Normal', 'default-scheduler');
        continue;
      }
      const prev = p.status?.conditions?.find((c: { type: string }) => c.type === 'PodScheduled');
      const cur = pod.status.conditions[0];
      if (prev?.message === cur.message && prev?.status === 'False') continue;
      if (prev?.status === 'False') cur.lastTransitionTime = prev.lastTransitionTime;
      this.store.update('pods', pod);
    }
  }

  /** The kubelet starts a bound pod: Running, Ready, pod IP, container statuses. */
  private startPod(ns: string, name: string): void {
    const pod = this.store.get('pods', ns, name);
    if (!pod || pod.metadata.deletionTimestamp || pod.status?.phase !== 'Pending' || !pod.spec?.nodeName) return;
    const node = this.store.peek('nodes', undefined, pod.spec.nodeName);
    if (!node) return;
    const now = k8sTime();
    const containers = (pod.spec.containers ?? []) as { name: string; image: string }[];
    const hostIP = (node.status?.addresses ?? []).find((a: { type: string }) => a.type === 'InternalIP')?.address;
    const podIP = allocatePodIp(pod, node, this.store.scan('pods'));
    pod.status = {
      phase: 'Running',
      conditions: [
        { type: 'PodReadyToStartContainers', status: 'True', lastProbeTime: null, lastTransitionTime: now },
        { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: now },
        { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: now },
        { type: 'ContainersReady', status: 'True', lastProbeTime: null, lastTransitionTime: now },
        { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: pod.status?.conditions?.[0]?.lastTransitionTime ?? now },
      ],
      ...(hostIP ? { hostIP, hostIPs: [{ ip: hostIP }] } : {}),
      ...(podIP ? { podIP, podIPs: [{ ip: podIP }] } : {}),
      startTime: now,
      containerStatuses: containers.map((c) => ({
        name: c.name,
        state: { running: { startedAt: now } },
        lastState: {},
        ready: true,
        restartCount: 0,
        image: c.image,
        imageID: `${c.image.split(':')[0]}@sha256:${randomBytes(32).toString('hex')}`,
        containerID: `containerd://${randomBytes(32).toString('hex')}`,
        started: true,
      })),
      qosClass: pod.status?.qosClass ?? qosClass(pod.spec),
    };
    const stored = this.store.update('pods', pod);
    for (const c of containers) {
      this.event(stored, 'Pulled', `Container image "${c.image}" already present on machine`, 'Normal', 'kubelet');
      this.event(stored, 'Created', `Created container: ${c.name}`, 'Normal', 'kubelet');
      this.event(stored, 'Started', `Started container ${c.name}`, 'Normal', 'kubelet');
    }
  }

  private removePod(ns: string, name: string): void {
    const pod = this.store.peek('pods', ns, name);
    if (!pod?.metadata.deletionTimestamp) return;
    for (const c of (pod.spec?.containers ?? []) as { name: string }[]) this.event(pod, 'Killing', `Stopping container ${c.name}`, 'Normal', 'kubelet');
    this.store.remove('pods', ns, name);
  }

  // ---- events ----

  event(obj: KObject, reason: string, message: string, type: 'Normal' | 'Warning' = 'Normal', component = 'lab'): void {
    const ns = obj.metadata.namespace ?? 'default';
    if (!this.store.peek('namespaces', undefined, ns)) return;
    const now = k8sTime();
    this.store.create('events', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${obj.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: ns },
      involvedObject: {
        kind: obj.kind,
        namespace: obj.metadata.namespace,
        name: obj.metadata.name,
        uid: obj.metadata.uid,
        apiVersion: obj.apiVersion,
        resourceVersion: obj.metadata.resourceVersion,
      },
      reason,
      message,
      source: { component, ...(component === 'kubelet' && obj.spec?.nodeName ? { host: obj.spec.nodeName } : {}) },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: component,
      reportingInstance: component === 'kubelet' ? (obj.spec?.nodeName ?? obj.metadata.name) : '',
    });
  }
}

function qosClass(spec: Record<string, unknown>): string {
  const cs = (spec.containers ?? []) as { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }[];
  if (cs.every((c) => !c.resources?.requests && !c.resources?.limits)) return 'BestEffort';
  const guaranteed = cs.every(
    (c) => c.resources?.limits?.cpu && c.resources?.limits?.memory && (!c.resources.requests || (c.resources.requests.cpu === c.resources.limits.cpu && c.resources.requests.memory === c.resources.limits.memory)),
  );
  return guaranteed ? 'Guaranteed' : 'Burstable';
}
