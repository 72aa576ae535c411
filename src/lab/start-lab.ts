import { existsSync, readFileSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { ResolvedConfig } from '../config/config.js';
import { labPaths, mkdirLab, readLabConfig, replaceLabFile, withLockAt, writeLabConfig, writeLabFile, type LabFault } from './lab-dir.js';
import { claimLabDir, isLabDir } from './lab-guard.js';
import { LAB_MODULES } from './modules.js';
import { standinModules } from './standin-bundles.js';
import type { RunningService } from './module.js';
import { LAB_ENDPOINT_SECRETS, LAB_PVE_TOKEN_SECRET, labSecretValue } from './secrets.js';
import { fingerprintOf, labCaFile } from './pve/https.js';
import { labClusterNodes } from './talos/state.js';

// compose.ts takes the lab's secrets from here, with startLab.
export { LAB_ENDPOINT_SECRETS, labSecretValue };

/** True when `lab` is a lab (it has the marker) with state. */
export function isSeeded(lab: string): boolean {
  return isLabDir(lab) && existsSync(join(lab, 'state')) && !existsSync(labPaths(lab).seeding);
}

/**
 * Writes every module's initial state (wiping what was there) and the lab config. Only on a
 * directory claimLabDir accepted: never the coordination root or a directory that is not a lab.
 */
export function seedLab(lab: string, options: { root: string; keepConfig?: boolean }): void {
  claimLabDir(lab, options.root);
  withLockAt(lab, labPaths(lab).seedLock, 'seed', () => seedLocked(lab, options.keepConfig === true));
}

/** Seeds `lab` unless it is seeded: sessions that start on one unseeded lab at once seed it once. */
export function ensureSeeded(lab: string, root: string): void {
  claimLabDir(lab, root);
  if (isSeeded(lab)) return;
  withLockAt(lab, labPaths(lab).seedLock, 'seed', () => {
    if (!isSeeded(lab)) seedLocked(lab, false);
  });
}

function seedLocked(lab: string, keepConfig: boolean): void {
  const config = keepConfig ? readLabConfig(lab) : { latency: 1, faults: [] };
  rmSync(join(lab, 'state'), { recursive: true, force: true });
  for (const f of ['invocations.jsonl', 'requests.jsonl', 'services.json']) rmSync(join(lab, f), { force: true });
  rmSync(join(lab, 'files'), { recursive: true, force: true });
  mkdirLab(join(lab, 'state'));
  writeLabFile(labPaths(lab).seeding, `${process.pid}\n`);
  for (const m of LAB_MODULES) m.seed(lab);
  writeLabConfig(lab, config);
  rmSync(labPaths(lab).seeding, { force: true });
}

/**
 * The executable of a stand-in tool: the `node` on PATH running `module` with the tool's
 * arguments, without NODE_EXTRA_CA_CERTS. With that variable set, Node builds its whole root
 * certificate store as it starts (~50 ms of CPU, a quarter of a stand-in call) and warns on stderr
 * when the file is missing; the stand-ins make no TLS connection (they reach the lab API server
 * over plain http), so it changes nothing else. The tools cortex runs in the lab keep their
 * environment: only these processes go without it.
 */
export function standinShim(module: string): string {
  const quoted = `'${module.replaceAll("'", `'\\''`)}'`;
  return `#!/bin/sh\nunset NODE_EXTRA_CA_CERTS\nexec node ${quoted} "$@"\n`;
}

function writeBin(lab: string): void {
  const P = labPaths(lab);
  // Each tool's one-file bundle when it is up to date with dist/ (else its entry module).
  const modules = standinModules(Object.assign({}, ...LAB_MODULES.map((m) => m.tools ?? {})) as Record<string, string>);
  for (const [tool, module] of Object.entries(modules)) replaceLabFile(lab, join(P.bin, tool), standinShim(module), 0o700);
  // kubectl is the real client; its credential plugin tells the lab API server which action
  // (and attempt) is calling, so --simulate-fail can target kubectl calls too.
  replaceLabFile(
    lab,
    join(P.bin, 'kube-token'),
    '#!/bin/sh\n' +
      'printf \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"lab.%s.%s.%s"}}\\n\' ' +
      '"${CORTEX_ACTION_ID:-none}" "${CORTEX_ATTEMPT:-1}" "${CORTEX_EXECUTION_ID:-none}"\n',
    0o700,
  );
}

function writeKubeconfig(lab: string, server: string, ca?: string): void {
  const P = labPaths(lab);
  const text = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: lab',
    '  cluster:',
    `    server: ${server}`,
    ...(ca ? [`    certificate-authority: ${ca}`] : []),
    'contexts:',
    '- name: lab',
    '  context:',
    '    cluster: lab',
    '    user: lab',
    'current-context: lab',
    'users:',
    '- name: lab',
    '  user:',
    '    exec:',
    '      apiVersion: client.authentication.k8s.io/v1',
    `      command: ${join(P.bin, 'kube-token')}`,
    '      interactiveMode: Never',
    '',
  ].join('\n');
  replaceLabFile(lab, P.kubeconfig, text);
}

/**
 * The lab's pvesh command line: the lab's stand-in, through the lab's `ssh` when the configured
 * one goes through ssh (options, destination and remote words kept, so a rehearsal meets the
 * remote shell's re-parsing and never a real host).
 */
export function labPvesh(configured: readonly string[]): string[] {
  const i = configured.findIndex((w) => /(^|\/)ssh$/.test(w));
  return i >= 0 ? ['ssh', ...configured.slice(i + 1)] : ['pvesh'];
}

/**
 * A rehearsal's proxmox.api: the lab's HTTPS API and token instead of the configured ones (the
 * configured URL is never contacted), the certificate pinned the way the operator pins theirs.
 */
function labProxmoxApi(lab: string, url: string, configured: NonNullable<ResolvedConfig['proxmox']['api']>): NonNullable<ResolvedConfig['proxmox']['api']> {
  const ca = labCaFile(lab);
  return {
    url,
    token_secret: LAB_PVE_TOKEN_SECRET,
    ...(configured.fingerprint ? { fingerprint: fingerprintOf(readFileSync(ca, 'utf8')) } : { ca_file: ca }),
    ...(configured.timeout_seconds ? { timeout_seconds: configured.timeout_seconds } : {}),
  };
}

export interface StartedLab {
  lab: string;
  urls: Record<string, string>;
  /** Environment for the tools: lab bin first on PATH, lab dir, a private kubectl cache. */
  toolEnv: NodeJS.ProcessEnv;
  /** The configuration with tools, clusters and endpoints pointed at the lab. */
  configFor(config: ResolvedConfig): ResolvedConfig;
  stop(): Promise<void>;
}

/** Longest load test in a rehearsal. */
export const SIMULATE_MAX_LOAD_SECONDS = 2;

export interface StartLabOptions {
  /** The coordination root: the lab is never it, one of its ancestors or one of its folders. */
  root: string;
  faults?: LabFault[];
  latency?: number;
  baseEnv: NodeJS.ProcessEnv;
}

/**
 * Starts the lab for one command: seeds it on first use, writes the stand-ins and kubeconfig,
 * starts the servers on 127.0.0.1, and records their ports in services.json.
 */
export async function startLab(lab: string, options: StartLabOptions): Promise<StartedLab> {
  claimLabDir(lab, options.root);
  ensureSeeded(lab, options.root);
  const cfg = readLabConfig(lab);
  writeLabConfig(lab, { latency: options.latency ?? cfg.latency, faults: options.faults ?? [] });
  writeBin(lab);
  const running: RunningService[] = [];
  const urls: Record<string, string> = {};
  try {
    for (const m of LAB_MODULES) {
      if (!m.start) continue;
      const svc = await m.start(lab, { ...urls });
      running.push(svc);
      Object.assign(urls, svc.urls);
    }
  } catch (e) {
    await Promise.allSettled(running.map((s) => s.stop()));
    throw e;
  }
  const P = labPaths(lab);
  replaceLabFile(lab, P.services, `${JSON.stringify({ pid: process.pid, started_at: new Date().toISOString(), urls }, null, 2)}\n`);
  // kubectl only sends credentials over TLS, and the exec credential plugin is how the lab API
  // server learns the calling action (for --simulate-fail): use the server's https face.
  if (urls.kubernetes_https) writeKubeconfig(lab, urls.kubernetes_https, join(lab, 'kube-ca.crt'));
  else if (urls.kubernetes) writeKubeconfig(lab, urls.kubernetes);
  // kubectl makes its cache folders 0750: inside an owner-only folder they stay private.
  mkdirLab(join(lab, 'kube-cache'));
  const toolEnv: NodeJS.ProcessEnv = {
    ...options.baseEnv,
    PATH: `${P.bin}${delimiter}${options.baseEnv.PATH ?? ''}`,
    CORTEX_LAB_DIR: lab,
    KUBECACHEDIR: join(lab, 'kube-cache'),
    KUBECONFIG: P.kubeconfig,
    TALOSCONFIG: P.talosconfig,
  };
  return {
    lab,
    urls,
    toolEnv,
    configFor(config) {
      const endpoints: ResolvedConfig['endpoints'] = {};
      for (const [name, secret] of Object.entries(LAB_ENDPOINT_SECRETS)) {
        const url = urls[name];
        if (!url) continue;
        endpoints[name] = { ...(config.endpoints[name] ?? {}), url, ...(secret ? { secret } : {}) };
        delete endpoints[name]?.url_secret;
      }
      return {
        ...config,
        tools: { pvesh: labPvesh(config.tools.pvesh), talosctl: ['talosctl'], kubectl: ['kubectl'], helm: ['helm'] },
        // every cluster name shares the lab's kubeconfig and talosconfig; the seeded Talos clusters name their nodes
        clusters: { ...labClusterNodes(lab), default: { kubeconfig: P.kubeconfig, talosconfig: P.talosconfig, context: 'lab' } },
        // The lab has its own Proxmox: its node, storage and template replace the configured ones.
        proxmox: {
          ...config.proxmox,
          ...(config.proxmox.api ? { api: labProxmoxApi(lab, urls.proxmox as string, config.proxmox.api) } : {}),
          node: 'pve-01',
          fallback_node: 'pve-02',
          storage: 'ceph-rbd',
          bridge: 'vmbr0',
          template_vmid: 9000,
          task_poll_seconds: Math.min(config.proxmox.task_poll_seconds ?? 0.05, 0.05),
        },
        // Lab faults fail every request of an attempt: backing off inside an action only wastes time.
        // A rehearsal checks the workflow, not the load: load tests last at most SIMULATE_MAX_LOAD_SECONDS.
        defaults: { ...config.defaults, maxRetryAfterSeconds: Math.min(config.defaults.maxRetryAfterSeconds, 0.05), maxLoadTestSeconds: SIMULATE_MAX_LOAD_SECONDS },
        endpoints,
      };
    },
    async stop() {
      await Promise.allSettled(running.map((s) => s.stop()));
      rmSync(P.services, { force: true });
    },
  };
}
