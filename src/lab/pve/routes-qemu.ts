/** /nodes/{node}/qemu/...: VMs, their config, power, snapshots, clone, firewall and guest agent. */
import { assertUnlocked, fail, pathNode, pathVm, type Ctx, type Outcome, type Route } from './api.js';
import { isCidr, paramError, PveError, type ParamValue } from './params.js';
import { digest, vmResource, withDigest } from './routes-cluster.js';
import {
  bridgesOf,
  configuredIps,
  disksOf,
  findNode,
  formatSize,
  GIB,
  newMac,
  nodeVnets,
  parseSize,
  storageUsed,
  vmAddress,
  type Config,
  type FwRule,
  type PveState,
  type PveVm,
} from './state.js';

// ------------------------------------------------------------------------------------- config

function configValue(v: ParamValue): string | number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (Array.isArray(v)) return v.join(',');
  return v;
}

/** Applies config parameters like `qm set`: new NICs without a MAC get one, `delete` removes keys. */
function applyConfig(state: PveState, vm: PveVm, params: Record<string, ParamValue>): void {
  if (params.digest !== undefined && params.digest !== digest(vm.config)) fail('detected modified configuration - file changed by other user? Try again.');
  for (const [k, raw] of Object.entries(params)) {
    if (['delete', 'digest', 'skiplock', 'revert', 'force'].includes(k)) continue;
    let v = configValue(raw);
    if (/^net\d+$/.test(k)) {
      const s = String(v);
      const head = s.split(',')[0] ?? '';
      if (!head.includes('=')) {
        const oldMac = /^[a-z0-9]+=([0-9A-Fa-f:]{17})/.exec(String(vm.config[k] ?? ''))?.[1];
        v = `${head}=${oldMac ?? newMac(state)}${s.slice(head.length)}`;
      }
    }
    if (k === 'memory') v = Number(String(v).replace('current=', ''));
    if (k === 'tags') v = String(v).split(/[;, ]+/).filter(Boolean).join(';');
    if (k === 'name') vm.name = String(v);
    vm.config[k] = v;
  }
  if (params.delete !== undefined) {
    for (const key of String(params.delete).split(/[,; ]+/).filter(Boolean)) {
      if (key === 'name') vm.name = `VM${vm.vmid}`;
      delete vm.config[key];
    }
  }
}

function configView(vm: PveVm): Record<string, unknown> {
  return { ...vm.config, ...(vm.parent ? { parent: vm.parent } : {}), ...(vm.lock ? { lock: vm.lock } : {}), digest: digest(vm.config) };
}

// --------------------------------------------------------------------------------------- helpers

function storageOf(state: PveState, id: string) {
  return state.storages.find((s) => s.id === id);
}

function requireStorageOnNode(state: PveState, id: string, node: string): void {
  const s = storageOf(state, id);
  if (!s) throw paramError({ storage: `storage '${id}' does not exist` });
  if (!s.nodes.includes(node)) fail(`storage '${id}' is not available on node '${node}'`);
}

function humanSize(bytes: number): string {
  return `${(bytes / GIB).toFixed(1)} GiB`;
}

function task(type: string, vm: { vmid: number; node: string }, log: string[], extra: Partial<Extract<Outcome, { task: unknown }>['task']> = {}): Outcome {
  return { task: { type, id: String(vm.vmid), node: vm.node, log, ...extra } };
}

function vmRef(state: PveState, vmid: number): PveVm | undefined {
  return state.vms.find((v) => v.vmid === vmid);
}

function lockVm(vm: PveVm, lock: string) {
  vm.lock = lock;
  return (state: PveState) => {
    const v = vmRef(state, vm.vmid);
    if (v && v.lock === lock) delete v.lock;
  };
}

function currentStatus(ctx: Ctx, vm: PveVm) {
  const r = vmResource(ctx, vm);
  const running = vm.status === 'running';
  return {
    status: vm.status,
    qmpstatus: vm.status,
    vmid: vm.vmid,
    name: vm.name,
    uptime: r.uptime,
    cpus: r.maxcpu,
    cpu: r.cpu,
    maxmem: r.maxmem,
    mem: r.mem,
    maxdisk: r.maxdisk,
    disk: 0,
    netin: r.netin,
    netout: r.netout,
    diskread: r.diskread,
    diskwrite: r.diskwrite,
    ha: { managed: 0 },
    ...(String(vm.config.agent ?? '0').startsWith('1') ? { agent: 1 } : {}),
    ...(running ? { pid: 100000 + vm.vmid, 'running-machine': 'pc-i440fx-9.0+pve0', 'running-qemu': '9.0.2' } : {}),
    ...(vm.config.tags ? { tags: vm.config.tags } : {}),
    ...(vm.lock ? { lock: vm.lock } : {}),
    ...(vm.template ? { template: 1 } : {}),
  };
}

// -------------------------------------------------------------------------------------- clone

function cloneVm(ctx: Ctx): Outcome {
  const src = pathVm(ctx);
  const p = ctx.params;
  const newid = p.newid as number;
  const state = ctx.state;
  if (state.vms.some((v) => v.vmid === newid)) throw paramError({ newid: `VM ${newid} already exists` });
  const target = (p.target as string | undefined) ?? src.node;
  const tn = findNode(state, target);
  if (!tn) throw paramError({ target: `no such cluster node '${target}'` });
  if (!tn.online) fail(`target node '${target}' is not online`);
  const full = p.full === undefined ? !src.template : Boolean(p.full);
  if (!full && !src.template) throw paramError({ full: 'linked clones are only possible from templates: full clone required' });
  if (p.storage !== undefined && !full) throw paramError({ storage: 'storage is only allowed for full clones' });
  if (p.format !== undefined && !full) throw paramError({ format: 'format is only allowed for full clones' });
  assertUnlocked(src);
  const disks = disksOf(src.config);
  if (target !== src.node) {
    const local = disks.find((d) => !storageOf(state, d.storage)?.shared);
    if (local) throw paramError({ target: `Can't clone to node '${target}': VM uses local storage '${local.storage}'` });
  }
  const storage = p.storage as string | undefined;
  if (storage) requireStorageOnNode(state, storage, target);
  for (const d of disks) if (!storage) requireStorageOnNode(state, d.storage, target);
  const need = disks.reduce((a, d) => a + d.sizeBytes, 0);
  const targetStorage = storage ? storageOf(state, storage) : undefined;
  const noSpace = targetStorage && targetStorage.total - storageUsed(state, targetStorage, target) < need;

  const config: Config = {};
  const log: string[] = [];
  let diskNo = 0;
  for (const [k, v] of Object.entries(src.config)) {
    if (k === 'template') continue;
    if (typeof v === 'string' && /^(scsi|virtio|sata|ide)\d+$|^efidisk0$|^tpmstate0$/.test(k)) {
      const [vol, ...rest] = v.split(',');
      const [st, volume] = (vol ?? '').split(':');
      if (v.includes('media=cdrom')) {
        const isCloudinit = (volume ?? '').includes('cloudinit');
        config[k] = isCloudinit ? `${storage ?? st}:vm-${newid}-cloudinit,media=cdrom` : v;
        if (isCloudinit) log.push(`create full clone of drive ${k} (${vol})`);
        continue;
      }
      const newVol = full ? `${storage ?? st}:vm-${newid}-disk-${diskNo++}` : `${st}:${volume}/vm-${newid}-disk-${diskNo++}`;
      config[k] = [newVol, ...rest].join(',');
      const size = parseSize(/(?:^|,)size=([^,]+)/.exec(v)?.[1]);
      if (full) {
        log.push(`create full clone of drive ${k} (${vol})`, `transferred 0.0 B of ${humanSize(size)} (0.00%)`, `transferred ${humanSize(size)} of ${humanSize(size)} (100.00%)`);
      } else log.push(`create linked clone of drive ${k} (${vol})`);
      continue;
    }
    if (/^net\d+$/.test(k) && typeof v === 'string') {
      config[k] = v.replace(/^([a-z0-9]+)=([0-9A-Fa-f:]{17})/, (_m, model: string) => `${model}=${newMac(state)}`);
      continue;
    }
    config[k] = v;
  }
  const name = (p.name as string | undefined) ?? `Copy-of-VM-${src.name}`;
  config.name = name;
  config.vmgenid = `${newid.toString(16).padStart(8, '0')}-c10e-4d00-8000-${Date.now().toString(16).padStart(12, '0').slice(-12)}`;
  if (p.description !== undefined) config.description = p.description as string;
  const vm: PveVm = {
    vmid: newid,
    name,
    node: target,
    status: 'stopped',
    template: false,
    config,
    snapshots: [],
    firewall: structuredClone(src.firewall),
    agentExec: {},
    ...(p.pool ? { pool: p.pool as string } : {}),
  };
  state.vms.push(vm);
  const unlockNew = lockVm(vm, 'clone');
  const unlockSrc = src.template ? undefined : lockVm(src, 'clone');
  return task('qmclone', src, log, {
    ...(noSpace ? { error: `clone failed: not enough space on storage '${storage}'` } : {}),
    finish(s, ok) {
      unlockNew(s);
      unlockSrc?.(s);
      if (!ok) s.vms = s.vms.filter((v) => v.vmid !== newid);
    },
  });
}

// ------------------------------------------------------------------------------------ firewall

const PROTOCOLS = new Set(['tcp', 'udp', 'icmp', 'icmpv6', 'ipv6-icmp', 'sctp', 'udplite', 'dccp', 'esp', 'ah', 'gre', 'igmp', 'ipip', 'ospf', 'pim', 'vrrp', 'ipv6']);
const PORT_PROTOCOLS = new Set(['tcp', 'udp', 'sctp', 'udplite', 'dccp']);
const MACROS = new Set(['SSH', 'HTTP', 'HTTPS', 'DNS', 'Ping', 'NTP', 'SMTP', 'IMAP', 'IMAPS', 'LDAP', 'MySQL', 'PostgreSQL', 'Web', 'RDP', 'SNMP', 'Ceph', 'BGP', 'DHCPfwd']);

function checkAddress(state: PveState, name: string, value: string, errors: Record<string, string>): void {
  for (const part of value.split(',')) {
    const v = part.trim();
    if (v.startsWith('+')) {
      const set = v.slice(1).replace(/^(dc|guest)\//, '');
      if (!state.ipsets.some((s) => s.name === set)) errors[name] = `no such ipset '${set}'`;
    } else if (isCidr(v) || /^[\d.]+-[\d.]+$/.test(v)) {
      continue;
    } else if (/^(dc\/|guest\/)?[A-Za-z][A-Za-z0-9_-]+$/.test(v)) {
      const alias = v.replace(/^(dc|guest)\//, '');
      if (!state.aliases[alias]) errors[name] = `no such alias '${alias}'`;
    } else {
      errors[name] = `invalid format - value does not look like a valid address: ${v}`;
    }
  }
}

function checkPort(name: string, value: string, errors: Record<string, string>): void {
  for (const part of value.split(',')) {
    for (const p of part.split(':')) {
      if (/^\d+$/.test(p)) {
        if (Number(p) > 65535) errors[name] = `invalid port '${p}'`;
      } else if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(p)) errors[name] = `invalid port '${p}'`;
    }
  }
}

/** PVE::Firewall::verify_rule, the parts cortex can run into. */
function verifyRule(state: PveState, r: FwRule): void {
  const errors: Record<string, string> = {};
  if (r.type === 'group') {
    errors.action = `no such security group '${r.action}'`;
  } else if (!['ACCEPT', 'DROP', 'REJECT'].includes(r.action)) {
    errors.action = `value '${r.action}' does not have a value in the enumeration 'ACCEPT, DROP, REJECT'`;
  }
  if (r.macro && !MACROS.has(r.macro)) errors.macro = `unknown macro '${r.macro}'`;
  if (r.proto && !PROTOCOLS.has(r.proto) && !/^\d+$/.test(r.proto)) errors.proto = `unknown protocol '${r.proto}'`;
  for (const k of ['dport', 'sport'] as const) {
    const v = r[k];
    if (!v) continue;
    checkPort(k, v, errors);
    if (!r.proto && !r.macro) errors.proto = `missing property - '${k}' requires this property`;
    else if (r.proto && !PORT_PROTOCOLS.has(r.proto)) errors[k] = `protocol '${r.proto}' does not support ports`;
  }
  if (r.source) checkAddress(state, 'source', r.source, errors);
  if (r.dest) checkAddress(state, 'dest', r.dest, errors);
  if (Object.keys(errors).length > 0) throw paramError(errors);
}

function ruleFrom(params: Record<string, ParamValue>, base: Partial<FwRule> = {}): FwRule {
  const r: FwRule = { type: 'in', action: 'ACCEPT', enable: 0, ...base };
  for (const k of ['type', 'action', 'proto', 'dport', 'sport', 'source', 'dest', 'macro', 'log', 'iface', 'comment', 'icmp-type'] as const) {
    if (params[k] !== undefined) (r as unknown as Record<string, unknown>)[k] = String(params[k]);
  }
  if (params.enable !== undefined) r.enable = Number(params.enable) ? 1 : 0;
  return r;
}

function ruleView(r: FwRule, pos: number) {
  return { pos, ...r, ...(r.source || r.dest ? { ipversion: 4 } : {}) };
}

function rulesOf(ctx: Ctx): FwRule[] {
  return pathVm(ctx).firewall.rules;
}

function rulePos(ctx: Ctx, rules: FwRule[]): number {
  const pos = Number(ctx.path.pos);
  if (!/^\d+$/.test(String(ctx.path.pos)) || pos >= rules.length) fail(`no rule at position ${ctx.path.pos}`);
  return pos;
}

function checkDigest(list: unknown, given: ParamValue | undefined): void {
  if (given !== undefined && given !== digest(list)) fail('detected modified configuration - file changed by other user? Try again.');
}

// -------------------------------------------------------------------------------- guest agent

function agentVm(ctx: Ctx): PveVm {
  const vm = pathVm(ctx);
  if (!/^1|enabled=1/.test(String(vm.config.agent ?? '0'))) fail('No QEMU guest agent configured');
  if (vm.status !== 'running') fail(`VM ${vm.vmid} is not running`);
  return vm;
}

/** "Runs" a command in the guest: the lab understands cortex's curl probe script. */
function runInGuest(ctx: Ctx, command: string[], input: string | undefined): { exitcode: number; out?: string; err?: string } {
  if (command[0] !== 'sh' && command[0] !== '/bin/sh') return { exitcode: 127, err: `${command[0]}: command not found\n` };
  const lines: string[] = [];
  for (const line of (input ?? '').split('\n')) {
    const m = /^probe '([^']+)'$/.exec(line.trim());
    if (!m) continue;
    const url = m[1] as string;
    const host = /^https?:\/\/\[?([^\]/:]+)/.exec(url)?.[1] ?? '';
    const owner = ctx.state.vms.find((v) => !v.template && configuredIps(v.config).includes(host));
    const code = ctx.fault ? '503' : owner && owner.status !== 'running' ? '000' : '200';
    lines.push(`${url} ${code}`);
  }
  return { exitcode: 0, out: lines.length ? `${lines.join('\n')}\n` : '' };
}

// ------------------------------------------------------------------------------------- routes

const VM_INDEX = ['agent', 'clone', 'config', 'firewall', 'pending', 'resize', 'rrd', 'snapshot', 'status'];

export const QEMU_ROUTES: Route[] = [
  {
    path: '/nodes/{node}/qemu',
    get: {
      run(ctx) {
        const node = pathNode(ctx);
        return {
          data: ctx.state.vms
            .filter((v) => v.node === node)
            .map((v) => {
              const r = vmResource(ctx, v);
              return {
                vmid: v.vmid,
                name: v.name,
                status: v.status,
                cpus: r.maxcpu,
                cpu: r.cpu,
                maxmem: r.maxmem,
                mem: r.mem,
                maxdisk: r.maxdisk,
                disk: 0,
                uptime: r.uptime,
                netin: r.netin,
                netout: r.netout,
                diskread: r.diskread,
                diskwrite: r.diskwrite,
                ...(v.template ? { template: 1 } : {}),
                ...(v.config.tags ? { tags: v.config.tags } : {}),
                ...(v.lock ? { lock: v.lock } : {}),
              };
            }),
        };
      },
    },
    create: {
      run(ctx) {
        const node = pathNode(ctx);
        const vmid = ctx.params.vmid as number;
        if (ctx.state.vms.some((v) => v.vmid === vmid)) fail(`unable to create VM ${vmid} - VM ${vmid} already exists on node '${ctx.state.vms.find((v) => v.vmid === vmid)?.node}'`);
        const vm: PveVm = { vmid, name: `VM${vmid}`, node, status: 'stopped', template: false, config: {}, snapshots: [], firewall: { options: {}, rules: [] }, agentExec: {} };
        const params = { ...ctx.params };
        const log: string[] = [];
        let n = 0;
        for (const [k, v] of Object.entries(params)) {
          const m = /^([A-Za-z0-9_-]+):(\d+(?:\.\d+)?)(,.*)?$/.exec(String(v));
          if (/^(scsi|virtio|sata|ide)\d+$/.test(k) && m && !String(v).includes('media=')) {
            requireStorageOnNode(ctx.state, m[1] as string, node);
            params[k] = `${m[1]}:vm-${vmid}-disk-${n++},size=${m[2]}G${m[3] ?? ''}`;
            log.push(`  Logical volume "vm-${vmid}-disk-${n - 1}" created.`);
          }
        }
        for (const k of ['vmid', 'start', 'pool', 'storage', 'archive', 'unique', 'force', 'live-restore']) delete params[k];
        applyConfig(ctx.state, vm, params);
        if (ctx.params.pool) vm.pool = ctx.params.pool as string;
        ctx.state.vms.push(vm);
        const unlock = lockVm(vm, 'create');
        const start = Boolean(ctx.params.start);
        return task('qmcreate', vm, log, {
          finish(s, ok) {
            unlock(s);
            if (!ok) s.vms = s.vms.filter((v) => v.vmid !== vmid);
            else if (start) {
              const v = vmRef(s, vmid);
              if (v) {
                v.status = 'running';
                v.startedAt = Math.floor(Date.now() / 1000);
              }
            }
          },
        });
      },
    },
  },
  {
    path: '/nodes/{node}/qemu/{vmid}',
    get: { run: (ctx) => (pathVm(ctx), { data: VM_INDEX.map((subdir) => ({ subdir })) }) },
    delete: {
      run(ctx) {
        const vm = pathVm(ctx);
        assertUnlocked(vm, ctx.params.skiplock);
        if (vm.status === 'running') fail(`VM ${vm.vmid} is running - destroy failed`);
        if (Number(vm.config.protection ?? 0) === 1) fail(`can't remove VM ${vm.vmid} - protection mode enabled`);
        const vmid = vm.vmid;
        const purge = Boolean(ctx.params.purge);
        const log = [...disksOf(vm.config).map(() => 'Removing image: 100% complete...done.'), ...(purge ? [`purging VM ${vmid} from related configurations..`] : [])];
        vm.lock = 'destroyed';
        return task('qmdestroy', vm, log, {
          finish(s, ok) {
            if (!ok) {
              const v = vmRef(s, vmid);
              if (v) delete v.lock;
              return;
            }
            s.vms = s.vms.filter((v) => v.vmid !== vmid);
            if (purge) s.replication = s.replication.filter((j) => j.guest !== vmid);
          },
        });
      },
    },
  },
  {
    path: '/nodes/{node}/qemu/{vmid}/config',
    get: {
      run(ctx) {
        const vm = pathVm(ctx);
        if (ctx.params.snapshot) {
          const snap = vm.snapshots.find((s) => s.name === ctx.params.snapshot);
          if (!snap) fail(`snapshot '${ctx.params.snapshot}' does not exist`);
          return { data: { ...snap.config, digest: digest(snap.config) } };
        }
        return { data: configView(vm) };
      },
    },
    set: {
      run(ctx) {
        const vm = pathVm(ctx);
        assertUnlocked(vm, ctx.params.skiplock);
        applyConfig(ctx.state, vm, ctx.params);
        return { data: null };
      },
    },
    create: {
      run(ctx) {
        const vm = pathVm(ctx);
        assertUnlocked(vm, ctx.params.skiplock);
        const params = { ...ctx.params };
        delete params.background_delay;
        applyConfig(ctx.state, vm, params);
        return task('qmconfig', vm, [`update VM ${vm.vmid}: ${Object.keys(params).map((k) => `-${k} ${String(params[k])}`).join(' ')}`]);
      },
    },
  },
  {
    path: '/nodes/{node}/qemu/{vmid}/resize',
    set: {
      run(ctx) {
        const vm = pathVm(ctx);
        assertUnlocked(vm, ctx.params.skiplock);
        const key = ctx.params.disk as string;
        const value = vm.config[key];
        if (typeof value !== 'string' || value.includes('media=cdrom')) fail(`disk '${key}' does not exist`);
        const cur = parseSize(/(?:^|,)size=([^,]+)/.exec(value)?.[1]);
        const raw = ctx.params.size as string;
        const want = raw.startsWith('+') ? cur + parseSize(raw.slice(1) || '0') : parseSize(/[KMGT]$/.test(raw) ? raw : `${raw}`);
        if (want < cur) fail('shrinking disks is not supported');
        vm.config[key] = value.replace(/size=[^,]+/, `size=${formatSize(want)}`);
        return task('resize', vm, [`Image resized.`]);
      },
    },
  },
  {
    path: '/nodes/{node}/qemu/{vmid}/clone',
    create: {
      run: cloneVm,
    },
  },
  {
    path: '/nodes/{node}/qemu/{vmid}/status',
    get: { run: (ctx) => (pathVm(ctx), { data: ['current', 'reboot', 'reset', 'resume', 'shutdown', 'start', 'stop', 'suspend'].map((subdir) => ({ subdir })) }) },
  },
  { path: '/nodes/{node}/qemu/{vmid}/status/current', get: { run: (ctx) => ({ data: currentStatus(ctx, pathVm(ctx)) }) } },
  {
    path: '/nodes/{node}/qemu/{vmid}/status/start',
    create: {
      run(ctx) {
        const vm = pathVm(ctx);
        if (vm.template) fail("you can't start a vm if it's a template");
        assertUnlocked(vm, ctx.params.skiplock);
        if (vm.status === 'running') fail(`VM ${vm.vmid} already running`);
        const node = findNode(ctx.state, vm.node);
        const vnets = nodeVnets(ctx.state, vm.node);
        const missing = bridgesOf(vm.config).find((b) => !node?.bridges.includes(b) && !vnets.includes(b));
        const log = String(vm.config.ide2 ?? '').includes('cloudinit') ? ['generating cloud-init ISO'] : [];
        if (missing) return task('qmstart', vm, log, { error: `bridge '${missing}' does not exist` });
        vm.status = 'running';
        vm.startedAt = ctx.now;
        return task('qmstart', vm, log);
      },
    },
  },
  {
    path: '/nodes/{node}/qemu/{vmid}/status/stop',
    create: {
      run(ctx) {
        const vm = pathVm(ctx);
        assertUnlocked(vm, ctx.params.skiplock);
        if (vm.status !== 'running') fail(`VM ${vm.vmid} not running`);
        vm.status = 'stopped';
        delete vm.startedAt;
        return task('qmstop', vm, []);
      },
    },
  },
  {
    path: '/nodes/{node}/qemu/{vmid}/status/shutdown',
    create: {
      run(ctx) {
        const vm = pathVm(ctx);
        assertUnlocked(vm, ctx.params.skiplock);
        if (vm.status !== 'running') fail(`VM ${vm.vmid} not running`);
        vm.status = 'stopped';
        delete vm.startedAt;
        return task('qmshutdown', vm, []);
      },
    },
  },
  {
    path: '/nodes/{node}/qemu/{vmid}/snapshot',
    get: {
      run(ctx) {
        const vm = pathVm(ctx);
        const list: Array<Record<string, unknown>> = vm.snapshots.map((s) => ({
          name: s.name,
          ...(s.description !== undefined ? { description: s.description } : {}),
          snaptime: s.snaptime,
          ...(s.vmstate ? { vmstate: 1 } : {}),
          ...(s.parent ? { parent: s.parent } : {}),
        }));
        list.push({ name: 'current', description: 'You are here!', digest: digest(vm.config), running: vm.status === 'running' ? 1 : 0, ...(vm.parent ? { parent: vm.parent } : {}) });
        return { data: list };
      },
    },
    create: {
      run(ctx) {
        const vm = pathVm(ctx);
        const name = ctx.params.snapname as string;
        if (name === 'current' || name.toLowerCase() === 'pending') fail(`unable to use snapshot name '${name}' (reserved name)`);
        assertUnlocked(vm);
        if (vm.template) fail("you can't take a snapshot if it's a template");
        if (vm.snapshots.some((s) => s.name === name)) return task('qmsnapshot', vm, [], { error: `snapshot name '${name}' already used` });
        const vmstate = Boolean(ctx.params.vmstate) && vm.status === 'running';
        const log = [
          ...(vmstate ? [`saving VM state and RAM using storage '${disksOf(vm.config)[0]?.storage ?? 'local'}'`, '2.03 GiB in 4s', 'completed saving the VM state in 5s, saved 2.31 GiB'] : []),
          ...disksOf(vm.config).map((d) => `snapshotting 'drive-${d.key}' (${d.storage}:${d.volume})`),
        ];
        vm.snapshots.push({
          name,
          ...(ctx.params.description !== undefined ? { description: ctx.params.description as string } : {}),
          snaptime: ctx.now,
          vmstate,
          ...(vm.parent ? { parent: vm.parent } : {}),
          config: structuredClone(vm.config),
        });
        vm.parent = name;
        const unlock = lockVm(vm, 'snapshot');
        return task('qmsnapshot', vm, log, { finish: (s) => unlock(s) });
      },
    },
  },
  {
    path: '/nodes/{node}/qemu/{vmid}/snapshot/{snapname}',
    get: {
      run(ctx) {
        const vm = pathVm(ctx);
        if (!vm.snapshots.some((s) => s.name === ctx.path.snapname)) fail(`snapshot '${ctx.path.snapname}' does not exist`);
        return { data: [{ cmd: 'config' }, { cmd: 'rollback' }] };
      },
    },
    delete: {
      run(ctx) {
        const vm = pathVm(ctx);
        const name = ctx.path.snapname as string;
        const snap = vm.snapshots.find((s) => s.name === name);
        if (!snap) fail(`snapshot '${name}' does not exist`);
        assertUnlocked(vm);
        const vmid = vm.vmid;
        const unlock = lockVm(vm, 'snapshot-delete');
        return task('qmdelsnapshot', vm, disksOf(snap.config).map((d) => `delete snapshot of drive-${d.key} (${d.storage}:${d.volume}@${name})`), {
          finish(s, ok) {
            unlock(s);
            const v = vmRef(s, vmid);
            if (!ok || !v) return;
            const gone = v.snapshots.find((x) => x.name === name);
            v.snapshots = v.snapshots.filter((x) => x.name !== name);
            for (const x of v.snapshots) if (x.parent === name) x.parent = gone?.parent as string;
            if (v.parent === name) {
              if (gone?.parent) v.parent = gone.parent;
              else delete v.parent;
            }
          },
        });
      },
    },
  },
  {
    path: '/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config',
    get: {
      run(ctx) {
        const snap = pathVm(ctx).snapshots.find((s) => s.name === ctx.path.snapname);
        if (!snap) fail(`snapshot '${ctx.path.snapname}' does not exist`);
        return { data: { ...snap.config, digest: digest(snap.config) } };
      },
    },
  },
  {
    path: '/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback',
    create: {
      run(ctx) {
        const vm = pathVm(ctx);
        const name = ctx.path.snapname as string;
        const snap = vm.snapshots.find((s) => s.name === name);
        if (!snap) fail(`snapshot '${name}' does not exist`);
        assertUnlocked(vm);
        vm.config = { ...structuredClone(snap.config), name: vm.name };
        vm.parent = name;
        const run = snap.vmstate || Boolean(ctx.params.start);
        vm.status = run ? 'running' : 'stopped';
        if (run) vm.startedAt = ctx.now;
        else delete vm.startedAt;
        const unlock = lockVm(vm, 'rollback');
        return task('qmrollback', vm, [...disksOf(snap.config).map((d) => `rollback of drive-${d.key} to snapshot ${name}`), ...(run ? [`VM ${vm.vmid} started`] : [])], { finish: (s) => unlock(s) });
      },
    },
  },

  // VM firewall
  { path: '/nodes/{node}/qemu/{vmid}/firewall', get: { run: (ctx) => (pathVm(ctx), { data: ['aliases', 'ipset', 'log', 'options', 'refs', 'rules'].map((name) => ({ name })) }) } },
  {
    path: '/nodes/{node}/qemu/{vmid}/firewall/rules',
    get: {
      run(ctx) {
        const rules = rulesOf(ctx);
        return { data: withDigest(rules.map((r, pos) => ruleView(r, pos))) };
      },
    },
    create: {
      run(ctx) {
        const vm = pathVm(ctx);
        checkDigest(vm.firewall.rules.map((r, pos) => ruleView(r, pos)), ctx.params.digest);
        const rule = ruleFrom(ctx.params);
        verifyRule(ctx.state, rule);
        const pos = ctx.params.pos as number | undefined;
        if (pos === undefined || pos <= 0) vm.firewall.rules.unshift(rule);
        else vm.firewall.rules.splice(Math.min(pos, vm.firewall.rules.length), 0, rule);
        return { data: null };
      },
    },
  },
  {
    path: '/nodes/{node}/qemu/{vmid}/firewall/rules/{pos}',
    get: {
      run(ctx) {
        const rules = rulesOf(ctx);
        const pos = rulePos(ctx, rules);
        return { data: ruleView(rules[pos] as FwRule, pos) };
      },
    },
    set: {
      run(ctx) {
        const rules = rulesOf(ctx);
        const pos = rulePos(ctx, rules);
        checkDigest(rules.map((r, i) => ruleView(r, i)), ctx.params.digest);
        const current = rules[pos] as FwRule;
        if (ctx.params.moveto !== undefined) {
          rules.splice(pos, 1);
          rules.splice(Math.min(ctx.params.moveto as number, rules.length), 0, current);
          return { data: null };
        }
        const updated = ruleFrom(ctx.params, current);
        for (const k of String(ctx.params.delete ?? '').split(/[,; ]+/).filter(Boolean)) delete (updated as unknown as Record<string, unknown>)[k];
        verifyRule(ctx.state, updated);
        rules[pos] = updated;
        return { data: null };
      },
    },
    delete: {
      run(ctx) {
        const rules = rulesOf(ctx);
        const pos = rulePos(ctx, rules);
        checkDigest(rules.map((r, i) => ruleView(r, i)), ctx.params.digest);
        rules.splice(pos, 1);
        return { data: null };
      },
    },
  },
  {
    path: '/nodes/{node}/qemu/{vmid}/firewall/options',
    get: {
      run(ctx) {
        const o = pathVm(ctx).firewall.options;
        return { data: { ...o, digest: digest(o) } };
      },
    },
    set: {
      run(ctx) {
        const o = pathVm(ctx).firewall.options;
        checkDigest(o, ctx.params.digest);
        for (const [k, v] of Object.entries(ctx.params)) {
          if (k === 'digest' || k === 'delete') continue;
          o[k] = typeof v === 'boolean' ? (v ? 1 : 0) : (v as string | number);
        }
        for (const k of String(ctx.params.delete ?? '').split(/[,; ]+/).filter(Boolean)) delete o[k];
        return { data: null };
      },
    },
  },

  // Guest agent
  { path: '/nodes/{node}/qemu/{vmid}/agent', get: { run: (ctx) => (pathVm(ctx), { data: ['exec', 'exec-status', 'get-osinfo', 'info', 'network-get-interfaces', 'ping'].map((name) => ({ name })) }) } },
  {
    path: '/nodes/{node}/qemu/{vmid}/agent/ping',
    create: { run: (ctx) => (agentVm(ctx), { data: { result: {} } }) },
  },
  {
    path: '/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces',
    get: {
      run(ctx) {
        const vm = agentVm(ctx);
        const mac = (/^[a-z0-9]+=([0-9A-Fa-f:]{17})/.exec(String(vm.config.net0 ?? ''))?.[1] ?? '00:00:00:00:00:00').toLowerCase();
        const prefix = Number(/ip=[^,/]+\/(\d+)/.exec(String(vm.config.ipconfig0 ?? ''))?.[1] ?? 24);
        return {
          data: {
            result: [
              { name: 'lo', 'hardware-address': '00:00:00:00:00:00', 'ip-addresses': [{ 'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4', prefix: 8 }, { 'ip-address': '::1', 'ip-address-type': 'ipv6', prefix: 128 }] },
              { name: 'eth0', 'hardware-address': mac, 'ip-addresses': [{ 'ip-address': vmAddress(vm), 'ip-address-type': 'ipv4', prefix }], statistics: { 'rx-bytes': 1234567, 'tx-bytes': 7654321, 'rx-packets': 1234, 'tx-packets': 4321, 'rx-errs': 0, 'tx-errs': 0, 'rx-dropped': 0, 'tx-dropped': 0 } },
            ],
          },
        };
      },
    },
  },
  {
    path: '/nodes/{node}/qemu/{vmid}/agent/exec',
    create: {
      run(ctx) {
        const vm = agentVm(ctx);
        const command = ctx.params.command as string[];
        ctx.state.counters.agentPid += 1;
        const pid = ctx.state.counters.agentPid;
        const r = runInGuest(ctx, command, ctx.params['input-data'] as string | undefined);
        vm.agentExec = { ...Object.fromEntries(Object.entries(vm.agentExec).slice(-20)), [String(pid)]: { exited: 1, exitcode: r.exitcode, ...(r.out !== undefined ? { 'out-data': r.out } : {}), ...(r.err ? { 'err-data': r.err } : {}) } };
        return { data: { pid } };
      },
    },
  },
  {
    path: '/nodes/{node}/qemu/{vmid}/agent/exec-status',
    get: {
      run(ctx) {
        const vm = agentVm(ctx);
        const r = vm.agentExec[String(ctx.params.pid)];
        if (!r) throw new PveError(`Agent error: GuestExecStatus: Invalid parameter 'pid'`);
        return { data: r };
      },
    },
  },
];

