import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { clusterFor, helmPlanArgs, kubectlPlanArgs, planCluster, type ClusterTarget } from './cluster.js';
import { helm, helmReleaseStatus } from './helm.js';
import { kubectlOk } from './kube.js';
import { goDuration, lines, parseToolJson } from './parse.js';
import { toolFailure } from './tool-errors.js';

interface Params {
  cluster: string;
  release: string;
  namespace: string;
  keep_history?: boolean;
  preserve_pvcs?: boolean;
  wait?: boolean;
  timeout_seconds?: number;
}

/**
 * `helm uninstall` without --ignore-not-found: Helm < 3.13 has no such flag, and with it Helm
 * prints "release ... uninstalled" whether or not the release existed. Existence comes from
 * `helm status` (statusArgs) instead.
 */
export function uninstallArgs(release: string, namespace: string, o: { wait?: boolean; timeoutSeconds?: number; keepHistory?: boolean }): string[] {
  return [
    'uninstall',
    release,
    '--namespace',
    namespace,
    ...((o.wait ?? true) ? ['--wait'] : []),
    '--timeout',
    goDuration(o.timeoutSeconds ?? 300),
    ...(o.keepHistory ? ['--keep-history'] : []),
  ];
}

export function statusArgs(release: string, namespace: string): string[] {
  return ['status', release, '--namespace', namespace, '-o', 'json'];
}

function listArgs(release: string, namespace: string): string[] {
  return ['list', '--namespace', namespace, '--filter', `^${release}$`, '-o', 'json'];
}

function pvcDeleteArgs(release: string, namespace: string): string[] {
  return ['delete', 'pvc', '-n', namespace, '-l', `app.kubernetes.io/instance=${release}`, '--ignore-not-found', '-o', 'name'];
}

/**
 * Uninstalls a release when `helm status` finds one; true when a live release was removed. A
 * release already uninstalled with --keep-history has its history purged (unless keepHistory).
 */
export async function uninstallRelease(rt: ActionRuntime, t: ClusterTarget, release: string, namespace: string, o: { wait?: boolean; timeoutSeconds?: number; keepHistory?: boolean }): Promise<boolean> {
  const status = await helmReleaseStatus(rt, t, release, namespace);
  if (status === undefined) return false;
  if (status === 'uninstalled' && o.keepHistory) return false;
  const res = await helm(rt, t, uninstallArgs(release, namespace, o), { timeoutMs: ((o.timeoutSeconds ?? 300) + 60) * 1000 });
  if (res.exitCode !== 0) {
    // gone between the status and the uninstall (another run, an operator)
    if (/Release not loaded: .*release: not found/.test(res.stderr)) return false;
    throw toolFailure('helm', `helm uninstall ${release}`, res, { errorCode: 'helm_uninstall_failed', retryable: true }, 'action');
  }
  return status !== 'uninstalled';
}

/** The dry-run steps of uninstallRelease. */
export function uninstallPlan(t: ClusterTarget, release: string, namespace: string, o: { wait?: boolean; timeoutSeconds?: number; keepHistory?: boolean }): PlannedStep[] {
  return [
    { kind: 'command', tool: 'helm', args: helmPlanArgs(t, ...statusArgs(release, namespace)), note: 'does the release exist? (release: not found: nothing to uninstall)' },
    { kind: 'command', tool: 'helm', args: helmPlanArgs(t, ...uninstallArgs(release, namespace, o)), note: 'only when it exists' },
  ];
}

export const uninstallHelmReleaseAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    const steps: PlannedStep[] = [
      ...uninstallPlan(t, p.release, p.namespace, { wait: p.wait, timeoutSeconds: p.timeout_seconds, keepHistory: p.keep_history }),
      { kind: 'command', tool: 'helm', args: helmPlanArgs(t, ...listArgs(p.release, p.namespace)), note: 'must be []' },
    ];
    if (p.preserve_pvcs === false) steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...pvcDeleteArgs(p.release, p.namespace)) });
    return steps;
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    const uninstalled = await uninstallRelease(rt, t, p.release, p.namespace, { wait: p.wait, timeoutSeconds: p.timeout_seconds, keepHistory: p.keep_history });
    const list = await helm(rt, t, listArgs(p.release, p.namespace));
    if (list.exitCode !== 0) throw toolFailure('helm', 'helm list', list, { errorCode: 'helm_failed', retryable: true });
    const left = parseToolJson<Array<{ name: string; status?: string }>>('helm list', list.stdout);
    if (left.length > 0) {
      throw new ActionFailedError(`release ${p.release} is still listed after helm uninstall (status ${left[0]?.status ?? 'unknown'})`, {
        errorCode: 'helm_uninstall_failed',
        retryable: true,
      });
    }
    let deleted: string[] = [];
    if (p.preserve_pvcs === false) {
      const res = await kubectlOk(rt, t, 'kubectl delete pvc', pvcDeleteArgs(p.release, p.namespace), { errorCode: 'pvc_delete_failed', retryable: true });
      deleted = lines(res.stdout).map((l) => l.replace(/^persistentvolumeclaims?\//, '').replace(/ deleted$/, ''));
    }
    return { release: p.release, uninstalled, deleted_pvcs: deleted };
  },
};
