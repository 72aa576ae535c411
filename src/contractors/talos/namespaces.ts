import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { clusterFor, kubectlPlanArgs, planCluster, type ClusterTarget } from './cluster.js';
import { applyArgs, applyObjects, kubectlOk, manifestStream } from './kube.js';
import { isPlaceholder } from './plan-values.js';

/** The Namespace object cortex applies (server-side apply; `kubectl create namespace` would send protobuf). */
export function namespaceManifest(name: string, labels?: Record<string, string>, annotations?: Record<string, string>): Record<string, unknown> {
  const metadata: Record<string, unknown> = { name };
  // (a dry run's placeholder for a map an earlier action supplies is shown as it is)
  if (isPlaceholder(labels)) metadata.labels = labels;
  else if (labels && Object.keys(labels).length > 0) metadata.labels = { ...labels };
  if (isPlaceholder(annotations)) metadata.annotations = annotations;
  else if (annotations && Object.keys(annotations).length > 0) metadata.annotations = { ...annotations };
  return { apiVersion: 'v1', kind: 'Namespace', metadata };
}

export function getNamespaceArgs(namespace: string): string[] {
  return ['get', 'namespace', namespace, '--ignore-not-found', '-o', 'name'];
}

export async function namespaceExists(rt: ActionRuntime, t: ClusterTarget, namespace: string): Promise<boolean> {
  const res = await kubectlOk(rt, t, `kubectl get namespace ${namespace}`, getNamespaceArgs(namespace), { errorCode: 'kubectl_failed', retryable: true });
  return res.stdout.trim() !== '';
}

export async function applyNamespace(rt: ActionRuntime, t: ClusterTarget, manifest: Record<string, unknown>): Promise<void> {
  await applyObjects(rt, t, [manifest], {}, { errorCode: 'namespace_creation_failed', retryable: false });
}

function kc(ctxConfig: Parameters<typeof planCluster>[0], params: Record<string, unknown>): string[] {
  const t = planCluster(ctxConfig, params);
  return kubectlPlanArgs(t);
}

interface CreateParams {
  cluster: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export const createNamespaceAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as CreateParams;
    const k = kc(ctx.config, params);
    return [
      { kind: 'command', tool: 'kubectl', args: [...k, ...getNamespaceArgs(p.namespace)] },
      { kind: 'command', tool: 'kubectl', args: [...k, ...applyArgs({})], stdin: manifestStream([namespaceManifest(p.namespace, p.labels, p.annotations)]) },
    ];
  },
  async run(rt) {
    const p = rt.params as unknown as CreateParams;
    const t = await clusterFor(rt, p.cluster);
    const existed = await rt.remember('existed', () => namespaceExists(rt, t, p.namespace));
    await applyNamespace(rt, t, namespaceManifest(p.namespace, p.labels, p.annotations));
    return { namespace: p.namespace, created: !existed };
  },
};

interface VerifyParams {
  cluster: string;
  namespace: string;
  create_if_missing?: boolean;
  labels?: Record<string, string>;
}

export const verifyNamespaceExistsAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as VerifyParams;
    const k = kc(ctx.config, params);
    const steps: PlannedStep[] = [{ kind: 'command', tool: 'kubectl', args: [...k, ...getNamespaceArgs(p.namespace)] }];
    if (p.create_if_missing) {
      steps.push({ kind: 'command', tool: 'kubectl', args: [...k, ...applyArgs({})], stdin: manifestStream([namespaceManifest(p.namespace, p.labels)]), note: 'only when it is missing' });
    }
    return steps;
  },
  async run(rt) {
    const p = rt.params as unknown as VerifyParams;
    const t = await clusterFor(rt, p.cluster);
    // Only recorded when the action may create it: a plain check must see a namespace made meanwhile.
    const existed = p.create_if_missing ? await rt.remember('existed', () => namespaceExists(rt, t, p.namespace)) : await namespaceExists(rt, t, p.namespace);
    if (existed) return { namespace: p.namespace, exists: true, created: false };
    if (!p.create_if_missing) {
      throw new ActionFailedError(`namespace ${p.namespace} does not exist in cluster ${t.name}`, {
        errorCode: 'namespace_not_found',
        retryable: false,
        hint: 'create it (create_namespace), or set create_if_missing: true',
      });
    }
    await applyNamespace(rt, t, namespaceManifest(p.namespace, p.labels));
    return { namespace: p.namespace, exists: false, created: true };
  },
};
