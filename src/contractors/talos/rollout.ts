import { ActionFailedError } from '../../errors.js';
import type { ActionRuntime } from '../action-impl.js';
import type { ClusterTarget } from './cluster.js';
import { kubectl, kubectlOk } from './kube.js';
import { lines } from './parse.js';
import { toolFailure } from './tool-errors.js';

export function rolloutStatusArgs(kind: string, name: string, namespace: string, timeoutSeconds: number): string[] {
  return ['rollout', 'status', `${kind}/${name}`, '-n', namespace, `--timeout=${timeoutSeconds}s`];
}

/**
 * `kubectl rollout status` (never --watch=false: it exits 0 on an unfinished rollout). Returns
 * kubectl's last line. The process deadline is the rollout timeout plus a margin.
 */
export async function rolloutStatus(rt: ActionRuntime, t: ClusterTarget, kind: string, name: string, namespace: string, timeoutSeconds: number): Promise<string> {
  const res = await kubectl(rt, t, rolloutStatusArgs(kind, name, namespace, Math.max(1, Math.round(timeoutSeconds))), { timeoutMs: (timeoutSeconds + 30) * 1000 });
  if (res.exitCode !== 0) throw toolFailure('kubectl', `rollout of ${kind}/${name} in ${namespace}`, res, { errorCode: 'deployment_rollout_failed', retryable: true });
  return lines(res.stdout).pop() ?? '';
}

/** Names of the workloads of a kind matching a selector (`kubectl get <kind> -l sel -o name`). */
export async function workloadsMatching(rt: ActionRuntime, t: ClusterTarget, kind: string, selector: string, namespace: string): Promise<string[]> {
  const res = await kubectlOk(rt, t, `kubectl get ${kind} -l ${selector}`, ['get', kind, '-n', namespace, '-l', selector, '-o', 'name'], { errorCode: 'kubectl_failed', retryable: true });
  const names = lines(res.stdout).map((l) => l.slice(l.indexOf('/') + 1));
  if (names.length === 0) {
    throw new ActionFailedError(`no ${kind} in ${namespace} matches ${selector}`, { errorCode: 'workload_not_found', retryable: false });
  }
  return names;
}
