import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, PlannedStep } from '../action-impl.js';
import { clusterFor, kubectlPlanArgs, planCluster } from './cluster.js';
import { getJson, kubectl, kubectlOk, type KubeObject } from './kube.js';
import { toolFailure } from './tool-errors.js';

interface Params {
  cluster: string;
  node: string;
  skip?: boolean;
}

export const cordonNodeAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    return [
      { kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'node', p.node, '-o', 'json'), note: 'was it cordoned before? (recorded once; a re-run keeps the first answer)' },
      { kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'cordon', p.node) },
      { kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'node', p.node, '-o', 'json'), note: 'checks spec.unschedulable' },
    ];
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    // Read (and recorded) before cordoning, not from cordon's "already cordoned": a re-run after an
    // interrupted attempt would take that attempt's own cordon for the node's earlier state.
    const wasCordoned = await rt.remember('was_cordoned', async () => (await getJson<KubeObject>(rt, t, `kubectl get node ${p.node}`, ['node', p.node])).spec?.unschedulable === true);
    await kubectlOk(rt, t, `kubectl cordon ${p.node}`, ['cordon', p.node], { errorCode: 'node_cordon_failed', retryable: true });
    const node = await getJson<KubeObject>(rt, t, `kubectl get node ${p.node}`, ['node', p.node]);
    if (node.spec?.unschedulable !== true) {
      throw new ActionFailedError(`node ${p.node} is not unschedulable after kubectl cordon`, { errorCode: 'node_cordon_failed', retryable: true });
    }
    return { node: p.node, status: 'cordoned', was_cordoned: wasCordoned };
  },
};

export const uncordonNodeAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    if (p.skip) return [{ kind: 'wait', note: `skip: ${p.node} was cordoned before, it stays cordoned` }];
    const t = planCluster(ctx.config, params);
    return [
      { kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'uncordon', p.node) },
      { kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'node', p.node, '-o', 'json'), note: 'checks spec.unschedulable is unset' },
    ];
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    if (p.skip) return { node: p.node, status: 'skipped' };
    const t = await clusterFor(rt, p.cluster);
    const res = await kubectl(rt, t, ['uncordon', p.node]);
    if (res.exitCode !== 0) {
      // A node removed meanwhile (remove_nodes) has nothing left to uncordon.
      if (/\(NotFound\)/.test(res.stderr)) return { node: p.node, status: 'not_found' };
      throw toolFailure('kubectl', `kubectl uncordon ${p.node}`, res, { errorCode: 'node_uncordon_failed', retryable: true });
    }
    const node = await getJson<KubeObject>(rt, t, `kubectl get node ${p.node}`, ['node', p.node]);
    if (node.spec?.unschedulable === true) {
      throw new ActionFailedError(`node ${p.node} is still unschedulable after kubectl uncordon`, { errorCode: 'node_uncordon_failed', retryable: true });
    }
    return { node: p.node, status: 'schedulable' };
  },
};
