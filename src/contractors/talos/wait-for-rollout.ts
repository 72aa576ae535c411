import type { ActionImpl, PlannedStep } from '../action-impl.js';
import { clusterFor, kubectlPlanArgs, planCluster } from './cluster.js';
import { rolloutStatus, rolloutStatusArgs, workloadsMatching } from './rollout.js';

interface Params {
  cluster: string;
  namespace: string;
  deployment?: string;
  selector?: string;
  kind?: 'deployment' | 'statefulset' | 'daemonset';
  timeout?: number;
}

export const waitForRolloutAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    const kind = p.kind ?? 'deployment';
    const timeout = p.timeout ?? 300;
    if (p.deployment) return [{ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...rolloutStatusArgs(kind, p.deployment, p.namespace, timeout)) }];
    return [
      { kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', kind, '-n', p.namespace, '-l', p.selector as string, '-o', 'name') },
      { kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...rolloutStatusArgs(kind, '<name>', p.namespace, timeout)), note: 'for each match, within the one time limit' },
    ];
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    const kind = p.kind ?? 'deployment';
    const timeout = p.timeout ?? 300;
    const names = p.deployment ? [p.deployment] : await workloadsMatching(rt, t, kind, p.selector as string, p.namespace);
    const deadline = rt.now().getTime() + timeout * 1000;
    let message = '';
    for (const name of names) {
      // Several workloads share one time limit, like a single rollout status over all of them.
      const left = Math.max(1, Math.round((deadline - rt.now().getTime()) / 1000));
      message = await rolloutStatus(rt, t, kind, name, p.namespace, left);
    }
    return { deployment: p.deployment ?? p.selector, resources: names.map((n) => `${kind}/${n}`), message };
  },
};
