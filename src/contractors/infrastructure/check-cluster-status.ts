import { ActionFailedError } from '../../errors.js';
import type { ActionImpl } from '../action-impl.js';
import { planCall, Pvesh } from './pvesh.js';

interface StatusItem {
  type?: string;
  name?: string;
  quorate?: number;
  online?: number;
}

export const checkClusterStatusAction: ActionImpl = {
  plan() {
    return [planCall('get', '/cluster/status')];
  },

  async run(rt) {
    const p = rt.params as { nodes?: string[]; require_quorum?: boolean };
    const pv = new Pvesh(rt);
    const items = (await pv.get<StatusItem[]>('/cluster/status')) ?? [];
    const cluster = items.find((i) => i.type === 'cluster');
    const nodes = items.filter((i) => i.type === 'node');
    // A standalone node (no cluster) has no cluster entry and is trivially quorate.
    const quorate = cluster ? cluster.quorate === 1 : true;
    const online = nodes.filter((n) => n.online === 1).map((n) => String(n.name));
    const offline = nodes.filter((n) => n.online !== 1).map((n) => String(n.name));
    const outputs = { cluster_name: cluster?.name ?? null, quorate, nodes_online: online, nodes_offline: offline };
    if (p.require_quorum !== false && !quorate) {
      throw new ActionFailedError(`Proxmox cluster ${cluster?.name ?? ''} is not quorate (online: ${online.join(', ') || 'none'}; offline: ${offline.join(', ') || 'none'})`, {
        errorCode: 'cluster_not_quorate',
        retryable: true,
      });
    }
    const missing = (p.nodes ?? []).filter((n) => !online.includes(n));
    if (missing.length > 0) {
      const unknown = missing.filter((n) => !offline.includes(n));
      throw new ActionFailedError(
        `Proxmox node${missing.length > 1 ? 's' : ''} not online: ${missing.map((n) => (unknown.includes(n) ? `${n} (not a cluster member)` : n)).join(', ')}`,
        { errorCode: unknown.length === missing.length ? 'node_not_found' : 'node_offline', retryable: unknown.length !== missing.length },
      );
    }
    return outputs;
  },
};
