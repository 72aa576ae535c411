/**
 * The infrastructure adapters driven against the lab pvesh, in-process (a FakeProcessRunner that
 * dispatches to the stand-in's runPvesh): the calls the built-in workflows make, with their
 * default parameters, and a provision → snapshot → rollback → destroy cycle.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../../../src/config/config.js';
import { readState, writeLabConfig, writeState } from '../../../../src/lab/lab-dir.js';
import { pveModule } from '../../../../src/lab/pve/module.js';
import { runPvesh } from '../../../../src/lab/pve/pvesh.js';
import type { PveState } from '../../../../src/lab/pve/state.js';
import type { HttpRequest, HttpResponse } from '../../../../src/ports/http-client.js';
import { fakeDeps, FakeHttpClient, ManualClock, MapSecretSource } from '../../../fakes/fakes.js';
import { compensationOf, impl, spec } from '../../contractors/infrastructure/helpers.js';
import { makeRuntime } from '../../contractors/runtime-helper.js';

let lab: string;
let executions = 0;

beforeEach(() => {
  lab = mkdtempSync(join(tmpdir(), 'cortex-pve-adapters-'));
  pveModule.seed(lab);
  writeLabConfig(lab, { latency: 0.1, faults: [] });
});
afterEach(() => rmSync(lab, { recursive: true, force: true }));

const CONFIG: ConfigFile = { proxmox: { task_poll_seconds: 0.05 }, endpoints: { forensics: { url: 'http://forensics.lab', secret: 'FORENSICS_TOKEN' } } };

async function act(name: string, params: Record<string, unknown>, options: { executionId?: string; actionId?: string; attempt?: number; http?: (req: HttpRequest) => Partial<HttpResponse> } = {}) {
  const deps = fakeDeps({
    clock: new ManualClock(Date.now()),
    http: new FakeHttpClient(options.http ?? (() => ({ status: 404, body: '{}' }))),
    secrets: new MapSecretSource({ FORENSICS_TOKEN: 'lab-secret-forensics_token-0123456789' }),
  });
  deps.runner.on('pvesh', [], (args, opts) => runPvesh(args, { CORTEX_LAB_DIR: lab, ...(opts?.env ?? {}) }));
  const { rt, dispose } = makeRuntime(params, {
    spec: spec(name),
    deps,
    config: CONFIG,
    executionId: options.executionId ?? `exec-${++executions}`,
    actionId: options.actionId ?? name.replace(/_/g, '-'),
    attempt: options.attempt ?? 1,
    simulate: true,
  });
  try {
    return { outputs: await (await impl(name)).run(rt), error: undefined, deps };
  } catch (error) {
    return { outputs: undefined, error: error as Error & { errorCode?: string; retryable?: boolean }, deps };
  } finally {
    dispose();
  }
}

async function ok(name: string, params: Record<string, unknown>, options: Parameters<typeof act>[2] = {}) {
  const r = await act(name, params, options);
  if (r.error) throw r.error;
  return r.outputs as Record<string, unknown>;
}

const pve = () => readState<PveState>(lab, 'pve', () => ({}) as PveState);
const vm = (name: string) => pve().vms.find((v) => v.name === name);

describe('infrastructure adapters against the lab pvesh', () => {
  it('provision → snapshot → rollback → destroy', async () => {
    const params = {
      name: 'monitoring-node-01', node: 'pve-01', template_vmid: 9000, cores: 4, memory_mb: 8192, disk_gb: 100, storage: 'ceph-rbd',
      bridge: 'vmbr0', vlan: 20, ip: '10.10.20.11/24', gateway: '10.10.20.1', tags: ['monitoring', 'production'],
    };
    const out = await ok('provision_vm', params);
    expect(out).toMatchObject({ vmid: 100, node: 'pve-01', name: 'monitoring-node-01', ip: '10.10.20.11' });
    expect(out.mac).toMatch(/^BC:24:11:/);
    expect(vm('monitoring-node-01')).toMatchObject({ status: 'running', config: { cores: 4, memory: 8192, tags: 'cortex;monitoring;production', ipconfig0: 'ip=10.10.20.11/24,gw=10.10.20.1', net0: `virtio=${String(out.mac)},bridge=vmbr0,tag=20,firewall=1` } });
    expect(vm('monitoring-node-01')?.config.scsi0).toBe('ceph-rbd:vm-100-disk-0,size=100G');
    expect(vm('monitoring-node-01')?.config.description).toMatch(/^cortex:exec-\d+\/provision-vm$/); // the clone marker (no description given)
    // idempotent: a second run reuses it
    expect(await ok('provision_vm', params)).toEqual(out);
    expect(pve().vms.filter((v) => v.name === 'monitoring-node-01')).toHaveLength(1);

    const snap = await ok('create_vm_snapshot', { vmid: 100, snapshot_name: 'before-change', description: 'test' });
    expect(snap).toEqual({ snapshot_id: 'pve-01/100@before-change', snapname: 'before-change', vmid: 100, node: 'pve-01' });
    await ok('stop_vm', { vm: 'monitoring-node-01', graceful: false });
    await ok('start_vm', { vm: 100 });
    expect(await ok('rollback_vm_snapshot', { name: 'monitoring-node-01', snapshot_name: 'before-change' })).toEqual({ vmid: 100, node: 'pve-01', snapname: 'before-change', status: 'running' });
    const del = compensationOf('create_vm_snapshot', {}, snap);
    expect(await ok(del.action, del.params)).toMatchObject({ deleted: true });

    const destroy = compensationOf('provision_vm', params, out);
    expect(await ok(destroy.action, destroy.params)).toEqual({ vmid: 100, node: 'pve-01', destroyed: true });
    expect(vm('monitoring-node-01')).toBeUndefined();
    expect(await ok(destroy.action, destroy.params)).toEqual({ vmid: 100, node: 'pve-01', destroyed: false });
  });

  it('provision after a kill -9 between the clone and its configuration: only the same execution/action finishes the clone', async () => {
    const params = { name: 'monitoring-node-01', node: 'pve-01', template_vmid: 9000, cores: 4, memory_mb: 8192, storage: 'ceph-rbd', ip: '10.10.20.11/24', gateway: '10.10.20.1', tags: ['monitoring'] };
    const marker = 'cortex:exec-killed/provision-monitoring-01';
    // what the killed attempt left: the clone done, not configured, not tagged cortex
    const clone = await runPvesh(['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '100', '--name', 'monitoring-node-01', '--full', '1', '--storage', 'ceph-rbd', '--description', marker, '--output-format', 'json'], { CORTEX_LAB_DIR: lab });
    expect(clone.exitCode).toBe(0);
    expect(vm('monitoring-node-01')).toMatchObject({ vmid: 100, status: 'stopped', config: { description: marker } });
    expect(String(vm('monitoring-node-01')?.config.tags)).not.toMatch(/(^|;)cortex(;|$)/); // the template's tags only

    // another execution's action of the same id does not take it
    expect((await act('provision_vm', params, { actionId: 'provision-monitoring-01' })).error).toMatchObject({ errorCode: 'vm_name_conflict', retryable: false });
    // the resumed execution finishes it instead of cloning again
    const out = await ok('provision_vm', params, { executionId: 'exec-killed', actionId: 'provision-monitoring-01', attempt: 2 });
    expect(out).toMatchObject({ vmid: 100, node: 'pve-01', name: 'monitoring-node-01', ip: '10.10.20.11' });
    expect(pve().vms.filter((v) => v.name === 'monitoring-node-01')).toHaveLength(1);
    expect(vm('monitoring-node-01')).toMatchObject({ status: 'running', config: { cores: 4, memory: 8192, tags: 'cortex;monitoring', description: marker } });
  });

  it('--simulate-fail on provision: attempt 1 fails like Proxmox, the fallback attempt lands on pve-02', async () => {
    writeLabConfig(lab, { latency: 0.1, faults: [{ action_id: 'provision-monitoring-01', attempts: 1 }] });
    const base = { name: 'monitoring-node-01', node: 'pve-01', template_vmid: 9000, storage: 'ceph-rbd', ip: '10.10.20.11/24', gateway: '10.10.20.1' };
    const first = await act('provision_vm', base, { actionId: 'provision-monitoring-01', attempt: 1 });
    expect(first.error).toMatchObject({ errorCode: 'vm_creation_failed', retryable: false });
    expect(first.error?.message).toContain("task qmclone failed: clone failed: storage 'ceph-rbd' is not available on node 'pve-01'");
    expect(vm('monitoring-node-01')).toBeUndefined();
    const second = await ok('provision_vm', { ...base, node: 'pve-02', storage: 'local-lvm' }, { actionId: 'provision-monitoring-01', attempt: 2 });
    expect(second).toMatchObject({ node: 'pve-02', name: 'monitoring-node-01' });
    expect(vm('monitoring-node-01')?.config.scsi0).toMatch(/^local-lvm:vm-100-disk-0/);
  });

  it('deploy-monitoring-stack and build-k8s-cluster: capacity, VNet, VMs on the VNet, LB pools; rollback', async () => {
    expect(await ok('check_node_capacity', { node: 'pve-01', fallback_nodes: ['pve-02'], storage: 'ceph-rbd', cores: 4, memory_mb: 8192, disk_gb: 100, count: 2 })).toMatchObject({ node: 'pve-01', sufficient: true });
    expect(await ok('check_node_capacity', { node: 'pve-01', fallback_nodes: ['pve-02'], storage: 'ceph-rbd', cores: 36, memory_mb: 73728, disk_gb: 900 })).toMatchObject({ node: 'pve-01', sufficient: true });
    const vnetParams = { zone: 'k8s', vnet: 'k8s10', tag: 10, zone_type: 'vlan', bridge: 'vmbr0', alias: 'prod-k8s-02 nodes', subnet: '10.10.1.0/24', gateway: '10.10.1.1' };
    const vnet = await ok('create_sdn_vnet', vnetParams);
    expect(vnet).toEqual({ vnet: 'k8s10', zone: 'k8s', tag: 10, zone_created: true, existed: false, nodes: ['dc2-pve-01', 'dc2-pve-02', 'pve-01', 'pve-02'] });
    expect(pve().sdn.running.vnets.k8s10).toEqual({ zone: 'k8s', tag: 10, alias: 'prod-k8s-02 nodes' });

    const cps = await Promise.all(
      [0, 1, 2].map((i) =>
        ok('provision_vm', { name: `prod-k8s-02-cp-0${i + 1}`, node: 'pve-01', template_vmid: 9000, cores: 4, memory_mb: 8192, disk_gb: 100, storage: 'ceph-rbd', bridge: 'k8s10', ip: `10.10.1.1${i}/24`, gateway: '10.10.1.1', nameservers: ['10.10.0.53', '10.10.0.54'], tags: ['k8s', 'controlplane', 'prod-k8s-02'] }, { actionId: `provision-cp-0${i + 1}` }),
      ),
    );
    expect(new Set(cps.map((c) => c.vmid)).size).toBe(3); // parallel clones got distinct VMIDs
    expect(vm('prod-k8s-02-cp-01')?.config.nameserver).toBe('10.10.0.53 10.10.0.54');

    const lb = await ok('update_load_balancer', { load_balancer: 'k8s-lb-01', backend_pool: 'prod-k8s-02-apiserver', action: 'replace_backends', backend_config: { version: 'v1.29.1', servers: cps.map((c) => c.ip), port: 6443, health_check: { path: '/readyz', interval: 5, timeout: 3, rise: 2, fall: 3 } } });
    expect(lb).toMatchObject({ ipset: 'lb-k8s-lb-01-prod-k8s-02-apiserver', entries: 3, previous_entries: [] });
    expect(await ok('verify_load_balancer_health', { load_balancer: 'k8s-lb-01', backend_pool: 'prod-k8s-02-apiserver', expected_healthy_backends: 3 })).toMatchObject({ status: 'healthy', healthy_count: 3, endpoint: 'http://10.10.1.5:80' });

    // rollback in reverse: LB pool, VMs, VNet
    const lbComp = compensationOf('update_load_balancer', { load_balancer: 'k8s-lb-01', backend_pool: 'prod-k8s-02-apiserver' }, lb);
    expect(await ok(lbComp.action, lbComp.params)).toMatchObject({ entries: 0 });
    expect(pve().ipsets.some((s) => s.name === 'lb-k8s-lb-01-prod-k8s-02-apiserver')).toBe(false);
    const vnetComp = compensationOf('create_sdn_vnet', vnetParams, vnet);
    expect((await act(vnetComp.action, vnetComp.params)).error).toMatchObject({ errorCode: 'sdn_vnet_in_use' });
    for (const c of cps) {
      const d = compensationOf('provision_vm', {}, c);
      await ok(d.action, d.params);
    }
    expect(await ok(vnetComp.action, vnetComp.params)).toEqual({ vnet: 'k8s10', deleted: true, zone_deleted: true });
    expect(pve().sdn.running).toEqual({ zones: {}, vnets: {}, subnets: {} });
  });

  it('an SDN apply whose reload fails on one node: the task ends OK (as on Proxmox), the VNet check fails naming the node, a VM there cannot start on it', async () => {
    const s = pve();
    (s.nodes.find((n) => n.name === 'pve-02') as PveState['nodes'][number]).bridges = ['vmbr0'];
    writeState(lab, 'pve', s);
    const r = await act('create_sdn_vnet', { zone: 'edge', vnet: 'edge30', tag: 30, zone_type: 'vlan', bridge: 'vmbr1', verify_timeout: 10 });
    expect(r.error).toMatchObject({ errorCode: 'sdn_apply_incomplete', retryable: true });
    expect(r.error?.message).toMatch(/^the SDN apply ended OK, but VNet edge30 is not on pve-02 after 10s: that node's network reload failed or is still running$/);
    const apply = pve().tasks.filter((t) => t.type === 'reloadnetworkall').at(-1);
    expect(apply).toMatchObject({ status: 'stopped', exitstatus: 'OK' });
    const started = await act('provision_vm', { name: 'edge-01', node: 'pve-02', template_vmid: 9000, storage: 'ceph-rbd', bridge: 'edge30' });
    expect(started.error?.message).toMatch(/bridge 'edge30' does not exist/);
  });

  it('disaster-recovery-failover: the DR site checks pass with the workflow defaults', async () => {
    const nodes = ['dc2-pve-01', 'dc2-pve-02'];
    expect(await ok('check_cluster_status', { nodes, require_quorum: true })).toMatchObject({ cluster_name: 'cortex-pve', quorate: true, nodes_offline: [] });
    expect(await ok('check_node_capacity', { nodes, storage: 'ceph-dr', cores: 100, memory_mb: 204800, disk_gb: 5000 })).toMatchObject({ sufficient: true, checked: nodes });
    expect(await ok('check_storage', { node: 'dc2-pve-01', storage: 'ceph-dr', min_free_gb: 5000 })).toMatchObject({ storage: 'ceph-dr', active: true, shared: true });
    // The lab replicates on Proxmox's default schedule (*/15): minutes behind, on time.
    const repl = await ok('check_replication', { node: 'dc2-pve-01', max_lag_seconds: null });
    expect(repl).toMatchObject({ jobs: 3, failing: [], allowed_lag_by_job: { '101-0': 960, '102-0': 960, '103-0': 960 } });
    expect(repl.max_lag_seconds as number).toBeGreaterThan(60);
    expect((await act('check_replication', { node: 'dc2-pve-01', max_lag_seconds: 60 })).error).toMatchObject({ errorCode: 'replication_lag_exceeded' });
    expect(await ok('verify_load_balancer_health', { load_balancer: 'dr-lb-01', backend_pool: 'dr-k8s-01-ingress-https', expected_healthy_backends: 1, health_path: '/healthz', scheme: 'https' })).toMatchObject({
      status: 'healthy',
      healthy_count: 3,
      total_count: 3,
      endpoint: 'https://10.20.1.100:443',
    });

    // --simulate-fail on the checks: the data says no
    writeLabConfig(lab, { latency: 0.1, faults: ['check-dr-cluster', 'check-dr-capacity', 'check-dr-storage', 'check-replication', 'check-dr-lb'].map((action_id) => ({ action_id, attempts: 1 })) });
    expect((await act('check_cluster_status', { nodes }, { actionId: 'check-dr-cluster' })).error).toMatchObject({ errorCode: 'cluster_not_quorate' });
    expect((await act('check_node_capacity', { nodes, storage: 'ceph-dr', cores: 100, memory_mb: 204800, disk_gb: 5000 }, { actionId: 'check-dr-capacity' })).error).toMatchObject({ errorCode: 'insufficient_capacity' });
    expect((await act('check_storage', { node: 'dc2-pve-01', storage: 'ceph-dr', min_free_gb: 5000 }, { actionId: 'check-dr-storage' })).error).toMatchObject({ errorCode: 'storage_insufficient' });
    expect((await act('check_replication', { node: 'dc2-pve-01' }, { actionId: 'check-replication' })).error).toMatchObject({ errorCode: 'replication_lag_exceeded', retryable: true });
    expect((await act('check_replication', { node: 'dc2-pve-01' }, { actionId: 'check-replication', attempt: 2 })).error).toBeUndefined();
    expect((await act('verify_load_balancer_health', { load_balancer: 'dr-lb-01', backend_pool: 'dr-k8s-01-ingress-https' }, { actionId: 'check-dr-lb' })).error).toMatchObject({ errorCode: 'lb_backend_unhealthy' });
  });

  it('a pool whose IPSet name would pass 64 characters (Proxmox refuses it) gets a stable shortened name', async () => {
    const params = { load_balancer: 'prod-lb-01', backend_pool: 'payments-gateway-europe-west-production-ingress-https-canary', action: 'add_backend', backend_config: { version: 'v1', servers: ['10.10.1.40'], port: 443 } };
    const first = await ok('update_load_balancer', params);
    const name = pve().ipsets.map((x) => x.name).find((n) => n.startsWith('lb-prod-lb-01-payments')) as string;
    expect(name).toMatch(/^lb-prod-lb-01-payments-gateway-europe-west-production-i-[0-9a-f]{8}$/);
    expect(name).toHaveLength(64);
    expect(first).toMatchObject({ ipset: name, entries: 1 });
    await ok('update_load_balancer', params);
    expect(pve().ipsets.filter((x) => x.name.startsWith('lb-prod-lb-01-payments'))).toHaveLength(1);
    expect(await ok('verify_load_balancer_health', { load_balancer: 'prod-lb-01', backend_pool: params.backend_pool, expected_healthy_backends: 1 })).toMatchObject({ total_count: 1 });
  });

  it('app-deployment: add a version to the web-api pool, verify it, roll it back', async () => {
    const params = { load_balancer: 'prod-lb-01', backend_pool: 'web-api', action: 'add_backend', backend_config: { version: 'abc1234', servers: ['10.10.1.20', '10.10.1.21'], port: 30080, health_check: { path: '/health', interval: 5, timeout: 3, rise: 2, fall: 3 } } };
    const before = pve().ipsets.find((s) => s.name === 'lb-prod-lb-01-web-api')?.entries;
    const out = await ok('update_load_balancer', params);
    expect(out).toMatchObject({ entries: 3, version: 'abc1234' });
    expect(await ok('verify_load_balancer_health', { load_balancer: 'prod-lb-01', backend_pool: 'web-api', version: 'abc1234', expected_healthy_backends: 1, health_path: '/health' })).toMatchObject({ healthy_count: 2, total_count: 2, endpoint: 'http://10.10.0.100:80' });
    const comp = compensationOf('update_load_balancer', params, out);
    await ok(comp.action, comp.params);
    expect(pve().ipsets.find((s) => s.name === 'lb-prod-lb-01-web-api')?.entries).toEqual(before);
  });

  it('security-incident-response: isolate, capture, snapshot; remediate; lift the containment', async () => {
    const fw = await ok('apply_firewall_rules', {
      target: 'k8s-worker-02',
      policy: 'deny_all',
      exceptions: [
        { source: 'bastion_host', destination: 'k8s-worker-02', port: 22, protocol: 'tcp', purpose: 'forensics_access' },
        { source: 'monitoring_server', destination: 'k8s-worker-02', port: 9100, protocol: 'tcp', purpose: 'metrics_collection' },
      ],
    });
    expect(fw).toEqual({ vmid: 112, node: 'pve-02', rule_ids: ['forensics_access', 'metrics_collection'], rules_added: 2, previous_policy_in: null, previous_policy_out: null, previous_enable: true, datacenter_firewall_enabled: false, nic_firewall_enabled: [] });
    expect(vm('k8s-worker-02')?.firewall).toMatchObject({ options: { enable: 1, policy_in: 'DROP', policy_out: 'DROP' } });
    // the reference template names the VM by IP
    expect(await ok('apply_firewall_rules', { target: '10.10.1.21', policy: 'deny_all', exceptions: [{ source: '10.10.1.21', destination: 'monitoring_server', port: 9090, protocol: 'tcp', purpose: 'metrics_collection' }] })).toMatchObject({ vmid: 112, rules_added: 1 });

    const captures: unknown[] = [];
    const capture = await ok('start_packet_capture', { target: 'k8s-worker-02', duration: 3600, output: 's3://cortex-forensics/incidents/SEC-1/pcap/' }, {
      http: (req) => {
        if (req.method === 'GET') return { status: 200, body: JSON.stringify({ captures }) };
        captures.push(JSON.parse(req.body ?? '{}'));
        return { status: 201, body: JSON.stringify({ id: 'cap-1', status: 'running', location: 's3://cortex-forensics/incidents/SEC-1/pcap/tap112i0.pcap', interface: 'tap112i0', ends_at: '2026-01-01T01:00:00Z' }) };
      },
    });
    expect(capture).toMatchObject({ active: true, capture_id: 'cap-1', vmid: 112, node: 'pve-02', interface: 'tap112i0' });
    expect(captures).toEqual([{ node: 'pve-02', interface: 'tap112i0', output: 's3://cortex-forensics/incidents/SEC-1/pcap/', duration: 3600, vmid: 112, target: 'k8s-worker-02' }]);

    expect(await ok('create_vm_snapshot', { vm: 'k8s-worker-02', snapshot_name: 'SEC-20261125-0001-forensic', description: 'Forensic snapshot', preserve_memory: true })).toMatchObject({ snapname: 'SEC-20261125-0001-forensic' });
    expect(vm('k8s-worker-02')?.snapshots[0]).toMatchObject({ name: 'SEC-20261125-0001-forensic', vmstate: true });

    // rollback of the containment (false positive)
    const lift = compensationOf('apply_firewall_rules', {}, fw);
    expect(await ok(lift.action, lift.params)).toEqual({ vmid: 112, node: 'pve-02', removed: 2 });
    // the seeded VM had no policy_in/policy_out set: the undo removes them again instead of pinning defaults
    expect(vm('k8s-worker-02')?.firewall).toEqual({ options: { enable: 1 }, rules: [] });

    // remediation: the VM holds the forensic memory snapshot, so it is kept (stopped, unplugged,
    // renamed) rather than cloned and destroyed; then a hardened replacement of the same name
    const gone = await ok('destroy_compromised_resource', { resource: 'k8s-worker-02', preserve_forensic_copy: true });
    expect(gone).toMatchObject({ vmid: 112, node: 'pve-02', destroyed: false, kept_for_evidence: true, evidence_snapshots: ['SEC-20261125-0001-forensic'], forensic_copy_vmid: 112 });
    const kept = vm(String(gone.forensic_copy_name));
    expect(kept).toMatchObject({ vmid: 112, status: 'stopped', config: { tags: 'cortex;forensic', onboot: 0 } });
    expect(kept?.snapshots.map((x) => [x.name, x.vmstate])).toEqual([['SEC-20261125-0001-forensic', true]]);
    expect(String(kept?.config.net0)).toMatch(/,link_down=1$/);
    expect(await ok('destroy_compromised_resource', { resource: 'k8s-worker-02' })).toMatchObject({ destroyed: false, kept_for_evidence: true, forensic_copy_vmid: 112 });

    const repl = await ok('provision_replacement_resource', { specs: { name: 'k8s-worker-02', node: 'pve-02', cores: 8, memory_mb: 16384, ip: '10.10.1.21/24', gateway: '10.10.1.1', tags: ['k8s', 'worker'] }, hardened: true, hardened_template_vmid: 9001 });
    expect(repl).toMatchObject({ name: 'k8s-worker-02', node: 'pve-02', ip: '10.10.1.21', hardened: true });
    expect(vm('k8s-worker-02')).toMatchObject({ status: 'running', firewall: { options: { enable: 1, policy_in: 'DROP' } }, config: { tags: 'cortex;hardened;k8s;worker' } });
  });
});
