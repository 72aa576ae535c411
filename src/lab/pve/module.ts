import { fileURLToPath } from 'node:url';
import type { LabModule } from '../module.js';
import { readState, writeState } from '../lab-dir.js';
import { seedPveState, type PveState } from './state.js';
import { startPveApi } from './https.js';

/**
 * The lab Proxmox cluster: state `pve`, the `pvesh` stand-in, an `ssh` that reaches it as a
 * Proxmox node's shell would (for tools.pvesh through ssh), and its REST API over HTTPS (urls.proxmox).
 */
export const pveModule: LabModule = {
  name: 'pve',
  seed(lab) {
    writeState(lab, 'pve', seedPveState());
  },
  async start(lab) {
    const api = await startPveApi(lab);
    return { urls: { proxmox: api.url }, stop: () => api.stop() };
  },
  tools: { pvesh: fileURLToPath(new URL('./pvesh-main.js', import.meta.url)), ssh: fileURLToPath(new URL('./ssh-main.js', import.meta.url)) },
  describe(lab) {
    const s = readState<PveState | null>(lab, 'pve', () => null);
    if (!s || !Array.isArray(s.vms)) return { seeded: false };
    const applied = Object.keys(s.sdn.running.vnets);
    return {
      cluster: s.clusterName,
      nodes: s.nodes.map((n) => `${n.name} (${n.online ? 'online' : 'offline'})`),
      vms: s.vms.map((v) => `${v.vmid} ${v.name} on ${v.node}: ${v.template ? 'template' : v.status}${v.lock ? ` [lock ${v.lock}]` : ''}${v.snapshots.length ? ` snapshots ${v.snapshots.map((x) => x.name).join(',')}` : ''}${v.firewall.rules.length ? ` fw rules ${v.firewall.rules.length}` : ''}`),
      ipsets: s.ipsets.map((i) => `${i.name}: ${i.entries.map((e) => e.cidr).join(', ') || 'empty'}`),
      sdn_vnets: Object.entries(s.sdn.config.vnets).map(([id, v]) => `${id} zone ${v.zone} tag ${v.tag ?? '-'}${applied.includes(id) ? '' : ' (pending)'}`),
      replication: s.replication.map((j) => `${j.id} -> ${j.target} lag ${j.lagSeconds}s`),
      tasks: s.tasks.length,
      running_tasks: s.tasks.filter((t) => t.status === 'running').map((t) => t.upid),
    };
  },
};
