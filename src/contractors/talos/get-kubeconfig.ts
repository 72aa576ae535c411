import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { clusterFor, nodeArgs, planCluster, planNode, requireNode, talosArgs, talosPlanArgs, type ClusterTarget } from './cluster.js';
import { getJson, type KubeList } from './kube.js';
import { talosOk } from './talos.js';

interface Params {
  cluster: string;
  node?: string;
  endpoint?: string;
  path?: string;
  validate?: boolean;
}

function kubeconfigArgs(t: ClusterTarget, p: Params, path: string, node: string): string[] {
  return ['kubeconfig', '--merge=false', path, ...nodeArgs(t, node, p.endpoint), '--force'];
}

/** current-context of a kubeconfig (the file holds credentials: only this name leaves it). */
async function currentContext(rt: ActionRuntime, path: string): Promise<string | null> {
  try {
    const doc = parse(await rt.files.readText(path)) as { 'current-context'?: unknown } | null;
    return typeof doc?.['current-context'] === 'string' ? doc['current-context'] : null;
  } catch {
    return null;
  }
}

export const getKubeconfigAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    const path = p.path ?? join(t.dir, 'kubeconfig');
    const steps: PlannedStep[] = [{ kind: 'command', tool: 'talosctl', args: talosPlanArgs(t, ...kubeconfigArgs(t, p, path, planNode(t, p.node))) }];
    if (p.validate !== false) steps.push({ kind: 'command', tool: 'kubectl', args: ['--kubeconfig', path, 'get', 'nodes', '-o', 'json'] });
    return steps;
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    const path = p.path ?? join(t.dir, 'kubeconfig');
    await rt.files.mkdirPrivate(dirname(path));
    await talosOk(rt, 'talosctl kubeconfig', talosArgs(t, ...kubeconfigArgs(t, p, path, requireNode(t, p.node, 'kubeconfig'))), { errorCode: 'kubeconfig_failed', retryable: true });
    await rt.files.chmodPrivate(path).catch(() => undefined);
    const context = await currentContext(rt, path);
    let nodes: number | null = null;
    if (p.validate !== false) {
      // Validate the new file itself, not the configured kubeconfig.
      const list = await getJson<KubeList>(rt, { ...t, kubeconfig: path, context: undefined }, 'kubectl get nodes', ['nodes']);
      nodes = list.items.length;
    }
    return { path, context, nodes };
  },
};
