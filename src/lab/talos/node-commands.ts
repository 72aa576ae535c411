import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { labPaths, latencyMs, updateState, writeLabFile } from '../lab-dir.js';
import { bool, list, ms, str } from './cobra.js';
import { kubeRequest } from './kube-api.js';
import { CLIENT_VERSION, emptyTalosState, newNode, readTalos, TALOS_STATE, type TalosClusterState, type TalosNodeState } from './state.js';
import { CommandError, delay, exactArgs, maxArgs, noArgs, unavailable, type Command, type Ctx } from './command.js';
import { chooseHostname, clusterByIp, member, reach, registerKubeNodes, resolveTarget, singleNode } from './target.js';
import { deepMerge, loadPatches } from './gen.js';

interface MachineConfigDoc {
  machine?: { type?: string; install?: { image?: string }; kubelet?: { image?: string }; network?: { hostname?: string } };
  cluster?: { clusterName?: string; controlPlane?: { endpoint?: string } };
}

const APPLY_MODES = ['auto', 'no-reboot', 'reboot', 'staged', 'try', 'interactive'];

export const applyConfigCmd: Command = {
  path: 'talosctl apply-config',
  use: 'apply-config [flags]',
  short: 'Apply a new configuration to a node',
  aliases: ['apply'],
  args: maxArgs(1),
  flags: [
    { name: 'cert-fingerprint', type: 'strings', default: [], usage: 'list of server certificate fingeprints to accept (defaults to no check)' },
    { name: 'config-patch', short: 'p', type: 'stringArray', usage: 'the list of config patches to apply to the local config file before sending it to the node' },
    { name: 'dry-run', type: 'bool', usage: 'check how the config change will be applied in dry-run mode' },
    { name: 'file', short: 'f', type: 'string', usage: 'the filename of the updated configuration' },
    { name: 'insecure', short: 'i', type: 'bool', usage: 'apply the config using the insecure (encrypted with no auth) maintenance service' },
    { name: 'mode', short: 'm', type: 'string', default: 'auto', usage: 'apply config mode', validate: (v) => (APPLY_MODES.includes(v) ? undefined : `valid values are: ${APPLY_MODES.join(', ')}`) },
    { name: 'timeout', type: 'duration', default: 60_000, usage: 'the config will be rolled back after specified timeout (if try mode is selected)' },
  ],
  async run(ctx) {
    const file = str(ctx.p, 'file');
    if (!file) throw new CommandError('no filename supplied for configuration');
    let text: string;
    try {
      text = readFileSync(resolve(ctx.cwd, file), 'utf8');
    } catch {
      throw new CommandError(`failed to read configuration from "${file}": open ${file}: no such file or directory`);
    }
    if (!text.trim()) throw new CommandError('no configuration data read');
    let doc = (parse(text) ?? {}) as MachineConfigDoc;
    for (const patch of loadPatches(ctx, list(ctx.p, 'config-patch'))) doc = deepMerge(doc, patch) as MachineConfigDoc;
    const clusterName = doc.cluster?.clusterName;
    const type = doc.machine?.type === 'controlplane' || doc.machine?.type === 'init' ? 'controlplane' : 'worker';
    if (!clusterName || !doc.machine?.type) throw new CommandError('error applying new configuration: rpc error: code = InvalidArgument desc = configuration validation failed: unknown machine config document');
    const mode = str(ctx.p, 'mode') ?? 'auto';
    const dryRun = bool(ctx.p, 'dry-run');
    const at = new Date().toISOString();
    await delay(latencyMs(ctx.lab, 20));
    if (bool(ctx.p, 'insecure')) {
      const nodes = list(ctx.p, 'nodes');
      if (nodes.length === 0) throw new CommandError("nodes are not set for the command: please use `--nodes` flag or configuration file to set the nodes to run the command against");
      const joined = updateState(ctx.lab, TALOS_STATE, emptyTalosState, (state) => {
        const c = (state.clusters[clusterName] ??= {
          name: clusterName,
          endpoint: doc.cluster?.controlPlane?.endpoint ?? 'https://127.0.0.1:6443',
          site: 'datacenter-01',
          talos_version: /:(v[\d.]+)/.exec(doc.machine?.install?.image ?? '')?.[1] ?? CLIENT_VERSION,
          kubernetes_version: /:(v[\d.]+)/.exec(doc.machine?.kubelet?.image ?? '')?.[1] ?? 'v1.29.0',
          bootstrapped: false,
          bootstrapped_at: null,
          etcd_revision: 0,
          nodes: [],
          snapshots: [],
        });
        const added: TalosNodeState[] = [];
        for (const ip of nodes) {
          // Out of maintenance mode, the node wants client certificates: the insecure API is gone.
          if (member(c, ip)) throw new CommandError(`error applying new configuration: rpc error: code = Unavailable desc = connection error: desc = "transport: authentication handshake failed: remote error: tls: certificate required"`);
          if (dryRun) continue;
          const n = newNode(c.name, ip, chooseHostname(ctx.lab, state, c, ip, type, doc.machine?.network?.hostname), type, c.talos_version);
          n.installer_image = doc.machine?.install?.image ?? n.installer_image;
          n.last_config = { file: resolve(ctx.cwd, file), mode, at };
          c.nodes.push(n);
          added.push(n);
        }
        return { cluster: structuredClone(c), added };
      });
      if (dryRun) ctx.io.out.push('Dry run summary:', 'Node is running in maintenance mode and does not have a config yet.');
      await registerKubeNodes(ctx, joined.cluster, joined.added);
      return;
    }
    const state = readTalos(ctx.lab);
    const t = resolveTarget(ctx, state);
    for (const ip of t.nodes) {
      if (!member(t.cluster, ip) && !clusterByIp(state, ip)) {
        throw new CommandError(`error applying new configuration: rpc error: code = Unavailable desc = connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`);
      }
      reach(t, ip);
      if (t.cluster && clusterName !== t.cluster.name) {
        throw new CommandError(`error applying new configuration: rpc error: code = InvalidArgument desc = configuration validation failed: cluster name cannot be changed ("${t.cluster.name}" -> "${clusterName}")`);
      }
    }
    if (dryRun) {
      ctx.io.out.push('Dry run summary:', 'Applied configuration without a reboot (skipped in dry-run).');
      return;
    }
    updateState(ctx.lab, TALOS_STATE, emptyTalosState, (state2) => {
      const c = state2.clusters[t.cluster?.name as string] as TalosClusterState;
      for (const ip of t.nodes) {
        const n = member(c, ip) as TalosNodeState;
        n.configs_applied += 1;
        n.last_config = { file: resolve(ctx.cwd, file), mode, at };
      }
    });
    ctx.io.out.push(mode === 'staged' ? 'Applied configuration, will be applied after a reboot' : mode === 'try' ? `Applied configuration in try mode, will be rolled back in ${ms(ctx.p, 'timeout') / 1000}s` : 'Applied configuration without a reboot');
  },
};

export const bootstrapCmd: Command = {
  path: 'talosctl bootstrap',
  use: 'bootstrap [flags]',
  short: 'Bootstrap the etcd cluster on the specified node.',
  args: noArgs,
  flags: [
    { name: 'recover-from', type: 'string', usage: 'recover etcd cluster from the snapshot' },
    { name: 'recover-skip-hash-check', type: 'bool', usage: 'skip integrity check when recovering etcd (use when recovering from data directory copy)' },
  ],
  async run(ctx) {
    const t = resolveTarget(ctx, readTalos(ctx.lab));
    const ip = singleNode(t, 'bootstrap');
    let n: TalosNodeState;
    try {
      n = reach(t, ip);
    } catch (e) {
      throw new CommandError(`error executing bootstrap: ${(e as Error).message}`);
    }
    if (n.machine_type !== 'controlplane') throw new CommandError('error executing bootstrap: rpc error: code = FailedPrecondition desc = bootstrap is not available on this node');
    const recover = str(ctx.p, 'recover-from');
    if (recover) {
      let size: number;
      try {
        size = statSync(resolve(ctx.cwd, recover)).size;
      } catch {
        throw new CommandError(`open ${recover}: no such file or directory`);
      }
      const snap = t.cluster?.snapshots.find((s) => s.path === resolve(ctx.cwd, recover));
      ctx.io.out.push(`recovering from snapshot "${recover}": hash ${snap?.hash ?? '00000000'}, revision ${snap?.revision ?? 1}, total keys ${Math.floor(size / 16)}, total size ${size}`);
    }
    await delay(latencyMs(ctx.lab, 30));
    const done = updateState(ctx.lab, TALOS_STATE, emptyTalosState, (state) => {
      const c = state.clusters[t.cluster?.name as string] as TalosClusterState;
      if (c.bootstrapped) return undefined;
      c.bootstrapped = true;
      c.bootstrapped_at = new Date().toISOString();
      c.etcd_revision = Math.max(c.etcd_revision, 1) + 120;
      return structuredClone(c);
    });
    if (!done) throw new CommandError('error executing bootstrap: rpc error: code = AlreadyExists desc = etcd data directory is not empty');
    await registerKubeNodes(ctx, done, done.nodes);
  },
};

export const HEALTH_CHECKS = [
  'etcd to be healthy',
  'etcd members to be consistent across nodes',
  'etcd members to be control plane nodes',
  'apid to be ready',
  'all nodes memory sizes',
  'all nodes disk sizes',
  'no diagnostics',
  'kubelet to be healthy',
  'all nodes to finish boot sequence',
  'all k8s nodes to report',
  'all control plane static pods to be running',
  'all control plane components to be ready',
  'all k8s nodes to report ready',
  'kube-proxy to report ready',
  'coredns to report ready',
  'all k8s nodes to report schedulable',
];

/** Why the cluster is not healthy (the check that would keep waiting), or undefined. */
async function healthProblem(ctx: Ctx, c: TalosClusterState, cps: string[], workers: string[]): Promise<[string, string] | undefined> {
  if (!c.bootstrapped) return ['etcd to be healthy', 'etcd is not bootstrapped'];
  for (const ip of cps) {
    const n = member(c, ip);
    if (!n) return ['etcd members to be consistent across nodes', `expected control plane node ${ip} is not a member`];
    if (n.machine_type !== 'controlplane') return ['etcd members to be control plane nodes', `${ip} is not a control plane node`];
  }
  for (const ip of workers) if (!member(c, ip)) return ['all k8s nodes to report', `expected node ${ip} has not registered`];
  if (ctx.kube) {
    for (const ip of [...cps, ...workers]) {
      const n = member(c, ip) as TalosNodeState;
      const r = await kubeRequest(ctx.kube, 'GET', `/api/v1/nodes/${encodeURIComponent(n.hostname)}`);
      const conds = (r.body as { status?: { conditions?: Array<{ type: string; status: string }> } } | undefined)?.status?.conditions;
      if (r.status === 200 && conds?.some((x) => x.type === 'Ready' && x.status !== 'True')) return ['all k8s nodes to report ready', `some nodes are not ready: [${n.hostname}]`];
    }
  }
  return undefined;
}

export const healthCmd: Command = {
  path: 'talosctl health',
  use: 'health [flags]',
  short: 'Check cluster health',
  args: noArgs,
  flags: [
    { name: 'control-plane-nodes', type: 'strings', default: [], usage: 'specify IPs of control plane nodes' },
    { name: 'init-node', type: 'string', usage: 'specify IPs of init node' },
    { name: 'k8s-endpoint', type: 'string', usage: 'use endpoint instead of kubeconfig default' },
    { name: 'run-e2e', type: 'bool', usage: 'run Kubernetes e2e test' },
    { name: 'server', type: 'bool', default: true, usage: 'run server-side check' },
    { name: 'wait-timeout', type: 'duration', default: 1_200_000, usage: 'timeout to wait for the cluster to be ready' },
    { name: 'worker-nodes', type: 'strings', default: [], usage: 'specify IPs of worker nodes' },
  ],
  async run(ctx) {
    const t = resolveTarget(ctx, readTalos(ctx.lab));
    // --server (the default) runs the check on one node: several in the context are refused
    if (ctx.p.values.get('server') !== false) singleNode(t, 'health');
    if (!t.cluster) throw new CommandError(unavailable(t.nodes[0] as string, 'no route to host'));
    const c = t.cluster;
    let cps = list(ctx.p, 'control-plane-nodes');
    let workers = list(ctx.p, 'worker-nodes');
    const init = str(ctx.p, 'init-node');
    if (init) cps = [init, ...cps];
    if (cps.length === 0 && workers.length === 0) {
      cps = c.nodes.filter((n) => n.machine_type === 'controlplane').map((n) => n.ip);
      workers = c.nodes.filter((n) => n.machine_type === 'worker').map((n) => n.ip);
      ctx.io.err.push(`discovered nodes: [${[...cps, ...workers].map((ip) => `"${ip}"`).join(' ')}]`);
    }
    const problem = await healthProblem(ctx, c, cps, workers);
    const step = latencyMs(ctx.lab, 3);
    for (const check of HEALTH_CHECKS) {
      ctx.io.err.push(`waiting for ${check}: ...`);
      if (problem && problem[0] === check) {
        // It would keep waiting until --wait-timeout; the lab shortens that to a scaled moment.
        await delay(Math.min(ms(ctx.p, 'wait-timeout'), latencyMs(ctx.lab, 200)));
        ctx.io.err.push(`waiting for ${check}: ${problem[1]}`);
        throw new CommandError(`healthcheck error: rpc error: code = DeadlineExceeded desc = context deadline exceeded`);
      }
      await delay(step);
      ctx.io.err.push(`waiting for ${check}: ${check === 'kube-proxy to report ready' ? 'SKIP' : 'OK'}`);
    }
  },
};

/** The lab kubeconfig re-labelled for a cluster (kubectl then reaches the lab API server). */
function kubeconfigFor(ctx: Ctx, c: TalosClusterState, contextName: string): string {
  const labKubeconfig = labPaths(ctx.lab).kubeconfig;
  const doc = existsSync(labKubeconfig)
    ? (parse(readFileSync(labKubeconfig, 'utf8')) as Record<string, unknown>)
    : {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'lab', cluster: { server: c.endpoint, 'certificate-authority-data': Buffer.from('cortex-lab fake CA').toString('base64') } }],
        contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'lab' } }],
        users: [{ name: 'lab', user: { 'client-certificate-data': Buffer.from('cortex-lab fake cert').toString('base64'), 'client-key-data': Buffer.from('cortex-lab fake key').toString('base64') } }],
        'current-context': 'lab',
      };
  const user = `admin@${c.name}`;
  const clusters = (doc.clusters as Array<{ name: string }>) ?? [];
  const users = (doc.users as Array<{ name: string }>) ?? [];
  const contexts = (doc.contexts as Array<{ name: string; context: Record<string, unknown> }>) ?? [];
  if (clusters[0]) clusters[0].name = c.name;
  if (users[0]) users[0].name = user;
  if (contexts[0]) {
    contexts[0].name = contextName;
    contexts[0].context = { ...contexts[0].context, cluster: c.name, user, namespace: 'default' };
  }
  return stringify({ ...doc, clusters: clusters.slice(0, 1), users: users.slice(0, 1), contexts: contexts.slice(0, 1), 'current-context': contextName });
}

export const kubeconfigCmd: Command = {
  path: 'talosctl kubeconfig',
  use: 'kubeconfig [local-path] [flags]',
  short: 'Download the admin kubeconfig from the node',
  args: maxArgs(1),
  flags: [
    { name: 'force', short: 'f', type: 'bool', usage: 'Force overwrite of kubeconfig if already present, force overwrite on kubeconfig merge' },
    { name: 'force-context-name', type: 'string', usage: 'Force context name for kubeconfig merge' },
    { name: 'merge', short: 'm', type: 'bool', default: true, usage: 'Merge with existing kubeconfig' },
  ],
  async run(ctx) {
    const t = resolveTarget(ctx, readTalos(ctx.lab));
    const ip = singleNode(t, 'kubeconfig');
    let n: TalosNodeState;
    try {
      n = reach(t, ip);
    } catch (e) {
      throw new CommandError(`error copying: ${(e as Error).message}`);
    }
    const c = t.cluster as TalosClusterState;
    if (n.machine_type !== 'controlplane') throw new CommandError('error copying: rpc error: code = Unimplemented desc = kubeconfig is only available on control plane nodes');
    if (!c.bootstrapped) throw new CommandError('error copying: rpc error: code = Unavailable desc = kubeconfig is not available yet: etcd is not bootstrapped');
    const contextName = str(ctx.p, 'force-context-name') ?? `admin@${c.name}`;
    const text = kubeconfigFor(ctx, c, contextName);
    const arg = ctx.p.positionals[0];
    if (arg === '-') {
      ctx.io.out.push(text.trimEnd());
      return;
    }
    const merge = bool(ctx.p, 'merge');
    const path = resolve(ctx.cwd, arg ?? join(labPaths(ctx.lab).files, 'home', '.kube', 'config'));
    if (!merge || !existsSync(path)) {
      if (!merge && existsSync(path) && !bool(ctx.p, 'force')) throw new CommandError(`kubeconfig file already exists, use --force to overwrite: ${path}`);
      writeLabFile(path, text);
      return;
    }
    const existing = (parse(readFileSync(path, 'utf8')) ?? {}) as Record<string, Array<{ name: string }>>;
    const add = parse(text) as Record<string, Array<{ name: string }>>;
    for (const key of ['clusters', 'contexts', 'users']) {
      const names = new Set((add[key] ?? []).map((x) => x.name));
      existing[key] = [...(existing[key] ?? []).filter((x) => !names.has(x.name)), ...(add[key] ?? [])];
    }
    writeFileSync(path, stringify({ ...existing, 'current-context': contextName }), { mode: 0o600 });
  },
};

export const etcdSnapshotCmd: Command = {
  path: 'talosctl etcd snapshot',
  use: 'snapshot <path> [flags]',
  short: 'Stream snapshot of the etcd node to the path.',
  args: exactArgs(1),
  flags: [],
  async run(ctx) {
    const t = resolveTarget(ctx, readTalos(ctx.lab));
    const ip = singleNode(t, 'etcd snapshot');
    let n: TalosNodeState;
    try {
      n = reach(t, ip);
    } catch (e) {
      throw new CommandError(`error reading file: ${(e as Error).message}`);
    }
    if (n.machine_type !== 'controlplane') throw new CommandError('error reading file: rpc error: code = Unimplemented desc = etcd is not running on worker nodes');
    if (!t.cluster?.bootstrapped) throw new CommandError('error reading file: rpc error: code = FailedPrecondition desc = etcd is not running');
    const path = resolve(ctx.cwd, ctx.p.positionals[0] as string);
    await delay(latencyMs(ctx.lab, 30));
    const info = updateState(ctx.lab, TALOS_STATE, emptyTalosState, (state) => {
      const c = state.clusters[t.cluster?.name as string] as TalosClusterState;
      c.etcd_revision += 37 + c.snapshots.length * 11;
      const keys = 900 + (c.etcd_revision % 500);
      return { revision: c.etcd_revision, keys, c: c.name };
    });
    const body = Buffer.alloc(16_384 + (info.revision % 4096), 0x20);
    body.write(`cortex-lab etcd snapshot cluster=${info.c} revision=${info.revision} node=${ip}\n`);
    writeLabFile(`${path}.part`, body);
    // talosctl writes <path>.part and renames it when the stream is complete.
    writeLabFile(path, body);
    rmSync(`${path}.part`, { force: true });
    const hash = createHash('sha256').update(body).digest('hex').slice(0, 8);
    updateState(ctx.lab, TALOS_STATE, emptyTalosState, (state) => {
      state.clusters[info.c]?.snapshots.push({ path, bytes: body.length, revision: info.revision, hash, at: new Date().toISOString(), node: ip });
    });
    ctx.io.out.push(`etcd snapshot saved to "${ctx.p.positionals[0]}" (${body.length} bytes)`);
    ctx.io.out.push(`snapshot info: hash ${hash}, revision ${info.revision}, total keys ${info.keys}, total size ${body.length * 4}`);
  },
};

export const etcdMembersCmd: Command = {
  path: 'talosctl etcd members',
  use: 'members [flags]',
  short: 'Get the list of etcd cluster members',
  args: noArgs,
  flags: [],
  async run(ctx) {
    const t = resolveTarget(ctx, readTalos(ctx.lab));
    const ip = t.nodes[0] as string;
    reach(t, ip);
    const cps = (t.cluster as TalosClusterState).nodes.filter((n) => n.machine_type === 'controlplane');
    const rows = [['NODE', 'ID', 'HOSTNAME', 'PEER URLS', 'CLIENT URLS', 'LEARNER'], ...cps.map((n) => [ip, n.node_id.replace(/[^0-9a-f]/gi, '').slice(0, 16).toLowerCase().padEnd(16, '0'), n.hostname, `https://${n.ip}:2380`, `https://${n.ip}:2379`, 'false'])];
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length))) ?? [];
    for (const r of rows) ctx.io.out.push(r.map((v, i) => (i === r.length - 1 ? v : v.padEnd((widths[i] as number) + 3))).join(''));
  },
};

function imageTag(image: string): string | undefined {
  return /:(v\d+\.\d+\.\d+[^@\s]*)/.exec(image)?.[1];
}

export const upgradeCmd: Command = {
  path: 'talosctl upgrade',
  use: 'upgrade [flags]',
  short: 'Upgrade Talos on the target node',
  args: noArgs,
  flags: [
    { name: 'debug', type: 'bool', usage: 'debug operation from kernel logs. --wait is set to true when this flag is set' },
    { name: 'drain', type: 'bool', default: true, usage: 'drain the Kubernetes node before rebooting (cordon + evict pods)' },
    { name: 'drain-timeout', type: 'duration', default: 300_000, usage: 'timeout for draining the Kubernetes node' },
    { name: 'force', short: 'f', type: 'bool', deprecated: 'legacy flag for MachineService.Upgrade fallback, to be removed in Talos 1.18', usage: 'force the upgrade' },
    { name: 'image', short: 'i', type: 'string', default: `ghcr.io/siderolabs/installer:${CLIENT_VERSION}`, usage: 'the container image to use for performing the install' },
    { name: 'insecure', type: 'bool', deprecated: 'legacy flag for MachineService.Upgrade fallback, to be removed in Talos 1.18', usage: 'upgrade using the insecure (encrypted with no auth) maintenance service' },
    { name: 'legacy', type: 'bool', usage: 'force use of legacy upgrade method' },
    { name: 'namespace', type: 'string', default: 'system', usage: 'namespace to use: "system" (etcd and kubelet images), "cri" for all Kubernetes workloads, "inmem" for in-memory containerd instance' },
    { name: 'no-reboot', type: 'bool', usage: 'do not reboot the node after upgrade (skip reboot and drain)' },
    { name: 'preserve', short: 'p', type: 'bool', deprecated: 'legacy flag for MachineService.Upgrade fallback, to be removed in Talos 1.18', usage: 'preserve data' },
    { name: 'progress', type: 'string', default: 'auto', usage: 'output mode for upgrade progress. Values: [auto lines none]' },
    { name: 'reboot-mode', short: 'm', type: 'string', default: 'default', usage: 'select the reboot mode during upgrade. Mode "powercycle" bypasses kexec. Values: [default powercycle force]', validate: (v) => (['default', 'powercycle', 'force'].includes(v.toLowerCase()) ? undefined : 'valid values are: default, powercycle, force') },
    { name: 'stage', short: 's', type: 'bool', deprecated: 'legacy flag for MachineService.Upgrade fallback, to be removed in Talos 1.18', usage: 'stage the upgrade to perform it after a reboot' },
    { name: 'timeout', type: 'duration', default: 1_800_000, usage: 'time to wait for the operation is complete if --debug or --wait is set' },
    { name: 'wait', type: 'bool', default: true, usage: 'wait for the operation to complete, tracking its progress. always set to true when --debug is set' },
  ],
  async run(ctx) {
    const t = resolveTarget(ctx, readTalos(ctx.lab));
    const image = str(ctx.p, 'image') as string;
    const tag = imageTag(image);
    for (const ip of t.nodes) {
      try {
        reach(t, ip);
      } catch (e) {
        throw new CommandError(`error during upgrade: ${(e as Error).message}`);
      }
    }
    if (!tag) throw new CommandError(`error pulling upgrade image: failed to parse version from image "${image}"`);
    const stage = bool(ctx.p, 'stage');
    if (bool(ctx.p, 'wait')) ctx.io.err.push(`watching nodes: [${t.nodes.join(' ')}]`);
    await delay(latencyMs(ctx.lab, 40));
    updateState(ctx.lab, TALOS_STATE, emptyTalosState, (state) => {
      const c = state.clusters[t.cluster?.name as string] as TalosClusterState;
      for (const ip of t.nodes) {
        const n = member(c, ip) as TalosNodeState;
        if (stage) {
          n.staged_image = image;
          continue;
        }
        if (n.talos_version !== tag) {
          n.previous_version = n.talos_version;
          n.previous_image = n.installer_image;
        }
        n.talos_version = tag;
        n.installer_image = image;
        n.staged_image = null;
      }
    });
    if (bool(ctx.p, 'wait')) for (const ip of t.nodes) ctx.io.err.push(`    * ${ip}: post check passed`);
    else for (const ip of t.nodes) ctx.io.out.push(`NODE         ACK                        STARTED`, `${ip}   Upgrade request received   ${new Date().toISOString()}`);
  },
};

export const rollbackCmd: Command = {
  path: 'talosctl rollback',
  use: 'rollback [flags]',
  short: 'Rollback a node to the previous installation',
  flags: [],
  async run(ctx) {
    const t = resolveTarget(ctx, readTalos(ctx.lab));
    const errors: string[] = [];
    for (const ip of t.nodes) {
      try {
        const n = reach(t, ip);
        if (!n.previous_version) errors.push(`error executing rollback on node ${ip}: rpc error: code = Unknown desc = cannot rollback: no previous installation found`);
      } catch (e) {
        errors.push(`error executing rollback on node ${ip}: ${(e as Error).message}`);
      }
    }
    if (errors.length > 0) throw new CommandError(errors.join('\n'));
    await delay(latencyMs(ctx.lab, 30));
    updateState(ctx.lab, TALOS_STATE, emptyTalosState, (state) => {
      const c = state.clusters[t.cluster?.name as string] as TalosClusterState;
      for (const ip of t.nodes) {
        const n = member(c, ip) as TalosNodeState;
        const [v, img] = [n.talos_version, n.installer_image];
        n.talos_version = n.previous_version as string;
        n.installer_image = n.previous_image ?? `ghcr.io/siderolabs/installer:${n.talos_version}`;
        n.previous_version = v;
        n.previous_image = img;
      }
    });
  },
};

export const resetCmd: Command = {
  path: 'talosctl reset',
  use: 'reset [flags]',
  short: 'Reset a node',
  args: noArgs,
  flags: [
    { name: 'debug', type: 'bool', usage: 'debug operation from kernel logs. --wait is set to true when this flag is set' },
    { name: 'graceful', type: 'bool', default: true, usage: 'if true, attempt to cordon/drain node and leave etcd (if applicable)' },
    { name: 'insecure', type: 'bool', usage: 'reset using the insecure (encrypted with no auth) maintenance service' },
    { name: 'reboot', type: 'bool', usage: 'if true, reboot the node after resetting instead of shutting down' },
    { name: 'system-labels-to-wipe', type: 'strings', default: [], usage: 'if set, just wipe selected system disk partitions by label but keep other partitions intact' },
    { name: 'timeout', type: 'duration', default: 1_800_000, usage: 'time to wait for the operation is complete if --debug or --wait is set' },
    { name: 'user-disks-to-wipe', type: 'strings', default: [], usage: 'if set, wipes defined devices in the list' },
    { name: 'wait', type: 'bool', default: true, usage: 'wait for the operation to complete, tracking its progress. always set to true when --debug is set' },
    { name: 'wipe-mode', type: 'string', default: 'all', usage: 'disk reset mode', validate: (v) => (['all', 'system-disk', 'user-disks'].includes(v) ? undefined : 'valid values are: all, system-disk, user-disks') },
  ],
  async run(ctx) {
    const t = resolveTarget(ctx, readTalos(ctx.lab));
    for (const ip of t.nodes) {
      try {
        reach(t, ip);
      } catch (e) {
        throw new CommandError(`error executing reset: ${(e as Error).message}`);
      }
    }
    await delay(latencyMs(ctx.lab, 30));
    updateState(ctx.lab, TALOS_STATE, emptyTalosState, (state) => {
      const c = state.clusters[t.cluster?.name as string] as TalosClusterState;
      // The machine leaves the cluster (and etcd) and returns to maintenance mode.
      c.nodes = c.nodes.filter((n) => !t.nodes.includes(n.ip) && !t.nodes.includes(n.hostname));
    });
    if (bool(ctx.p, 'wait')) ctx.io.err.push(`watching nodes: [${t.nodes.join(' ')}]`, ...t.nodes.map((ip) => `    * ${ip}: events check condition met`));
  },
};

function versionBlock(tag: string): string[] {
  return [`\tTag:         ${tag}`, '\tSHA:         0af17af3', '\tBuilt:       ', '\tGo version:  go1.21.5 X:loopvar', '\tOS/Arch:     linux/amd64'];
}

export const versionCmd: Command = {
  path: 'talosctl version',
  use: 'version [flags]',
  short: 'Prints the version',
  args: noArgs,
  flags: [
    { name: 'client', type: 'bool', usage: 'Print client version only' },
    { name: 'insecure', short: 'i', type: 'bool', usage: 'use Talos maintenance mode API' },
    { name: 'short', type: 'bool', usage: 'Print the short version' },
  ],
  async run(ctx) {
    ctx.io.out.push('Client:', ...versionBlock(CLIENT_VERSION));
    if (bool(ctx.p, 'client')) return;
    const t = resolveTarget(ctx, readTalos(ctx.lab));
    const blocks: string[] = [];
    for (const ip of t.nodes) {
      let n: TalosNodeState;
      try {
        n = reach(t, ip);
      } catch (e) {
        throw new CommandError(`error getting version: ${(e as Error).message}`);
      }
      blocks.push(`\tNODE:        ${ip}`, ...versionBlock(n.talos_version), '\tEnabled:     RBAC');
    }
    ctx.io.out.push('Server:', ...blocks);
  },
};

const RESOURCE_TYPES: Record<string, { type: string; namespace: string }> = {
  members: { type: 'Members.cluster.talos.dev', namespace: 'cluster' },
  services: { type: 'Services.v1alpha1.talos.dev', namespace: 'runtime' },
};
const ALIASES: Record<string, string> = {
  member: 'members',
  members: 'members',
  'members.cluster.talos.dev': 'members',
  service: 'services',
  services: 'services',
  svc: 'services',
  'services.v1alpha1.talos.dev': 'services',
};

function resourceObjects(c: TalosClusterState, node: TalosNodeState, kind: string, id: string | undefined): Array<Record<string, unknown>> {
  const created = c.bootstrapped_at ?? '2026-01-15T00:00:00Z';
  const meta = (rid: string, version: number) => ({
    namespace: (RESOURCE_TYPES[kind] as { namespace: string }).namespace,
    type: (RESOURCE_TYPES[kind] as { type: string }).type,
    id: rid,
    version,
    owner: kind === 'members' ? 'cluster.MemberController' : '',
    phase: 'running',
    created,
    updated: created,
  });
  if (kind === 'members') {
    return c.nodes
      .filter((n) => !id || n.hostname === id)
      .map((n) => ({
        node: node.ip,
        metadata: meta(n.hostname, 2 + n.configs_applied),
        spec: { nodeId: n.node_id, addresses: [n.ip], hostname: n.hostname, machineType: n.machine_type, operatingSystem: `Talos (${n.talos_version})` },
      }));
  }
  const services = node.machine_type === 'controlplane' ? ['apid', 'containerd', 'cri', 'etcd', 'kubelet', 'machined', 'trustd', 'udevd'] : ['apid', 'containerd', 'cri', 'kubelet', 'machined', 'udevd'];
  return services
    .filter((s) => !id || s === id)
    .map((s) => ({ node: node.ip, metadata: meta(s, 3), spec: { running: s !== 'etcd' || c.bootstrapped, healthy: s !== 'etcd' || c.bootstrapped, unknown: false } }));
}

export const getCmd: Command = {
  path: 'talosctl get',
  use: 'get <type> [<id>] [flags]',
  short: 'Get a specific resource or list of resources (use \'talosctl get rd\' to see all available resource types).',
  aliases: ['g'],
  args: (n) => (n >= 1 && n <= 2 ? undefined : n === 0 ? 'requires at least 1 arg(s), only received 0' : `accepts at most 2 arg(s), received ${n}`),
  flags: [
    { name: 'insecure', short: 'i', type: 'bool', usage: 'get resources using the insecure (encrypted with no auth) maintenance service' },
    { name: 'namespace', type: 'string', usage: 'resource namespace (default is to use default namespace per resource)' },
    { name: 'output', short: 'o', type: 'string', default: 'table', usage: 'output mode (json, table, yaml, jsonpath)' },
    { name: 'watch', short: 'w', type: 'bool', usage: 'watch resource changes' },
  ],
  async run(ctx) {
    const [typeArg, id] = ctx.p.positionals as [string, string | undefined];
    const kind = ALIASES[typeArg.toLowerCase()];
    if (!kind) throw new CommandError(`error resolving resource type: resource "${typeArg}" is not registered`);
    const t = resolveTarget(ctx, readTalos(ctx.lab));
    const output = str(ctx.p, 'output') ?? 'table';
    const objects: Array<Record<string, unknown>> = [];
    for (const ip of t.nodes) {
      let n: TalosNodeState;
      try {
        n = reach(t, ip);
      } catch (e) {
        throw new CommandError(`${ip}: ${(e as Error).message}`);
      }
      objects.push(...resourceObjects(t.cluster as TalosClusterState, n, kind, id));
    }
    if (id && objects.length === 0) throw new CommandError(`${t.nodes[0]}: rpc error: code = NotFound desc = resource ${(RESOURCE_TYPES[kind] as { type: string }).type}(${(RESOURCE_TYPES[kind] as { namespace: string }).namespace}/${id}@undefined) doesn't exist`);
    if (output === 'json') {
      // A stream of indented objects, one per resource: not a JSON array.
      for (const o of objects) ctx.io.out.push(JSON.stringify(o, null, 4));
    } else if (output === 'yaml') {
      for (const o of objects) ctx.io.out.push(`${stringify(o).trimEnd()}\n---`);
    } else if (output === 'table') {
      const header = kind === 'members' ? ['NODE', 'NAMESPACE', 'TYPE', 'ID', 'VERSION', 'HOSTNAME', 'MACHINE TYPE', 'OS', 'ADDRESSES'] : ['NODE', 'NAMESPACE', 'TYPE', 'ID', 'VERSION', 'RUNNING', 'HEALTHY', 'HEALTH UNKNOWN'];
      const rows = objects.map((o) => {
        const m = o.metadata as Record<string, unknown>;
        const s = o.spec as Record<string, unknown>;
        const base = [String(o.node), String(m.namespace), kind === 'members' ? 'Member' : 'Service', String(m.id), String(m.version)];
        return kind === 'members' ? [...base, String(s.hostname), String(s.machineType), String(s.operatingSystem), `["${(s.addresses as string[]).join('","')}"]`] : [...base, String(s.running), String(s.healthy), String(s.unknown)];
      });
      const all = [header, ...rows];
      const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] as string).length)));
      for (const r of all) ctx.io.out.push(r.map((v, i) => (i === r.length - 1 ? v : v.padEnd((widths[i] as number) + 3))).join('').trimEnd());
    } else {
      throw new CommandError(`output writer "${output}" is not supported`);
    }
  },
};

