import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../../src/config/config.js';
import { INFRASTRUCTURE_SPECS } from '../../../../src/contractors/infrastructure/specs.js';
import { IMPLEMENTATIONS } from '../../../../src/contractors/infrastructure/index.js';
import { checkParams } from '../runtime-helper.js';
import { impl } from './helpers.js';

/** Parameters as the built-in workflows pass them (unknown values as run-time placeholders). */
const SAMPLES: Record<string, Record<string, unknown>> = {
  check_node_capacity: { node: 'pve-01', fallback_nodes: ['pve-02'], storage: 'ceph-rbd', cores: 4, memory_mb: 8192, disk_gb: 100, count: 2 },
  check_cluster_status: { nodes: ['dc2-pve-01', 'dc2-pve-02'], require_quorum: true },
  check_storage: { node: 'dc2-pve-01', storage: 'ceph-dr', min_free_gb: 5000 },
  check_replication: { node: 'dc2-pve-01', max_lag_seconds: 60 },
  provision_vm: { name: 'monitoring-node-01', node: 'pve-01', template_vmid: 9000, cores: 4, memory_mb: 8192, disk_gb: 100, storage: 'ceph-rbd', bridge: 'vmbr0', vlan: 20, ip: '10.10.20.11/24', gateway: '10.10.20.1' },
  destroy_vm: { vmid: 102, node: 'pve-01', purge: true },
  start_vm: { vmid: 102, node: 'pve-01' },
  stop_vm: { vm: 'k8s-worker-02' },
  create_vm_snapshot: { vm: 'k8s-worker-02', snapshot_name: 'SEC-1-forensic', description: 'Forensic snapshot', preserve_memory: true },
  delete_vm_snapshot: { vmid: 112, node: 'pve-02', snapshot_name: 'SEC-1-forensic' },
  rollback_vm_snapshot: { vmid: 112, node: 'pve-02', snapshot_name: 'pre-upgrade' },
  apply_firewall_rules: { target: 'k8s-worker-02', policy: 'deny_all', exceptions: [{ source: 'bastion_host', destination: 'k8s-worker-02', port: 22, protocol: 'tcp', purpose: 'forensics_access' }] },
  remove_firewall_rules: { vmid: 112, node: 'pve-02', rule_ids: ['forensics_access'], policy_in: 'DROP', policy_out: 'ACCEPT', enable_firewall: true },
  create_sdn_vnet: { zone: 'k8s', vnet: 'k8s10', tag: 10, zone_type: 'vlan', bridge: 'vmbr0', subnet: '10.10.1.0/24', gateway: '10.10.1.1' },
  delete_sdn_vnet: { vnet: 'k8s10', zone: 'k8s', delete_zone: true },
  update_load_balancer: { load_balancer: 'prod-lb-01', backend_pool: 'web-api', backend_config: { version: 'abc', servers: ['10.10.1.20'], port: 30080 } },
  verify_load_balancer_health: { load_balancer: 'dr-lb-01', backend_pool: 'dr-k8s-01-ingress-https', scheme: 'https' },
  rollback_load_balancer: { load_balancer: 'prod-lb-01', backend_pool: 'web-api', action: 'restore', entries: [{ cidr: '10.10.1.20', comment: 'cortex:x:30080' }] },
  start_packet_capture: { target: 'k8s-worker-02', duration: 3600, output: 's3://cortex-forensics/incidents/SEC-1/pcap/' },
  stop_packet_capture: { capture_id: 'cap-0001' },
  destroy_compromised_resource: { resource: 'k8s-worker-02', preserve_forensic_copy: true },
  provision_replacement_resource: { specs: { name: 'k8s-worker-02', node: 'pve-02' }, hardened: true },
};

describe('every infrastructure action is implemented and plans its command lines', () => {
  it('has an implementation for each spec and nothing else', () => {
    expect(Object.keys(IMPLEMENTATIONS).sort()).toEqual(INFRASTRUCTURE_SPECS.map((s) => s.name).sort());
    expect(Object.keys(SAMPLES).sort()).toEqual(INFRASTRUCTURE_SPECS.map((s) => s.name).sort());
  });

  for (const s of INFRASTRUCTURE_SPECS) {
    it(`${s.name}: pvesh always with --output-format json`, async () => {
      const params = checkParams(s, SAMPLES[s.name] as Record<string, unknown>);
      const steps = (await impl(s.name)).plan(params, {
        config: resolveConfig({ endpoints: { forensics: { url: 'https://forensics.example' } } }, {}, null),
        executionId: '<execution_id>',
        workflowId: 'w',
        actionId: 'a',
        contractor: s.contractor,
      });
      expect(steps.length).toBeGreaterThan(0);
      for (const step of steps) {
        if (step.kind !== 'command') continue;
        expect(step.tool).toBe('pvesh');
        expect(step.args.slice(-2)).toEqual(['--output-format', 'json']);
        expect(['get', 'set', 'create', 'delete']).toContain(step.args[0]);
      }
    });
  }
});
