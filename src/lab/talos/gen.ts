import { existsSync, readFileSync } from 'node:fs';
import { writeLabFile } from '../lab-dir.js';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { bool, list, str } from './cobra.js';
import { CLIENT_VERSION, machineConfig, newSecretsBundle, talosconfigText, type ConfigInputs, type LabSecrets, type MachineType } from './state.js';
import { CommandError, exactArgs, noArgs, type Command, type Ctx } from './command.js';

export function writeGenerated(ctx: Ctx, path: string, text: string, mode: number): void {
  if (!bool(ctx.p, 'force') && existsSync(path)) throw new CommandError(`file "${path}" already exists, use --force to overwrite`);
  writeLabFile(path, text, mode);
}

export function validateClusterEndpoint(endpoint: string): void {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/]+)/i.exec(endpoint);
  const fix = (host: string) => `https://${/:\d+$/.test(host) ? host : `${host}:6443`}`;
  if (!m) {
    const host = endpoint.replace(/\/.*$/, '');
    const hasPort = /:\d+$/.test(host);
    throw new CommandError(`no scheme${hasPort ? '' : ' and port'} specified for the cluster endpoint URL\ntry: "${fix(host)}"`);
  }
  if (m[1]?.toLowerCase() !== 'https') throw new CommandError(`the control plane endpoint URL should have scheme https://\ntry: "${fix(m[2] as string)}"`);
}

export function deepMerge(base: unknown, patch: unknown): unknown {
  if (patch && typeof patch === 'object' && !Array.isArray(patch) && base && typeof base === 'object' && !Array.isArray(base)) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(patch as Record<string, unknown>)) out[k] = k in out ? deepMerge(out[k], v) : v;
    return out;
  }
  return patch;
}

export function loadPatches(ctx: Ctx, values: string[]): unknown[] {
  return values.map((v) => {
    let text = v;
    if (v.startsWith('@')) {
      const file = resolve(ctx.cwd, v.slice(1));
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        throw new CommandError(`error parsing config JSON patch: open ${v.slice(1)}: no such file or directory`);
      }
    }
    try {
      return parse(text) as unknown;
    } catch (e) {
      throw new CommandError(`error parsing config JSON patch: ${(e as Error).message.split('\n')[0]}`);
    }
  });
}

export const genSecretsCmd: Command = {
  path: 'talosctl gen secrets',
  use: 'secrets [flags]',
  short: 'Generates a secrets bundle file which can later be used to generate a config',
  local: true,
  args: noArgs,
  flags: [
    { name: 'output-file', short: 'o', type: 'string', default: 'secrets.yaml', usage: 'path of the output file, or "-" for stdout' },
    { name: 'talos-version', type: 'string', usage: 'the desired Talos version to generate secrets bundle for (backwards compatibility, e.g. v0.8)' },
    { name: 'from-controlplane-config', type: 'string', usage: 'use the provided controlplane Talos machine configuration as input' },
    { name: 'from-kubernetes-pki', short: 'p', type: 'string', usage: 'use a Kubernetes PKI directory (e.g. /etc/kubernetes/pki) as input' },
    { name: 'kubernetes-bootstrap-token', short: 't', type: 'string', usage: 'use the provided bootstrap token as input' },
  ],
  async run(ctx) {
    const text = stringify(newSecretsBundle());
    const out = str(ctx.p, 'output-file') ?? 'secrets.yaml';
    if (out === '-') {
      ctx.io.out.push(text);
      return;
    }
    writeGenerated(ctx, resolve(ctx.cwd, out), text, 0o600);
  },
};

export const OUTPUT_TYPES = ['controlplane', 'worker', 'talosconfig'];

export const genConfigCmd: Command = {
  path: 'talosctl gen config',
  use: 'config <cluster name> <cluster endpoint> [flags]',
  short: 'Generates a set of configuration files for Talos cluster',
  local: true,
  args: exactArgs(2),
  flags: [
    { name: 'additional-sans', type: 'strings', default: [], usage: 'additional Subject-Alt-Names for the APIServer certificate' },
    { name: 'config-patch', type: 'stringArray', usage: 'patch generated machineconfigs (applied to all node types), use @file to read a patch from file' },
    { name: 'config-patch-control-plane', type: 'stringArray', usage: "patch generated machineconfigs (applied to 'init' and 'controlplane' types)" },
    { name: 'config-patch-worker', type: 'stringArray', usage: "patch generated machineconfigs (applied to 'worker' type)" },
    { name: 'dns-domain', type: 'string', default: 'cluster.local', usage: 'the dns domain to use for cluster' },
    { name: 'install-disk', type: 'string', default: '/dev/sda', usage: 'the disk to install to' },
    { name: 'install-image', type: 'string', default: `ghcr.io/siderolabs/installer:${CLIENT_VERSION}`, usage: 'the image used to perform an installation' },
    { name: 'kubernetes-version', type: 'string', default: '1.29.0', usage: 'desired kubernetes version to run' },
    { name: 'output', short: 'o', type: 'string', usage: 'destination to output generated files. when multiple output types are specified, it must be a directory. for a single output type, it must either be a file path, or "-" for stdout' },
    { name: 'output-dir', type: 'string', hidden: true, usage: 'destination to output generated files' },
    { name: 'output-types', short: 't', type: 'strings', default: OUTPUT_TYPES, usage: 'types of outputs to be generated. valid types are: ["controlplane" "worker" "talosconfig"]' },
    { name: 'registry-mirror', type: 'strings', default: [], usage: 'list of registry mirrors to use in format: <registry host>=<mirror URL>' },
    { name: 'skip-k8s-etcd', type: 'bool', hidden: true, usage: 'skip generating etcd & Kubernetes configuration (experimental)' },
    { name: 'talos-version', type: 'string', usage: 'the desired Talos version to generate config for (backwards compatibility, e.g. v0.8)' },
    { name: 'version', type: 'string', default: 'v1alpha1', usage: 'the desired machine config version to generate' },
    { name: 'with-cluster-discovery', type: 'bool', default: true, usage: 'enable cluster discovery feature' },
    { name: 'with-docs', type: 'bool', default: true, usage: 'renders all machine configs adding the documentation for each field' },
    { name: 'with-examples', type: 'bool', default: true, usage: 'renders all machine configs with the commented examples' },
    { name: 'with-kubespan', type: 'bool', usage: 'enable KubeSpan feature' },
    { name: 'with-secrets', type: 'string', usage: "use a secrets file generated using 'gen secrets'" },
  ],
  async run(ctx) {
    const [cluster, endpoint] = ctx.p.positionals as [string, string];
    validateClusterEndpoint(endpoint);
    const types = list(ctx.p, 'output-types');
    const badTypes = types.filter((t) => !OUTPUT_TYPES.includes(t));
    if (badTypes.length > 0) throw new CommandError(`1 error occurred:\n\t* invalid output type: "${badTypes[0]}"\n`);
    const output = str(ctx.p, 'output');
    const outputDir = str(ctx.p, 'output-dir');
    if (output && outputDir) throw new CommandError("can't use both output-dir and output");
    const dest = output ?? outputDir;
    if (types.length > 1 && dest === '-') throw new CommandError("can't use multiple output types with stdout");
    let secrets: LabSecrets;
    const withSecrets = str(ctx.p, 'with-secrets');
    if (withSecrets) {
      try {
        secrets = parse(readFileSync(resolve(ctx.cwd, withSecrets), 'utf8')) as LabSecrets;
      } catch {
        throw new CommandError(`failed to load secrets bundle: open ${withSecrets}: no such file or directory`);
      }
    } else {
      ctx.io.err.push('generating PKI and tokens');
      secrets = newSecretsBundle();
    }
    const installImage = str(ctx.p, 'install-image') as string;
    const inputs: ConfigInputs = {
      cluster,
      endpoint,
      talosVersion: str(ctx.p, 'talos-version') ?? /:(v[\d.]+)/.exec(installImage)?.[1] ?? CLIENT_VERSION,
      kubernetesVersion: str(ctx.p, 'kubernetes-version') ?? '1.29.0',
      installDisk: str(ctx.p, 'install-disk') ?? '/dev/sda',
      installImage,
      sans: list(ctx.p, 'additional-sans'),
      secrets,
    };
    const all = loadPatches(ctx, list(ctx.p, 'config-patch'));
    const cpOnly = loadPatches(ctx, list(ctx.p, 'config-patch-control-plane'));
    const workerOnly = loadPatches(ctx, list(ctx.p, 'config-patch-worker'));
    const render = (type: MachineType) => [...all, ...(type === 'controlplane' ? cpOnly : workerOnly)].reduce((acc: unknown, p) => deepMerge(acc, p), machineConfig(type, inputs));
    const host = new URL(endpoint).hostname;
    const files: Record<string, () => string> = {
      controlplane: () => stringify(render('controlplane')),
      worker: () => stringify(render('worker')),
      talosconfig: () => talosconfigText(cluster, [{ name: cluster, endpoints: [host] }]),
    };
    const names: Record<string, string> = { controlplane: 'controlplane.yaml', worker: 'worker.yaml', talosconfig: 'talosconfig' };
    for (const type of types) {
      const text = (files[type] as () => string)();
      if (dest === '-') {
        ctx.io.out.push(text);
        continue;
      }
      const path = !dest ? join(ctx.cwd, names[type] as string) : types.length === 1 && !outputDir ? resolve(ctx.cwd, dest) : join(resolve(ctx.cwd, dest), names[type] as string);
      writeGenerated(ctx, path, text, 0o644);
      ctx.io.err.push(`Created ${path}`);
    }
  },
};

