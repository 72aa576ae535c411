import { latencyMs } from '../lab-dir.js';
import { collectionPath, createOrUpdate, deleteObject, kubeRequest, objectPath, type LabKube, type MinimalObject } from '../talos/kube-api.js';

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

function key(o: MinimalObject): string {
  return `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/**
 * Makes the cluster hold exactly `want` of the release's objects: creates or updates each, then
 * deletes those only `had` rendered. Returns an error text for the first write the API refused.
 */
export async function syncObjects(k: LabKube, want: readonly MinimalObject[], had: readonly MinimalObject[]): Promise<string | undefined> {
  const order = (o: MinimalObject) => (o.kind === 'Service' ? 0 : 1);
  for (const o of [...want].sort((a, b) => order(a) - order(b))) {
    const r = await createOrUpdate(k, o);
    if (r.status === 0) return `Kubernetes cluster unreachable: ${r.text}`;
    if (r.status >= 400) {
      const msg = (r.body as { message?: string } | undefined)?.message ?? r.text.slice(0, 200);
      return `failed to create resource: ${msg}`;
    }
  }
  const keep = new Set(want.map(key));
  for (const o of had) if (!keep.has(key(o))) await deleteObject(k, o);
  return undefined;
}

export async function deleteObjects(k: LabKube, objects: readonly MinimalObject[]): Promise<void> {
  for (const o of objects) await deleteObject(k, o);
}

interface WorkloadBody {
  metadata?: { generation?: number };
  spec?: { replicas?: number };
  status?: { observedGeneration?: number; readyReplicas?: number; updatedReplicas?: number; numberReady?: number; desiredNumberScheduled?: number };
}

/** helm --wait's readiness of one workload, read from the API server's status. */
export function workloadReady(kind: string, body: WorkloadBody): boolean {
  const s = body.status ?? {};
  const gen = body.metadata?.generation;
  if (gen !== undefined && s.observedGeneration !== undefined && s.observedGeneration < gen) return false;
  if (kind === 'DaemonSet') return s.desiredNumberScheduled !== undefined && (s.numberReady ?? 0) >= s.desiredNumberScheduled;
  const want = body.spec?.replicas ?? 1;
  if (want === 0) return true;
  return (s.readyReplicas ?? 0) >= want && (kind !== 'Deployment' || (s.updatedReplicas ?? want) >= want);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls the workloads until all are ready (true) or the deadline passes (false). */
export async function waitReady(k: LabKube, lab: string, objects: readonly MinimalObject[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const poll = Math.max(10, latencyMs(lab, 50));
  const workloads = objects.filter((o) => WORKLOADS.has(o.kind));
  for (;;) {
    let ready = true;
    for (const o of workloads) {
      const r = await kubeRequest(k, 'GET', objectPath(o));
      if (r.status !== 200 || !workloadReady(o.kind, r.body as WorkloadBody)) {
        ready = false;
        break;
      }
    }
    if (ready) return true;
    if (Date.now() + poll > deadline) return false;
    await sleep(poll);
  }
}

/** Polls until the objects are gone (uninstall --wait). */
export async function waitDeleted(k: LabKube, lab: string, objects: readonly MinimalObject[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const poll = Math.max(10, latencyMs(lab, 50));
  for (;;) {
    let gone = true;
    for (const o of objects) {
      const r = await kubeRequest(k, 'GET', objectPath(o));
      if (r.status === 200) {
        gone = false;
        break;
      }
    }
    if (gone) return true;
    if (Date.now() + poll > deadline) return false;
    await sleep(poll);
  }
}

/** `--create-namespace`: POST the namespace (409: it exists). Without it the namespace must exist. */
export async function ensureNamespace(k: LabKube, namespace: string, create: boolean): Promise<string | undefined> {
  if (create) {
    const r = await kubeRequest(k, 'POST', collectionPath('Namespace'), {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespace, labels: { name: namespace } },
    });
    if (r.status === 0) return `Kubernetes cluster unreachable: ${r.text}`;
    return r.status >= 400 && r.status !== 409 ? `failed to create namespace: ${(r.body as { message?: string } | undefined)?.message ?? r.status}` : undefined;
  }
  const r = await kubeRequest(k, 'GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}`);
  if (r.status === 0) return `Kubernetes cluster unreachable: ${r.text}`;
  return r.status === 404 ? `create: failed to create: namespaces "${namespace}" not found` : undefined;
}
