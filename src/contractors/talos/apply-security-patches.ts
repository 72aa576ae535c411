import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { clusterFor, kubectlPlanArgs, planCluster, type ClusterTarget } from './cluster.js';
import { applyArgs, applyObjects, getJson, getOptional, type KubeList, type KubeObject } from './kube.js';
import { imageRepository } from './parse.js';
import { rolloutStatus } from './rollout.js';
import { isPlaceholder } from './plan-values.js';

type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';

interface Vulnerability {
  id: string;
  namespace?: string;
  kind?: WorkloadKind;
  name?: string;
  container?: string;
  image?: string;
  fixed_image?: string;
}

interface Params {
  cluster?: string;
  vulnerabilities: Vulnerability[];
  scope?: 'cluster_wide' | 'namespace' | 'workload';
  namespace?: string;
  wait?: boolean;
  timeout_seconds?: number;
}

interface Patch {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  containers: Array<{ name: string; image: string }>;
}

export const SECURITY_FIELD_MANAGER = 'cortex-security';

function containersOf(w: KubeObject): Array<{ name: string; image: string }> {
  const tpl = (w.spec?.template as { spec?: { containers?: Array<{ name: string; image: string }> } } | undefined)?.spec;
  return tpl?.containers ?? [];
}

/** The apply patch that sets container images on a workload (SSA merges containers by name). */
export function imagePatch(p: Patch): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: p.kind,
    metadata: { name: p.name, namespace: p.namespace },
    spec: { template: { spec: { containers: p.containers.map((c) => ({ name: c.name, image: c.image })) } } },
  };
}

/** Containers of a workload that a vulnerability entry fixes. */
export function matchContainers(w: KubeObject, v: Vulnerability): Array<{ name: string; image: string }> {
  const fixed = v.fixed_image as string;
  const repo = imageRepository(v.image ?? fixed);
  return containersOf(w)
    .filter((c) => (v.container ? c.name === v.container : imageRepository(c.image) === repo) && c.image !== fixed)
    .map((c) => ({ name: c.name, image: fixed }));
}

const KINDS: WorkloadKind[] = ['Deployment', 'StatefulSet', 'DaemonSet'];

async function findPatches(rt: ActionRuntime, t: ClusterTarget, p: Params, v: Vulnerability): Promise<Patch[]> {
  const ns = v.namespace ?? p.namespace;
  if (v.name && ns) {
    const kinds = v.kind ? [v.kind] : KINDS;
    for (const kind of kinds) {
      const w = await getOptional<KubeObject>(rt, t, `kubectl get ${kind} ${v.name}`, [kind.toLowerCase(), v.name, '-n', ns]);
      if (!w) continue;
      const containers = matchContainers(w, v);
      return containers.length > 0 ? [{ kind, namespace: ns, name: v.name, containers }] : [];
    }
    return [];
  }
  const scope = p.scope ?? 'workload';
  if (scope === 'workload' || (scope === 'namespace' && !ns)) return [];
  const list = await getJson<KubeList>(rt, t, 'kubectl get workloads', ['deployments,statefulsets,daemonsets', ...(scope === 'namespace' ? ['-n', ns as string] : ['--all-namespaces'])]);
  const out: Patch[] = [];
  for (const w of list.items) {
    const containers = matchContainers(w, v);
    if (containers.length > 0) out.push({ kind: (w.kind as WorkloadKind) ?? 'Deployment', namespace: w.metadata.namespace ?? 'default', name: w.metadata.name, containers });
  }
  return out;
}

export const applySecurityPatchesAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, { cluster: p.cluster ?? 'default' });
    const steps: PlannedStep[] = [];
    if (isPlaceholder(p.vulnerabilities)) {
      steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'deployments,statefulsets,daemonsets', '--all-namespaces', '-o', 'json'), note: `for each vulnerability in ${p.vulnerabilities} with a fixed_image: the containers running its image` });
      steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...applyArgs({ fieldManager: SECURITY_FIELD_MANAGER, forceConflicts: true })), note: 'sets the fixed image' });
      return steps;
    }
    for (const v of p.vulnerabilities) {
      if (!v.fixed_image) {
        steps.push({ kind: 'wait', note: `${v.id}: no fixed_image, skipped` });
        continue;
      }
      const ns = v.namespace ?? p.namespace;
      steps.push({
        kind: 'command',
        tool: 'kubectl',
        args: v.name && ns ? kubectlPlanArgs(t, 'get', (v.kind ?? 'Deployment').toLowerCase(), v.name, '-n', ns, '--ignore-not-found', '-o', 'json') : kubectlPlanArgs(t, 'get', 'deployments,statefulsets,daemonsets', '--all-namespaces', '-o', 'json'),
        note: `${v.id}: containers running ${imageRepository(v.image ?? v.fixed_image)}`,
      });
      steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...applyArgs({ fieldManager: SECURITY_FIELD_MANAGER, forceConflicts: true })), note: `sets ${v.fixed_image}` });
    }
    return steps;
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster ?? 'default');
    const patched: Patch[] = [];
    const skipped: string[] = [];
    for (const v of p.vulnerabilities) {
      if (!v.fixed_image) {
        skipped.push(v.id);
        continue;
      }
      const found = await findPatches(rt, t, p, v);
      if (found.length === 0) {
        skipped.push(v.id);
        continue;
      }
      // Images are owned by whoever deployed the workload: take the field over explicitly.
      await applyObjects(rt, t, found.map(imagePatch), { fieldManager: SECURITY_FIELD_MANAGER, forceConflicts: true }, { errorCode: 'security_patch_failed', retryable: false });
      patched.push(...found);
    }
    if (p.wait ?? true) {
      const deadline = rt.now().getTime() + (p.timeout_seconds ?? 900) * 1000;
      for (const w of patched) await rolloutStatus(rt, t, w.kind.toLowerCase(), w.name, w.namespace, Math.max(1, (deadline - rt.now().getTime()) / 1000));
    }
    const ids = [...new Set(patched.map((w) => `${w.namespace}/${w.kind}/${w.name}`))];
    return { patched: ids, skipped, count: ids.length };
  },
};
