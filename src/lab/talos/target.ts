import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { labPaths, readState } from '../lab-dir.js';
import { list, str } from './cobra.js';
import { createOrUpdate } from './kube-api.js';
import type { MachineType, TalosClusterState, TalosNodeState, TalosState } from './state.js';
import { CommandError, unavailable, type Ctx } from './command.js';

export interface TalosconfigDoc {
  context?: string;
  contexts?: Record<string, { endpoints?: string[]; nodes?: string[] }>;
}

export interface Target {
  cluster: TalosClusterState | undefined;
  endpoints: string[];
  nodes: string[];
}

export function member(c: TalosClusterState | undefined, ip: string): TalosNodeState | undefined {
  return c?.nodes.find((n) => n.ip === ip || n.hostname === ip);
}

export function clusterByIp(state: TalosState, ip: string | undefined): TalosClusterState | undefined {
  if (!ip) return undefined;
  return Object.values(state.clusters).find((c) => member(c, ip) || new URL(c.endpoint).hostname === ip);
}

export function talosconfigPath(ctx: Ctx): string {
  return str(ctx.p, 'talosconfig') ?? ctx.env.TALOSCONFIG ?? labPaths(ctx.lab).talosconfig;
}

/** Like talosctl: --context or the file's context; -e/-n override the context's endpoints/nodes. */
export function resolveTarget(ctx: Ctx, state: TalosState): Target {
  const path = talosconfigPath(ctx);
  let doc: TalosconfigDoc;
  try {
    doc = (parse(readFileSync(path, 'utf8')) ?? {}) as TalosconfigDoc;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CommandError(code ? `failed to open config file "${path}": open ${path}: no such file or directory` : `failed to parse config file "${path}": ${(e as Error).message}`);
  }
  const name = str(ctx.p, 'context') ?? doc.context ?? '';
  const context = doc.contexts?.[name];
  if (!context) throw new CommandError(`context "${name}" is not defined in 'talosconfig'`);
  const endpoints = list(ctx.p, 'endpoints').length > 0 ? list(ctx.p, 'endpoints') : (context.endpoints ?? []);
  if (endpoints.length === 0) throw new CommandError('error constructing client: failed to determine endpoints');
  const nodes = list(ctx.p, 'nodes').length > 0 ? list(ctx.p, 'nodes') : (context.nodes ?? []);
  // The lab's shared <lab>/talosconfig serves every cluster name (start-lab's clusters.default):
  // there the node decides the cluster; a cluster's own talosconfig decides by its context.
  const shared = resolve(path) === resolve(labPaths(ctx.lab).talosconfig) && !str(ctx.p, 'context');
  const byIp = clusterByIp(state, nodes[0] ?? endpoints[0]);
  const cluster = shared ? (byIp ?? state.clusters[name]) : (state.clusters[name] ?? byIp);
  const ep = (endpoints[0] as string).replace(/:\d+$/, '');
  const reachable = Object.values(state.clusters).some((c) => member(c, ep) || new URL(c.endpoint).hostname === ep);
  if (!reachable) throw new CommandError(unavailable(ep));
  return { cluster, endpoints, nodes: nodes.length > 0 ? nodes : [ep] };
}

/** The member a request for `ip` reaches, or the gRPC error talosctl would print. */
export function reach(t: Target, ip: string): TalosNodeState {
  const n = member(t.cluster, ip);
  if (!n) throw new CommandError(unavailable(ip, 'no route to host'));
  return n;
}

/** helpers.FailIfMultiNodes (cmd/talosctl/pkg/talos/helpers): one node, from -n or the context. */
export function singleNode(t: Target, what: string): string {
  if (t.nodes.length > 1) throw new CommandError(`command "${what}" is not supported with multiple nodes`);
  return t.nodes[0] as string;
}


export function kubeNode(c: TalosClusterState, n: TalosNodeState, now: string): Record<string, unknown> {
  const cp = n.machine_type === 'controlplane';
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: n.hostname,
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': n.hostname,
        'kubernetes.io/os': 'linux',
        'cortex.dev/cluster': c.name,
        ...(cp ? { 'node-role.kubernetes.io/control-plane': '' } : {}),
      },
      annotations: { 'talos.dev/owned-labels': '["node-role.kubernetes.io/control-plane"]', 'cortex.dev/talos-node-id': n.node_id },
    },
    spec: cp ? { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] } : {},
    status: {
      conditions: [
        { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available', lastHeartbeatTime: now, lastTransitionTime: now },
        { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure', lastHeartbeatTime: now, lastTransitionTime: now },
        { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available', lastHeartbeatTime: now, lastTransitionTime: now },
        { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now },
      ],
      addresses: [
        { type: 'InternalIP', address: n.ip },
        { type: 'Hostname', address: n.hostname },
      ],
      capacity: { cpu: cp ? '4' : '8', memory: cp ? '8148044Ki' : '16298076Ki', pods: '110', 'ephemeral-storage': '102877120Ki' },
      allocatable: { cpu: cp ? '3950m' : '7950m', memory: cp ? '7521356Ki' : '15671388Ki', pods: '110', 'ephemeral-storage': '94815063442' },
      nodeInfo: {
        architecture: 'amd64',
        containerRuntimeVersion: 'containerd://1.7.11',
        kernelVersion: '6.1.69-talos',
        kubeProxyVersion: c.kubernetes_version,
        kubeletVersion: c.kubernetes_version,
        operatingSystem: 'linux',
        osImage: `Talos (${n.talos_version})`,
        machineID: createHash('md5').update(n.node_id).digest('hex'),
        systemUUID: n.node_id.slice(0, 36),
        bootID: createHash('md5').update(`${n.node_id}/${n.talos_version}`).digest('hex'),
      },
    },
  };
}

/** Registers Talos members as Kubernetes Nodes (the kubelet would): POST /api/v1/nodes, 409 = already there. */
export async function registerKubeNodes(ctx: Ctx, c: TalosClusterState, nodes: readonly TalosNodeState[]): Promise<void> {
  if (!ctx.kube || !c.bootstrapped) return;
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  for (const n of nodes) await createOrUpdate(ctx.kube, kubeNode(c, n, now) as never);
}

export function nameFromPve(lab: string, ip: string, cluster: string, taken: Set<string>): string | undefined {
  const pve = readState<unknown>(lab, 'pve', () => null);
  const needles = [`ip=${ip}/`, `"${ip}"`, `"${ip}/`];
  const found: string[] = [];
  const walk = (o: unknown): boolean => {
    if (!o || typeof o !== 'object') return false;
    const children = Array.isArray(o) ? o : Object.values(o as Record<string, unknown>);
    let childHit = false;
    for (const c of children) if (walk(c)) childHit = true;
    if (childHit) return true;
    const name = (o as { name?: unknown }).name;
    if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) return false;
    const text = JSON.stringify(o);
    if (!needles.some((n) => text.includes(n))) return false;
    found.push(name);
    return true;
  };
  walk(pve);
  const usable = found.filter((n) => !taken.has(n));
  return usable.find((n) => n.startsWith(`${cluster}-`)) ?? usable[0];
}

/**
 * The hostname a joining machine gets: the config's machine.network.hostname, else its VM's name
 * in the lab's Proxmox state (found by IP), else the next free `<prefix>NN` of the cluster's first node of that role.
 */
export function chooseHostname(lab: string, state: TalosState, c: TalosClusterState, ip: string, type: MachineType, configured: string | undefined): string {
  if (configured) return configured;
  const taken = new Set(Object.values(state.clusters).flatMap((x) => x.nodes.map((n) => n.hostname)));
  const fromPve = nameFromPve(lab, ip, c.name, taken);
  if (fromPve) return fromPve;
  const same = c.nodes.filter((n) => n.machine_type === type);
  const first = same.map((n) => /^(.*-)(\d+)$/.exec(n.hostname)).find((m): m is RegExpExecArray => Boolean(m));
  const prefix = first ? (first[1] as string) : `${c.name}-${type === 'controlplane' ? 'cp' : 'worker'}-`;
  for (let i = 1; ; i++) {
    const name = `${prefix}${String(i).padStart(2, '0')}`;
    if (!taken.has(name)) return name;
  }
}

