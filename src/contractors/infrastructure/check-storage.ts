import { ActionFailedError } from '../../errors.js';
import type { ActionImpl } from '../action-impl.js';
import { nodeStorages } from './check-node-capacity.js';
import { GIB, round2 } from './names.js';
import { planCall, Pvesh } from './pvesh.js';

interface Params {
  node?: string;
  storage: string;
  min_free_gb?: number;
  content?: string;
}

function nodeOf(p: Params, configured: string | undefined): string | undefined {
  return p.node ?? configured;
}

export const checkStorageAction: ActionImpl = {
  plan(params, ctx) {
    const p = params as unknown as Params;
    return [planCall('get', `/nodes/${nodeOf(p, ctx.config.proxmox.node) ?? '<node>'}/storage`, [['content', p.content ?? 'images']])];
  },

  async run(rt) {
    const p = rt.params as unknown as Params;
    const node = nodeOf(p, rt.config.proxmox.node);
    if (!node) throw new ActionFailedError('no node given and config proxmox.node is not set', { errorCode: 'invalid_parameters', retryable: false });
    const pv = new Pvesh(rt);
    const content = p.content ?? 'images';
    const s = (await nodeStorages(pv, node, content)).find((x) => x.storage === p.storage);
    if (!s) {
      throw new ActionFailedError(`storage '${p.storage}' is not available on node '${node}' for content ${content}`, {
        errorCode: 'storage_not_found',
        retryable: false,
      });
    }
    const outputs = {
      storage: s.storage,
      node,
      active: s.active === 1,
      shared: s.shared === 1,
      avail_gb: round2((s.avail ?? 0) / GIB),
      total_gb: round2((s.total ?? 0) / GIB),
      used_fraction: s.used_fraction ?? (s.total ? round2((s.used ?? 0) / s.total) : null),
    };
    if (s.active !== 1 || s.enabled === 0) {
      throw new ActionFailedError(`storage '${p.storage}' on node '${node}' is not active`, { errorCode: 'storage_unavailable', retryable: true });
    }
    if (p.min_free_gb !== undefined && outputs.avail_gb < p.min_free_gb) {
      throw new ActionFailedError(`storage '${p.storage}' on node '${node}' has ${outputs.avail_gb} GiB available, less than ${p.min_free_gb} GiB`, {
        errorCode: 'storage_insufficient',
        retryable: false,
      });
    }
    return outputs;
  },
};
