/**
 * Finding VMs: by VMID, name or IP address, through `pvesh get /cluster/resources --type vm`
 * (the node a VM is on comes from there, so callers never guess it), plus reading a VM's config.
 */
import { ActionFailedError } from '../../errors.js';
import { isPveshError, type Pvesh, type PveParams } from './pvesh.js';

export interface ClusterVm {
  vmid: number;
  name: string;
  node: string;
  status: string;
  template: boolean;
  tags: string[];
  lock?: string;
}

interface RawResource {
  type?: string;
  vmid?: number | string;
  name?: string;
  node?: string;
  status?: string;
  template?: number | boolean;
  tags?: string;
  lock?: string;
}

export const RESOURCES_VM: PveParams = [['type', 'vm']];

export function splitTags(tags: string | undefined): string[] {
  return (tags ?? '').split(/[;, ]+/).filter(Boolean);
}

/** QEMU VMs of the cluster (containers are left out). */
export async function listVms(pv: Pvesh): Promise<ClusterVm[]> {
  const items = await pv.get<RawResource[]>('/cluster/resources', RESOURCES_VM);
  if (!Array.isArray(items)) return [];
  return items
    .filter((r) => (r.type ?? 'qemu') === 'qemu' && r.vmid !== undefined && r.node)
    .map((r) => ({
      vmid: Number(r.vmid),
      name: r.name ?? '',
      node: String(r.node),
      status: r.status ?? 'unknown',
      template: r.template === 1 || r.template === true,
      tags: splitTags(r.tags),
      ...(r.lock ? { lock: r.lock } : {}),
    }));
}

export interface VmSelector {
  vmid?: number;
  name?: string;
  /** Name or VMID (or IP address). */
  vm?: string | number;
  /** IP address, name or VMID. */
  target?: string | number;
  node?: string;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
export function isIpAddress(s: string): boolean {
  return IPV4.test(s) || (/^[0-9A-Fa-f:]+$/.test(s) && s.includes(':') && s.split(':').length > 2);
}

type Wanted = { by: 'vmid'; vmid: number } | { by: 'name'; name: string } | { by: 'ip'; ip: string };

function wantedOf(sel: VmSelector): Wanted | undefined {
  if (sel.vmid !== undefined) return { by: 'vmid', vmid: Number(sel.vmid) };
  if (sel.name !== undefined) return { by: 'name', name: sel.name };
  const either = sel.vm ?? sel.target;
  if (either === undefined || either === null || either === '') return undefined;
  if (typeof either === 'number' || /^\d+$/.test(String(either))) return { by: 'vmid', vmid: Number(either) };
  const s = String(either).trim();
  if (isIpAddress(s)) return { by: 'ip', ip: s };
  return { by: 'name', name: s };
}

export function describeSelector(sel: VmSelector): string {
  const w = wantedOf(sel);
  if (!w) return 'no VM given';
  return w.by === 'vmid' ? `VM ${w.vmid}` : w.by === 'name' ? `VM "${w.name}"` : `the VM with address ${w.ip}`;
}

/** Addresses configured for a VM: ipconfig0..3 (cloud-init), without prefix length. */
export function configuredIps(config: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (let i = 0; i < 4; i++) {
    const ip = ipFromIpconfig(config[`ipconfig${i}`]);
    if (ip) out.push(ip);
  }
  return out;
}

export function ipFromIpconfig(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /(?:^|,)ip=([^,]+)/.exec(value);
  if (!m || !m[1] || m[1] === 'dhcp') return undefined;
  return m[1].split('/')[0];
}

export interface NetDevice {
  model: string;
  mac?: string;
  bridge?: string;
  tag?: number;
  firewall?: boolean;
  rest: string[];
}

/** Parses a netN value such as `virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,tag=20,firewall=1`. */
export function parseNet(value: unknown): NetDevice | undefined {
  if (typeof value !== 'string' || !value) return undefined;
  const parts = value.split(',');
  const dev: NetDevice = { model: 'virtio', rest: [] };
  parts.forEach((p, i) => {
    const [k, v] = p.split('=', 2) as [string, string | undefined];
    if (i === 0 && (v === undefined || /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/.test(v)) && k !== 'bridge') {
      dev.model = k;
      if (v) dev.mac = v;
    } else if (k === 'macaddr') dev.mac = v;
    else if (k === 'bridge') dev.bridge = v;
    else if (k === 'tag') dev.tag = Number(v);
    else if (k === 'firewall') dev.firewall = v === '1';
    else if (k === 'model') dev.model = v ?? dev.model;
    else dev.rest.push(p);
  });
  return dev;
}

export async function vmConfig(pv: Pvesh, node: string, vmid: number): Promise<Record<string, unknown>> {
  const c = await pv.get<Record<string, unknown>>(`/nodes/${node}/qemu/${vmid}/config`);
  return c && typeof c === 'object' ? c : {};
}

export function agentEnabled(config: Record<string, unknown>): boolean {
  const a = String(config.agent ?? '0');
  return a === '1' || /(^|,)enabled=1/.test(a) || /^1,/.test(a);
}

interface AgentInterface {
  name?: string;
  'ip-addresses'?: Array<{ 'ip-address'?: string; 'ip-address-type'?: string }>;
}

/** Addresses the guest agent reports (loopback and link-local left out); empty when the agent does not answer. */
export async function agentIps(pv: Pvesh, node: string, vmid: number): Promise<string[]> {
  try {
    const r = await pv.get<{ result?: AgentInterface[] } | AgentInterface[]>(`/nodes/${node}/qemu/${vmid}/agent/network-get-interfaces`);
    const list = Array.isArray(r) ? r : (r?.result ?? []);
    return list
      .filter((i) => i.name !== 'lo')
      .flatMap((i) => (i['ip-addresses'] ?? []).map((a) => a['ip-address'] ?? ''))
      .filter((ip) => ip && !ip.startsWith('127.') && !ip.toLowerCase().startsWith('fe80') && ip !== '::1');
  } catch {
    return [];
  }
}

export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

async function findByIp(pv: Pvesh, vms: ClusterVm[], ip: string): Promise<ClusterVm[]> {
  const candidates = vms.filter((v) => !v.template);
  const configs = await mapLimited(candidates, 4, async (v) => {
    try {
      return await vmConfig(pv, v.node, v.vmid);
    } catch (e) {
      if (isPveshError(e, 'not_found')) return {};
      throw e;
    }
  });
  const byConfig = candidates.filter((_, i) => configuredIps(configs[i] ?? {}).includes(ip));
  if (byConfig.length > 0) return byConfig;
  const withAgent = candidates.filter((v, i) => v.status === 'running' && agentEnabled(configs[i] ?? {}));
  const reported = await mapLimited(withAgent, 4, (v) => agentIps(pv, v.node, v.vmid));
  return withAgent.filter((_, i) => (reported[i] ?? []).includes(ip));
}

/**
 * The VM a selector names, or undefined when there is none. Several VMs of the same name are
 * narrowed by `node` and by preferring non-templates; still several is an error (cortex never
 * guesses which VM to change).
 */
export async function findVm(pv: Pvesh, sel: VmSelector, vmsGiven?: ClusterVm[]): Promise<ClusterVm | undefined> {
  const wanted = wantedOf(sel);
  if (!wanted) throw new ActionFailedError('no VM given (vmid, name, vm or target)', { errorCode: 'invalid_parameters', retryable: false });
  const vms = vmsGiven ?? (await listVms(pv));
  let found: ClusterVm[];
  if (wanted.by === 'vmid') found = vms.filter((v) => v.vmid === wanted.vmid);
  else if (wanted.by === 'name') found = vms.filter((v) => v.name === wanted.name);
  else found = await findByIp(pv, vms, wanted.ip);
  if (found.length > 1) {
    const nonTemplates = found.filter((v) => !v.template);
    if (nonTemplates.length > 0) found = nonTemplates;
  }
  if (found.length > 1 && sel.node) {
    const onNode = found.filter((v) => v.node === sel.node);
    if (onNode.length > 0) found = onNode;
  }
  if (found.length > 1) {
    throw new ActionFailedError(
      `${describeSelector(sel)} is ambiguous: ${found.map((v) => `${v.vmid} "${v.name}" on ${v.node}`).join(', ')}`,
      { errorCode: 'vm_ambiguous', retryable: false, hint: 'name the VM by vmid' },
    );
  }
  return found[0];
}

export async function requireVm(pv: Pvesh, sel: VmSelector, vms?: ClusterVm[]): Promise<ClusterVm> {
  const vm = await findVm(pv, sel, vms);
  if (!vm) {
    throw new ActionFailedError(`${describeSelector(sel)} does not exist (pvesh get /cluster/resources --type vm)`, {
      errorCode: 'vm_not_found',
      retryable: false,
    });
  }
  return vm;
}

/** The `<node>`/`<vmid>` placeholders a plan uses for a selector. */
export function planVm(sel: VmSelector): { node: string; vmid: string } {
  const w = wantedOf(sel);
  return {
    node: sel.node ?? '<node>',
    vmid: w?.by === 'vmid' ? String(w.vmid) : '<vmid>',
  };
}
