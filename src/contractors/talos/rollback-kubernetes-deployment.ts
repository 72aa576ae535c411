import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, PlannedStep } from '../action-impl.js';
import { clusterFor, kubectlPlanArgs, planCluster } from './cluster.js';
import { getOptional, kubectl, kubectlOk, revisionOf, type KubeObject } from './kube.js';
import { rolloutStatus, rolloutStatusArgs } from './rollout.js';
import { toolFailure } from './tool-errors.js';

interface Params {
  cluster: string;
  namespace: string;
  deployment: string;
  revision?: number | 'previous';
  wait?: boolean;
  timeout_seconds?: number;
}

function undoArgs(p: Params): string[] {
  return ['rollout', 'undo', `deployment/${p.deployment}`, '-n', p.namespace, ...(typeof p.revision === 'number' ? [`--to-revision=${p.revision}`] : [])];
}

function deleteArgs(p: Params): string[] {
  return ['delete', 'deployment', p.deployment, '-n', p.namespace, '--ignore-not-found', '-o', 'name'];
}

export const rollbackKubernetesDeploymentAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    if (p.revision === 0) return [{ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...deleteArgs(p)), note: 'revision 0: the deployment did not exist before' }];
    const steps: PlannedStep[] = [{ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...undoArgs(p)) }];
    if (p.wait !== false) steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...rolloutStatusArgs('deployment', p.deployment, p.namespace, p.timeout_seconds ?? 300)) });
    steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'deployment', p.deployment, '-n', p.namespace, '--ignore-not-found', '-o', 'json') });
    return steps;
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    if (p.revision === 0) {
      const res = await kubectlOk(rt, t, `kubectl delete deployment ${p.deployment}`, deleteArgs(p), { errorCode: 'deployment_rollback_failed', retryable: true });
      return { deployment: p.deployment, revision: 0, rolled_back: false, deleted: res.stdout.trim() !== '' };
    }
    const res = await kubectl(rt, t, undoArgs(p));
    if (res.exitCode !== 0) {
      if (/no rollout history found/.test(res.stderr)) {
        throw new ActionFailedError(`deployment ${p.deployment} has no earlier revision to roll back to`, { errorCode: 'no_rollout_history', retryable: false });
      }
      if (/unable to find specified revision/.test(res.stderr)) {
        throw new ActionFailedError(`deployment ${p.deployment} has no revision ${String(p.revision)}`, { errorCode: 'revision_not_found', retryable: false });
      }
      throw toolFailure('kubectl', `kubectl rollout undo deployment/${p.deployment}`, res, { errorCode: 'deployment_rollback_failed', retryable: true });
    }
    // "skipped rollback (current template already matches revision N)": already there.
    const rolledBack = /rolled back/.test(res.stdout) && !/skipped rollback/.test(res.stdout);
    if (p.wait !== false) await rolloutStatus(rt, t, 'deployment', p.deployment, p.namespace, p.timeout_seconds ?? 300);
    const after = await getOptional<KubeObject>(rt, t, `kubectl get deployment ${p.deployment}`, ['deployment', p.deployment, '-n', p.namespace]);
    return { deployment: p.deployment, revision: revisionOf(after), rolled_back: rolledBack, deleted: false };
  },
};
