import type { ActionImpl, PlannedStep } from '../action-impl.js';
import { clusterFor, helmPlanArgs, planCluster } from './cluster.js';
import { helm } from './helm.js';
import { goDuration, parseToolJson } from './parse.js';
import { toolFailure } from './tool-errors.js';
import { uninstallPlan, uninstallRelease } from './uninstall-helm-release.js';

interface Params {
  cluster: string;
  release: string;
  namespace: string;
  revision?: number | 'previous';
  wait?: boolean;
  timeout_seconds?: number;
}

function rollbackArgs(p: Params): string[] {
  return [
    'rollback',
    p.release,
    ...(typeof p.revision === 'number' ? [String(p.revision)] : []),
    '--namespace',
    p.namespace,
    ...((p.wait ?? true) ? ['--wait'] : []),
    '--timeout',
    goDuration(p.timeout_seconds ?? 600),
  ];
}

function statusArgs(p: Params): string[] {
  return ['status', p.release, '--namespace', p.namespace, '-o', 'json'];
}

export const rollbackHelmReleaseAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    if (p.revision === 0) {
      return uninstallPlan(t, p.release, p.namespace, { wait: p.wait, timeoutSeconds: p.timeout_seconds }).map((s) => ({ ...s, note: `revision 0, there was no earlier revision: ${s.note ?? ''}` }));
    }
    return [
      { kind: 'command', tool: 'helm', args: helmPlanArgs(t, ...rollbackArgs(p)) },
      { kind: 'command', tool: 'helm', args: helmPlanArgs(t, ...statusArgs(p)), note: 'revision after the rollback' },
    ];
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    if (p.revision === 0) {
      const uninstalled = await uninstallRelease(rt, t, p.release, p.namespace, { wait: p.wait, timeoutSeconds: p.timeout_seconds });
      return { release: p.release, revision: 0, uninstalled };
    }
    const timeout = p.timeout_seconds ?? 600;
    const res = await helm(rt, t, rollbackArgs(p), { timeoutMs: (timeout + 60) * 1000 });
    if (res.exitCode !== 0) throw toolFailure('helm', `helm rollback ${p.release}`, res, { errorCode: 'helm_rollback_failed', retryable: false });
    const st = await helm(rt, t, statusArgs(p));
    if (st.exitCode !== 0) throw toolFailure('helm', `helm status ${p.release}`, st, { errorCode: 'helm_rollback_failed', retryable: true });
    const rel = parseToolJson<{ version?: number }>('helm status', st.stdout);
    return { release: p.release, revision: rel.version ?? null, uninstalled: false };
  },
};
