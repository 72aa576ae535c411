/**
 * The lab cluster's initial objects (state `kube`). One API server stands for every cluster name;
 * nodes carry `cortex.dev/cluster` so prod (prod-k8s-01) and DR (dr-k8s-01) stay apart:
 * - namespaces default, kube-system, kube-public, kube-node-lease, production, staging
 *   (monitoring is created by deploy-monitoring-stack);
 * - prod nodes k8s-cp-01..03 (10.10.1.10-12, control-plane, NoSchedule) and k8s-worker-01..03
 *   (10.10.1.20-22); DR nodes dr-k8s-cp-01..03 (10.20.1.10-12) and dr-k8s-worker-01..03
 *   (10.20.1.20-22); staging-k8s-cp-01 (10.30.1.10), staging-k8s-worker-01..02 (10.30.1.20-21);
 *   all Ready (the same names and addresses as the talos and pve lab seeds); namespace staging
 *   pins its pods to the staging nodes (scheduler.alpha.kubernetes.io/node-selector);
 * - kube-system: DaemonSet node-exporter (a pod on every node), Deployment coredns + Service kube-dns;
 * - production: web-api (3, with an emptyDir cache) and payments-api (2) on the prod workers (so
 *   k8s-worker-02 has pods to evict), a PodDisruptionBudget for payments-api, their Services, and the warm-standby
 *   web-api-dr / payments-api-dr (replicas 0, `cortex.dev/failover=true`, pinned to the DR
 *   workers) that disaster-recovery-failover scales up;
 * - default: a bare pod on k8s-worker-02 (node-debugger-..., no controller), so `kubectl drain` meets
 *   both of its refusals: emptyDir data and pods without a controller;
 * - Secrets db-credentials and api-keys in default, production and staging.
 */
import { KubeApi } from './api.js';
import { LabController } from './controller.js';
import { k8sTime, type KObject } from './object.js';
import { mustResource } from './resources.js';
import { NODE_SELECTOR_ANNOTATION } from './scheduler.js';
import { KubeStore, type KubeState } from './store.js';

export const SEED_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease', 'production', 'staging'];
export const APP_SECRET_NAMESPACES = ['default', 'production', 'staging'];
/** A pod without a controller on k8s-worker-02 (left by `kubectl debug node/...`). */
export const NODE_DEBUGGER_POD = 'node-debugger-k8s-worker-02-7x2kq';

interface NodeSeed {
  name: string;
  ip: string;
  cluster: string;
  controlPlane: boolean;
}

export function seedNodes(): NodeSeed[] {
  const out: NodeSeed[] = [];
  for (const [prefix, cluster, net, cps, workers] of [
    ['', 'prod-k8s-01', '10.10.1', 3, 3],
    ['dr-', 'dr-k8s-01', '10.20.1', 3, 3],
    ['staging-', 'staging-k8s', '10.30.1', 1, 2],
  ] as const) {
    for (let i = 1; i <= cps; i++) out.push({ name: `${prefix}k8s-cp-0${i}`, ip: `${net}.${9 + i}`, cluster, controlPlane: true });
    for (let i = 1; i <= workers; i++) out.push({ name: `${prefix}k8s-worker-0${i}`, ip: `${net}.${19 + i}`, cluster, controlPlane: false });
  }
  return out;
}

function node(n: NodeSeed, index: number): KObject {
  const cpu = n.controlPlane ? '4' : '8';
  const memKi = n.controlPlane ? '8148204Ki' : '16395304Ki';
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: n.name,
      labels: {
        'cortex.dev/cluster': n.cluster,
        ...(n.controlPlane ? { 'node-role.kubernetes.io/control-plane': '', 'node.kubernetes.io/exclude-from-external-load-balancers': '' } : {}),
      },
      annotations: { 'talos.dev/owned-labels': '["node-role.kubernetes.io/control-plane"]', 'node.alpha.kubernetes.io/ttl': '0' },
    },
    spec: {
      podCIDR: `10.244.${index}.0/24`,
      podCIDRs: [`10.244.${index}.0/24`],
      ...(n.controlPlane ? { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] } : {}),
    },
    status: {
      addresses: [
        { type: 'InternalIP', address: n.ip },
        { type: 'Hostname', address: n.name },
      ],
      capacity: { cpu, 'ephemeral-storage': '102687672Ki', 'hugepages-2Mi': '0', memory: memKi, pods: '110' },
      allocatable: { cpu: `${Number(cpu) * 1000 - 50}m`, 'ephemeral-storage': '94636070773', 'hugepages-2Mi': '0', memory: memKi, pods: '110' },
      nodeInfo: {
        machineID: `${(index + 1).toString(16).padStart(2, '0')}c0ffee${'0'.repeat(24)}`,
        systemUUID: `4c4c4544-00${(index + 10).toString(16)}-3010-8050-b2c04f4c4232`,
        bootID: `b00710${(index + 10).toString(16)}-0000-4000-8000-000000000000`,
        kernelVersion: '6.1.69-talos',
        osImage: 'Talos (v1.6.1)',
        containerRuntimeVersion: 'containerd://1.7.11',
        kubeletVersion: 'v1.29.1',
        kubeProxyVersion: 'v1.29.1',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

function deployment(ns: string, name: string, opts: { replicas: number; image: string; port: number; labels?: Record<string, string>; nodeSelector?: Record<string, string>; tolerations?: unknown[] }): KObject {
  const labels = { app: name, ...(opts.labels ?? {}) };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels },
    spec: {
      replicas: opts.replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels },
        spec: {
          ...(opts.nodeSelector ? { nodeSelector: opts.nodeSelector } : {}),
          ...(opts.tolerations ? { tolerations: opts.tolerations } : {}),
          containers: [
            {
              name,
              image: opts.image,
              ports: [{ name: 'http', containerPort: opts.port }],
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '512Mi' } },
              readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 5 },
            },
          ],
        },
      },
    },
  };
}

function service(ns: string, name: string, port: number, type = 'ClusterIP', selector: Record<string, string> = { app: name }, clusterIP?: string): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: { type, selector, ...(clusterIP ? { clusterIP } : {}), ports: [{ name: 'http', port, targetPort: 'http', protocol: 'TCP' }] },
  };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

function secrets(ns: string): KObject[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db-credentials', namespace: ns, labels: { 'app.kubernetes.io/part-of': 'cortex-apps' } },
      type: 'Opaque',
      data: { username: b64('app'), password: b64(`lab-${ns}-db-password`), host: b64(`postgres.${ns}.svc.cluster.local`), port: b64('5432'), database: b64('app') },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'api-keys', namespace: ns, labels: { 'app.kubernetes.io/part-of': 'cortex-apps' } },
      type: 'Opaque',
      data: { 'stripe-api-key': b64(`sk_lab_${ns}_0123456789`), 'jwt-secret': b64(`lab-${ns}-jwt-secret`), 'sentry-dsn': b64('https://lab@sentry.cortex.local/2') },
    },
  ];
}

/** Every seed object, in creation order. */
export function seedObjects(): { resource: string; object: KObject }[] {
  const out: { resource: string; object: KObject }[] = [];
  const add = (resource: string, object: KObject) => out.push({ resource, object });
  for (const ns of SEED_NAMESPACES)
    add('namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: ns,
        // PodNodeSelector admission: staging workloads run on the staging-k8s nodes
        ...(ns === 'staging' ? { annotations: { [NODE_SELECTOR_ANNOTATION]: 'cortex.dev/cluster=staging-k8s' } } : {}),
      },
    });
  seedNodes().forEach((n, i) => add('nodes', node(n, i)));
  add('daemonsets.apps', {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'node-exporter', namespace: 'kube-system', labels: { 'app.kubernetes.io/name': 'node-exporter' } },
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/name': 'node-exporter' } },
      template: {
        metadata: { labels: { 'app.kubernetes.io/name': 'node-exporter' } },
        spec: {
          hostNetwork: true,
          hostPID: true,
          tolerations: [{ operator: 'Exists' }],
          containers: [
            {
              name: 'node-exporter',
              image: 'quay.io/prometheus/node-exporter:v1.7.0',
              args: ['--path.rootfs=/host/root'],
              ports: [{ name: 'metrics', containerPort: 9100, hostPort: 9100 }],
              resources: { requests: { cpu: '10m', memory: '32Mi' } },
            },
          ],
        },
      },
    },
  });
  add(
    'deployments.apps',
    (() => {
      const d = deployment('kube-system', 'coredns', {
        replicas: 2,
        image: 'registry.k8s.io/coredns/coredns:v1.11.1',
        port: 53,
        nodeSelector: { 'node-role.kubernetes.io/control-plane': '', 'cortex.dev/cluster': 'prod-k8s-01' },
        tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
      });
      d.metadata.labels = { 'k8s-app': 'kube-dns' };
      d.spec.selector = { matchLabels: { 'k8s-app': 'kube-dns' } };
      d.spec.template.metadata.labels = { 'k8s-app': 'kube-dns' };
      d.spec.template.spec.containers[0].ports = [
        { name: 'dns', containerPort: 53, protocol: 'UDP' },
        { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
      ];
      delete d.spec.template.spec.containers[0].readinessProbe;
      return d;
    })(),
  );
  add('services', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
    spec: {
      selector: { 'k8s-app': 'kube-dns' },
      clusterIP: '10.96.0.10',
      ports: [
        { name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, targetPort: 53, protocol: 'TCP' },
      ],
    },
  });
  add('services', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443, targetPort: 6443, protocol: 'TCP' }] },
  });
  const prod = { 'cortex.dev/cluster': 'prod-k8s-01' };
  const dr = { 'cortex.dev/cluster': 'dr-k8s-01' };
  add('deployments.apps', deployment('production', 'web-api', { replicas: 3, image: 'harbor.cortex.local/cortex-apps/web-api:v1.4.2', port: 3000, labels: { tier: 'api' }, nodeSelector: prod }));
  add('deployments.apps', deployment('production', 'payments-api', { replicas: 2, image: 'harbor.cortex.local/cortex-apps/payments-api:v2.1.0', port: 8080, labels: { tier: 'api' }, nodeSelector: prod }));
  for (const [name, image, port] of [
    ['web-api-dr', 'harbor.cortex.local/cortex-apps/web-api:v1.4.2', 3000],
    ['payments-api-dr', 'harbor.cortex.local/cortex-apps/payments-api:v2.1.0', 8080],
  ] as const)
    add('deployments.apps', deployment('production', name, { replicas: 0, image, port, labels: { 'cortex.dev/failover': 'true', tier: 'api' }, nodeSelector: dr }));
  // web-api keeps a scratch cache in an emptyDir: `kubectl drain` refuses its pods without --delete-emptydir-data
  (() => {
    const web = out.find((o) => o.object.metadata.name === 'web-api' && o.resource === 'deployments.apps')!.object;
    web.spec.template.spec.volumes = [{ name: 'cache', emptyDir: {} }];
    web.spec.template.spec.containers[0].volumeMounts = [{ name: 'cache', mountPath: '/var/cache/web-api' }];
  })();
  // what `kubectl debug node/k8s-worker-02` leaves behind: a pod without a controller (drain needs --force)
  add('pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: NODE_DEBUGGER_POD, namespace: 'default', labels: { 'app.kubernetes.io/managed-by': 'kubectl-debug' } },
    spec: {
      nodeName: 'k8s-worker-02',
      hostIPC: true,
      hostNetwork: true,
      hostPID: true,
      restartPolicy: 'Never',
      tolerations: [{ operator: 'Exists' }],
      containers: [{ name: 'debugger', image: 'busybox:1.36', stdin: true, tty: true, volumeMounts: [{ name: 'host-root', mountPath: '/host' }] }],
      volumes: [{ name: 'host-root', hostPath: { path: '/', type: '' } }],
    },
  });
  add('services', service('production', 'web-api', 80, 'NodePort'));
  add('services', service('production', 'payments-api', 80));
  add('services', service('production', 'web-api-dr', 80, 'NodePort'));
  add('poddisruptionbudgets.policy', {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: 'payments-api', namespace: 'production' },
    spec: { minAvailable: 1, selector: { matchLabels: { app: 'payments-api' } } },
  });
  for (const ns of APP_SECRET_NAMESPACES) for (const s of secrets(ns)) add('secrets', s);
  return out;
}

/** Builds the seeded state: objects created through the registry, then the controllers settled. */
export function seedKubeState(now: number = Date.now()): KubeState {
  const store = new KubeStore(undefined);
  const api = new KubeApi(store);
  for (const { resource, object } of seedObjects()) api.create(mustResource(resource), object.metadata.namespace, object, { fieldManager: 'lab-seed' });
  new LabController(store, api, { stepMs: () => 0, terminateMs: () => 0 }).settle();
  delete store.state.objects.events; // no history of the seeding itself
  // an established cluster: objects were not all created this second
  const day = 86_400_000;
  for (const bucket of Object.values(store.state.objects))
    for (const o of Object.values(bucket)) {
      const back = ['Namespace', 'Node'].includes(o.kind ?? '') ? 90 * day : ['Pod', 'ReplicaSet', 'Event'].includes(o.kind ?? '') ? 3 * day : 30 * day;
      o.metadata.creationTimestamp = k8sTime(now - back);
    }
  return store.state;
}
