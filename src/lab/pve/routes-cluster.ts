/** /cluster/... and /version: inventory, next VMID, quorum, replication, cluster firewall, SDN. */
import { createHash } from 'node:crypto';
import { fail, type Ctx, type Route } from './api.js';
import { cidrFormat, paramError, PveError } from './params.js';
import { disksOf, NODE_RELOAD_MS, nodeUsage, storageUsed, type PveIpset, type PveState, type SdnConfig } from './state.js';

export function digest(value: unknown): string {
  return createHash('sha1').update(JSON.stringify(value)).digest('hex');
}

export function withDigest<T extends object>(list: T[]): Array<T & { digest: string }> {
  const d = digest(list);
  return list.map((x) => ({ ...x, digest: d }));
}

function uptimeOf(startedAt: number | undefined, now: number): number {
  return startedAt ? Math.max(0, now - startedAt) : 0;
}

export function vmResource(ctx: Ctx, vm: PveState['vms'][number]) {
  const running = vm.status === 'running';
  const maxmem = Number(vm.config.memory ?? 512) * 1024 * 1024;
  const maxdisk = disksOf(vm.config).find((d) => d.key === 'scsi0' || d.key === 'virtio0')?.sizeBytes ?? 0;
  return {
    id: `qemu/${vm.vmid}`,
    type: 'qemu',
    vmid: vm.vmid,
    name: vm.name,
    node: vm.node,
    status: vm.status,
    template: vm.template ? 1 : 0,
    maxcpu: Number(vm.config.cores ?? 1) * Number(vm.config.sockets ?? 1),
    maxmem,
    maxdisk,
    cpu: running ? 0.0123 + (vm.vmid % 7) / 100 : 0,
    mem: running ? Math.round(maxmem * 0.42) : 0,
    disk: 0,
    diskread: running ? 123_456_789 + vm.vmid : 0,
    diskwrite: running ? 98_765_432 + vm.vmid : 0,
    netin: running ? 55_555_555 + vm.vmid : 0,
    netout: running ? 44_444_444 + vm.vmid : 0,
    uptime: running ? uptimeOf(vm.startedAt, ctx.now) : 0,
    ...(vm.config.tags ? { tags: String(vm.config.tags) } : {}),
    ...(vm.lock ? { lock: vm.lock } : {}),
    ...(vm.pool ? { pool: vm.pool } : {}),
  };
}

export function nodeResource(state: PveState, ctx: Ctx, n: PveState['nodes'][number]) {
  const u = nodeUsage(state, n);
  const busy = ctx.fault;
  return {
    id: `node/${n.name}`,
    type: 'node',
    node: n.name,
    status: n.online ? 'online' : 'offline',
    level: '',
    ...(n.online
      ? {
          cpu: busy ? 0.97 : Math.round(u.cpu * 10000) / 10000,
          maxcpu: n.maxcpu,
          mem: busy ? Math.round(n.maxmem * 0.97) : u.mem,
          maxmem: n.maxmem,
          disk: n.diskUsed,
          maxdisk: n.maxdisk,
          uptime: ctx.now - n.bootedAt,
        }
      : {}),
    'cgroup-mode': 2,
  };
}

function storageResources(state: PveState, ctx: Ctx) {
  const out: unknown[] = [];
  for (const s of state.storages) {
    for (const node of s.nodes) {
      out.push({
        id: `storage/${node}/${s.id}`,
        type: 'storage',
        storage: s.id,
        node,
        status: s.active ? 'available' : 'unknown',
        disk: ctx.fault ? Math.round(s.total * 0.995) : storageUsed(state, s, node),
        maxdisk: s.total,
        content: s.content.join(','),
        plugintype: s.type,
        shared: s.shared ? 1 : 0,
      });
    }
  }
  return out;
}

function sdnResources(state: PveState) {
  const out: unknown[] = [];
  for (const zone of Object.keys(state.sdn.running.zones)) {
    for (const n of state.nodes) out.push({ id: `sdn/${n.name}/${zone}`, type: 'sdn', sdn: zone, node: n.name, status: 'ok' });
  }
  return out;
}

export function nextFreeVmid(state: PveState): number {
  const used = new Set(state.vms.map((v) => v.vmid));
  let id = 100;
  while (used.has(id)) id++;
  return id;
}

// ------------------------------------------------------------------------------------ firewall

function ipsetOf(ctx: Ctx): PveIpset {
  const name = ctx.path.name as string;
  const set = ctx.state.ipsets.find((s) => s.name === name);
  if (!set) fail(`no such IPSet '${name}'`);
  return set;
}


function entryCidr(ctx: Ctx): string {
  return (ctx.path.cidr as string).replace(/\/32$/, '');
}

// ----------------------------------------------------------------------------------------- SDN


function pendingState(cfg: Record<string, unknown>, running: Record<string, unknown>, id: string): string | undefined {
  if (!(id in running)) return 'new';
  if (!(id in cfg)) return 'deleted';
  return JSON.stringify(cfg[id]) === JSON.stringify(running[id]) ? undefined : 'changed';
}

function sdnList<K extends keyof SdnConfig>(ctx: Ctx, kind: K, key: string, filter: (x: SdnConfig[K][string]) => boolean = () => true): unknown[] {
  const running = Boolean(ctx.params.running);
  const pending = Boolean(ctx.params.pending);
  const cfg = ctx.state.sdn.config[kind] as Record<string, SdnConfig[K][string]>;
  const run = ctx.state.sdn.running[kind] as Record<string, SdnConfig[K][string]>;
  const source = running ? run : cfg;
  const ids = new Set([...Object.keys(source), ...(pending ? Object.keys(run) : [])]);
  const out: Array<Record<string, unknown>> = [];
  for (const id of [...ids].sort()) {
    const item = source[id] ?? run[id];
    if (!item || !filter(item)) continue;
    const st = pending ? pendingState(cfg, run, id) : undefined;
    out.push({ [key]: id, ...(kind === 'vnets' ? { type: 'vnet' } : {}), ...item, ...(st ? { state: st } : {}) });
  }
  return withDigest(out);
}

function subnetView(id: string, s: SdnConfig['subnets'][string]) {
  const [network, mask] = s.cidr.split('/');
  return { subnet: id, cidr: s.cidr, network, mask, type: 'subnet', vnet: s.vnet, zone: s.zone, ...(s.gateway ? { gateway: s.gateway } : {}), ...(s.snat ? { snat: s.snat } : {}) };
}



export const CLUSTER_ROUTES: Route[] = [
  {
    // The caller's own privileges (PVE::API2::AccessControl permissions): root and the lab's
    // token may do everything, the auditor token only read.
    path: '/access/permissions',
    get: {
      run(ctx) {
        const all = ['Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.Audit', 'SDN.Allocate', 'SDN.Audit', 'SDN.Use', 'Sys.Audit', 'Sys.Modify', 'Sys.PowerMgmt', 'VM.Allocate', 'VM.Audit', 'VM.Backup', 'VM.Clone', 'VM.Config.CDROM', 'VM.Config.CPU', 'VM.Config.Cloudinit', 'VM.Config.Disk', 'VM.Config.HWType', 'VM.Config.Memory', 'VM.Config.Network', 'VM.Config.Options', 'VM.Console', 'VM.GuestAgent.Audit', 'VM.GuestAgent.Unrestricted', 'VM.Migrate', 'VM.PowerMgmt', 'VM.Snapshot', 'VM.Snapshot.Rollback'];
        const privs = ctx.user?.startsWith('auditor@') ? all.filter((p) => p.endsWith('.Audit')) : all;
        return { data: { '/': Object.fromEntries(privs.map((p) => [p, 1])) } };
      },
    },
  },
  { path: '/version', get: { run: (ctx) => ({ data: { release: ctx.state.version.split('.').slice(0, 2).join('.'), repoid: 'faa83925c9641325', version: ctx.state.version } }) } },
  { path: '/cluster', get: { run: () => ({ data: ['firewall', 'nextid', 'replication', 'resources', 'sdn', 'status'].map((subdir) => ({ name: subdir })) }) } },
  {
    path: '/cluster/resources',
    get: {
      run(ctx) {
        const t = ctx.params.type as string | undefined;
        const s = ctx.state;
        const out: unknown[] = [];
        if (!t || t === 'node') out.push(...s.nodes.map((n) => nodeResource(s, ctx, n)));
        if (!t || t === 'storage') out.push(...storageResources(s, ctx));
        if (!t || t === 'vm') out.push(...s.vms.map((v) => vmResource(ctx, v)));
        if (!t || t === 'sdn') out.push(...sdnResources(s));
        return { data: out };
      },
    },
  },
  {
    path: '/cluster/nextid',
    get: {
      run(ctx) {
        const want = ctx.params.vmid as number | undefined;
        if (want !== undefined) {
          if (ctx.state.vms.some((v) => v.vmid === want)) throw paramError({ vmid: `VM ${want} already exists` });
          return { data: want };
        }
        return { data: nextFreeVmid(ctx.state) };
      },
    },
  },
  {
    path: '/cluster/status',
    get: {
      run(ctx) {
        const s = ctx.state;
        const last = s.nodes.at(-1)?.name;
        const online = (n: PveState['nodes'][number]) => n.online && !(ctx.fault && n.name === last);
        const onlineCount = s.nodes.filter(online).length;
        return {
          data: [
            { id: 'cluster', name: s.clusterName, nodes: s.nodes.length, quorate: !ctx.fault && onlineCount > s.nodes.length / 2 ? 1 : 0, type: 'cluster', version: 14 },
            ...s.nodes.map((n, i) => ({ id: `node/${n.name}`, ip: n.ip, level: '', local: n.name === s.localNode ? 1 : 0, name: n.name, nodeid: i + 1, online: online(n) ? 1 : 0, type: 'node' })),
          ],
        };
      },
    },
  },
  {
    path: '/cluster/replication',
    get: {
      run(ctx) {
        return {
          data: ctx.state.replication.map((j) => ({
            id: j.id,
            guest: j.guest,
            jobnum: j.jobnum,
            target: j.target,
            type: 'local',
            schedule: j.schedule,
            source: ctx.state.vms.find((v) => v.vmid === j.guest)?.node,
          })),
        };
      },
    },
  },
  {
    path: '/storage',
    get: {
      run(ctx) {
        return {
          data: ctx.state.storages
            .filter((s) => !ctx.params.type || s.type === ctx.params.type)
            .map((s) => ({ storage: s.id, type: s.type, content: s.content.join(','), ...(s.shared ? { shared: 1 } : {}), nodes: s.nodes.join(','), digest: digest(s) })),
        };
      },
    },
  },

  // Cluster firewall
  { path: '/cluster/firewall', get: { run: () => ({ data: ['aliases', 'groups', 'ipset', 'options', 'rules'].map((name) => ({ name })) }) } },
  {
    path: '/cluster/firewall/options',
    get: { run: (ctx) => ({ data: { ...ctx.state.clusterFirewall, digest: digest(ctx.state.clusterFirewall) } }) },
    set: {
      run(ctx) {
        for (const [k, v] of Object.entries(ctx.params)) {
          if (k === 'digest') continue;
          if (k === 'delete') for (const d of String(v).split(/[,; ]+/)) delete ctx.state.clusterFirewall[d];
          else ctx.state.clusterFirewall[k] = typeof v === 'boolean' ? (v ? 1 : 0) : (v as string | number);
        }
        return { data: null };
      },
    },
  },
  {
    path: '/cluster/firewall/aliases',
    get: { run: (ctx) => ({ data: withDigest(Object.entries(ctx.state.aliases).map(([name, a]) => ({ name, cidr: a.cidr, ...(a.comment ? { comment: a.comment } : {}) }))) }) },
    create: {
      run(ctx) {
        const name = ctx.params.name as string;
        if (ctx.state.aliases[name]) fail(`alias '${name}' already exists`);
        ctx.state.aliases[name] = { cidr: ctx.params.cidr as string, ...(ctx.params.comment ? { comment: ctx.params.comment as string } : {}) };
        return { data: null };
      },
    },
  },
  {
    path: '/cluster/firewall/ipset',
    get: { run: (ctx) => ({ data: withDigest(ctx.state.ipsets.map((s) => ({ name: s.name, ...(s.comment ? { comment: s.comment } : {}) }))) }) },
    create: {
      run(ctx) {
        const name = ctx.params.name as string;
        const rename = ctx.params.rename as string | undefined;
        const comment = ctx.params.comment as string | undefined;
        const sets = ctx.state.ipsets;
        if (rename) {
          const old = sets.find((s) => s.name === rename);
          if (!old) fail(`IPSet '${rename}' does not exist`);
          if (name !== rename && sets.some((s) => s.name === name)) fail(`IPSet '${name}' does already exist`);
          old.name = name;
          if (comment !== undefined) old.comment = comment;
        } else {
          if (sets.some((s) => s.name === name)) fail(`IPSet '${name}' already exists`);
          sets.push({ name, ...(comment ? { comment } : {}), entries: [] });
        }
        return { data: null };
      },
    },
  },
  {
    path: '/cluster/firewall/ipset/{name}',
    get: { run: (ctx) => ({ data: withDigest(ipsetOf(ctx).entries.map((e) => ({ ...e }))) }) },
    create: {
      run(ctx) {
        const set = ipsetOf(ctx);
        const cidr = (ctx.params.cidr as string).replace(/\/32$/, '');
        if (cidrFormat(cidr) !== undefined && !ctx.state.aliases[cidr.replace(/^dc\//, '')]) throw paramError({ cidr: cidrFormat(cidr) as string });
        if (set.entries.some((e) => e.cidr === cidr)) fail(`entry '${cidr}' already exists`);
        set.entries.push({ cidr, ...(ctx.params.comment !== undefined ? { comment: ctx.params.comment as string } : {}), ...(ctx.params.nomatch ? { nomatch: 1 } : {}) });
        return { data: null };
      },
    },
    delete: {
      run(ctx) {
        const set = ipsetOf(ctx);
        if (set.entries.length > 0 && !ctx.params.force) fail(`IPSet '${set.name}' is not empty`);
        ctx.state.ipsets = ctx.state.ipsets.filter((s) => s !== set);
        return { data: null };
      },
    },
  },
  {
    path: '/cluster/firewall/ipset/{name}/{cidr}',
    get: {
      run(ctx) {
        const e = ipsetOf(ctx).entries.find((x) => x.cidr === entryCidr(ctx));
        if (!e) fail(`no such IP/Network`);
        return { data: { ...e, digest: digest(e) } };
      },
    },
    set: {
      run(ctx) {
        const e = ipsetOf(ctx).entries.find((x) => x.cidr === entryCidr(ctx));
        if (!e) fail(`no such IP/Network`);
        if (ctx.params.comment !== undefined) {
          if (ctx.params.comment === '') delete e.comment;
          else e.comment = ctx.params.comment as string;
        }
        if (ctx.params.nomatch !== undefined) {
          if (ctx.params.nomatch) e.nomatch = 1;
          else delete e.nomatch;
        }
        return { data: null };
      },
    },
    delete: {
      run(ctx) {
        const set = ipsetOf(ctx);
        const before = set.entries.length;
        set.entries = set.entries.filter((x) => x.cidr !== entryCidr(ctx));
        if (set.entries.length === before) fail(`no such IP/Network`);
        return { data: null };
      },
    },
  },

  // SDN
  {
    path: '/cluster/sdn',
    get: { run: () => ({ data: ['controllers', 'ipams', 'dns', 'vnets', 'zones'].map((id) => ({ id })) }) },
    set: {
      run(ctx) {
        const log = [
          ...ctx.state.nodes.filter((n) => n.online).map((n) => `${n.name}: reload network configuration`),
          ...Object.keys(ctx.state.sdn.config.vnets).sort().map((v) => `vnet ${v}: configured`),
        ];
        return {
          task: {
            type: 'reloadnetworkall',
            id: '',
            node: ctx.state.localNode,
            log,
            // Like Proxmox: the task starts each node's reload and ends OK; a node whose reload
            // fails (a vlan zone's bridge missing there) just never gets the vnets.
            finish(state, ok) {
              if (!ok) return;
              state.sdn.running = structuredClone(state.sdn.config);
              const now = Date.now();
              const nodes: NonNullable<PveState['sdn']['nodes']> = {};
              for (const n of state.nodes.filter((x) => x.online)) {
                const vnets = Object.entries(state.sdn.running.vnets).filter(([, v]) => {
                  const z = state.sdn.running.zones[v.zone];
                  if (!z) return false;
                  if (z.nodes && !z.nodes.split(/[,;\s]+/).includes(n.name)) return false;
                  return !((z.type === 'vlan' || z.type === 'qinq') && z.bridge && !n.bridges.includes(z.bridge));
                });
                nodes[n.name] = { vnets: vnets.map(([id]) => id).sort(), readyAt: n.name === state.localNode ? now : now + NODE_RELOAD_MS };
              }
              // With nothing applied there is nothing to track per node (nodeVnets answers [] either
              // way): a rolled-back SDN leaves the state as it started.
              if (Object.keys(state.sdn.running.vnets).length === 0) delete state.sdn.nodes;
              else state.sdn.nodes = nodes;
            },
          },
        };
      },
    },
  },
  {
    path: '/cluster/sdn/zones',
    get: {
      run: (ctx) => ({ data: sdnList(ctx, 'zones', 'zone', (z) => !ctx.params.type || z.type === ctx.params.type) }),
    },
    create: {
      run(ctx) {
        const p = ctx.params;
        const id = p.zone as string;
        if (ctx.state.sdn.config.zones[id]) throw new PveError(`sdn zone object ID '${id}' already defined`);
        if ((p.type === 'vlan' || p.type === 'qinq') && !p.bridge) throw paramError({ bridge: 'property is missing and it is not optional' });
        ctx.state.sdn.config.zones[id] = {
          type: p.type as string,
          ...(p.bridge ? { bridge: p.bridge as string } : {}),
          ...(p.tag !== undefined ? { tag: p.tag as number } : {}),
          ...(p.mtu !== undefined ? { mtu: p.mtu as number } : {}),
          ...(p.ipam ? { ipam: p.ipam as string } : { ipam: 'pve' }),
          ...(p.nodes ? { nodes: p.nodes as string } : {}),
        };
        return { data: null };
      },
    },
  },
  {
    path: '/cluster/sdn/zones/{zone}',
    get: {
      run(ctx) {
        const z = ctx.state.sdn.config.zones[ctx.path.zone as string];
        if (!z) fail(`sdn zone '${ctx.path.zone}' does not exist`);
        return { data: { zone: ctx.path.zone, ...z, digest: digest(z) } };
      },
    },
    delete: {
      run(ctx) {
        const id = ctx.path.zone as string;
        if (!ctx.state.sdn.config.zones[id]) fail(`sdn zone '${id}' does not exist`);
        const used = Object.entries(ctx.state.sdn.config.vnets).find(([, v]) => v.zone === id);
        if (used) fail(`Can't delete zone '${id}': vnet '${used[0]}' is still using it`);
        delete ctx.state.sdn.config.zones[id];
        return { data: null };
      },
    },
  },
  {
    path: '/cluster/sdn/vnets',
    get: { run: (ctx) => ({ data: sdnList(ctx, 'vnets', 'vnet') }) },
    create: {
      run(ctx) {
        const p = ctx.params;
        const id = p.vnet as string;
        const sdn = ctx.state.sdn.config;
        if (sdn.vnets[id]) throw new PveError(`sdn vnet object ID '${id}' already defined`);
        const zone = sdn.zones[p.zone as string];
        if (!zone) throw paramError({ zone: `zone '${p.zone}' does not exist` });
        if ((zone.type === 'vlan' || zone.type === 'qinq' || zone.type === 'vxlan') && p.tag === undefined) throw paramError({ tag: `missing vlan tag` });
        if (zone.type === 'vlan' && (p.tag as number) > 4094) throw paramError({ tag: `vlan tag must be less than 4095` });
        const clash = Object.entries(sdn.vnets).find(([, v]) => v.zone === p.zone && p.tag !== undefined && v.tag === p.tag);
        if (clash) throw paramError({ tag: `tag ${p.tag} already exists in vnet ${clash[0]}` });
        sdn.vnets[id] = { zone: p.zone as string, ...(p.tag !== undefined ? { tag: p.tag as number } : {}), ...(p.alias ? { alias: p.alias as string } : {}), ...(p.vlanaware ? { vlanaware: 1 } : {}) };
        return { data: null };
      },
    },
  },
  {
    path: '/cluster/sdn/vnets/{vnet}',
    get: {
      run(ctx) {
        const v = ctx.state.sdn.config.vnets[ctx.path.vnet as string];
        if (!v) fail(`sdn vnet '${ctx.path.vnet}' does not exist`);
        return { data: { vnet: ctx.path.vnet, type: 'vnet', ...v, digest: digest(v) } };
      },
    },
    delete: {
      run(ctx) {
        const id = ctx.path.vnet as string;
        if (!ctx.state.sdn.config.vnets[id]) fail(`sdn vnet '${id}' does not exist`);
        if (Object.values(ctx.state.sdn.config.subnets).some((s) => s.vnet === id)) throw paramError({ vnet: `Can't delete vnet if subnets exists` });
        delete ctx.state.sdn.config.vnets[id];
        return { data: null };
      },
    },
  },
  {
    path: '/cluster/sdn/vnets/{vnet}/subnets',
    get: {
      run(ctx) {
        const vnet = ctx.path.vnet as string;
        if (!ctx.state.sdn.config.vnets[vnet]) fail(`sdn vnet '${vnet}' does not exist`);
        return { data: withDigest(Object.entries(ctx.state.sdn.config.subnets).filter(([, s]) => s.vnet === vnet).map(([id, s]) => subnetView(id, s))) };
      },
    },
    create: {
      run(ctx) {
        const vnet = ctx.path.vnet as string;
        const v = ctx.state.sdn.config.vnets[vnet];
        if (!v) fail(`sdn vnet '${vnet}' does not exist`);
        const cidr = ctx.params.subnet as string;
        if (!cidr.includes('/')) throw paramError({ subnet: 'invalid format - value does not look like a valid CIDR network' });
        const id = `${v.zone}-${cidr.replace('/', '-')}`;
        if (ctx.state.sdn.config.subnets[id]) throw new PveError(`sdn subnet object ID '${id}' already defined`);
        const gw = ctx.params.gateway as string | undefined;
        ctx.state.sdn.config.subnets[id] = { vnet, zone: v.zone, cidr, ...(gw ? { gateway: gw } : {}), ...(ctx.params.snat ? { snat: 1 } : {}) };
        return { data: null };
      },
    },
  },
  {
    path: '/cluster/sdn/vnets/{vnet}/subnets/{subnet}',
    get: {
      run(ctx) {
        const s = ctx.state.sdn.config.subnets[ctx.path.subnet as string];
        if (!s || s.vnet !== ctx.path.vnet) fail(`sdn subnet '${ctx.path.subnet}' does not exist`);
        return { data: { ...subnetView(ctx.path.subnet as string, s), digest: digest(s) } };
      },
    },
    delete: {
      run(ctx) {
        const s = ctx.state.sdn.config.subnets[ctx.path.subnet as string];
        if (!s || s.vnet !== ctx.path.vnet) fail(`sdn subnet '${ctx.path.subnet}' does not exist`);
        delete ctx.state.sdn.config.subnets[ctx.path.subnet as string];
        return { data: null };
      },
    },
  },
];

