import { parseAllDocuments } from 'yaml';
import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { clusterFor, kubectlPlanArgs, planCluster } from './cluster.js';
import { applyArgs, applyObjects, getOptional, manifestStream, revisionOf, type KubeObject } from './kube.js';
import { invalidParams } from './tool-errors.js';
import { isPlaceholder } from './plan-values.js';

interface Params {
  cluster: string;
  namespace: string;
  manifest?: Record<string, unknown> | Array<Record<string, unknown>>;
  manifest_file?: string;
  force_conflicts?: boolean;
}

interface Obj {
  kind?: unknown;
  metadata?: { name?: unknown };
  items?: unknown[];
}

/** Flattens v1 Lists so the first Deployment can be found. */
export function flattenObjects(docs: readonly unknown[]): Obj[] {
  const out: Obj[] = [];
  for (const d of docs) {
    if (!d || typeof d !== 'object') continue;
    const o = d as Obj;
    if (typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items)) out.push(...flattenObjects(o.items));
    else out.push(o);
  }
  return out;
}

export function firstDeployment(objects: readonly Obj[]): string | null {
  const d = objects.find((o) => o.kind === 'Deployment' && typeof o.metadata?.name === 'string');
  return d ? (d.metadata?.name as string) : null;
}

async function loadObjects(rt: ActionRuntime, p: Params): Promise<Obj[]> {
  if (p.manifest !== undefined) return flattenObjects(Array.isArray(p.manifest) ? p.manifest : [p.manifest]);
  const text = await rt.files.readText(p.manifest_file as string).catch((e: NodeJS.ErrnoException) => {
    throw invalidParams(`cannot read manifest_file ${p.manifest_file}: ${e.code ?? e.message}`);
  });
  return flattenObjects(parseAllDocuments(text).map((d) => d.toJS() as unknown));
}

export const applyKubernetesManifestAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    // a manifest an earlier action supplies is shown as its placeholder
    const objects = isPlaceholder(p.manifest) ? [] : p.manifest !== undefined ? flattenObjects(Array.isArray(p.manifest) ? p.manifest : [p.manifest]) : [];
    const deployment = firstDeployment(objects);
    const steps: PlannedStep[] = [];
    if (deployment || p.manifest_file || isPlaceholder(p.manifest)) {
      steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'deployment', deployment ?? '<first Deployment>', '-n', p.namespace, '--ignore-not-found', '-o', 'json'), note: 'revision before the apply (for rollback)' });
    }
    const opts = { namespace: p.namespace, forceConflicts: p.force_conflicts ?? false, ...(p.manifest === undefined ? { file: p.manifest_file as string } : {}) };
    const stdin = isPlaceholder(p.manifest) ? `${p.manifest}\n` : manifestStream(objects);
    steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...applyArgs(opts)), ...(p.manifest !== undefined ? { stdin } : {}) });
    return steps;
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    const objects = await loadObjects(rt, p);
    if (objects.length === 0) throw invalidParams('the manifest holds no objects');
    const deployment = firstDeployment(objects);
    const previousRevision = deployment
      ? await rt.remember('previous_revision', async () => revisionOf(await getOptional<KubeObject>(rt, t, `kubectl get deployment ${deployment}`, ['deployment', deployment, '-n', p.namespace])))
      : null;
    const applied = await applyObjects(rt, t, objects, {
      namespace: p.namespace,
      forceConflicts: p.force_conflicts ?? false,
      ...(p.manifest === undefined ? { file: p.manifest_file as string } : {}),
    });
    let revision: number | null = null;
    if (deployment) {
      const after = await getOptional<KubeObject>(rt, t, `kubectl get deployment ${deployment}`, ['deployment', deployment, '-n', p.namespace]);
      revision = revisionOf(after);
    }
    return { objects: applied, deployment, previous_revision: previousRevision, revision };
  },
};
