import { describe, expect, it } from 'vitest';
import { compensationOf, runAction } from './helpers.js';
import { FIXTURES, J, json, PveFake, RES_VM, upid, vmRes } from './pve-fake.js';

const W2 = vmRes(112, 'k8s-worker-02', 'pve-02');
const DELETE = ['delete', '/nodes/pve-02/qemu/112', '--purge', '1', '--destroy-unreferenced-disks', '1'];

describe('destroy_vm', () => {
  it('shuts a running VM down (forceStop after the timeout), deletes it with purge and checks it is gone', async () => {
    const stop = upid('qmshutdown', 112, 'pve-02');
    const del = upid('qmdestroy', 112, 'pve-02', 1);
    const fake = new PveFake()
      .on(RES_VM, json([W2]), json([]))
      .task(['create', '/nodes/pve-02/qemu/112/status/shutdown', '--timeout', '60', '--forceStop', '1'], stop)
      .task(DELETE, del, { log: ['Removing image: 100% complete...done.'] });
    const r = await runAction('destroy_vm', { name: 'k8s-worker-02' }, fake);
    expect(r.error).toBeUndefined();
    expect(r.outputs).toEqual({ vmid: 112, node: 'pve-02', destroyed: true });
    expect(r.calls).toEqual([
      RES_VM,
      ['create', '/nodes/pve-02/qemu/112/status/shutdown', '--timeout', '60', '--forceStop', '1', ...J],
      ['get', `/nodes/pve-02/tasks/${stop}/status`, ...J],
      [...DELETE, ...J],
      ['get', `/nodes/pve-02/tasks/${del}/status`, ...J],
      RES_VM,
    ]);
  });

  it('skips the stop for a stopped VM and hard-stops with shutdown_timeout_seconds 0', async () => {
    const fake = new PveFake()
      .on(RES_VM, json([{ ...W2, status: 'stopped' }]), json([]))
      .task(DELETE, upid('qmdestroy', 112, 'pve-02'));
    const r = await runAction('destroy_vm', { vmid: 112, node: 'pve-02' }, fake);
    expect(r.outputs).toEqual({ vmid: 112, node: 'pve-02', destroyed: true });
    expect(r.calls.map((c) => c[0])).toEqual(['get', 'delete', 'get', 'get']);

    const fake2 = new PveFake()
      .on(RES_VM, json([W2]), json([]))
      .task(['create', '/nodes/pve-02/qemu/112/status/stop'], upid('qmstop', 112, 'pve-02'))
      .task(DELETE, upid('qmdestroy', 112, 'pve-02', 1));
    const r2 = await runAction('destroy_vm', { vmid: 112, shutdown_timeout_seconds: 0 }, fake2);
    expect(r2.error).toBeUndefined();
    expect(r2.calls[1]).toEqual(['create', '/nodes/pve-02/qemu/112/status/stop', ...J]);
  });

  it('treats a missing VM as destroyed (missing_ok), or fails without missing_ok', async () => {
    const r = await runAction('destroy_vm', { vmid: 999, node: 'pve-01' }, new PveFake().on(RES_VM, json([W2])));
    expect(r.outputs).toEqual({ vmid: 999, node: 'pve-01', destroyed: false });
    const r2 = await runAction('destroy_vm', { vmid: 999, missing_ok: false }, new PveFake().on(RES_VM, json([W2])));
    expect(r2.error).toMatchObject({ errorCode: 'vm_not_found', retryable: false });
  });

  it('reports the delete failing on a VM that started again meanwhile', async () => {
    const fake = new PveFake()
      .on(RES_VM, json([{ ...W2, status: 'stopped' }]))
      .on([...DELETE, ...J], { exitCode: 255, stderr: (FIXTURES.err_running as string).replace('101', '112') });
    const r = await runAction('destroy_vm', { vmid: 112 }, fake);
    expect(r.error).toMatchObject({ errorCode: 'vm_destroy_failed', retryable: false });
    expect(r.error?.message).toContain('VM 112 is running - destroy failed');
  });

  it('refuses to destroy a template', async () => {
    const r = await runAction('destroy_vm', { vm: 'talos-tmpl' }, new PveFake().on(RES_VM, json([vmRes(9000, 'talos-tmpl', 'pve-01', { template: 1, status: 'stopped' })])));
    expect(r.error).toMatchObject({ errorCode: 'vm_is_template' });
  });
});

describe('start_vm / stop_vm', () => {
  it('starts a stopped VM and checks it runs; compensation stops it again', async () => {
    const start = upid('qmstart', 112, 'pve-02');
    const fake = new PveFake()
      .on(RES_VM, json([{ ...W2, status: 'stopped' }]))
      .task(['create', '/nodes/pve-02/qemu/112/status/start'], start)
      .get('/nodes/pve-02/qemu/112/status/current', { status: 'running' });
    const r = await runAction('start_vm', { vm: 'k8s-worker-02' }, fake);
    expect(r.outputs).toEqual({ vmid: 112, node: 'pve-02', status: 'running', was_running: false });
    expect(r.calls).toEqual([RES_VM, ['create', '/nodes/pve-02/qemu/112/status/start', ...J], ['get', `/nodes/pve-02/tasks/${start}/status`, ...J], ['get', '/nodes/pve-02/qemu/112/status/current', ...J]]);
    expect(compensationOf('start_vm', { vm: 'k8s-worker-02' }, r.outputs as Record<string, unknown>).params).toEqual({ vmid: 112, node: 'pve-02', skip: false, graceful: true, timeout_seconds: 120 });
  });

  it('leaves a running VM alone, and the compensation then skips', async () => {
    const r = await runAction('start_vm', { vmid: 112 }, new PveFake().on(RES_VM, json([W2])));
    expect(r.outputs).toEqual({ vmid: 112, node: 'pve-02', status: 'running', was_running: true });
    expect(r.calls).toEqual([RES_VM]);
    const comp = compensationOf('start_vm', { vmid: 112 }, r.outputs as Record<string, unknown>);
    expect(comp.params.skip).toBe(true);
    const skipped = await runAction('stop_vm', comp.params, new PveFake());
    expect(skipped.outputs).toEqual({ vmid: 112, node: 'pve-02', status: null, was_stopped: true });
    expect(skipped.calls).toEqual([]);
  });

  it('stops gracefully and reports was_stopped; a stopped VM is left alone', async () => {
    const sd = upid('qmshutdown', 112, 'pve-02');
    const fake = new PveFake()
      .on(RES_VM, json([W2]))
      .task(['create', '/nodes/pve-02/qemu/112/status/shutdown', '--timeout', '30', '--forceStop', '1'], sd)
      .get('/nodes/pve-02/qemu/112/status/current', { status: 'stopped' });
    const r = await runAction('stop_vm', { vmid: 112, timeout_seconds: 30 }, fake);
    expect(r.outputs).toEqual({ vmid: 112, node: 'pve-02', status: 'stopped', was_stopped: false });
    expect(compensationOf('stop_vm', {}, r.outputs as Record<string, unknown>)).toEqual({ action: 'start_vm', params: { vmid: 112, node: 'pve-02', skip: false } });

    const hard = new PveFake()
      .on(RES_VM, json([W2]))
      .task(['create', '/nodes/pve-02/qemu/112/status/stop'], upid('qmstop', 112, 'pve-02'))
      .get('/nodes/pve-02/qemu/112/status/current', { status: 'stopped' });
    const r2 = await runAction('stop_vm', { vmid: 112, graceful: false }, hard);
    expect(r2.calls[1]).toEqual(['create', '/nodes/pve-02/qemu/112/status/stop', ...J]);

    const r3 = await runAction('stop_vm', { vmid: 112 }, new PveFake().on(RES_VM, json([{ ...W2, status: 'stopped' }])));
    expect(r3.outputs?.was_stopped).toBe(true);
  });

  it('fails with the task error when start ran into a lock (exit 0, failed task)', async () => {
    const msg = "can't lock file '/var/lock/qemu-server/lock-112.conf' - got timeout";
    const fake = new PveFake()
      .on(RES_VM, json([{ ...W2, status: 'stopped' }]))
      .task(['create', '/nodes/pve-02/qemu/112/status/start'], upid('qmstart', 112, 'pve-02'), { stderr: msg, statuses: [undefined, msg] });
    const r = await runAction('start_vm', { vmid: 112 }, fake);
    expect(r.error).toMatchObject({ errorCode: 'vm_start_failed', retryable: true });
  });
});

describe('VM snapshots', () => {
  const SNAP = ['create', '/nodes/pve-02/qemu/112/snapshot', '--snapname', 'SEC-20261125-0001-forensic', '--description', 'Forensic snapshot', '--vmstate', '1'];

  it('creates a snapshot (with RAM), checks it is listed; rollback deletes it', async () => {
    const u = upid('qmsnapshot', 112, 'pve-02');
    const fake = new PveFake()
      .on(RES_VM, json([W2]))
      .on(['get', '/nodes/pve-02/qemu/112/snapshot', ...J], json([{ name: 'current', description: 'You are here!', running: 1 }]), json([{ name: 'SEC-20261125-0001-forensic', snaptime: 1, vmstate: 1 }, { name: 'current', running: 1 }]))
      .task(SNAP, u, { log: ["saving VM state and RAM using storage 'local-zfs'"] });
    const params = { vm: 'k8s-worker-02', snapshot_name: 'SEC-20261125-0001-forensic', description: 'Forensic snapshot', preserve_memory: true };
    const r = await runAction('create_vm_snapshot', params, fake);
    expect(r.error).toBeUndefined();
    expect(r.outputs).toEqual({ snapshot_id: 'pve-02/112@SEC-20261125-0001-forensic', snapname: 'SEC-20261125-0001-forensic', vmid: 112, node: 'pve-02' });
    expect(r.calls).toEqual([RES_VM, ['get', '/nodes/pve-02/qemu/112/snapshot', ...J], [...SNAP, ...J], ['get', `/nodes/pve-02/tasks/${u}/status`, ...J], ['get', '/nodes/pve-02/qemu/112/snapshot', ...J]]);
    expect(compensationOf('create_vm_snapshot', params, r.outputs as Record<string, unknown>)).toEqual({
      action: 'delete_vm_snapshot',
      params: { vmid: 112, node: 'pve-02', snapshot_name: 'SEC-20261125-0001-forensic', force: false, missing_ok: true },
    });
  });

  it('sanitises the name (default cortex-<execution_id>) and reuses an existing snapshot', async () => {
    const fake = new PveFake().on(RES_VM, json([W2])).get('/nodes/pve-02/qemu/112/snapshot', [{ name: 'cortex-test-exec-0001' }, { name: 'current' }]);
    const r = await runAction('create_vm_snapshot', { vmid: 112 }, fake);
    expect(r.outputs?.snapname).toBe('cortex-test-exec-0001');
    expect(r.calls).toHaveLength(2);
    const r2 = await runAction('create_vm_snapshot', { vmid: 112, snapshot_name: '2026.11 pre upgrade!' }, new PveFake().on(RES_VM, json([W2])).get('/nodes/pve-02/qemu/112/snapshot', [{ name: 's2026-11-pre-upgrade-' }]));
    expect(r2.outputs?.snapname).toBe('s2026-11-pre-upgrade-');
  });

  it('deletes a snapshot, and a missing one counts as deleted', async () => {
    const u = upid('qmdelsnapshot', 112, 'pve-02');
    const fake = new PveFake()
      .on(RES_VM, json([W2]))
      .get('/nodes/pve-02/qemu/112/snapshot', [{ name: 'pre-upgrade' }, { name: 'current' }])
      .task(['delete', '/nodes/pve-02/qemu/112/snapshot/pre-upgrade'], u);
    const r = await runAction('delete_vm_snapshot', { vmid: 112, node: 'pve-02', snapshot_name: 'pre-upgrade' }, fake);
    expect(r.outputs).toEqual({ vmid: 112, node: 'pve-02', snapname: 'pre-upgrade', deleted: true });
    const r2 = await runAction('delete_vm_snapshot', { vmid: 112, snapshot_name: 'gone' }, new PveFake().on(RES_VM, json([W2])).get('/nodes/pve-02/qemu/112/snapshot', [{ name: 'current' }]));
    expect(r2.outputs).toEqual({ vmid: 112, node: 'pve-02', snapname: 'gone', deleted: false });
    const r3 = await runAction('delete_vm_snapshot', { vmid: 112, snapshot_name: 'gone', missing_ok: false }, new PveFake().on(RES_VM, json([W2])).get('/nodes/pve-02/qemu/112/snapshot', [{ name: 'current' }]));
    expect(r3.error).toMatchObject({ errorCode: 'snapshot_not_found' });
  });

  it('rolls back with --start 1 and checks the VM runs; an unknown snapshot is not retryable', async () => {
    const u = upid('qmrollback', 112, 'pve-02');
    const fake = new PveFake()
      .on(RES_VM, json([W2]))
      .task(['create', '/nodes/pve-02/qemu/112/snapshot/pre-upgrade/rollback', '--start', '1'], u)
      .get('/nodes/pve-02/qemu/112/status/current', { status: 'running' });
    const r = await runAction('rollback_vm_snapshot', { vm: 112, snapshot_name: 'pre-upgrade' }, fake);
    expect(r.outputs).toEqual({ vmid: 112, node: 'pve-02', snapname: 'pre-upgrade', status: 'running' });

    const missing = new PveFake().on(RES_VM, json([W2])).on(['create', '/nodes/pve-02/qemu/112/snapshot/nope/rollback', ...J], { exitCode: 255, stderr: "snapshot 'nope' does not exist\n" });
    const r2 = await runAction('rollback_vm_snapshot', { vmid: 112, snapshot_name: 'nope', start: false }, missing);
    expect(r2.error).toMatchObject({ errorCode: 'snapshot_not_found', retryable: false });
  });
});
