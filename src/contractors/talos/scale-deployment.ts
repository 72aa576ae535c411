import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, PlannedStep } from '../action-impl.js';
import { clusterFor, kubectlPlanArgs, planCluster } from './cluster.js';
import { getJson, kubectlOk, num, type KubeList } from './kube.js';
import { rolloutStatus, rolloutStatusArgs } from './rollout.js';
import { isPlaceholder } from './plan-values.js';

interface Params {
  cluster: string;
  namespace: string;
  deployment?: string;
  selector?: string;
  replicas?: number;
  replicas_by_deployment?: Record<string, number>;
  wait?: boolean;
  timeout_seconds?: number;
}

function scaleArgs(name: string, replicas: number | string, namespace: string): string[] {
  return ['scale', `deployment/${name}`, `--replicas=${replicas}`, '-n', namespace];
}

export const scaleDeploymentAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    const steps: PlannedStep[] = [
      { kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'deployments', '-n', p.namespace, ...(p.selector && !p.replicas_by_deployment && !p.deployment ? ['-l', p.selector] : []), '-o', 'json'), note: 'current replicas (for rollback)' },
    ];
    const targets: Array<[string, number | string]> = isPlaceholder(p.replicas_by_deployment)
      ? [[`<each deployment of ${p.replicas_by_deployment}>`, '<its replicas>']]
      : p.replicas_by_deployment
        ? Object.entries(p.replicas_by_deployment)
        : [[p.deployment ?? '<each match>', p.replicas ?? 0]];
    for (const [name, n] of targets) steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...scaleArgs(name, n, p.namespace)) });
    if (p.wait) for (const [name] of targets) steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...rolloutStatusArgs('deployment', name, p.namespace, p.timeout_seconds ?? 600)) });
    return steps;
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    const bySelector = !p.replicas_by_deployment && !p.deployment;
    const list = await getJson<KubeList>(rt, t, 'kubectl get deployments', ['deployments', '-n', p.namespace, ...(bySelector ? ['-l', p.selector as string] : [])]);
    const current = new Map(list.items.map((d) => [d.metadata.name, num(d.spec?.replicas, 1)]));
    const targets: Array<[string, number]> = p.replicas_by_deployment
      ? Object.entries(p.replicas_by_deployment)
      : p.deployment
        ? [[p.deployment, p.replicas as number]]
        : [...current.keys()].map((n) => [n, p.replicas as number]);
    if (targets.length === 0) {
      throw new ActionFailedError(`no deployment in ${p.namespace} matches ${p.selector}`, { errorCode: 'workload_not_found', retryable: false });
    }
    const missing = targets.filter(([n]) => !current.has(n)).map(([n]) => n);
    if (missing.length > 0) {
      throw new ActionFailedError(`deployments not found in ${p.namespace}: ${missing.join(', ')}`, { errorCode: 'k8s_not_found', retryable: false });
    }
    // Recorded once, before the first scale: a re-run finds the replicas an earlier attempt set.
    const before = await rt.remember('previous_replicas', async () => Object.fromEntries(targets.map(([name]) => [name, current.get(name) as number])));
    const previous: Record<string, number> = {};
    const after: Record<string, number> = {};
    for (const [name, n] of targets) {
      previous[name] = before[name] ?? (current.get(name) as number);
      await kubectlOk(rt, t, `kubectl scale deployment/${name}`, scaleArgs(name, n, p.namespace), { errorCode: 'scale_failed', retryable: true });
      after[name] = n;
    }
    if (p.wait) {
      const deadline = rt.now().getTime() + (p.timeout_seconds ?? 600) * 1000;
      for (const [name] of targets) await rolloutStatus(rt, t, 'deployment', name, p.namespace, Math.max(1, (deadline - rt.now().getTime()) / 1000));
    }
    return { deployments: targets.map(([n]) => n), previous_replicas: previous, replicas: after };
  },
};
