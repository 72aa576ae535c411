import { describe, expect, it } from 'vitest';
import { compensationOf, runAction } from './helpers.js';
import { FIXTURES, J, json, PveFake, RES_VM, upid, vmRes } from './pve-fake.js';

const W2 = vmRes(112, 'k8s-worker-02', 'pve-02', { tags: 'cortex;k8s;worker' });

describe('destroy_compromised_resource', () => {
  it('keeps a stopped full clone tagged forensic, then hard-stops and destroys the VM', async () => {
    const clone = upid('qmclone', 112, 'pve-02');
    const stop = upid('qmstop', 112, 'pve-02', 1);
    const del = upid('qmdestroy', 112, 'pve-02', 2);
    const copy = vmRes(120, 'k8s-worker-02-forensic-20261125', 'pve-02', { status: 'stopped', tags: 'cortex;forensic' });
    const CLONE = ['create', '/nodes/pve-02/qemu/112/clone', '--newid', '120', '--name', 'k8s-worker-02-forensic-20261125', '--full', '1', '--storage', 'forensics', '--description', 'Forensic copy of VM 112 (k8s-worker-02) taken by cortex execution test-exec-0001. Never start it on a production network.'];
    const fake = new PveFake()
      .on(RES_VM, json([W2]), json([copy]))
      .get('/cluster/nextid', 120)
      .task(CLONE, clone, { log: FIXTURES.clone_log as string[] })
      .on(['set', '/nodes/pve-02/qemu/120/config', '--tags', 'cortex;forensic', '--onboot', '0', ...J], json(null))
      .task(['create', '/nodes/pve-02/qemu/112/status/stop'], stop)
      .task(['delete', '/nodes/pve-02/qemu/112', '--purge', '1', '--destroy-unreferenced-disks', '1'], del);
    const r = await runAction('destroy_compromised_resource', { resource: 'k8s-worker-02', forensic_storage: 'forensics' }, fake);
    expect(r.error).toBeUndefined();
    expect(r.outputs).toEqual({ vmid: 112, node: 'pve-02', name: 'k8s-worker-02', destroyed: true, forensic_copy_vmid: 120, forensic_copy_name: 'k8s-worker-02-forensic-20261125' });
    expect(r.calls.map((c) => c.slice(0, 2).join(' '))).toEqual([
      'get /cluster/resources',
      'get /cluster/nextid',
      'create /nodes/pve-02/qemu/112/clone',
      `get /nodes/pve-02/tasks/${clone}/status`,
      'set /nodes/pve-02/qemu/120/config',
      'create /nodes/pve-02/qemu/112/status/stop',
      `get /nodes/pve-02/tasks/${stop}/status`,
      'delete /nodes/pve-02/qemu/112',
      `get /nodes/pve-02/tasks/${del}/status`,
      'get /cluster/resources',
    ]);
    expect(r.calls[2]).toEqual([...CLONE, ...J]);
  });

  it('a re-run finds the VM gone and reports the forensic copy made before', async () => {
    const copy = vmRes(120, 'k8s-worker-02-forensic-20261125', 'pve-02', { status: 'stopped', tags: 'cortex;forensic' });
    const r = await runAction('destroy_compromised_resource', { resource: 'k8s-worker-02' }, new PveFake().on(RES_VM, json([copy])));
    expect(r.outputs).toEqual({ vmid: null, node: null, name: 'k8s-worker-02', destroyed: false, forensic_copy_vmid: 120, forensic_copy_name: 'k8s-worker-02-forensic-20261125' });
  });
});

describe('provision_replacement_resource', () => {
  it('clones the hardened template, tags it hardened, sets policy_in DROP before the first start', async () => {
    const clone = upid('qmclone', 9001);
    const start = upid('qmstart', 100, 'pve-02', 1);
    const cfg = { net0: 'virtio=BC:24:11:00:00:99,bridge=vmbr0', scsi0: 'ceph-rbd:vm-100-disk-0,size=32G', boot: 'order=scsi0' };
    const final = { ...cfg, net0: 'virtio=BC:24:11:00:00:99,bridge=vmbr0,firewall=1', ipconfig0: 'ip=10.10.1.21/24,gw=10.10.1.1' };
    const SET = ['set', '/nodes/pve-02/qemu/100/config', '--cores', '8', '--memory', '16384', '--net0', 'virtio=BC:24:11:00:00:99,bridge=vmbr0,firewall=1', '--ipconfig0', 'ip=10.10.1.21/24,gw=10.10.1.1', '--tags', 'cortex;hardened;k8s;worker', '--onboot', '1'];
    const fake = new PveFake()
      .on(RES_VM, json([vmRes(9001, 'talos-tmpl-hardened', 'pve-01', { template: 1, status: 'stopped' })]))
      .get('/cluster/nextid', 100)
      .task(['create', '/nodes/pve-01/qemu/9001/clone', '--newid', '100', '--name', 'k8s-worker-02', '--full', '1', '--storage', 'ceph-rbd', '--target', 'pve-02'], clone)
      .on(['get', '/nodes/pve-02/qemu/100/config', ...J], json(cfg), json(final))
      .on([...SET, ...J], json(null))
      .on(['set', '/nodes/pve-02/qemu/100/firewall/options', '--enable', '1', '--policy_in', 'DROP', ...J], json(null))
      .task(['create', '/nodes/pve-02/qemu/100/status/start'], start)
      .get('/nodes/pve-02/qemu/100/status/current', { status: 'running' });
    const params = { specs: { name: 'k8s-worker-02', node: 'pve-02', storage: 'ceph-rbd', cores: 8, memory_mb: 16384, ip: '10.10.1.21/24', gateway: '10.10.1.1', tags: ['k8s', 'worker'] }, hardened: true, hardened_template_vmid: 9001 };
    const r = await runAction('provision_replacement_resource', params, fake);
    expect(r.error).toBeUndefined();
    expect(r.outputs).toEqual({ vmid: 100, node: 'pve-02', name: 'k8s-worker-02', ip: '10.10.1.21', mac: 'BC:24:11:00:00:99', hardened: true });
    const order = r.calls.map((c) => `${c[0]} ${c[1]}`);
    expect(order.indexOf('set /nodes/pve-02/qemu/100/firewall/options')).toBeLessThan(order.indexOf('create /nodes/pve-02/qemu/100/status/start'));
    expect(compensationOf('provision_replacement_resource', params, r.outputs as Record<string, unknown>).action).toBe('destroy_vm');
  });

  it('does not reuse the compromised VM of the same name (it lacks the hardened tag)', async () => {
    const r = await runAction('provision_replacement_resource', { specs: { name: 'k8s-worker-02' }, hardened_template_vmid: 9001 }, new PveFake().on(RES_VM, json([W2])));
    expect(r.error).toMatchObject({ errorCode: 'vm_name_conflict', retryable: false });
  });
});

describe('provision_replacement_resource without a template id', () => {
  it('uses the template tagged hardened', async () => {
    const fake = new PveFake()
      .on(RES_VM, json([vmRes(9000, 'talos-tmpl', 'pve-01', { template: 1, status: 'stopped', tags: 'talos' }), vmRes(9001, 'talos-tmpl-hardened', 'pve-01', { template: 1, status: 'stopped', tags: 'hardened;talos' })]))
      .get('/cluster/nextid', 100)
      .on(['create', '/nodes/pve-01/qemu/9001/clone', '--newid', '100', '--name', 'k8s-worker-02', '--full', '1', ...J], { exitCode: 255, stderr: 'stop here\n' });
    const r = await runAction('provision_replacement_resource', { specs: { name: 'k8s-worker-02' } }, fake);
    expect(r.calls.at(-1)?.slice(0, 2)).toEqual(['create', '/nodes/pve-01/qemu/9001/clone']);
    const none = await runAction('provision_replacement_resource', { specs: { name: 'x' } }, new PveFake().on(RES_VM, json([])));
    expect(none.error?.message).toBe('no template to clone: give template_vmid, tag a template "hardened" or set proxmox.template_vmid in config.yaml');
  });
});
