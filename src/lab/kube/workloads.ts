/**
 * The lab's workload controllers, one sync function per kind: Deployment (ReplicaSets with
 * pod-template-hash and revision annotations, renumbered on rollback), ReplicaSet (pods), StatefulSet
 * (ordered pods <name>-<i>), DaemonSet (one pod per eligible node), Job, PodDisruptionBudget. Each
 * sync is level-triggered: it reads the store and writes what differs.
 */
import { budgetOf, isHealthy } from './api.js';
import { clone, deepEqualNormalized, k8sTime, randomSuffix, templateHash, type KObject, type OwnerReference } from './object.js';
import { matchesNodeSelection, untoleratedTaint } from './scheduler.js';

export const REVISION = 'deployment.kubernetes.io/revision';
const DESIRED = 'deployment.kubernetes.io/desired-replicas';
const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
const HASH_LABEL = 'pod-template-hash';
const DEPLOY = 'deployments.apps';
const RS = 'replicasets.apps';
const STS = 'statefulsets.apps';
const DS = 'daemonsets.apps';

export interface WorkloadContext {
  peek(key: string, ns: string | undefined, name: string): KObject | undefined;
  scan(key: string, ns?: string): KObject[];
  create(key: string, obj: KObject): KObject;
  update(key: string, obj: KObject): KObject;
  /** Creates a pod for a controller (scheduled by the lab scheduler unless nodeName is set). */
  createPod(owner: KObject, template: KObject, name: string, extra?: { labels?: Record<string, string>; nodeName?: string; spec?: Record<string, unknown> }): void;
  deletePod(pod: KObject): void;
  event(obj: KObject, reason: string, message: string, type?: 'Normal' | 'Warning', component?: string): void;
  /** Re-sync a workload later (ms). */
  later(kind: string, ns: string | undefined, name: string, ms: number): void;
}

export function ownedBy(o: KObject, uid: string | undefined): boolean {
  return Boolean(uid && o.metadata.ownerReferences?.some((r) => r.uid === uid && r.controller));
}

export function controllerRef(owner: KObject): OwnerReference {
  return { apiVersion: owner.apiVersion!, kind: owner.kind!, name: owner.metadata.name, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

function revisionOf(o: KObject): number {
  return Number(o.metadata.annotations?.[REVISION] ?? 0) || 0;
}

function withoutHash(template: unknown): unknown {
  const t = clone(template) as { metadata?: { labels?: Record<string, string> } } | undefined;
  if (t?.metadata?.labels) delete t.metadata.labels[HASH_LABEL];
  return t;
}

function active(pods: readonly KObject[]): KObject[] {
  return pods.filter((p) => !p.metadata.deletionTimestamp);
}

/** Sets status (and nothing else) when it changed; keeps condition transition times that did not change. */
function writeStatus(
  ctx: WorkloadContext,
  key: string,
  obj: KObject,
  status: Record<string, unknown>,
  refresh: readonly string[] = [],
  annotations: Record<string, string> = {},
): void {
  const conds = status.conditions as Record<string, unknown>[] | undefined;
  const oldConds = (obj.status?.conditions ?? []) as Record<string, unknown>[];
  if (conds) {
    for (const c of conds) {
      const prev = oldConds.find((o) => o.type === c.type);
      if (prev && prev.status === c.status) c.lastTransitionTime = prev.lastTransitionTime ?? c.lastTransitionTime;
      if (prev && prev.status === c.status && prev.reason === c.reason && prev.message === c.message && !refresh.includes(String(c.type)))
        c.lastUpdateTime = prev.lastUpdateTime ?? c.lastUpdateTime;
      if (c.lastUpdateTime === undefined) delete c.lastUpdateTime;
    }
  }
  const annotated = Object.entries(annotations).every(([k, v]) => obj.metadata.annotations?.[k] === v);
  if (deepEqualNormalized(obj.status, status) && annotated) return;
  const next = clone(obj);
  next.status = status;
  if (!annotated) next.metadata.annotations = { ...(next.metadata.annotations ?? {}), ...annotations };
  ctx.update(key, next);
}

function condition(type: string, status: boolean, reason: string, message: string, withUpdateTime = true) {
  const now = k8sTime();
  return { type, status: status ? 'True' : 'False', ...(withUpdateTime ? { lastUpdateTime: now } : {}), lastTransitionTime: now, reason, message };
}

function intOrPercent(v: unknown, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.endsWith('%')) {
    const x = (Number(v.slice(0, -1)) * total) / 100;
    return roundUp ? Math.ceil(x) : Math.floor(x);
  }
  return Number(v) || 0;
}

// ---- Deployment ----

export function syncDeployment(ctx: WorkloadContext, ns: string, name: string, now: number): void {
  const d = ctx.peek(DEPLOY, ns, name);
  if (!d || d.metadata.deletionTimestamp) return;
  const uid = d.metadata.uid;
  const owned = ctx.scan(RS, ns).filter((rs) => ownedBy(rs, uid));
  const maxRev = Math.max(0, ...owned.map(revisionOf));
  let newRs = owned.find((rs) => deepEqualNormalized(withoutHash(rs.spec?.template), d.spec?.template));
  const desired = Number(d.spec?.replicas ?? 1);

  if (!newRs) {
    let hash = templateHash(d.spec?.template);
    for (let c = 1; ctx.peek(RS, ns, `${name}-${hash}`) && c < 10; c++) hash = templateHash(d.spec?.template, c);
    const template = clone(d.spec.template) as KObject;
    template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [HASH_LABEL]: hash } };
    const annotations: Record<string, string> = {};
    for (const [k, v] of Object.entries(d.metadata.annotations ?? {}))
      if (!k.startsWith('deployment.kubernetes.io/') && k !== 'kubectl.kubernetes.io/last-applied-configuration') annotations[k] = v;
    annotations[DESIRED] = String(desired);
    annotations[MAX_REPLICAS] = String(desired + intOrPercent(d.spec?.strategy?.rollingUpdate?.maxSurge ?? '25%', desired, true));
    annotations[REVISION] = String(maxRev + 1);
    newRs = ctx.create(RS, {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${name}-${hash}`,
        namespace: ns,
        labels: { ...(d.spec?.selector?.matchLabels ?? {}), ...(template.metadata?.labels ?? {}), [HASH_LABEL]: hash },
        annotations,
        ownerReferences: [controllerRef(d)],
        generation: 1,
      },
      spec: {
        replicas: 0,
        minReadySeconds: d.spec?.minReadySeconds ?? 0,
        selector: { ...clone(d.spec?.selector ?? {}), matchLabels: { ...(d.spec?.selector?.matchLabels ?? {}), [HASH_LABEL]: hash } },
        template,
      },
      status: { replicas: 0 },
    });
  } else if (revisionOf(newRs) < maxRev) {
    // rolling back to an older template: that ReplicaSet becomes the newest revision
    const next = clone(newRs);
    next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [REVISION]: String(maxRev + 1) };
    newRs = ctx.update(RS, next);
  }
  const rev = String(revisionOf(newRs));

  // scale: the new ReplicaSet to the desired count; old ones to 0 once the new pods are all ready
  const paused = Boolean(d.spec?.paused);
  const newRsName = newRs.metadata.name;
  const newPods = () => active(ctx.scan('pods', ns).filter((p) => ownedBy(p, ctx.peek(RS, ns, newRsName)?.metadata.uid)));
  if (!paused) {
    const olds = owned.filter((rs) => rs.metadata.name !== newRsName);
    const oldPodsLeft = () => ctx.scan('pods', ns).some((p) => olds.some((rs) => ownedBy(p, rs.metadata.uid)));
    if (d.spec?.strategy?.type === 'Recreate' && olds.some((rs) => Number(rs.spec?.replicas ?? 0) > 0 || oldPodsLeft())) {
      // Recreate: every old pod is gone before the new ReplicaSet scales up
      for (const rs of olds) scaleRs(ctx, d, ns, rs.metadata.name, 0);
    } else {
      scaleRs(ctx, d, ns, newRsName, desired);
      const newReady = newPods().filter(isHealthy).length;
      for (const rs of olds) {
        const cur = Number(rs.spec?.replicas ?? 0);
        if (cur > 0 && (newReady >= desired || desired === 0)) scaleRs(ctx, d, ns, rs.metadata.name, 0);
      }
    }
  }
  for (const rs of ctx.scan(RS, ns).filter((x) => ownedBy(x, uid))) syncReplicaSet(ctx, ns, rs.metadata.name);

  // status from the pods
  const allRs = ctx.scan(RS, ns).filter((x) => ownedBy(x, uid));
  const pods = active(ctx.scan('pods', ns).filter((p) => allRs.some((rs) => ownedBy(p, rs.metadata.uid))));
  const updated = newPods();
  const replicas = pods.length;
  const ready = pods.filter(isHealthy).length;
  const updatedCount = updated.length;
  const maxUnavailable = d.spec?.strategy?.type === 'Recreate' ? desired : intOrPercent(d.spec?.strategy?.rollingUpdate?.maxUnavailable ?? '25%', desired, false);
  const complete = updatedCount === desired && replicas === desired && updated.filter(isHealthy).length === desired;
  const prevProgressing = ((d.status?.conditions ?? []) as Record<string, string>[]).find((c) => c.type === 'Progressing');
  const deadline = Number(d.spec?.progressDeadlineSeconds ?? 600);
  const countsChanged =
    !d.status || d.status.replicas !== replicas || d.status.updatedReplicas !== updatedCount || d.status.readyReplicas !== ready || d.status.observedGeneration !== d.metadata.generation;
  const sinceProgress = prevProgressing?.lastUpdateTime && !countsChanged ? now - Date.parse(prevProgressing.lastUpdateTime) : 0;
  let progressing;
  if (complete) progressing = condition('Progressing', true, 'NewReplicaSetAvailable', `ReplicaSet "${newRsName}" has successfully progressed.`);
  else if (prevProgressing?.reason === 'ProgressDeadlineExceeded' && !countsChanged) progressing = { ...prevProgressing };
  else if (sinceProgress > deadline * 1000) progressing = condition('Progressing', false, 'ProgressDeadlineExceeded', `ReplicaSet "${newRsName}" has timed out progressing.`);
  else {
    progressing = countsChanged || !prevProgressing ? condition('Progressing', true, 'ReplicaSetUpdated', `ReplicaSet "${newRsName}" is progressing.`) : { ...prevProgressing };
    ctx.later('Deployment', ns, name, deadline * 1000 + 50);
  }
  const available = ready >= desired - maxUnavailable;
  const status: Record<string, unknown> = {
    observedGeneration: d.metadata.generation,
    replicas,
    updatedReplicas: updatedCount,
    readyReplicas: ready,
    availableReplicas: ready,
    ...(replicas - ready > 0 || desired - ready > 0 ? { unavailableReplicas: Math.max(replicas - ready, desired - ready) } : {}),
    conditions: [
      condition(
        'Available',
        available,
        available ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
        available ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.',
      ),
      progressing,
    ],
  };
  for (const k of ['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas'] as const) if (status[k] === 0) delete status[k];
  writeStatus(ctx, DEPLOY, ctx.peek(DEPLOY, ns, name)!, status, countsChanged ? ['Progressing'] : [], { [REVISION]: rev });
}

function scaleRs(ctx: WorkloadContext, d: KObject, ns: string, rsName: string, replicas: number): void {
  const rs = ctx.peek(RS, ns, rsName);
  if (!rs || rs.spec?.replicas === replicas) return;
  const from = Number(rs.spec?.replicas ?? 0);
  const next = clone(rs);
  next.spec.replicas = replicas;
  next.metadata.generation = (rs.metadata.generation ?? 1) + 1;
  next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [DESIRED]: String(d.spec?.replicas ?? 1) };
  ctx.update(RS, next);
  ctx.event(d, 'ScalingReplicaSet', `Scaled ${replicas > from ? 'up' : 'down'} replica set ${rsName} from ${from} to ${replicas}`, 'Normal', 'deployment-controller');
}

// ---- ReplicaSet ----

export function syncReplicaSet(ctx: WorkloadContext, ns: string, name: string): void {
  const rs = ctx.peek(RS, ns, name);
  if (!rs) return;
  const pods = active(ctx.scan('pods', ns).filter((p) => ownedBy(p, rs.metadata.uid)));
  const want = Number(rs.spec?.replicas ?? 1);
  if (pods.length < want) {
    for (let i = pods.length; i < want; i++) {
      let podName = `${name}-${randomSuffix(5)}`;
      while (ctx.peek('pods', ns, podName)) podName = `${name}-${randomSuffix(5)}`;
      ctx.createPod(rs, rs.spec.template, podName);
      ctx.event(rs, 'SuccessfulCreate', `Created pod: ${podName}`, 'Normal', 'replicaset-controller');
    }
  } else if (pods.length > want) {
    const rank = (p: KObject) => (!p.spec?.nodeName ? 0 : p.status?.phase !== 'Running' ? 1 : !isHealthy(p) ? 2 : 3);
    const victims = [...pods]
      .sort((a, b) => rank(a) - rank(b) || (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''))
      .slice(0, pods.length - want);
    for (const p of victims) {
      ctx.deletePod(p);
      ctx.event(rs, 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`, 'Normal', 'replicaset-controller');
    }
  }
  const now = active(ctx.scan('pods', ns).filter((p) => ownedBy(p, rs.metadata.uid)));
  const ready = now.filter(isHealthy).length;
  const status: Record<string, unknown> = {
    replicas: now.length,
    fullyLabeledReplicas: now.length,
    readyReplicas: ready,
    availableReplicas: ready,
    observedGeneration: rs.metadata.generation,
  };
  for (const k of ['fullyLabeledReplicas', 'readyReplicas', 'availableReplicas'] as const) if (status[k] === 0) delete status[k];
  writeStatus(ctx, RS, ctx.peek(RS, ns, name)!, status);
}

// ---- StatefulSet ----

export function syncStatefulSet(ctx: WorkloadContext, ns: string, name: string): void {
  const sts = ctx.peek(STS, ns, name);
  if (!sts || sts.metadata.deletionTimestamp) return;
  const rev = `${name}-${templateHash(sts.spec?.template)}`;
  const desired = Number(sts.spec?.replicas ?? 1);
  const ordered = (sts.spec?.podManagementPolicy ?? 'OrderedReady') === 'OrderedReady';
  const partition = Number(sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0);
  const all = () => ctx.scan('pods', ns).filter((p) => ownedBy(p, sts.metadata.uid));
  const ordinal = (p: KObject) => Number(p.metadata.name.slice(name.length + 1));
  const pods = all();
  let blocked = false;
  for (let i = 0; i < desired && !blocked; i++) {
    const pod = pods.find((p) => ordinal(p) === i);
    if (!pod) {
      const podName = `${name}-${i}`;
      ctx.createPod(sts, sts.spec.template, podName, {
        labels: { 'controller-revision-hash': rev, 'statefulset.kubernetes.io/pod-name': podName, 'apps.kubernetes.io/pod-index': String(i) },
        spec: { hostname: podName, ...(sts.spec?.serviceName ? { subdomain: sts.spec.serviceName } : {}) },
      });
      ctx.event(sts, 'SuccessfulCreate', `create Pod ${podName} in StatefulSet ${name} successful`, 'Normal', 'statefulset-controller');
      if (ordered) blocked = true;
    } else if (ordered && (!isHealthy(pod) || pod.metadata.deletionTimestamp)) blocked = true;
  }
  // scale down, highest ordinal first
  const extra = active(all())
    .filter((p) => ordinal(p) >= desired)
    .sort((a, b) => ordinal(b) - ordinal(a));
  for (const p of ordered ? extra.slice(0, 1) : extra) {
    ctx.deletePod(p);
    ctx.event(sts, 'SuccessfulDelete', `delete Pod ${p.metadata.name} in StatefulSet ${name} successful`, 'Normal', 'statefulset-controller');
  }
  // rolling update: replace one outdated pod at a time, highest ordinal first, when all are ready
  const current = active(all()).filter((p) => ordinal(p) < desired);
  if (!blocked && current.length === desired && current.every(isHealthy) && (sts.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate') {
    const outdated = current.filter((p) => p.metadata.labels?.['controller-revision-hash'] !== rev && ordinal(p) >= partition).sort((a, b) => ordinal(b) - ordinal(a));
    if (outdated[0]) ctx.deletePod(outdated[0]);
  }
  const now = active(all());
  const ready = now.filter(isHealthy).length;
  const updated = now.filter((p) => p.metadata.labels?.['controller-revision-hash'] === rev).length;
  const prevCurrent = (sts.status?.currentRevision as string | undefined) ?? rev;
  const currentRevision = updated === now.length && now.length === desired ? rev : prevCurrent;
  const currentReplicas = now.filter((p) => p.metadata.labels?.['controller-revision-hash'] === currentRevision).length;
  const status: Record<string, unknown> = {
    observedGeneration: sts.metadata.generation,
    replicas: now.length,
    readyReplicas: ready,
    currentReplicas,
    updatedReplicas: updated,
    currentRevision,
    updateRevision: rev,
    collisionCount: 0,
    availableReplicas: ready,
  };
  for (const k of ['readyReplicas', 'currentReplicas', 'updatedReplicas'] as const) if (status[k] === 0) delete status[k];
  writeStatus(ctx, STS, ctx.peek(STS, ns, name)!, status);
}

// ---- DaemonSet ----

const DS_TOLERATIONS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];

export function syncDaemonSet(ctx: WorkloadContext, ns: string, name: string): void {
  const ds = ctx.peek(DS, ns, name);
  if (!ds || ds.metadata.deletionTimestamp) return;
  const hash = templateHash(ds.spec?.template);
  const generation = String(ds.metadata.generation ?? 1);
  const probe: KObject = {
    metadata: { name: 'probe' },
    spec: { ...(ds.spec?.template?.spec ?? {}), tolerations: [...((ds.spec?.template?.spec?.tolerations ?? []) as unknown[]), ...DS_TOLERATIONS] },
  };
  const nodes = ctx.scan('nodes').filter((n) => !n.metadata.deletionTimestamp && matchesNodeSelection(probe, n) && !untoleratedTaint(probe, n));
  const nodeNames = new Set(nodes.map((n) => n.metadata.name));
  const pods = () => ctx.scan('pods', ns).filter((p) => ownedBy(p, ds.metadata.uid));
  const terminating = pods().filter((p) => p.metadata.deletionTimestamp).length;
  let budget = Math.max(0, intOrPercent(ds.spec?.updateStrategy?.rollingUpdate?.maxUnavailable ?? 1, nodes.length, true) - terminating);
  for (const n of nodes) {
    const on = active(pods().filter((p) => p.spec?.nodeName === n.metadata.name));
    if (!on.length) {
      if (pods().some((p) => p.spec?.nodeName === n.metadata.name)) continue; // the old one is still terminating
      const podName = `${name}-${randomSuffix(5)}`;
      ctx.createPod(ds, ds.spec.template, podName, {
        labels: { 'controller-revision-hash': hash, 'pod-template-generation': generation },
        nodeName: n.metadata.name,
        spec: { tolerations: [...((ds.spec?.template?.spec?.tolerations ?? []) as unknown[]), ...DS_TOLERATIONS] },
      });
      ctx.event(ds, 'SuccessfulCreate', `Created pod: ${podName}`, 'Normal', 'daemonset-controller');
      continue;
    }
    for (const p of on.slice(1)) ctx.deletePod(p);
    const p = on[0]!;
    if (p.metadata.labels?.['controller-revision-hash'] !== hash && budget > 0 && (ds.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate') {
      budget--;
      ctx.deletePod(p);
      ctx.event(ds, 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`, 'Normal', 'daemonset-controller');
    }
  }
  for (const p of active(pods())) if (!nodeNames.has(p.spec?.nodeName)) ctx.deletePod(p);
  const now = active(pods()).filter((p) => nodeNames.has(p.spec?.nodeName));
  const ready = now.filter(isHealthy).length;
  const updated = now.filter((p) => p.metadata.labels?.['controller-revision-hash'] === hash).length;
  const status: Record<string, unknown> = {
    currentNumberScheduled: now.length,
    numberMisscheduled: 0,
    desiredNumberScheduled: nodes.length,
    numberReady: ready,
    observedGeneration: ds.metadata.generation,
    updatedNumberScheduled: updated,
    numberAvailable: ready,
    ...(nodes.length - ready > 0 ? { numberUnavailable: nodes.length - ready } : {}),
  };
  if (status.numberAvailable === 0) delete status.numberAvailable;
  if (status.updatedNumberScheduled === 0) delete status.updatedNumberScheduled;
  writeStatus(ctx, DS, ctx.peek(DS, ns, name)!, status);
}

// ---- Job, PodDisruptionBudget ----

export function syncJob(ctx: WorkloadContext, ns: string, name: string): void {
  const job = ctx.peek('jobs.batch', ns, name);
  if (!job || job.status?.completionTime) return;
  const now = k8sTime();
  writeStatus(ctx, 'jobs.batch', job, {
    startTime: job.status?.startTime ?? job.metadata.creationTimestamp ?? now,
    completionTime: now,
    succeeded: Number(job.spec?.completions ?? 1),
    ready: 0,
    terminating: 0,
    conditions: [
      { type: 'SuccessCriteriaMet', status: 'True', lastProbeTime: now, lastTransitionTime: now, reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' },
      { type: 'Complete', status: 'True', lastProbeTime: now, lastTransitionTime: now, reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' },
    ],
  });
}

export function syncBudgets(ctx: WorkloadContext, ns: string): void {
  const pods = ctx.scan('pods', ns);
  for (const pdb of ctx.scan('poddisruptionbudgets.policy', ns)) {
    const b = budgetOf(pdb, pods);
    const allowed = b.disruptionsAllowed > 0;
    writeStatus(ctx, 'poddisruptionbudgets.policy', pdb, {
      observedGeneration: pdb.metadata.generation,
      disruptionsAllowed: b.disruptionsAllowed,
      currentHealthy: b.currentHealthy,
      desiredHealthy: b.desiredHealthy,
      expectedPods: b.expectedPods,
      conditions: [
        {
          type: 'DisruptionAllowed',
          status: allowed ? 'True' : 'False',
          observedGeneration: pdb.metadata.generation,
          lastTransitionTime: k8sTime(),
          reason: allowed ? 'SufficientPods' : 'InsufficientPods',
          message: '',
        },
      ],
    });
  }
}
