/** /nodes and /nodes/{node}/...: node status, storage, replication state and tasks. */
import { fail, pathNode, type Ctx, type Route } from './api.js';
import { paramError } from './params.js';
import { findNode, nodeUsage, nodeVnets, storageUsed, type PveTask } from './state.js';

function taskOf(ctx: Ctx): PveTask {
  const node = pathNode(ctx);
  const upid = ctx.path.upid as string;
  if (!/^UPID:[^:]+:[0-9A-Fa-f]{8}:[0-9A-Fa-f]{8,9}:[0-9A-Fa-f]{8}:[^:]+:[^:]*:[^:]+:$/.test(upid)) throw paramError({ upid: 'unable to parse worker upid' });
  const t = ctx.state.tasks.find((x) => x.upid === upid);
  // The task log lives on the task's node: another node does not know it.
  if (!t || t.node !== node) throw paramError({ upid: 'no such task' });
  return t;
}

export function taskStatus(t: PveTask) {
  return {
    id: t.id,
    node: t.node,
    pid: t.pid,
    pstart: t.pstart,
    starttime: t.starttime,
    status: t.status,
    type: t.type,
    upid: t.upid,
    user: t.user,
    ...(t.status === 'stopped' ? { exitstatus: t.exitstatus ?? 'OK' } : {}),
  };
}

export const NODE_ROUTES: Route[] = [
  {
    path: '/nodes',
    get: {
      run(ctx) {
        return {
          data: ctx.state.nodes.map((n) => {
            const u = nodeUsage(ctx.state, n);
            return {
              id: `node/${n.name}`,
              type: 'node',
              node: n.name,
              status: n.online ? 'online' : 'offline',
              level: '',
              ssl_fingerprint: '3C:1A:8B:00:5E:77:D2:9F:AA:41:0B:6E:12:C4:99:E0:73:5D:28:B1:F6:3A:90:4C:DE:87:11:2F:6B:A5:C0:38',
              ...(n.online ? { cpu: u.cpu, maxcpu: n.maxcpu, mem: u.mem, maxmem: n.maxmem, disk: n.diskUsed, maxdisk: n.maxdisk, uptime: ctx.now - n.bootedAt } : {}),
            };
          }),
        };
      },
    },
  },
  {
    path: '/nodes/{node}',
    get: { run: (ctx) => (pathNode(ctx), { data: ['qemu', 'replication', 'status', 'storage', 'tasks', 'version'].map((name) => ({ name })) }) },
  },
  {
    path: '/nodes/{node}/status',
    get: {
      run(ctx) {
        const n = findNode(ctx.state, pathNode(ctx));
        if (!n) fail('unreachable');
        const u = nodeUsage(ctx.state, n);
        return {
          data: {
            cpu: u.cpu,
            cpuinfo: { cores: n.maxcpu / 2, cpus: n.maxcpu, model: 'AMD EPYC 7443P 24-Core Processor', sockets: 1, mhz: '2850.000', hvm: '1', flags: 'fpu vme de pse' },
            memory: { total: n.maxmem, used: u.mem, free: n.maxmem - u.mem },
            rootfs: { total: n.maxdisk, used: n.diskUsed, avail: n.maxdisk - n.diskUsed, free: n.maxdisk - n.diskUsed },
            swap: { total: 8 * 1024 ** 3, used: 0, free: 8 * 1024 ** 3 },
            uptime: ctx.now - n.bootedAt,
            loadavg: [(u.cpu * n.maxcpu).toFixed(2), (u.cpu * n.maxcpu * 0.9).toFixed(2), (u.cpu * n.maxcpu * 0.8).toFixed(2)],
            pveversion: `pve-manager/${ctx.state.version}/faa83925c9641325`,
            kversion: 'Linux 6.8.12-1-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-1 (2024-08-05T16:17Z)',
            idle: 0,
            wait: 0.0012,
          },
        };
      },
    },
  },
  {
    path: '/nodes/{node}/network',
    get: {
      run(ctx) {
        const n = findNode(ctx.state, pathNode(ctx));
        if (!n) fail('unreachable');
        const type = ctx.params.type as string | undefined;
        const bridges = n.bridges.map((iface, i) => ({ iface, type: 'bridge', active: 1, autostart: 1, families: ['inet'], method: i === 0 ? 'static' : 'manual', bridge_ports: `eno${i + 1}`, bridge_stp: 'off', bridge_fd: '0', ...(i === 0 ? { cidr: `${n.ip}/24`, address: n.ip, netmask: '24' } : {}), priority: i + 3 }));
        // SDN vnets show up with the bridges only when asked for (any_bridge, include_sdn, vnet).
        const vnets = nodeVnets(ctx.state, n.name).map((iface) => ({ iface, type: 'vnet', active: 1 }));
        if (!type) return { data: bridges };
        if (type === 'bridge' || type === 'any_local_bridge') return { data: bridges };
        if (type === 'vnet') return { data: vnets };
        if (type === 'any_bridge' || type === 'include_sdn') return { data: [...bridges, ...vnets] };
        return { data: [] };
      },
    },
  },
  {
    path: '/nodes/{node}/storage',
    get: {
      run(ctx) {
        const node = pathNode(ctx);
        const p = ctx.params;
        const list = ctx.state.storages
          .filter((s) => s.nodes.includes(node))
          .filter((s) => !p.content || String(p.content).split(',').every((c) => s.content.includes(c)))
          .filter((s) => !p.storage || s.id === p.storage)
          .filter((s) => !p.enabled || s.active)
          .map((s) => {
            const used = ctx.fault ? Math.round(s.total * 0.995) : storageUsed(ctx.state, s, node);
            return {
              storage: s.id,
              type: s.type,
              content: s.content.join(','),
              active: s.active ? 1 : 0,
              enabled: 1,
              shared: s.shared ? 1 : 0,
              total: s.total,
              used,
              avail: s.total - used,
              used_fraction: Math.round((used / s.total) * 1e6) / 1e6,
            };
          });
        if (p.storage && list.length === 0) fail(`storage '${p.storage}' does not exist`);
        return { data: list };
      },
    },
  },
  {
    path: '/nodes/{node}/replication',
    get: {
      run(ctx) {
        const node = pathNode(ctx);
        const out = ctx.state.replication
          .filter((j) => ctx.state.vms.find((v) => v.vmid === j.guest)?.node === node)
          .filter((j) => ctx.params.guest === undefined || j.guest === ctx.params.guest)
          .map((j) => {
            const failing = ctx.fault || j.error !== undefined;
            const lag = ctx.fault ? 3600 + j.lagSeconds : j.lagSeconds;
            const lastSync = ctx.now - lag;
            return {
              id: j.id,
              guest: j.guest,
              jobnum: j.jobnum,
              target: j.target,
              type: 'local',
              schedule: j.schedule,
              vmtype: 'qemu',
              source: node,
              last_sync: lastSync,
              last_try: failing ? ctx.now - 30 : lastSync,
              next_sync: (failing ? ctx.now - 30 : lastSync) + (/^\*\/(\d+)$/.test(j.schedule) ? Number(j.schedule.slice(2)) * 60 : 900),
              duration: 2.41,
              fail_count: failing ? (j.failCount ?? 3) : 0,
              ...(failing ? { error: j.error ?? `command 'set -o pipefail && pvesm export local-zfs:vm-${j.guest}-disk-0 zfs - -with-snapshots 1 -snapshot __replicate_${j.id}_${ctx.now}__ | /usr/bin/ssh -e none -o 'BatchMode=yes' -o 'HostKeyAlias=${j.target}' root@10.20.0.11 -- pvesm import local-zfs:vm-${j.guest}-disk-0 zfs - -with-snapshots 1 -allow-rename 0' failed: exit code 255` } : {}),
            };
          });
        return { data: out };
      },
    },
  },
  {
    path: '/nodes/{node}/tasks',
    get: {
      run(ctx) {
        const node = pathNode(ctx);
        const list = ctx.state.tasks
          .filter((t) => t.node === node)
          .filter((t) => ctx.params.vmid === undefined || t.id === String(ctx.params.vmid))
          .filter((t) => !ctx.params.typefilter || t.type === ctx.params.typefilter)
          .slice()
          .reverse()
          .slice(Number(ctx.params.start ?? 0), Number(ctx.params.start ?? 0) + Number(ctx.params.limit ?? 50))
          .map((t) => ({ upid: t.upid, node: t.node, pid: t.pid, pstart: t.pstart, starttime: t.starttime, type: t.type, id: t.id, user: t.user, ...(t.endtime ? { endtime: t.endtime, status: t.exitstatus } : {}) }));
        return { data: list };
      },
    },
  },
  {
    path: '/nodes/{node}/tasks/{upid}',
    get: { run: (ctx) => (taskOf(ctx), { data: [{ name: 'log' }, { name: 'status' }] }) },
    delete: {
      run(ctx) {
        const t = taskOf(ctx);
        if (t.status === 'stopped') return { data: null };
        t.status = 'stopped';
        t.exitstatus = 'interrupted by signal';
        t.log.push('received interrupt', 'TASK ERROR: interrupted by signal');
        return { data: null };
      },
    },
  },
  { path: '/nodes/{node}/tasks/{upid}/status', get: { run: (ctx) => ({ data: taskStatus(taskOf(ctx)) }) } },
  {
    path: '/nodes/{node}/tasks/{upid}/log',
    get: {
      run(ctx) {
        const t = taskOf(ctx);
        const start = Number(ctx.params.start ?? 0);
        const limit = Number(ctx.params.limit ?? 50);
        const lines = t.log.length > 0 ? t.log : ['no content'];
        // PVE::Tools::dump_logfile: limit 0 reads to the end.
        return { data: lines.slice(start, limit === 0 ? undefined : start + limit).map((text, i) => ({ n: start + i + 1, t: text })) };
      },
    },
  },
];
