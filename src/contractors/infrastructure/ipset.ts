/** The cluster firewall IPSets that model load-balancer backend pools (see specs.ts LB_MODEL). */
import type { Pvesh } from './pvesh.js';

export interface IpsetEntry {
  cidr: string;
  comment?: string;
}

export interface Ipset {
  name: string;
  exists: boolean;
  comment?: string;
  entries: IpsetEntry[];
}

const BASE = '/cluster/firewall/ipset';
const ERR = 'lb_update_failed';

/** Proxmox stores a single address without /32. */
export function normalizeCidr(cidr: string): string {
  return cidr.replace(/\/32$/, '').replace(/\/128$/, '');
}

export async function readIpset(pv: Pvesh, name: string): Promise<Ipset> {
  const sets = (await pv.get<Array<{ name: string; comment?: string }>>(BASE)) ?? [];
  const set = sets.find((s) => s.name === name);
  if (!set) return { name, exists: false, entries: [] };
  const raw = (await pv.get<Array<{ cidr: string; comment?: string }>>(`${BASE}/${name}`)) ?? [];
  return {
    name,
    exists: true,
    ...(set.comment ? { comment: set.comment } : {}),
    entries: raw.map((e) => ({ cidr: normalizeCidr(e.cidr), ...(e.comment ? { comment: e.comment } : {}) })),
  };
}

export async function createIpset(pv: Pvesh, name: string, comment?: string): Promise<void> {
  await pv.call('create', BASE, [['name', name], ['comment', comment]], { errorCode: ERR, what: `create IPSet ${name}` });
}

/** POST with --rename <same name> rewrites the comment of an existing IPSet. */
export async function setIpsetComment(pv: Pvesh, name: string, comment: string): Promise<void> {
  await pv.call('create', BASE, [['name', name], ['rename', name], ['comment', comment]], { errorCode: ERR, what: `update the comment of IPSet ${name}` });
}

export async function deleteIpset(pv: Pvesh, name: string): Promise<void> {
  await pv.call('delete', `${BASE}/${name}`, [], { errorCode: ERR, what: `delete IPSet ${name}` });
}

export async function addEntry(pv: Pvesh, name: string, e: IpsetEntry): Promise<void> {
  await pv.call('create', `${BASE}/${name}`, [['cidr', e.cidr], ['comment', e.comment]], { errorCode: ERR, what: `add ${e.cidr} to IPSet ${name}` });
}

export async function setEntryComment(pv: Pvesh, name: string, e: IpsetEntry): Promise<void> {
  await pv.call('set', `${BASE}/${name}/${e.cidr}`, [['comment', e.comment ?? '']], { errorCode: ERR, what: `update ${e.cidr} in IPSet ${name}` });
}

export async function removeEntry(pv: Pvesh, name: string, cidr: string): Promise<void> {
  await pv.call('delete', `${BASE}/${name}/${cidr}`, [], { errorCode: ERR, what: `remove ${cidr} from IPSet ${name}` });
}

/**
 * Makes the IPSet hold exactly `wanted` (by address; comments rewritten where they differ).
 * Returns what was added/rewritten and removed.
 */
export async function syncEntries(
  pv: Pvesh,
  set: Ipset,
  wanted: IpsetEntry[],
  options: { removeOthers: boolean },
): Promise<{ added: IpsetEntry[]; removed: IpsetEntry[] }> {
  const added: IpsetEntry[] = [];
  const removed: IpsetEntry[] = [];
  const current = new Map(set.entries.map((e) => [e.cidr, e]));
  const wantedCidrs = new Set(wanted.map((w) => normalizeCidr(w.cidr)));
  if (options.removeOthers) {
    for (const e of set.entries) {
      if (wantedCidrs.has(e.cidr)) continue;
      await removeEntry(pv, set.name, e.cidr);
      removed.push(e);
    }
  }
  for (const w0 of wanted) {
    const w = { ...w0, cidr: normalizeCidr(w0.cidr) };
    const have = current.get(w.cidr);
    if (have && (have.comment ?? '') === (w.comment ?? '')) continue;
    if (have) await setEntryComment(pv, set.name, w);
    else await addEntry(pv, set.name, w);
    added.push(w);
  }
  return { added, removed };
}
