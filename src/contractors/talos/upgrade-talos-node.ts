import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, PlannedStep } from '../action-impl.js';
import { clusterFor, nodeArgs, planCluster, talosArgs, talosPlanArgs, type ClusterTarget } from './cluster.js';
import { nodeVersion, talosOk } from './talos.js';
import { toolFailure } from './tool-errors.js';

interface Params {
  cluster: string;
  node: string;
  image: string;
  endpoint?: string;
  stage?: boolean;
  preserve?: boolean;
  reboot_mode?: 'default' | 'powercycle';
  timeout_seconds?: number;
}

function upgradeArgs(t: ClusterTarget, p: Params): string[] {
  return [
    'upgrade',
    ...nodeArgs(t, p.node, p.endpoint),
    '--image',
    p.image,
    '--wait',
    '--timeout',
    `${p.timeout_seconds ?? 1800}s`,
    ...(p.stage ? ['--stage'] : []),
    ...(p.preserve ? ['--preserve'] : []),
    ...(p.reboot_mode && p.reboot_mode !== 'default' ? ['--reboot-mode', p.reboot_mode] : []),
  ];
}

export const upgradeTalosNodeAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    const pre = (args: string[]) => (talosPlanArgs(t, ...args));
    const version = pre(['version', ...nodeArgs(t, p.node, p.endpoint)]);
    return [
      { kind: 'command', tool: 'talosctl', args: version, note: 'previous version' },
      { kind: 'command', tool: 'talosctl', args: pre(upgradeArgs(t, p)) },
      { kind: 'command', tool: 'talosctl', args: version, note: 'version after the upgrade' },
    ];
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    // A re-run after an interrupted upgrade finds the new version; "unchanged" would then skip the undo.
    const previousVersion = await rt.remember('previous_version', async () => {
      const before = await nodeVersion(rt, t, p.node, p.endpoint);
      if (!before.version) throw toolFailure('talosctl', `talosctl version -n ${p.node}`, before.res, { errorCode: 'talos_upgrade_failed', retryable: true });
      return before.version;
    });
    const timeout = p.timeout_seconds ?? 1800;
    await talosOk(rt, `talosctl upgrade -n ${p.node}`, talosArgs(t, ...upgradeArgs(t, p)), { errorCode: 'talos_upgrade_failed', retryable: false }, { timeoutMs: (timeout + 60) * 1000 });
    const after = await nodeVersion(rt, t, p.node, p.endpoint);
    if (!after.version) {
      throw new ActionFailedError(`node ${p.node} does not answer after the upgrade: ${after.res.stderr.trim().split('\n').pop() ?? ''}`, {
        errorCode: 'talos_upgrade_failed',
        retryable: true,
      });
    }
    return { node: p.node, previous_version: previousVersion, version: after.version, unchanged: after.version === previousVersion };
  },
};
