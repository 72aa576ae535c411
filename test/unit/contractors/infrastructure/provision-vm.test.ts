import { describe, expect, it } from 'vitest';
import { cloneMarker, provision, type VmSpec } from '../../../../src/contractors/infrastructure/provision.js';
import { Pvesh } from '../../../../src/contractors/infrastructure/pvesh.js';
import { makeRuntime } from '../runtime-helper.js';
import { compensationOf, runAction, spec } from './helpers.js';
import { depsWith, FIXTURES, J, json, PveFake, RES_VM, upid, vmRes } from './pve-fake.js';

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
/** What every clone call ends with: the execution and action that made it (test-exec-0001/test-action from the runtime helper). */
const MARKER = 'cortex:test-exec-0001/test-action';
const CLONE = ['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '102', '--name', 'monitoring-node-01', '--full', '1', '--storage', 'ceph-rbd', '--description', MARKER];
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
  it("keeps the template NIC's options (queues, mtu, rate, link_down)", async () => {
    const nic = 'virtio=BC:24:11:00:00:66,bridge=vmbr1,queues=4,mtu=9000,rate=125.5,link_down=0';
    const wanted = 'virtio=BC:24:11:00:00:66,bridge=vmbr0,tag=20,firewall=1,queues=4,mtu=9000,rate=125.5,link_down=0';
    const fake = happy()
      .on(['get', '/nodes/pve-01/qemu/102/config', ...J], json({ ...CLONED_CONFIG, net0: nic }), json({ ...FINAL_CONFIG, net0: wanted }))
      .on([...CONFIG_SET.map((a) => (a === 'virtio=BC:24:11:00:00:66,bridge=vmbr0,tag=20,firewall=1' ? wanted : a)), ...J], json(null));
    const r = await runAction('provision_vm', PARAMS, fake);
    expect(r.error).toBeUndefined();
    expect(r.calls.find((c) => c[0] === 'set' && c[1] === '/nodes/pve-01/qemu/102/config')).toContain(wanted);
  });

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
      .on(['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '101', '--name', 'monitoring-node-01', '--full', '1', '--storage', 'ceph-rbd', '--description', MARKER, ...J], { exitCode: 255, stderr: FIXTURES.err_newid_exists as string });
    const r = await runAction('provision_vm', PARAMS, fake);
    expect(r.error).toBeUndefined();
    expect(r.outputs?.vmid).toBe(102);
    expect(r.calls.slice(1, 5)).toEqual([
      ['get', '/cluster/nextid', ...J],
      ['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '101', '--name', 'monitoring-node-01', '--full', '1', '--storage', 'ceph-rbd', '--description', MARKER, ...J],
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
    const fake = new PveFake()
      .on(RES_VM, json([TEMPLATE, vmRes(120, 'monitoring-node-01', 'pve-01', { tags: 'manual' })]))
      .get('/nodes/pve-01/qemu/120/config', { name: 'monitoring-node-01', tags: 'manual' });
    const r = await runAction('provision_vm', PARAMS, fake);
    expect(r.error).toMatchObject({ errorCode: 'vm_name_conflict', retryable: false });
    // its config is read (is it this action's half-made clone?), nothing is written
    expect(r.calls).toEqual([RES_VM, ['get', '/nodes/pve-01/qemu/120/config', ...J]]);
  });

  it('refuses a same-name VM without the cortex tag whose description is another action\'s marker', async () => {
    const fake = new PveFake()
      .on(RES_VM, json([TEMPLATE, vmRes(102, 'monitoring-node-01', 'pve-01', { status: 'stopped' })]))
      .get('/nodes/pve-01/qemu/102/config', { ...CLONED_CONFIG, description: 'cortex:test-exec-0002/test-action' });
    const r = await runAction('provision_vm', PARAMS, fake);
    expect(r.error).toMatchObject({ errorCode: 'vm_name_conflict', retryable: false });
    expect(r.error?.message).toContain('was not made by this action');
    expect(r.calls).toEqual([RES_VM, ['get', '/nodes/pve-01/qemu/102/config', ...J]]);
  });

  it('finishes its own half-made clone (no cortex tag yet, description = its marker) after a crash', async () => {
    const resize = upid('resize', 102, 'pve-01', 1);
    const start = upid('qmstart', 102, 'pve-01', 2);
    const half = { ...CLONED_CONFIG, description: MARKER };
    const fake = happy()
      .on(RES_VM, json([TEMPLATE, vmRes(101, 'k8s-cp-01', 'pve-01'), vmRes(102, 'monitoring-node-01', 'pve-01', { status: 'stopped' })]))
      .on(['get', '/nodes/pve-01/qemu/102/config', ...J], json(half), json(half), json(FINAL_CONFIG));
    const r = await runAction('provision_vm', PARAMS, fake);
    expect(r.error).toBeUndefined();
    expect(r.outputs).toEqual({ vmid: 102, node: 'pve-01', name: 'monitoring-node-01', ip: '10.10.20.11', mac: 'BC:24:11:00:00:66' });
    // no nextid, no second clone: config read (marker), then the rest of a fresh provision
    expect(r.calls).toEqual([
      RES_VM,
      ['get', '/nodes/pve-01/qemu/102/config', ...J],
      ['get', '/nodes/pve-01/qemu/102/config', ...J],
      [...CONFIG_SET, ...J],
      ['set', '/nodes/pve-01/qemu/102/resize', '--disk', 'scsi0', '--size', '100G', ...J],
      ['get', `/nodes/pve-01/tasks/${resize}/status`, ...J],
      ['create', '/nodes/pve-01/qemu/102/status/start', ...J],
      ['get', `/nodes/pve-01/tasks/${start}/status`, ...J],
      ['get', '/nodes/pve-01/qemu/102/status/current', ...J],
      ['get', '/nodes/pve-01/qemu/102/config', ...J],
    ]);
  });

  it('reports the finished half-made clone as not reused (it is this action\'s own fresh VM)', async () => {
    const half = { ...CLONED_CONFIG, description: MARKER };
    const fake = happy()
      .on(RES_VM, json([TEMPLATE, vmRes(102, 'monitoring-node-01', 'pve-01', { status: 'stopped' })]))
      .on(['get', '/nodes/pve-01/qemu/102/config', ...J], json(half), json(half), json(FINAL_CONFIG));
    const { rt, dispose } = makeRuntime(PARAMS, { spec: spec('provision_vm'), deps: depsWith(fake), config: { proxmox: { task_poll_seconds: 1 } } });
    try {
      const r = await provision(rt, new Pvesh(rt), rt.params as unknown as VmSpec);
      expect(r).toEqual({ vmid: 102, node: 'pve-01', name: 'monitoring-node-01', ip: '10.10.20.11', mac: 'BC:24:11:00:00:66', reused: false });
    } finally {
      dispose();
    }
  });

  it('does not touch its own half-made clone while it is still locked (vm_locked, retryable)', async () => {
    const fake = new PveFake()
      .on(RES_VM, json([TEMPLATE, vmRes(102, 'monitoring-node-01', 'pve-01', { status: 'stopped', lock: 'clone' })]))
      .get('/nodes/pve-01/qemu/102/config', { ...CLONED_CONFIG, description: MARKER, lock: 'clone' });
    const r = await runAction('provision_vm', PARAMS, fake);
    expect(r.error).toMatchObject({ errorCode: 'vm_locked', retryable: true });
    expect(r.calls).toEqual([RES_VM, ['get', '/nodes/pve-01/qemu/102/config', ...J]]);
  });

  it('uses the execution and action ids of the runtime in the marker', async () => {
    const fake = new PveFake()
      .on(RES_VM, json([TEMPLATE]))
      .get('/cluster/nextid', 102)
      .on(['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '102', '--name', 'monitoring-node-01', '--full', '1', '--storage', 'ceph-rbd', '--description', 'cortex:exec-42/provision-monitoring-01', ...J], { exitCode: 255, stderr: 'stop here\n' });
    const { rt, dispose } = makeRuntime(PARAMS, { spec: spec('provision_vm'), deps: depsWith(fake), executionId: 'exec-42', actionId: 'provision-monitoring-01', config: { proxmox: { task_poll_seconds: 1 } } });
    try {
      await expect(provision(rt, new Pvesh(rt), rt.params as unknown as VmSpec)).rejects.toThrow('stop here');
    } finally {
      dispose();
    }
    expect(fake.calls.at(-1)).toEqual(['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '102', '--name', 'monitoring-node-01', '--full', '1', '--storage', 'ceph-rbd', '--description', 'cortex:exec-42/provision-monitoring-01', ...J]);
    expect(cloneMarker('exec-42', 'provision-monitoring-01')).toBe('cortex:exec-42/provision-monitoring-01');
  });

  it('clones onto another node with --target (fallback node and storage)', async () => {
    const clone = upid('qmclone', 9000);
    const fake = new PveFake()
      .on(RES_VM, json([TEMPLATE]))
      .get('/cluster/nextid', 102)
      .task(['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '102', '--name', 'monitoring-node-01', '--full', '1', '--storage', 'local-lvm', '--target', 'pve-02', '--description', MARKER], clone)
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
    const clone = plan.find((s) => s.kind === 'command' && s.args[1] === '/nodes/pve-01/qemu/9000/clone');
    expect(clone?.kind === 'command' ? clone.args : undefined).toEqual(['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '<nextid>', '--name', 'monitoring-node-01', '--full', '1', '--storage', 'ceph-rbd', '--description', 'cortex:e/a', ...J]);
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
