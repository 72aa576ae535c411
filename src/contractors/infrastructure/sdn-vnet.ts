import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { planCall, planTask, Pvesh } from './pvesh.js';
import { listVms, mapLimited, parseNet, vmConfig } from './vms.js';

interface Zone {
  zone: string;
  type?: string;
  nodes?: string;
}

interface Vnet {
  vnet: string;
  zone?: string;
  tag?: number;
  alias?: string;
}

interface Subnet {
  subnet?: string;
  cidr?: string;
  id?: string;
}

interface CreateParams {
  zone: string;
  vnet: string;
  tag?: number;
  zone_type?: string;
  bridge?: string;
  alias?: string;
  subnet?: string;
  gateway?: string;
  snat?: boolean;
  apply?: boolean;
  nodes?: string[];
  verify_timeout?: number;
}

const APPLY = ['set', '/cluster/sdn'] as const;

async function applySdn(pv: Pvesh): Promise<void> {
  await pv.task(APPLY[0], APPLY[1], [], { errorCode: 'sdn_apply_failed', what: 'apply the SDN configuration' });
}

/** The nodes that must have the VNet: the ones asked for, else every online node the zone covers. */
async function vnetNodes(pv: Pvesh, p: CreateParams): Promise<string[]> {
  if (p.nodes?.length) return p.nodes;
  const online = ((await pv.get<Array<{ node: string; status?: string }>>('/nodes')) ?? []).filter((n) => n.status === 'online').map((n) => n.node);
  const zone = ((await pv.get<Zone[]>('/cluster/sdn/zones')) ?? []).find((z) => z.zone === p.zone);
  const covered = zone?.nodes ? new Set(zone.nodes.split(/[,;\s]+/).filter(Boolean)) : undefined;
  return online.filter((n) => !covered || covered.has(n)).sort();
}

/**
 * The apply task (reloadnetworkall) only starts each node's network reload and ends OK whatever
 * they do: a VNet is usable on a node once its bridge shows up there. Polls each node until it
 * does, or fails naming the nodes that never got it.
 */
async function verifyVnet(rt: ActionRuntime, pv: Pvesh, p: CreateParams): Promise<string[]> {
  const nodes = await vnetNodes(pv, p);
  const intervalMs = Math.max(10, (rt.config.proxmox.task_poll_seconds ?? 1) * 1000);
  const deadline = rt.now().getTime() + (p.verify_timeout ?? 60) * 1000;
  let missing = [...nodes];
  for (;;) {
    const still: string[] = [];
    for (const node of missing) {
      const ifaces = (await pv.get<Array<{ iface: string }>>(`/nodes/${node}/network`, [['type', 'any_bridge']], { errorCode: 'sdn_apply_failed' })) ?? [];
      if (!ifaces.some((i) => i.iface === p.vnet)) still.push(node);
    }
    missing = still;
    if (missing.length === 0) return nodes;
    if (rt.now().getTime() >= deadline) {
      throw new ActionFailedError(
        `the SDN apply ended OK, but VNet ${p.vnet} is not on ${missing.join(', ')} after ${p.verify_timeout ?? 60}s: ${missing.length > 1 ? "those nodes'" : "that node's"} network reload failed or is still running`,
        {
          errorCode: 'sdn_apply_incomplete',
          retryable: true,
          hint: `check the reloadnetwork task on ${missing[0]} (pvesh get /nodes/${missing[0]}/tasks --typefilter reloadnetwork) and that the zone's bridge exists there; cortex resume retries`,
        },
      );
    }
    await rt.sleep(intervalMs);
  }
}

function subnetCidr(s: Subnet): string | undefined {
  if (s.cidr) return s.cidr;
  // Proxmox ids subnets <zone>-<address>-<prefix>.
  const m = /-(\d+\.\d+\.\d+\.\d+)-(\d+)$/.exec(s.subnet ?? s.id ?? '');
  return m ? `${m[1]}/${m[2]}` : s.subnet;
}

function subnetId(s: Subnet): string {
  return s.subnet ?? s.id ?? '';
}

function zoneParams(p: CreateParams, bridge: string | undefined): Array<[string, string | number | undefined]> {
  const type = p.zone_type ?? 'vlan';
  return [
    ['zone', p.zone],
    ['type', type],
    ['bridge', type === 'vlan' || type === 'qinq' ? bridge : undefined],
  ];
}

function vnetParams(p: CreateParams): Array<[string, string | number | undefined]> {
  return [
    ['vnet', p.vnet],
    ['zone', p.zone],
    ['tag', p.tag],
    ['alias', p.alias],
  ];
}

function subnetParams(p: CreateParams): Array<[string, string | number | undefined]> {
  return [
    ['subnet', p.subnet],
    ['type', 'subnet'],
    ['gateway', p.gateway],
    ['snat', p.snat ? 1 : undefined],
  ];
}

export const createSdnVnetAction: ActionImpl = {
  plan(params, ctx) {
    const p = params as unknown as CreateParams;
    const steps: PlannedStep[] = [
      planCall('get', '/cluster/sdn/vnets', [], `reuse ${p.vnet} when it has zone ${p.zone} and tag ${p.tag ?? '-'}`),
      planCall('get', '/cluster/sdn/zones'),
      planCall('create', '/cluster/sdn/zones', zoneParams(p, p.bridge ?? ctx.config.proxmox.bridge ?? 'vmbr0'), 'when the zone is missing'),
      planCall('create', '/cluster/sdn/vnets', vnetParams(p)),
    ];
    if (p.subnet) steps.push(planCall('create', `/cluster/sdn/vnets/${p.vnet}/subnets`, subnetParams(p)));
    if (p.apply !== false) {
      steps.push(...planTask(...APPLY));
      if (!p.nodes?.length) steps.push(planCall('get', '/nodes'), planCall('get', '/cluster/sdn/zones', [], `the nodes zone ${p.zone} covers`));
      for (const node of p.nodes?.length ? p.nodes : ['<node>']) {
        steps.push(planCall('get', `/nodes/${node}/network`, [['type', 'any_bridge']], `until ${p.vnet} is there (at most ${p.verify_timeout ?? 60}s)${p.nodes?.length ? '' : ', on each online node the zone covers'}`));
      }
    }
    return steps;
  },

  async run(rt) {
    const p = rt.params as unknown as CreateParams;
    const pv = new Pvesh(rt);
    const vnets = (await pv.get<Vnet[]>('/cluster/sdn/vnets')) ?? [];
    const existing = vnets.find((v) => v.vnet === p.vnet);
    if (existing && (existing.zone !== p.zone || (p.tag !== undefined && Number(existing.tag) !== p.tag))) {
      throw new ActionFailedError(
        `SDN VNet ${p.vnet} already exists in zone ${existing.zone ?? '?'} with tag ${existing.tag ?? 'none'} (wanted zone ${p.zone}, tag ${p.tag ?? 'none'})`,
        { errorCode: 'network_vlan_conflict', retryable: false },
      );
    }
    if (!existing && p.tag !== undefined) {
      const clash = vnets.find((v) => v.zone === p.zone && Number(v.tag) === p.tag);
      if (clash) {
        throw new ActionFailedError(`tag ${p.tag} is already used by VNet ${clash.vnet} in zone ${p.zone}`, { errorCode: 'network_vlan_conflict', retryable: false });
      }
    }
    let zones: Zone[] | undefined;
    const hasZone = async () => (zones ??= (await pv.get<Zone[]>('/cluster/sdn/zones')) ?? []).some((z) => z.zone === p.zone);
    // What was there before the first attempt: a re-run finds that attempt's VNet and zone, which
    // are still this action's to delete on rollback.
    const before = await rt.remember('sdn_before', async () => ({ existed: Boolean(existing), zone_existed: existing ? true : await hasZone() }));
    if (!existing) {
      if (!(await hasZone())) {
        await pv.call('create', '/cluster/sdn/zones', zoneParams(p, p.bridge ?? rt.config.proxmox.bridge ?? 'vmbr0'), { errorCode: 'sdn_update_failed', what: `create SDN zone ${p.zone}` });
      }
      await pv.call('create', '/cluster/sdn/vnets', vnetParams(p), { errorCode: 'sdn_update_failed', what: `create SDN VNet ${p.vnet}` });
    }
    if (p.subnet) {
      const subnets = existing ? ((await pv.get<Subnet[]>(`/cluster/sdn/vnets/${p.vnet}/subnets`)) ?? []) : [];
      if (!subnets.some((s) => subnetCidr(s) === p.subnet)) {
        await pv.call('create', `/cluster/sdn/vnets/${p.vnet}/subnets`, subnetParams(p), { errorCode: 'sdn_update_failed', what: `add subnet ${p.subnet} to ${p.vnet}` });
      }
    }
    let nodes: string[] = [];
    if (p.apply !== false) {
      await applySdn(pv);
      nodes = await verifyVnet(rt, pv, p);
    }
    return { vnet: p.vnet, zone: p.zone, tag: p.tag ?? (existing?.tag !== undefined ? Number(existing.tag) : null), zone_created: !before.zone_existed, existed: before.existed, nodes };
  },
};

interface DeleteParams {
  vnet: string;
  zone?: string;
  delete_zone?: boolean;
  apply?: boolean;
  skip?: boolean;
}

/** VMs whose NICs use the VNet as bridge (Proxmox itself does not refuse to delete a VNet in use). */
async function vmsUsing(pv: Pvesh, vnet: string): Promise<number[]> {
  const vms = (await listVms(pv)).filter((v) => !v.template);
  const uses = await mapLimited(vms, 4, async (v) => {
    try {
      const config = await vmConfig(pv, v.node, v.vmid);
      return Object.entries(config).some(([k, val]) => /^net\d+$/.test(k) && parseNet(val)?.bridge === vnet);
    } catch {
      return false;
    }
  });
  return vms.filter((_, i) => uses[i]).map((v) => v.vmid);
}

export const deleteSdnVnetAction: ActionImpl = {
  plan(params) {
    const p = params as unknown as DeleteParams;
    if (p.skip) return [{ kind: 'wait', note: 'skip: the VNet existed before; nothing to do' }];
    const steps: PlannedStep[] = [
      planCall('get', '/cluster/sdn/vnets'),
      planCall('get', '/cluster/resources', [['type', 'vm']], 'fail while a VM uses the VNet (each VM config is read)'),
      planCall('get', `/cluster/sdn/vnets/${p.vnet}/subnets`),
      planCall('delete', `/cluster/sdn/vnets/${p.vnet}/subnets/<subnet>`, [], 'each subnet'),
      planCall('delete', `/cluster/sdn/vnets/${p.vnet}`),
    ];
    if (p.delete_zone && p.zone) steps.push(planCall('delete', `/cluster/sdn/zones/${p.zone}`, [], 'when no VNet is left in it'));
    if (p.apply !== false) steps.push(...planTask(...APPLY));
    return steps;
  },

  async run(rt) {
    const p = rt.params as unknown as DeleteParams;
    if (p.skip) return { vnet: p.vnet, deleted: false, zone_deleted: false };
    const pv = new Pvesh(rt);
    const vnets = (await pv.get<Vnet[]>('/cluster/sdn/vnets')) ?? [];
    const vnet = vnets.find((v) => v.vnet === p.vnet);
    let deleted = false;
    if (vnet) {
      const users = await vmsUsing(pv, p.vnet);
      if (users.length > 0) {
        throw new ActionFailedError(`SDN VNet ${p.vnet} is still used by VM${users.length > 1 ? 's' : ''} ${users.join(', ')}`, {
          errorCode: 'sdn_vnet_in_use',
          retryable: true,
          hint: 'destroy or re-attach those VMs first',
        });
      }
      for (const s of (await pv.get<Subnet[]>(`/cluster/sdn/vnets/${p.vnet}/subnets`)) ?? []) {
        await pv.call('delete', `/cluster/sdn/vnets/${p.vnet}/subnets/${subnetId(s)}`, [], { errorCode: 'sdn_update_failed', what: `delete subnet ${subnetId(s)}` });
      }
      await pv.call('delete', `/cluster/sdn/vnets/${p.vnet}`, [], { errorCode: 'sdn_update_failed', what: `delete SDN VNet ${p.vnet}` });
      deleted = true;
    }
    const zone = p.zone ?? vnet?.zone;
    let zoneDeleted = false;
    if (p.delete_zone && zone) {
      const left = vnets.filter((v) => v.zone === zone && v.vnet !== p.vnet);
      const zones = (await pv.get<Zone[]>('/cluster/sdn/zones')) ?? [];
      if (left.length === 0 && zones.some((z) => z.zone === zone)) {
        await pv.call('delete', `/cluster/sdn/zones/${zone}`, [], { errorCode: 'sdn_update_failed', what: `delete SDN zone ${zone}` });
        zoneDeleted = true;
      }
    }
    if ((deleted || zoneDeleted) && p.apply !== false) await applySdn(pv);
    return { vnet: p.vnet, deleted, zone_deleted: zoneDeleted };
  },
};
