import { describe, expect, it } from 'vitest';
import { compensationOf, runAction } from './helpers.js';
import { FIXTURES, J, json, PveFake, RES_VM, upid, vmRes } from './pve-fake.js';

const TEMPLATE = vmRes(9000, 'talos-tmpl', 'pve-01', { status: 'stopped', template: 1 });
const PARAMS = {
  name: 'monitoring-node-01',
  node: 'pve-01',
  template_vmid: 9000,
  cores: 4,
  memory_mb: 8192,
  disk_gb: 100,
  storage: 'ceph-rbd',
  bridge: 'vmbr0',
  vlan: 20,
  ip: '10.10.20.11/24',
  gateway: '10.10.20.1',
  tags: ['monitoring', 'production'],
  description: 'Monitoring worker',
};
const CLONE = ['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '102', '--name', 'monitoring-node-01', '--full', '1', '--storage', 'ceph-rbd'];
const CLONED_CONFIG = { boot: 'order=scsi0', cores: 2, memory: 2048, name: 'monitoring-node-01', net0: 'virtio=BC:24:11:00:00:66,bridge=vmbr0', scsi0: 'ceph-rbd:vm-102-disk-0,size=32G', agent: 1 };
const CONFIG_SET = [
  'set', '/nodes/pve-01/qemu/102/config',
  '--cores', '4', '--memory', '8192',
  '--net0', 'virtio=BC:24:11:00:00:66,bridge=vmbr0,tag=20,firewall=1',
  '--ipconfig0', 'ip=10.10.20.11/24,gw=10.10.20.1',
  '--tags', 'cortex;monitoring;production', '--onboot', '1', '--description', 'Monitoring worker',
];
const FINAL_CONFIG = { ...CLONED_CONFIG, cores: 4, memory: 8192, net0: 'virtio=BC:24:11:00:00:66,bridge=vmbr0,tag=20,firewall=1', ipconfig0: 'ip=10.10.20.11/24,gw=10.10.20.1', scsi0: 'ceph-rbd:vm-102-disk-0,size=100G' };

function happy(fake = new PveFake()) {
  const clone = upid('qmclone', 9000);
  const resize = upid('resize', 102, 'pve-01', 1);
  const start = upid('qmstart', 102, 'pve-01', 2);
  return fake
    .on(RES_VM, json([TEMPLATE, vmRes(101, 'k8s-cp-01', 'pve-01')]))
    .get('/cluster/nextid', 102)
    .task(CLONE, clone, { log: FIXTURES.clone_log as string[] })
    .on(['get', '/nodes/pve-01/qemu/102/config', ...J], json(CLONED_CONFIG), json(FINAL_CONFIG))
    .on([...CONFIG_SET, ...J], json(null))
    .task(['set', '/nodes/pve-01/qemu/102/resize', '--disk', 'scsi0', '--size', '100G'], resize)
    .task(['create', '/nodes/pve-01/qemu/102/status/start'], start)
    .get('/nodes/pve-01/qemu/102/status/current', { status: 'running', qmpstatus: 'running', vmid: 102 });
}

describe('provision_vm', () => {
  it('clones, configures, grows the disk, starts and checks it runs', async () => {
    const fake = happy();
    const r = await runAction('provision_vm', PARAMS, fake);
    expect(r.error).toBeUndefined();
    expect(r.outputs).toEqual({ vmid: 102, node: 'pve-01', name: 'monitoring-node-01', ip: '10.10.20.11', mac: 'BC:24:11:00:00:66' });
    const clone = upid('qmclone', 9000);
    const resize = upid('resize', 102, 'pve-01', 1);
    const start = upid('qmstart', 102, 'pve-01', 2);
    expect(r.calls).toEqual([
      RES_VM,
      ['get', '/cluster/nextid', ...J],
      [...CLONE, ...J],
      ['get', `/nodes/pve-01/tasks/${clone}/status`, ...J],
      ['get', '/nodes/pve-01/qemu/102/config', ...J],
      [...CONFIG_SET, ...J],
      ['set', '/nodes/pve-01/qemu/102/resize', '--disk', 'scsi0', '--size', '100G', ...J],
      ['get', `/nodes/pve-01/tasks/${resize}/status`, ...J],
      ['create', '/nodes/pve-01/qemu/102/status/start', ...J],
      ['get', `/nodes/pve-01/tasks/${start}/status`, ...J],
      ['get', '/nodes/pve-01/qemu/102/status/current', ...J],
      ['get', '/nodes/pve-01/qemu/102/config', ...J],
    ]);
    // the tool name is the configured pvesh command
    expect(r.deps.runner.calls.every((c) => c.command === 'pvesh')).toBe(true);
  });

  it('compensates with destroy_vm on its own outputs', () => {
    const c = compensationOf('provision_vm', PARAMS, { vmid: 102, node: 'pve-01', name: 'monitoring-node-01', ip: '10.10.20.11', mac: 'x' });
    expect(c).toEqual({ action: 'destroy_vm', params: { vmid: 102, node: 'pve-01', purge: true, shutdown_timeout_seconds: 60, missing_ok: true } });
  });

  it('fails when the clone task failed although pvesh exited 0 (not retryable: use the fallback)', async () => {
    const msg = "clone failed: storage 'ceph-rbd' is not available on node 'pve-01'";
    const clone = upid('qmclone', 9000);
    const fake = new PveFake()
      .on(RES_VM, json([TEMPLATE]), json([TEMPLATE]))
      .get('/cluster/nextid', 102)
      .task(CLONE, clone, { log: [(FIXTURES.clone_log as string[])[0] as string], stderr: `${msg}\n`, statuses: [msg] });
    const r = await runAction('provision_vm', PARAMS, fake);
    expect(r.error).toMatchObject({ errorCode: 'vm_creation_failed', retryable: false });
    expect(r.error?.message).toContain(`task qmclone failed: ${msg}`);
    expect(r.calls.map((c) => c.slice(0, 2))).toEqual([
      ['get', '/cluster/resources'],
      ['get', '/cluster/nextid'],
      ['create', '/nodes/pve-01/qemu/9000/clone'],
      ['get', `/nodes/pve-01/tasks/${clone}/status`],
      ['get', `/nodes/pve-01/tasks/${clone}/log`],
      ['get', '/cluster/resources'], // no half-created VM is left behind
    ]);
  });

  it('takes the next VMID when a parallel clone took the free one', async () => {
    const clone = upid('qmclone', 9000);
    const fake = happy()
      .on(['get', '/cluster/nextid', ...J], json(101), json(102))
      .on(['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '101', '--name', 'monitoring-node-01', '--full', '1', '--storage', 'ceph-rbd', ...J], { exitCode: 255, stderr: FIXTURES.err_newid_exists as string });
    const r = await runAction('provision_vm', PARAMS, fake);
    expect(r.error).toBeUndefined();
    expect(r.outputs?.vmid).toBe(102);
    expect(r.calls.slice(1, 5)).toEqual([
      ['get', '/cluster/nextid', ...J],
      ['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '101', '--name', 'monitoring-node-01', '--full', '1', '--storage', 'ceph-rbd', ...J],
      ['get', '/cluster/nextid', ...J],
      [...CLONE, ...J],
    ]);
    expect(r.calls[5]).toEqual(['get', `/nodes/pve-01/tasks/${clone}/status`, ...J]);
  });

  it('asserts a given vmid is free with /cluster/nextid --vmid', async () => {
    const fake = new PveFake().on(RES_VM, json([TEMPLATE])).on(['get', '/cluster/nextid', '--vmid', '101', ...J], { exitCode: 255, stderr: FIXTURES.err_vmid_exists as string });
    const r = await runAction('provision_vm', { ...PARAMS, vmid: 101 }, fake);
    expect(r.error).toMatchObject({ errorCode: 'vmid_in_use', retryable: false });
    expect(r.error?.message).toContain('vmid: VM 101 already exists');
  });

  it('destroys the partial VM when a step after the clone fails', async () => {
    const msg = (FIXTURES.task_lock_failed as { exitstatus: string }).exitstatus;
    const start = upid('qmstart', 102, 'pve-01', 2);
    const del = upid('qmdestroy', 102, 'pve-01', 3);
    const fake = happy()
      .task(['create', '/nodes/pve-01/qemu/102/status/start'], start, { stderr: msg, statuses: [msg] })
      .get('/nodes/pve-01/qemu/102/status/current', { status: 'stopped', vmid: 102 })
      .task(['delete', '/nodes/pve-01/qemu/102', '--purge', '1', '--destroy-unreferenced-disks', '1'], del);
    const r = await runAction('provision_vm', PARAMS, fake);
    expect(r.error).toMatchObject({ errorCode: 'vm_start_failed', retryable: true });
    expect(r.error?.message).toMatch(/task qmstart failed: can't lock file .*\(the partial VM 102 was destroyed\)$/);
    expect(r.calls.slice(-3)).toEqual([
      ['get', '/nodes/pve-01/qemu/102/status/current', ...J],
      ['delete', '/nodes/pve-01/qemu/102', '--purge', '1', '--destroy-unreferenced-disks', '1', ...J],
      ['get', `/nodes/pve-01/tasks/${del}/status`, ...J],
    ]);
  });

  it('reuses a VM of that name tagged cortex (an earlier attempt) and starts it', async () => {
    const fake = new PveFake()
      .on(RES_VM, json([TEMPLATE, vmRes(102, 'monitoring-node-01', 'pve-02', { status: 'stopped', tags: 'cortex;monitoring' })]))
      .task(['create', '/nodes/pve-02/qemu/102/status/start'], upid('qmstart', 102, 'pve-02'))
      .get('/nodes/pve-02/qemu/102/status/current', { status: 'running' })
      .get('/nodes/pve-02/qemu/102/config', FINAL_CONFIG);
    const r = await runAction('provision_vm', PARAMS, fake);
    expect(r.error).toBeUndefined();
    expect(r.outputs).toEqual({ vmid: 102, node: 'pve-02', name: 'monitoring-node-01', ip: '10.10.20.11', mac: 'BC:24:11:00:00:66' });
    expect(r.calls.map((c) => c[1])).toEqual(['/cluster/resources', '/nodes/pve-02/qemu/102/status/start', `/nodes/pve-02/tasks/${upid('qmstart', 102, 'pve-02')}/status`, '/nodes/pve-02/qemu/102/status/current', '/nodes/pve-02/qemu/102/config']);
  });

  it('refuses to clone next to a same-name VM it did not make', async () => {
    const fake = new PveFake().on(RES_VM, json([TEMPLATE, vmRes(120, 'monitoring-node-01', 'pve-01', { tags: 'manual' })]));
    const r = await runAction('provision_vm', PARAMS, fake);
    expect(r.error).toMatchObject({ errorCode: 'vm_name_conflict', retryable: false });
  });

  it('clones onto another node with --target (fallback node and storage)', async () => {
    const clone = upid('qmclone', 9000);
    const fake = new PveFake()
      .on(RES_VM, json([TEMPLATE]))
      .get('/cluster/nextid', 102)
      .task(['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '102', '--name', 'monitoring-node-01', '--full', '1', '--storage', 'local-lvm', '--target', 'pve-02'], clone)
      .on(['get', '/nodes/pve-02/qemu/102/config', ...J], json({ ...CLONED_CONFIG, scsi0: 'local-lvm:vm-102-disk-0,size=200G' }), json(FINAL_CONFIG))
      .on([...CONFIG_SET.map((a) => a.replace('pve-01', 'pve-02')), ...J], json(null))
      .task(['create', '/nodes/pve-02/qemu/102/status/start'], upid('qmstart', 102, 'pve-02'))
      .get('/nodes/pve-02/qemu/102/status/current', { status: 'running' });
    const r = await runAction('provision_vm', { ...PARAMS, node: 'pve-02', storage: 'local-lvm' }, fake);
    expect(r.error).toBeUndefined();
    expect(r.outputs).toMatchObject({ vmid: 102, node: 'pve-02' });
    // the 200G disk is not shrunk to 100G: no resize call
    expect(r.calls.some((c) => c[1]?.endsWith('/resize'))).toBe(false);
  });

  it('plans the command lines with placeholders', async () => {
    const { impl } = await import('./helpers.js');
    const plan = (await impl('provision_vm')).plan(PARAMS, { config: { proxmox: {} } as never, executionId: 'e', workflowId: 'w', actionId: 'a', contractor: 'infrastructure-contractor' });
    const commands = plan.filter((s) => s.kind === 'command').map((s) => (s.kind === 'command' ? s.args.slice(0, 2).join(' ') : ''));
    expect(commands).toEqual([
      'get /cluster/resources',
      'get /cluster/nextid',
      'create /nodes/pve-01/qemu/9000/clone',
      'get /nodes/pve-01/qemu/<nextid>/config',
      'set /nodes/pve-01/qemu/<nextid>/config',
      'set /nodes/pve-01/qemu/<nextid>/resize',
      'create /nodes/pve-01/qemu/<nextid>/status/start',
      'get /nodes/pve-01/qemu/<nextid>/status/current',
      'get /nodes/pve-01/qemu/<nextid>/config',
    ]);
  });
});
