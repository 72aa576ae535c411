import type { ActionImpl, PlannedStep } from '../action-impl.js';
import { clusterFor, nodeArgs, planCluster, talosArgs, talosPlanArgs } from './cluster.js';
import { talosctl } from './talos.js';
import { toolFailure } from './tool-errors.js';

interface Params {
  cluster: string;
  node: string;
  endpoint?: string;
  recover_from?: string;
}

/** Talos says etcd was bootstrapped before: the goal is reached. */
export function isAlreadyBootstrapped(stderr: string): boolean {
  return /code = AlreadyExists|etcd data directory is not empty/.test(stderr);
}

export const bootstrapTalosClusterAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    const args = ['bootstrap', ...nodeArgs(t, p.node, p.endpoint), ...(p.recover_from ? ['--recover-from', p.recover_from] : [])];
    return [{ kind: 'command', tool: 'talosctl', args: talosPlanArgs(t, ...args), note: 'AlreadyExists ("etcd data directory is not empty") counts as success' }];
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    const res = await talosctl(rt, talosArgs(t, 'bootstrap', ...nodeArgs(t, p.node, p.endpoint), ...(p.recover_from ? ['--recover-from', p.recover_from] : [])));
    if (res.exitCode === 0) return { node: p.node, bootstrapped: true, already_bootstrapped: false };
    if (isAlreadyBootstrapped(res.stderr)) return { node: p.node, bootstrapped: false, already_bootstrapped: true };
    // FailedPrecondition ("bootstrap is not available yet") and Unavailable are retryable by class.
    throw toolFailure('talosctl', `talosctl bootstrap -n ${p.node}`, res, { errorCode: 'talos_bootstrap_failed', retryable: false });
  },
};
