/**
 * Server-side printing (meta.k8s.io/v1 Table), which plain `kubectl get` asks for: the usual
 * columns of the common kinds, NAME + AGE for the rest.
 */
import type { KObject } from './object.js';
import { selectorString } from './selectors.js';

interface Column {
  name: string;
  type: string;
  format?: string;
  priority?: number;
  cell: (o: KObject, now: number) => string | number;
}

/** duration.HumanDuration as kubectl prints AGE. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < -1) return '<invalid>';
  if (s < 0) return '0s';
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  if (h < 192) return h % 24 === 0 ? `${Math.floor(h / 24)}d` : `${Math.floor(h / 24)}d${h % 24}h`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24)}d`;
  return `${Math.floor(h / 24 / 365)}y`;
}

const age = (o: KObject, now: number) => (o.metadata.creationTimestamp ? humanDuration(now - Date.parse(o.metadata.creationTimestamp)) : '<unknown>');
const NAME: Column = { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name };
const AGE: Column = { name: 'Age', type: 'string', cell: age };
const n = (v: unknown) => Number(v ?? 0);

function podStatus(p: KObject): string {
  if (p.metadata.deletionTimestamp) return 'Terminating';
  const waiting = ((p.status?.containerStatuses ?? []) as { state?: { waiting?: { reason?: string } } }[]).find((c) => c.state?.waiting?.reason);
  if (waiting) return waiting.state!.waiting!.reason!;
  return p.status?.reason ?? p.status?.phase ?? 'Unknown';
}

function nodeRoles(node: KObject): string {
  const roles = Object.keys(node.metadata.labels ?? {})
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length));
  return roles.length ? roles.join(',') : '<none>';
}

function nodeStatus(node: KObject): string {
  const ready = ((node.status?.conditions ?? []) as { type: string; status: string }[]).find((c) => c.type === 'Ready');
  const s = ready?.status === 'True' ? 'Ready' : ready?.status === 'False' ? 'NotReady' : 'Unknown';
  return node.spec?.unschedulable ? `${s},SchedulingDisabled` : s;
}

function servicePorts(svc: KObject): string {
  const ports = (svc.spec?.ports ?? []) as { port: number; nodePort?: number; protocol?: string }[];
  return ports.length ? ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',') : '<none>';
}

const COLUMNS: Record<string, Column[]> = {
  Pod: [
    NAME,
    {
      name: 'Ready',
      type: 'string',
      cell: (p) => `${((p.status?.containerStatuses ?? []) as { ready?: boolean }[]).filter((c) => c.ready).length}/${(p.spec?.containers ?? []).length}`,
    },
    { name: 'Status', type: 'string', cell: podStatus },
    { name: 'Restarts', type: 'string', cell: (p) => String(((p.status?.containerStatuses ?? []) as { restartCount?: number }[]).reduce((a, c) => a + (c.restartCount ?? 0), 0)) },
    AGE,
    { name: 'IP', type: 'string', priority: 1, cell: (p) => p.status?.podIP ?? '<none>' },
    { name: 'Node', type: 'string', priority: 1, cell: (p) => p.spec?.nodeName ?? '<none>' },
    { name: 'Nominated Node', type: 'string', priority: 1, cell: () => '<none>' },
    { name: 'Readiness Gates', type: 'string', priority: 1, cell: () => '<none>' },
  ],
  Node: [
    NAME,
    { name: 'Status', type: 'string', cell: nodeStatus },
    { name: 'Roles', type: 'string', cell: nodeRoles },
    AGE,
    { name: 'Version', type: 'string', cell: (o) => o.status?.nodeInfo?.kubeletVersion ?? '' },
    { name: 'Internal-IP', type: 'string', priority: 1, cell: (o) => (o.status?.addresses ?? []).find((a: { type: string }) => a.type === 'InternalIP')?.address ?? '<none>' },
    { name: 'External-IP', type: 'string', priority: 1, cell: () => '<none>' },
    { name: 'OS-Image', type: 'string', priority: 1, cell: (o) => o.status?.nodeInfo?.osImage ?? '<unknown>' },
    { name: 'Kernel-Version', type: 'string', priority: 1, cell: (o) => o.status?.nodeInfo?.kernelVersion ?? '<unknown>' },
    { name: 'Container-Runtime', type: 'string', priority: 1, cell: (o) => o.status?.nodeInfo?.containerRuntimeVersion ?? '<unknown>' },
  ],
  Deployment: [
    NAME,
    { name: 'Ready', type: 'string', cell: (d) => `${n(d.status?.readyReplicas)}/${n(d.spec?.replicas)}` },
    { name: 'Up-to-date', type: 'integer', cell: (d) => n(d.status?.updatedReplicas) },
    { name: 'Available', type: 'integer', cell: (d) => n(d.status?.availableReplicas) },
    AGE,
    { name: 'Containers', type: 'string', priority: 1, cell: (d) => (d.spec?.template?.spec?.containers ?? []).map((c: { name: string }) => c.name).join(',') },
    { name: 'Images', type: 'string', priority: 1, cell: (d) => (d.spec?.template?.spec?.containers ?? []).map((c: { image: string }) => c.image).join(',') },
    { name: 'Selector', type: 'string', priority: 1, cell: (d) => selectorString(d.spec?.selector?.matchLabels) },
  ],
  ReplicaSet: [
    NAME,
    { name: 'Desired', type: 'integer', cell: (o) => n(o.spec?.replicas) },
    { name: 'Current', type: 'integer', cell: (o) => n(o.status?.replicas) },
    { name: 'Ready', type: 'integer', cell: (o) => n(o.status?.readyReplicas) },
    AGE,
  ],
  StatefulSet: [NAME, { name: 'Ready', type: 'string', cell: (o) => `${n(o.status?.readyReplicas)}/${n(o.spec?.replicas)}` }, AGE],
  DaemonSet: [
    NAME,
    { name: 'Desired', type: 'integer', cell: (o) => n(o.status?.desiredNumberScheduled) },
    { name: 'Current', type: 'integer', cell: (o) => n(o.status?.currentNumberScheduled) },
    { name: 'Ready', type: 'integer', cell: (o) => n(o.status?.numberReady) },
    { name: 'Up-to-date', type: 'integer', cell: (o) => n(o.status?.updatedNumberScheduled) },
    { name: 'Available', type: 'integer', cell: (o) => n(o.status?.numberAvailable) },
    { name: 'Node Selector', type: 'string', cell: (o) => selectorString(o.spec?.template?.spec?.nodeSelector) || '<none>' },
    AGE,
  ],
  Namespace: [NAME, { name: 'Status', type: 'string', cell: (o) => o.status?.phase ?? 'Active' }, AGE],
  Service: [
    NAME,
    { name: 'Type', type: 'string', cell: (o) => o.spec?.type ?? 'ClusterIP' },
    { name: 'Cluster-IP', type: 'string', cell: (o) => o.spec?.clusterIP ?? '<none>' },
    { name: 'External-IP', type: 'string', cell: (o) => (o.spec?.type === 'LoadBalancer' ? '<pending>' : '<none>') },
    { name: 'Port(s)', type: 'string', cell: servicePorts },
    AGE,
  ],
  Secret: [NAME, { name: 'Type', type: 'string', cell: (o) => o.type ?? 'Opaque' }, { name: 'Data', type: 'integer', cell: (o) => Object.keys(o.data ?? {}).length }, AGE],
  ConfigMap: [NAME, { name: 'Data', type: 'integer', cell: (o) => Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length }, AGE],
  NetworkPolicy: [NAME, { name: 'Pod-Selector', type: 'string', cell: (o) => selectorString(o.spec?.podSelector?.matchLabels) || '<none>' }, AGE],
  PodDisruptionBudget: [
    NAME,
    { name: 'Min Available', type: 'string', cell: (o) => String(o.spec?.minAvailable ?? 'N/A') },
    { name: 'Max Unavailable', type: 'string', cell: (o) => String(o.spec?.maxUnavailable ?? 'N/A') },
    { name: 'Allowed Disruptions', type: 'integer', cell: (o) => n(o.status?.disruptionsAllowed) },
    AGE,
  ],
  Event: [
    { name: 'Last Seen', type: 'string', cell: (o, now) => (o.lastTimestamp ? humanDuration(now - Date.parse(o.lastTimestamp)) : '<unknown>') },
    { name: 'Type', type: 'string', cell: (o) => o.type ?? '' },
    { name: 'Reason', type: 'string', cell: (o) => o.reason ?? '' },
    { name: 'Object', type: 'string', cell: (o) => `${String(o.involvedObject?.kind ?? '').toLowerCase()}/${o.involvedObject?.name ?? ''}` },
    { name: 'Message', type: 'string', cell: (o) => o.message ?? '' },
  ],
};

export function wantsTable(accept: string | undefined): boolean {
  return /as=Table/.test(accept ?? '');
}

export function toTable(kind: string, items: readonly KObject[], resourceVersion: string) {
  const cols = COLUMNS[kind] ?? [NAME, AGE];
  const now = Date.now();
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: cols.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: c.name,
      priority: c.priority ?? 0,
    })),
    rows: items.map((o) => ({
      cells: cols.map((c) => c.cell(o, now)),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
