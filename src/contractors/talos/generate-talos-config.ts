import { join } from 'node:path';
import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { clusterFor, planCluster } from './cluster.js';
import { patchFiles, talosOk } from './talos.js';
import { isPlaceholder, planList } from './plan-values.js';

interface Params {
  cluster: string;
  endpoint: string;
  output_dir?: string;
  talos_version?: string;
  kubernetes_version?: string;
  install_disk?: string;
  install_image?: string;
  additional_sans?: string[];
  config_patches?: unknown[];
  control_plane_patches?: unknown[];
  worker_patches?: unknown[];
}

/** `10.0.0.5` -> `https://10.0.0.5:6443`; `host:7443` -> `https://host:7443`; URLs unchanged. */
export function clusterEndpoint(endpoint: string): string {
  const e = endpoint.trim();
  if (/^[a-z]+:\/\//i.test(e)) return e;
  return /:\d+$/.test(e) && !/^\[?[0-9a-f:]+\]?$/i.test(e) ? `https://${e}` : `https://${e}:6443`;
}

function genConfigArgs(p: Params, dir: string, secrets: string, patches: { all: string[]; cp: string[]; worker: string[] }): string[] {
  return [
    'gen',
    'config',
    p.cluster,
    clusterEndpoint(p.endpoint),
    '--with-secrets',
    secrets,
    '-o',
    dir,
    '--force',
    '--with-docs=false',
    '--with-examples=false',
    ...(p.talos_version ? ['--talos-version', p.talos_version] : []),
    ...(p.kubernetes_version ? ['--kubernetes-version', p.kubernetes_version] : []),
    ...(p.install_disk ? ['--install-disk', p.install_disk] : []),
    ...(p.install_image ? ['--install-image', p.install_image] : []),
    ...(planList(p.additional_sans).length > 0 ? ['--additional-sans', planList(p.additional_sans).join(',')] : []),
    ...patches.all.flatMap((f) => ['--config-patch', f]),
    ...patches.cp.flatMap((f) => ['--config-patch-control-plane', f]),
    ...patches.worker.flatMap((f) => ['--config-patch-worker', f]),
  ];
}

function outputsFor(dir: string) {
  return {
    config_dir: dir,
    controlplane_config: join(dir, 'controlplane.yaml'),
    worker_config: join(dir, 'worker.yaml'),
    talosconfig: join(dir, 'talosconfig'),
    secrets: join(dir, 'secrets.yaml'),
  };
}

const FAILED = { errorCode: 'talos_config_generation_failed', retryable: false };

export const generateTalosConfigAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const dir = p.output_dir ?? planCluster(ctx.config, params).dir;
    const o = outputsFor(dir);
    // a patch list an earlier action supplies: one file per patch in it
    const patch = (list: unknown, kind: string) => (isPlaceholder(list) ? [`@<scratch>/${kind}-<each of ${list}>.yaml`] : planList(list).map((_, i) => `@<scratch>/${kind}-${i}.yaml`));
    return [
      { kind: 'command', tool: 'talosctl', args: ['gen', 'secrets', '-o', o.secrets, ...(p.talos_version ? ['--talos-version', p.talos_version] : [])], note: 'only when secrets.yaml does not exist yet (it is reused)' },
      {
        kind: 'command',
        tool: 'talosctl',
        args: genConfigArgs(p, dir, o.secrets, { all: patch(p.config_patches, 'all'), cp: patch(p.control_plane_patches, 'controlplane'), worker: patch(p.worker_patches, 'worker') }),
      },
    ];
  },
  async run(rt: ActionRuntime) {
    const p = rt.params as unknown as Params;
    const dir = p.output_dir ?? (await clusterFor(rt, p.cluster)).dir;
    const o = outputsFor(dir);
    // The directory holds the cluster PKI: owner-only, also when it already existed.
    await rt.files.mkdirPrivate(dir);
    await rt.files.chmodPrivate(dir);
    if (!(await rt.files.exists(o.secrets))) {
      await talosOk(rt, 'talosctl gen secrets', ['gen', 'secrets', '-o', o.secrets, ...(p.talos_version ? ['--talos-version', p.talos_version] : [])], FAILED);
    }
    const patches = {
      all: await patchFiles(rt, p.config_patches, 'all'),
      cp: await patchFiles(rt, p.control_plane_patches, 'controlplane'),
      worker: await patchFiles(rt, p.worker_patches, 'worker'),
    };
    await talosOk(rt, 'talosctl gen config', genConfigArgs(p, dir, o.secrets, patches), FAILED);
    for (const f of [o.controlplane_config, o.worker_config, o.talosconfig]) {
      if (!(await rt.files.exists(f))) {
        throw new ActionFailedError(`talosctl gen config exited 0 but ${f} is missing`, { errorCode: 'talos_config_generation_failed', retryable: false });
      }
      await rt.files.chmodPrivate(f);
    }
    return o;
  },
};
