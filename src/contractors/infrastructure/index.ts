import type { ActionImpl } from '../action-impl.js';
import { planForTransport } from './pve-transport.js';

/** The plan shows Proxmox calls as the configured transport makes them (pvesh, or HTTPS requests). */
function onTransport(load: () => Promise<ActionImpl>): () => Promise<ActionImpl> {
  return async () => {
    const impl = await load();
    return { run: (rt) => impl.run(rt), plan: (params, ctx) => impl.plan(params, ctx).map((s) => planForTransport(s, ctx.config.proxmox.api)) };
  };
}

const LOADERS: Record<string, () => Promise<ActionImpl>> = {
  check_node_capacity: async () => (await import('./check-node-capacity.js')).checkNodeCapacityAction,
  check_cluster_status: async () => (await import('./check-cluster-status.js')).checkClusterStatusAction,
  check_storage: async () => (await import('./check-storage.js')).checkStorageAction,
  check_replication: async () => (await import('./check-replication.js')).checkReplicationAction,
  provision_vm: async () => (await import('./provision-vm.js')).provisionVmAction,
  destroy_vm: async () => (await import('./destroy-vm.js')).destroyVmAction,
  start_vm: async () => (await import('./start-stop-vm.js')).startVmAction,
  stop_vm: async () => (await import('./start-stop-vm.js')).stopVmAction,
  create_vm_snapshot: async () => (await import('./vm-snapshots.js')).createVmSnapshotAction,
  delete_vm_snapshot: async () => (await import('./vm-snapshots.js')).deleteVmSnapshotAction,
  rollback_vm_snapshot: async () => (await import('./vm-snapshots.js')).rollbackVmSnapshotAction,
  apply_firewall_rules: async () => (await import('./firewall-rules.js')).applyFirewallRulesAction,
  remove_firewall_rules: async () => (await import('./firewall-rules.js')).removeFirewallRulesAction,
  create_sdn_vnet: async () => (await import('./sdn-vnet.js')).createSdnVnetAction,
  delete_sdn_vnet: async () => (await import('./sdn-vnet.js')).deleteSdnVnetAction,
  update_load_balancer: async () => (await import('./load-balancer.js')).updateLoadBalancerAction,
  rollback_load_balancer: async () => (await import('./load-balancer.js')).rollbackLoadBalancerAction,
  verify_load_balancer_health: async () => (await import('./verify-load-balancer-health.js')).verifyLoadBalancerHealthAction,
  start_packet_capture: async () => (await import('./packet-capture.js')).startPacketCaptureAction,
  stop_packet_capture: async () => (await import('./packet-capture.js')).stopPacketCaptureAction,
  destroy_compromised_resource: async () => (await import('./destroy-compromised-resource.js')).destroyCompromisedResourceAction,
  provision_replacement_resource: async () => (await import('./provision-replacement-resource.js')).provisionReplacementResourceAction,
};

/** Implementations of this contractor's actions, keyed by action name, loaded on first use. */
export const IMPLEMENTATIONS: Record<string, () => Promise<ActionImpl>> = Object.fromEntries(Object.entries(LOADERS).map(([name, load]) => [name, onTransport(load)]));
