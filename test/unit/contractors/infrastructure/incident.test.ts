import { describe, expect, it } from 'vitest';
import type { HttpRequest } from '../../../../src/ports/http-client.js';
import { fakeDeps, FakeHttpClient, MapSecretSource } from '../../../fakes/fakes.js';
import { makeRuntime } from '../runtime-helper.js';
import { compensationOf, impl, runAction, spec } from './helpers.js';
import { FIXTURES, J, json, PveFake, RES_VM, upid, vmRes } from './pve-fake.js';

describe('packet-capture', () => {
  const URL = 'https://forensics.cortex.local/api';
  const CONFIG = { proxmox: { task_poll_seconds: 1 }, endpoints: { forensics: { url: URL, secret: 'FORENSICS_TOKEN' } } };

  async function run(name: string, params: Record<string, unknown>, fake: PveFake, handler: (req: HttpRequest) => { status: number; body?: string }) {
    const deps = fakeDeps({ http: new FakeHttpClient(handler), secrets: new MapSecretSource({ FORENSICS_TOKEN: 'tok-123' }) });
    deps.runner.on('pvesh', [], (args) => fake.reply(args));
    const { rt, dispose } = makeRuntime(params, { spec: spec(name), deps, config: CONFIG });
    try {
      return { outputs: await (await impl(name)).run(rt), deps };
    } catch (error) {
      return { error: error as Error & { errorCode?: string }, deps };
    } finally {
      dispose();
    }
  }

  const capture = { id: 'cap-7', status: 'running', vmid: 112, node: 'pve-02', interface: 'tap112i0', output: 's3://cortex-forensics/incidents/SEC-1/pcap/', location: 's3://cortex-forensics/incidents/SEC-1/pcap/tap112i0-20261125T120000Z.pcap', ends_at: '2026-11-25T13:00:00Z' };

  describe('start_packet_capture / stop_packet_capture', () => {
    it('finds the VM node and asks the forensics service to capture tap<vmid>i0', async () => {
      const fake = new PveFake().on(RES_VM, json([vmRes(112, 'k8s-worker-02', 'pve-02')]));
      const r = await run('start_packet_capture', { target: 'k8s-worker-02', duration: 3600, output: capture.output }, fake, (req) =>
        req.method === 'GET' ? { status: 200, body: JSON.stringify({ captures: [] }) } : { status: 201, body: JSON.stringify(capture) },
      );
      expect(r.outputs).toEqual({ active: true, location: capture.location, capture_id: 'cap-7', vmid: 112, node: 'pve-02', interface: 'tap112i0', ends_at: '2026-11-25T13:00:00Z' });
      const reqs = r.deps.http.requests;
      expect(reqs.map((q) => `${q.method} ${q.url}`)).toEqual([`GET ${URL}/api/v1/captures?status=running&vmid=112`, `POST ${URL}/api/v1/captures`]);
      expect(JSON.parse(reqs[1]?.body ?? '')).toEqual({ node: 'pve-02', interface: 'tap112i0', output: capture.output, duration: 3600, vmid: 112, target: 'k8s-worker-02' });
      expect(reqs[1]?.headers?.authorization).toBe('Bearer tok-123');
      expect(fake.calls).toEqual([RES_VM]);
      expect(compensationOf('start_packet_capture', {}, r.outputs as Record<string, unknown>)).toEqual({ action: 'stop_packet_capture', params: { capture_id: 'cap-7' } });
    });

    it('reuses a capture already running to the same output', async () => {
      const fake = new PveFake().on(RES_VM, json([vmRes(112, 'k8s-worker-02', 'pve-02')]));
      const r = await run('start_packet_capture', { vmid: 112, output: capture.output }, fake, () => ({ status: 200, body: JSON.stringify({ captures: [capture] }) }));
      expect(r.outputs?.capture_id).toBe('cap-7');
      expect(r.deps.http.requests).toHaveLength(1);
    });

    it('a 4xx is not retryable, a 5xx is', async () => {
      const fake = new PveFake().on(RES_VM, json([vmRes(112, 'k8s-worker-02', 'pve-02')]));
      const r = await run('start_packet_capture', { vmid: 112, output: 'x' }, fake, (req) => (req.method === 'GET' ? { status: 200, body: '{"captures":[]}' } : { status: 400, body: '{"error":"tcpdump: tap112i0: No such device exists"}' }));
      expect(r.error).toMatchObject({ errorCode: 'packet_capture_failed', retryable: false });
      expect(r.error?.message).toContain('tcpdump: tap112i0: No such device exists');
    });

    it('stops a running capture; a finished or unknown one counts as stopped', async () => {
      const r = await run('stop_packet_capture', { capture_id: 'cap-7' }, new PveFake(), (req) =>
        req.method === 'GET' ? { status: 200, body: JSON.stringify(capture) } : { status: 200, body: JSON.stringify({ ...capture, status: 'stopped', bytes: 1048576 }) },
      );
      expect(r.outputs).toEqual({ capture_id: 'cap-7', location: capture.location, stopped: true, bytes: 1048576 });
      expect(r.deps.http.requests.map((q) => `${q.method} ${q.url}`)).toEqual([`GET ${URL}/api/v1/captures/cap-7`, `POST ${URL}/api/v1/captures/cap-7/stop`]);
      const done = await run('stop_packet_capture', { capture_id: 'cap-7' }, new PveFake(), () => ({ status: 200, body: JSON.stringify({ ...capture, status: 'finished', bytes: 5 }) }));
      expect(done.outputs).toEqual({ capture_id: 'cap-7', location: capture.location, stopped: false, bytes: 5 });
      const unknown = await run('stop_packet_capture', { capture_id: 'cap-9' }, new PveFake(), () => ({ status: 404, body: '{"error":"capture cap-9 not found"}' }));
      expect(unknown.outputs).toEqual({ capture_id: 'cap-9', location: null, stopped: false, bytes: null });
    });
  });
});

describe('incident-remediation', () => {
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
        .get('/nodes/pve-02/qemu/112/snapshot', [{ name: 'current', description: 'You are here!' }])
        .get('/cluster/nextid', 120)
        .task(CLONE, clone, { log: FIXTURES.clone_log as string[] })
        .on(['set', '/nodes/pve-02/qemu/120/config', '--tags', 'cortex;forensic', '--onboot', '0', ...J], json(null))
        .task(['create', '/nodes/pve-02/qemu/112/status/stop'], stop)
        .task(['delete', '/nodes/pve-02/qemu/112', '--purge', '1', '--destroy-unreferenced-disks', '1'], del);
      const r = await runAction('destroy_compromised_resource', { resource: 'k8s-worker-02', forensic_storage: 'forensics' }, fake);
      expect(r.error).toBeUndefined();
      expect(r.outputs).toEqual({ vmid: 112, node: 'pve-02', name: 'k8s-worker-02', destroyed: true, kept_for_evidence: false, evidence_snapshots: [], forensic_copy_vmid: 120, forensic_copy_name: 'k8s-worker-02-forensic-20261125' });
      expect(r.calls.map((c) => c.slice(0, 2).join(' '))).toEqual([
        'get /cluster/resources',
        'get /nodes/pve-02/qemu/112/snapshot',
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
      expect(r.calls[3]).toEqual([...CLONE, ...J]);
    });

    it('keeps the VM itself when it has snapshots (a clone copies none, a destroy frees them): stopped, unplugged, renamed', async () => {
      const stop = upid('qmstop', 112, 'pve-02', 1);
      const KEEP = ['set', '/nodes/pve-02/qemu/112/config', '--name', 'k8s-worker-02-forensic-20261125', '--tags', 'cortex;forensic', '--onboot', '0', '--net0', 'virtio=BC:24:11:00:00:70,bridge=vmbr0,firewall=1,link_down=1', '--net1', 'virtio=BC:24:11:00:00:71,bridge=vmbr1,link_down=1'];
      const fake = new PveFake()
        .on(RES_VM, json([W2]))
        .get('/nodes/pve-02/qemu/112/snapshot', [{ name: 'SEC-1-forensic', vmstate: 1, snaptime: 1 }, { name: 'current', parent: 'SEC-1-forensic' }])
        .task(['create', '/nodes/pve-02/qemu/112/status/stop'], stop)
        .get('/nodes/pve-02/qemu/112/config', { name: 'k8s-worker-02', net0: 'virtio=BC:24:11:00:00:70,bridge=vmbr0,firewall=1', net1: 'virtio=BC:24:11:00:00:71,bridge=vmbr1,link_down=0' })
        .on([...KEEP, ...J], json(null));
      const r = await runAction('destroy_compromised_resource', { resource: 'k8s-worker-02' }, fake);
      expect(r.error).toBeUndefined();
      expect(r.outputs).toEqual({ vmid: 112, node: 'pve-02', name: 'k8s-worker-02', destroyed: false, kept_for_evidence: true, evidence_snapshots: ['SEC-1-forensic'], forensic_copy_vmid: 112, forensic_copy_name: 'k8s-worker-02-forensic-20261125' });
      expect(r.calls.some((c) => c[0] === 'delete' || c[1]?.endsWith('/clone'))).toBe(false);
      // once the evidence is exported, evidence_copied lets it go (clone, then destroy)
      const later = await runAction('destroy_compromised_resource', { resource: 'k8s-worker-02', evidence_copied: true, preserve_forensic_copy: false }, new PveFake().on(RES_VM, json([W2]), json([])).task(['create', '/nodes/pve-02/qemu/112/status/stop'], stop).task(['delete', '/nodes/pve-02/qemu/112', '--purge', '1', '--destroy-unreferenced-disks', '1'], upid('qmdestroy', 112, 'pve-02', 2)));
      expect(later.outputs).toMatchObject({ destroyed: true });
    });

    it('a re-run finds the VM gone and reports the forensic copy made before', async () => {
      const copy = vmRes(120, 'k8s-worker-02-forensic-20261125', 'pve-02', { status: 'stopped', tags: 'cortex;forensic' });
      const r = await runAction('destroy_compromised_resource', { resource: 'k8s-worker-02' }, new PveFake().on(RES_VM, json([copy])).get('/nodes/pve-02/qemu/120/snapshot', [{ name: 'current' }]));
      expect(r.outputs).toEqual({ vmid: null, node: null, name: 'k8s-worker-02', destroyed: false, kept_for_evidence: false, evidence_snapshots: [], forensic_copy_vmid: 120, forensic_copy_name: 'k8s-worker-02-forensic-20261125' });
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
        .task(['create', '/nodes/pve-01/qemu/9001/clone', '--newid', '100', '--name', 'k8s-worker-02', '--full', '1', '--storage', 'ceph-rbd', '--target', 'pve-02', '--description', 'cortex:test-exec-0001/test-action'], clone)
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
      const fake = new PveFake().on(RES_VM, json([W2])).get('/nodes/pve-02/qemu/112/config', { name: 'k8s-worker-02', tags: 'cortex;k8s;worker' });
      const r = await runAction('provision_replacement_resource', { specs: { name: 'k8s-worker-02' }, hardened_template_vmid: 9001 }, fake);
      expect(r.error).toMatchObject({ errorCode: 'vm_name_conflict', retryable: false });
      // its description is not this action's clone marker: only read, never changed
      expect(r.calls).toEqual([RES_VM, ['get', '/nodes/pve-02/qemu/112/config', ...J]]);
    });
  });

  describe('provision_replacement_resource without a template id', () => {
    it('uses the template tagged hardened', async () => {
      const fake = new PveFake()
        .on(RES_VM, json([vmRes(9000, 'talos-tmpl', 'pve-01', { template: 1, status: 'stopped', tags: 'talos' }), vmRes(9001, 'talos-tmpl-hardened', 'pve-01', { template: 1, status: 'stopped', tags: 'hardened;talos' })]))
        .get('/cluster/nextid', 100)
        .on(['create', '/nodes/pve-01/qemu/9001/clone', '--newid', '100', '--name', 'k8s-worker-02', '--full', '1', '--description', 'cortex:test-exec-0001/test-action', ...J], { exitCode: 255, stderr: 'stop here\n' });
      const r = await runAction('provision_replacement_resource', { specs: { name: 'k8s-worker-02' } }, fake);
      expect(r.error?.message).toContain('stop here');
      expect(r.calls.at(-1)?.slice(0, 2)).toEqual(['create', '/nodes/pve-01/qemu/9001/clone']);
      const none = await runAction('provision_replacement_resource', { specs: { name: 'x' } }, new PveFake().on(RES_VM, json([])));
      expect(none.error?.message).toBe('no template to clone: give template_vmid, tag a template "hardened" or set proxmox.template_vmid in config.yaml');
    });
  });
});
