import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { GIB, MIB } from './names.js';
import { planCall, Pvesh } from './pvesh.js';

interface NodeResource {
  node?: string;
  status?: string;
  cpu?: number;
  maxcpu?: number;
  mem?: number;
  maxmem?: number;
}

export interface StorageStatus {
  storage: string;
  type?: string;
  content?: string;
  active?: number;
  enabled?: number;
  shared?: number;
  total?: number;
  used?: number;
  avail?: number;
  used_fraction?: number;
}

interface Params {
  node?: string;
  nodes?: string[];
  fallback_nodes?: string[];
  cores?: number;
  memory_mb?: number;
  disk_gb?: number;
  count?: number;
  storage?: string;
  fail_if_insufficient?: boolean;
}

interface Free {
  node: string;
  online: boolean;
  known: boolean;
  cores: number;
  memoryMb: number;
  /** Bytes available on the storage (undefined: no storage asked for, or not on this node). */
  storageAvail?: number;
  storageShared?: boolean;
}

export async function nodeStorages(pv: Pvesh, node: string, content = 'images'): Promise<StorageStatus[]> {
  const list = await pv.get<StorageStatus[]>(`/nodes/${node}/storage`, [['content', content]]);
  return Array.isArray(list) ? list : [];
}

async function freeOf(pv: Pvesh, resources: NodeResource[], node: string, storage: string | undefined): Promise<Free> {
  const r = resources.find((x) => x.node === node);
  if (!r) return { node, online: false, known: false, cores: 0, memoryMb: 0 };
  const online = r.status === 'online';
  const free: Free = {
    node,
    online,
    known: true,
    cores: online ? Math.floor((r.maxcpu ?? 0) * (1 - (r.cpu ?? 0))) : 0,
    memoryMb: online ? Math.floor(Math.max(0, (r.maxmem ?? 0) - (r.mem ?? 0)) / MIB) : 0,
  };
  if (storage && online) {
    const s = (await nodeStorages(pv, node)).find((x) => x.storage === storage);
    if (s) {
      free.storageAvail = s.active === 0 ? 0 : (s.avail ?? 0);
      free.storageShared = s.shared === 1;
    }
  }
  return free;
}

function shortfalls(free: { cores: number; memoryMb: number; diskGb: number | null }, need: { cores: number; memoryMb: number; diskGb: number }, storage?: string): string[] {
  const out: string[] = [];
  if (free.cores < need.cores) out.push(`${free.cores} free cores < ${need.cores}`);
  if (free.memoryMb < need.memoryMb) out.push(`${free.memoryMb} MiB free memory < ${need.memoryMb}`);
  if (storage && need.diskGb > 0 && (free.diskGb ?? 0) < need.diskGb) out.push(`${free.diskGb ?? 0} GiB free on ${storage} < ${need.diskGb}`);
  return out;
}

export const checkNodeCapacityAction: ActionImpl = {
  plan(params, ctx) {
    const p = params as Params;
    const nodes = p.nodes ?? [p.node ?? ctx.config.proxmox.node ?? '<node>', ...(p.fallback_nodes ?? [])];
    const storage = p.storage ?? ctx.config.proxmox.storage;
    const steps: PlannedStep[] = [planCall('get', '/cluster/resources', [['type', 'node']])];
    if (storage) for (const n of nodes) steps.push(planCall('get', `/nodes/${n}/storage`, [['content', 'images']], p.nodes ? undefined : 'until a node fits'));
    return steps;
  },

  async run(rt: ActionRuntime) {
    const p = rt.params as Params;
    const pv = new Pvesh(rt);
    const count = p.count ?? 1;
    const need = { cores: (p.cores ?? 0) * count, memoryMb: (p.memory_mb ?? 0) * count, diskGb: (p.disk_gb ?? 0) * count };
    const storage = p.storage ?? rt.config.proxmox.storage;
    const resources = (await pv.get<NodeResource[]>('/cluster/resources', [['type', 'node']])) ?? [];
    const checked: string[] = [];

    if (p.nodes && p.nodes.length > 0) {
      const frees: Free[] = [];
      for (const n of p.nodes) {
        checked.push(n);
        frees.push(await freeOf(pv, resources, n, storage));
      }
      let diskBytes = 0;
      let sharedCounted = false;
      for (const f of frees) {
        if (f.storageAvail === undefined) continue;
        if (f.storageShared) {
          if (sharedCounted) continue;
          sharedCounted = true;
        }
        diskBytes += f.storageAvail;
      }
      const sum = {
        cores: frees.reduce((a, f) => a + f.cores, 0),
        memoryMb: frees.reduce((a, f) => a + f.memoryMb, 0),
        diskGb: storage ? Math.floor(diskBytes / GIB) : null,
      };
      const best = [...frees].filter((f) => f.online).sort((a, b) => b.memoryMb - a.memoryMb)[0];
      const problems = shortfalls(sum, need, storage);
      const offline = frees.filter((f) => !f.online).map((f) => `${f.node} ${f.known ? 'offline' : 'unknown'}`);
      const outputs = {
        node: best?.node ?? null,
        sufficient: problems.length === 0,
        free_cores: sum.cores,
        free_memory_mb: sum.memoryMb,
        free_disk_gb: sum.diskGb,
        checked,
      };
      if (problems.length > 0 && p.fail_if_insufficient !== false) {
        throw new ActionFailedError(
          `insufficient capacity on ${p.nodes.join(', ')}: ${problems.join('; ')}${offline.length ? ` (${offline.join(', ')})` : ''}`,
          { errorCode: 'insufficient_capacity', retryable: false },
        );
      }
      return outputs;
    }

    let candidates = [p.node ?? rt.config.proxmox.node, ...(p.fallback_nodes ?? [])].filter((n): n is string => Boolean(n));
    candidates = [...new Set(candidates)];
    if (candidates.length === 0) {
      candidates = resources
        .filter((r) => r.status === 'online' && r.node)
        .sort((a, b) => (b.maxmem ?? 0) - (b.mem ?? 0) - ((a.maxmem ?? 0) - (a.mem ?? 0)))
        .map((r) => r.node as string);
    }
    const reports: string[] = [];
    let first: { free: Free; diskGb: number | null } | undefined;
    for (const n of candidates) {
      checked.push(n);
      const free = await freeOf(pv, resources, n, storage);
      const diskGb = storage ? Math.floor((free.storageAvail ?? 0) / GIB) : null;
      first ??= { free, diskGb };
      const problems = !free.known ? ['unknown node'] : !free.online ? ['offline'] : shortfalls({ ...free, diskGb }, need, storage);
      if (storage && free.online && free.storageAvail === undefined) problems.push(`storage ${storage} not available`);
      if (problems.length === 0) {
        return { node: n, sufficient: true, free_cores: free.cores, free_memory_mb: free.memoryMb, free_disk_gb: diskGb, checked };
      }
      reports.push(`${n}: ${[...new Set(problems)].join('; ')}`);
      rt.debug(`capacity: ${n} does not fit (${problems.join('; ')})`);
    }
    if (p.fail_if_insufficient !== false) {
      throw new ActionFailedError(`insufficient capacity for ${need.cores} cores, ${need.memoryMb} MiB${storage ? `, ${need.diskGb} GiB on ${storage}` : ''}: ${reports.join(' / ') || 'no node to check'}`, {
        errorCode: 'insufficient_capacity',
        retryable: false,
      });
    }
    return {
      node: first?.free.node ?? null,
      sufficient: false,
      free_cores: first?.free.cores ?? 0,
      free_memory_mb: first?.free.memoryMb ?? 0,
      free_disk_gb: first?.diskGb ?? null,
      checked,
    };
  },
};
