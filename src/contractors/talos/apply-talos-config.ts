import { join } from 'node:path';
import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { clusterFor, nodeArgs, planCluster, talosArgs, talosPlanArgs, type ClusterTarget } from './cluster.js';
import { isConfiguredNode, patchFiles, talosctl } from './talos.js';
import { toolFailure } from './tool-errors.js';
import { isPlaceholder, planList } from './plan-values.js';

interface Params {
  cluster: string;
  nodes: string[];
  config_file?: string;
  machine_type?: 'controlplane' | 'worker';
  insecure?: boolean;
  mode?: string;
  endpoint?: string;
  config_patches?: unknown[];
}

/** The machine config to apply: config_file, else the generated one for machine_type in the cluster directory. */
export function machineConfigPath(t: ClusterTarget, configFile: string | undefined, machineType: string | undefined): string {
  if (configFile) return configFile;
  return join(t.dir, `${machineType === 'controlplane' ? 'controlplane' : 'worker'}.yaml`);
}

export async function requireConfig(rt: ActionRuntime, path: string): Promise<void> {
  if (!(await rt.files.exists(path))) {
    throw new ActionFailedError(`machine config ${path} does not exist`, {
      errorCode: 'talos_config_not_found',
      retryable: false,
      hint: 'run generate_talos_config for this cluster first, or pass config_file',
    });
  }
}

export function insecureApplyArgs(node: string, file: string, mode: string, patches: string[]): string[] {
  return ['apply-config', '--insecure', '-n', node, '--file', file, '--mode', mode, ...patches.flatMap((f) => ['--config-patch', f])];
}

export function secureApplyArgs(t: ClusterTarget, node: string, endpoint: unknown, file: string, mode: string, patches: string[]): string[] {
  return talosArgs(t, 'apply-config', ...nodeArgs(t, node, endpoint), '--file', file, '--mode', mode, ...patches.flatMap((f) => ['--config-patch', f]));
}

const FAILED = { errorCode: 'talos_config_apply_failed', retryable: false };

/**
 * Applies a config to one node. An --insecure apply that finds the node already configured (an
 * earlier attempt got through) is repeated through the authenticated API.
 */
export async function applyToNode(rt: ActionRuntime, t: ClusterTarget, node: string, o: { file: string; mode: string; insecure: boolean; endpoint?: unknown; patches: string[] }): Promise<'insecure' | 'authenticated'> {
  if (o.insecure) {
    const res = await talosctl(rt, insecureApplyArgs(node, o.file, o.mode, o.patches));
    if (res.exitCode === 0) return 'insecure';
    if (!isConfiguredNode(res.stderr)) throw toolFailure('talosctl', `talosctl apply-config --insecure -n ${node}`, res, FAILED);
    rt.debug(`${node} is out of maintenance mode; re-applying through the authenticated API`);
  }
  const res = await talosctl(rt, secureApplyArgs(t, node, o.endpoint, o.file, o.mode, o.patches));
  if (res.exitCode !== 0) throw toolFailure('talosctl', `talosctl apply-config -n ${node}`, res, FAILED);
  return 'authenticated';
}

export const applyTalosConfigAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    const file = machineConfigPath(t, p.config_file, p.machine_type);
    const mode = p.mode ?? 'auto';
    const patches = isPlaceholder(p.config_patches) ? [`@<scratch>/patch-<each of ${p.config_patches}>.yaml`] : planList(p.config_patches).map((_, i) => `@<scratch>/patch-${i}.yaml`);
    return planList<string>(p.nodes).map((node) =>
      p.insecure
        ? { kind: 'command' as const, tool: 'talosctl', args: insecureApplyArgs(node, file, mode, patches), note: 'a node already out of maintenance mode gets the authenticated apply-config instead' }
        : { kind: 'command' as const, tool: 'talosctl', args: talosPlanArgs(t, 'apply-config', ...nodeArgs(t, node, p.endpoint), '--file', file, '--mode', mode, ...patches.flatMap((f) => ['--config-patch', f])) },
    );
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    const file = machineConfigPath(t, p.config_file, p.machine_type);
    await requireConfig(rt, file);
    const mode = p.mode ?? 'auto';
    const patches = await patchFiles(rt, p.config_patches, 'patch');
    for (const node of p.nodes) {
      await applyToNode(rt, t, node, { file, mode, insecure: p.insecure ?? false, endpoint: p.endpoint, patches });
    }
    return { nodes: [...p.nodes], mode };
  },
};
