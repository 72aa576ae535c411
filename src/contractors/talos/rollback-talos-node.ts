import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, PlannedStep } from '../action-impl.js';
import { clusterFor, nodeArgs, planCluster, talosArgs, talosPlanArgs } from './cluster.js';
import { nodeVersion, talosOk } from './talos.js';

interface Params {
  cluster: string;
  node: string;
  endpoint?: string;
  skip?: boolean;
  timeout_seconds?: number;
}

const POLL_MS = 5000;

export const rollbackTalosNodeAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    if (p.skip) return [{ kind: 'wait', note: 'skip: the upgrade changed nothing, nothing to roll back' }];
    const t = planCluster(ctx.config, params);
    const pre = (args: string[]) => (talosPlanArgs(t, ...args));
    return [
      { kind: 'command', tool: 'talosctl', args: pre(['rollback', ...nodeArgs(t, p.node, p.endpoint)]) },
      { kind: 'command', tool: 'talosctl', args: pre(['version', ...nodeArgs(t, p.node, p.endpoint)]), note: 'repeated until the node answers again' },
    ];
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    if (p.skip) return { node: p.node, version: null };
    const t = await clusterFor(rt, p.cluster);
    await talosOk(rt, `talosctl rollback -n ${p.node}`, talosArgs(t, 'rollback', ...nodeArgs(t, p.node, p.endpoint)), { errorCode: 'talos_rollback_failed', retryable: false });
    const deadline = rt.now().getTime() + (p.timeout_seconds ?? 900) * 1000;
    for (;;) {
      const v = await nodeVersion(rt, t, p.node, p.endpoint);
      if (v.version) return { node: p.node, version: v.version };
      if (rt.now().getTime() + POLL_MS > deadline) {
        throw new ActionFailedError(`node ${p.node} did not answer within ${p.timeout_seconds ?? 900}s after the rollback`, { errorCode: 'talos_rollback_failed', retryable: true });
      }
      await rt.sleep(POLL_MS);
    }
  },
};
