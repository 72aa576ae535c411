import { describe, expect, it } from 'vitest';
import { runAction } from './helpers.js';
import { J, json, PveFake, RES_VM, vmRes } from './pve-fake.js';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const node = (name: string, extra: Record<string, unknown> = {}) => ({ id: `node/${name}`, type: 'node', node: name, status: 'online', cpu: 0.25, maxcpu: 64, mem: 100 * GIB, maxmem: 512 * GIB, ...extra });
const storage = (id: string, availGb: number, extra: Record<string, unknown> = {}) => ({ storage: id, type: 'rbd', content: 'images,rootdir', active: 1, enabled: 1, shared: 1, total: 50_000 * GIB, used: (50_000 - availGb) * GIB, avail: availGb * GIB, used_fraction: 0.5, ...extra });
const RES_NODE = ['get', '/cluster/resources', '--type', 'node', ...J];
const storageCall = (n: string) => ['get', `/nodes/${n}/storage`, '--content', 'images', ...J];

describe('check_node_capacity', () => {
  const params = { node: 'pve-01', fallback_nodes: ['pve-02'], storage: 'ceph-rbd', cores: 4, memory_mb: 8192, disk_gb: 100, count: 2 };

  it('outputs the first node that fits (free = maxmem-mem, maxcpu*(1-cpu), storage avail)', async () => {
    const fake = new PveFake().on(RES_NODE, json([node('pve-01'), node('pve-02')])).on(storageCall('pve-01'), json([storage('ceph-rbd', 20_000)]));
    const r = await runAction('check_node_capacity', params, fake);
    expect(r.outputs).toEqual({ node: 'pve-01', sufficient: true, free_cores: 48, free_memory_mb: 412 * 1024, free_disk_gb: 20_000, checked: ['pve-01'] });
    expect(r.calls).toEqual([RES_NODE, storageCall('pve-01')]);
  });

  it('falls back to the next node, and fails (not retryable) when none fits', async () => {
    const busy = node('pve-01', { mem: 510 * GIB });
    const fake = new PveFake().on(RES_NODE, json([busy, node('pve-02')])).on(storageCall('pve-01'), json([storage('ceph-rbd', 20_000)])).on(storageCall('pve-02'), json([storage('ceph-rbd', 20_000)]));
    const r = await runAction('check_node_capacity', params, fake);
    expect(r.outputs).toMatchObject({ node: 'pve-02', sufficient: true, checked: ['pve-01', 'pve-02'] });

    const full = new PveFake().on(RES_NODE, json([busy, node('pve-02', { status: 'offline' })])).on(storageCall('pve-01'), json([storage('ceph-rbd', 20_000)]));
    const r2 = await runAction('check_node_capacity', params, full);
    expect(r2.error).toMatchObject({ errorCode: 'insufficient_capacity', retryable: false });
    expect(r2.error?.message).toBe('insufficient capacity for 8 cores, 16384 MiB, 200 GiB on ceph-rbd: pve-01: 2048 MiB free memory < 16384 / pve-02: offline');

    const soft = await runAction('check_node_capacity', { ...params, fail_if_insufficient: false }, full);
    expect(soft.outputs).toEqual({ node: 'pve-01', sufficient: false, free_cores: 48, free_memory_mb: 2048, free_disk_gb: 20_000, checked: ['pve-01', 'pve-02'] });
  });

  it('sums a site (nodes), counting a shared storage once', async () => {
    const fake = new PveFake()
      .on(RES_NODE, json([node('dc2-pve-01'), node('dc2-pve-02', { mem: 300 * GIB })]))
      .on(storageCall('dc2-pve-01'), json([storage('ceph-dr', 30_000)]))
      .on(storageCall('dc2-pve-02'), json([storage('ceph-dr', 30_000)]));
    const r = await runAction('check_node_capacity', { nodes: ['dc2-pve-01', 'dc2-pve-02'], storage: 'ceph-dr', cores: 90, memory_mb: 204800, disk_gb: 5000 }, fake);
    expect(r.outputs).toEqual({ node: 'dc2-pve-01', sufficient: true, free_cores: 96, free_memory_mb: (412 + 212) * 1024, free_disk_gb: 30_000, checked: ['dc2-pve-01', 'dc2-pve-02'] });
    const r2 = await runAction('check_node_capacity', { nodes: ['dc2-pve-01', 'dc2-pve-02'], storage: 'ceph-dr', cores: 90, memory_mb: 204800, disk_gb: 40_000 }, fake);
    expect(r2.error?.message).toMatch(/30000 GiB free on ceph-dr < 40000/);
    expect(MIB).toBeGreaterThan(0);
  });
});

describe('check_cluster_status', () => {
  const status = (quorate: number, offline: string[] = []) => [
    { id: 'cluster', name: 'cortex-pve', nodes: 4, quorate, type: 'cluster', version: 14 },
    ...['pve-01', 'pve-02', 'dc2-pve-01', 'dc2-pve-02'].map((n, i) => ({ id: `node/${n}`, name: n, nodeid: i + 1, online: offline.includes(n) ? 0 : 1, type: 'node', ip: '10.0.0.1', local: i === 0 ? 1 : 0, level: '' })),
  ];
  it('reports quorum and online nodes', async () => {
    const r = await runAction('check_cluster_status', { nodes: ['dc2-pve-01', 'dc2-pve-02'] }, new PveFake().get('/cluster/status', status(1)));
    expect(r.outputs).toEqual({ cluster_name: 'cortex-pve', quorate: true, nodes_online: ['pve-01', 'pve-02', 'dc2-pve-01', 'dc2-pve-02'], nodes_offline: [] });
    expect(r.calls).toEqual([['get', '/cluster/status', ...J]]);
  });
  it('fails without quorum or with a required node offline', async () => {
    const r = await runAction('check_cluster_status', {}, new PveFake().get('/cluster/status', status(0, ['dc2-pve-02'])));
    expect(r.error).toMatchObject({ errorCode: 'cluster_not_quorate', retryable: true });
    const r2 = await runAction('check_cluster_status', { nodes: ['dc2-pve-02'] }, new PveFake().get('/cluster/status', status(1, ['dc2-pve-02'])));
    expect(r2.error).toMatchObject({ errorCode: 'node_offline' });
    expect(r2.error?.message).toBe('Proxmox node not online: dc2-pve-02');
    const r3 = await runAction('check_cluster_status', { nodes: ['dc3-pve-01'] }, new PveFake().get('/cluster/status', status(1)));
    expect(r3.error).toMatchObject({ errorCode: 'node_not_found', retryable: false });
  });
});

describe('check_storage', () => {
  const call = ['get', '/nodes/dc2-pve-01/storage', '--content', 'images', ...J];
  it('outputs the storage figures and checks min_free_gb', async () => {
    const fake = new PveFake().on(call, json([storage('ceph-dr', 6000, { total: 10_000 * GIB, used: 4000 * GIB, used_fraction: 0.4 }), storage('local-lvm', 100, { shared: 0 })]));
    const r = await runAction('check_storage', { node: 'dc2-pve-01', storage: 'ceph-dr', min_free_gb: 5000 }, fake);
    expect(r.outputs).toEqual({ storage: 'ceph-dr', node: 'dc2-pve-01', active: true, shared: true, avail_gb: 6000, total_gb: 10_000, used_fraction: 0.4 });
    const r2 = await runAction('check_storage', { node: 'dc2-pve-01', storage: 'ceph-dr', min_free_gb: 7000 }, fake);
    expect(r2.error).toMatchObject({ errorCode: 'storage_insufficient', retryable: false });
    const r3 = await runAction('check_storage', { node: 'dc2-pve-01', storage: 'ceph-rbd' }, fake);
    expect(r3.error).toMatchObject({ errorCode: 'storage_not_found' });
    const r4 = await runAction('check_storage', { node: 'dc2-pve-01', storage: 'ceph-dr' }, new PveFake().on(call, json([storage('ceph-dr', 6000, { active: 0 })])));
    expect(r4.error).toMatchObject({ errorCode: 'storage_unavailable', retryable: true });
  });
});

describe('check_replication', () => {
  const now = Math.floor(Date.parse('2026-11-25T12:00:00.000Z') / 1000);
  const jobs = [
    { id: '101-0', guest: 101, jobnum: 0, target: 'dc2-pve-01', type: 'local', schedule: '*/1' },
    { id: '111-0', guest: 111, jobnum: 0, target: 'dc2-pve-02', type: 'local', schedule: '*/1' },
  ];
  const state = (id: string, guest: number, lag: number, extra: Record<string, unknown> = {}) => ({ id, guest, target: 'dc2-pve-01', last_sync: now - lag, fail_count: 0, ...extra });
  const base = () =>
    new PveFake()
      .get('/cluster/replication', jobs)
      .on(RES_VM, json([vmRes(101, 'k8s-cp-01', 'pve-01'), vmRes(111, 'k8s-worker-01', 'pve-01')]));

  it('examines the jobs replicating to the node, reading their state on the source node', async () => {
    const fake = base().get('/nodes/pve-01/replication', [state('101-0', 101, 12), state('111-0', 111, 30)]);
    const r = await runAction('check_replication', { node: 'dc2-pve-01', max_lag_seconds: 60 }, fake);
    expect(r.outputs).toEqual({ max_lag_seconds: 12, jobs: 1, failing: [], lag_by_job: { '101-0': 12 }, allowed_lag_by_job: { '101-0': 60 } });
    expect(r.calls).toEqual([['get', '/cluster/replication', ...J], RES_VM, ['get', '/nodes/pve-01/replication', ...J]]);
  });

  it('fails (retryable: replication may catch up) on lag or errors', async () => {
    const r = await runAction('check_replication', { node: 'dc2-pve-01', max_lag_seconds: 60 }, base().get('/nodes/pve-01/replication', [state('101-0', 101, 300)]));
    expect(r.error).toMatchObject({ errorCode: 'replication_lag_exceeded', retryable: true });
    expect(r.error?.message).toBe('replication behind or failing: job 101-0 (guest 101 -> dc2-pve-01, schedule */1): lag 300s > 60s allowed');
    const r2 = await runAction('check_replication', { node: 'pve-01' }, base().get('/nodes/pve-01/replication', [state('101-0', 101, 5), state('111-0', 111, 5, { fail_count: 2, error: 'zfs send failed' })]));
    expect(r2.error?.message).toBe('replication behind or failing: job 111-0 (guest 111 -> dc2-pve-02, schedule */1): zfs send failed');
    const r3 = await runAction('check_replication', { node: 'dc2-pve-09' }, base());
    expect(r3.error).toMatchObject({ errorCode: 'replication_not_configured', retryable: false });
    const r4 = await runAction('check_replication', { node: 'dc2-pve-09', require_jobs: false }, base());
    expect(r4.outputs).toEqual({ max_lag_seconds: 0, jobs: 0, failing: [], lag_by_job: {}, allowed_lag_by_job: {} });
  });

  it('without an RPO each job may lag its own schedule (Proxmox default */15) plus 60 s; the error names the job and its schedule', async () => {
    const defaults = [
      { id: '101-0', guest: 101, jobnum: 0, target: 'dc2-pve-01', type: 'local' },
      { id: '103-0', guest: 103, jobnum: 0, target: 'dc2-pve-01', type: 'local', schedule: 'hourly' },
      { id: '104-0', guest: 104, jobnum: 0, target: 'dc2-pve-01', type: 'local', schedule: 'mon..fri 22:00' },
    ];
    const vms = json([vmRes(101, 'k8s-cp-01', 'pve-01'), vmRes(103, 'k8s-cp-03', 'pve-01'), vmRes(104, 'x', 'pve-01')]);
    const fake = (lag101: number) =>
      new PveFake()
        .get('/cluster/replication', defaults.slice(0, 2))
        .on(RES_VM, vms)
        .get('/nodes/pve-01/replication', [state('101-0', 101, lag101), state('103-0', 103, 3000)]);
    const ok = await runAction('check_replication', { node: 'dc2-pve-01', max_lag_seconds: null }, fake(870));
    expect(ok.outputs).toEqual({ max_lag_seconds: 3000, jobs: 2, failing: [], lag_by_job: { '101-0': 870, '103-0': 3000 }, allowed_lag_by_job: { '101-0': 960, '103-0': 3660 } });
    const late = await runAction('check_replication', { node: 'dc2-pve-01' }, fake(1830));
    expect(late.error?.message).toBe('replication behind or failing: job 101-0 (guest 101 -> dc2-pve-01, schedule */15): lag 1830s > 960s allowed');
    const odd = await runAction('check_replication', { node: 'dc2-pve-01', guests: [104] }, new PveFake().get('/cluster/replication', defaults).on(RES_VM, vms).get('/nodes/pve-01/replication', [state('104-0', 104, 10)]));
    expect(odd.error?.message).toBe('replication behind or failing: job 104-0 (guest 104 -> dc2-pve-01, schedule mon..fri 22:00): cannot tell how often the schedule runs; pass max_lag_seconds');
  });
});
