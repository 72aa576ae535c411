import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, PlannedStep } from '../action-impl.js';
import { addEntry, createIpset, deleteIpset, normalizeCidr, readIpset, removeEntry, setIpsetComment, syncEntries, type IpsetEntry } from './ipset.js';
import { backendComment, DEFAULT_WEIGHT, healthCheckComment, ipsetName, parseBackendComment } from './names.js';
import { planCall, Pvesh } from './pvesh.js';

type Server = string | { ip: string; port?: number; weight?: number };

interface HealthCheckParam {
  path?: string;
  interval?: number;
  timeout?: number;
  rise?: number;
  fall?: number;
}

interface UpdateParams {
  load_balancer: string;
  backend_pool: string;
  action?: 'add_backend' | 'replace_backends' | 'remove_backend';
  backend_config?: {
    version?: string;
    servers?: Server[];
    port?: number;
    weight?: number;
    health_check?: HealthCheckParam;
  };
}

const IPSET = '/cluster/firewall/ipset';

/** Backends as IPSet entries with the comment cortex:<version>:<port>[:<weight>]. */
export function backendEntries(cfg: NonNullable<UpdateParams['backend_config']>, version: string): IpsetEntry[] {
  return (cfg.servers ?? []).map((s) => {
    let ip: string;
    let port: number | undefined;
    let weight: number | undefined;
    if (typeof s === 'string') {
      const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(s.trim());
      ip = m ? (m[1] as string) : s.trim();
      port = m ? Number(m[2]) : undefined;
    } else {
      ip = s.ip;
      port = s.port;
      weight = s.weight;
    }
    port ??= cfg.port;
    if (port === undefined) {
      throw new ActionFailedError(`backend ${ip} has no port (give backend_config.port or the server's port)`, { errorCode: 'invalid_parameters', retryable: false });
    }
    return { cidr: normalizeCidr(ip), comment: backendComment(version, port, weight ?? cfg.weight ?? DEFAULT_WEIGHT) };
  });
}

function hcComment(h: HealthCheckParam | undefined): string | undefined {
  if (!h) return undefined;
  return healthCheckComment({ path: h.path ?? '/', interval: h.interval ?? 5, timeout: h.timeout ?? 3, rise: h.rise ?? 2, fall: h.fall ?? 3 });
}

function ofVersionOrServers(entries: IpsetEntry[], version: string | undefined, servers: string[] | undefined): IpsetEntry[] {
  const ips = new Set((servers ?? []).map(normalizeCidr));
  return entries.filter((e) => (version !== undefined && parseBackendComment(e.comment)?.version === version) || ips.has(e.cidr));
}

export const updateLoadBalancerAction: ActionImpl = {
  plan(params) {
    const p = params as unknown as UpdateParams;
    const name = ipsetName(p.load_balancer, p.backend_pool);
    const action = p.action ?? 'add_backend';
    const steps: PlannedStep[] = [planCall('get', IPSET), planCall('get', `${IPSET}/${name}`, [], 'previous entries, for rollback')];
    steps.push(planCall('create', IPSET, [['name', name], ['comment', hcComment(p.backend_config?.health_check)]], 'when missing'));
    if (action === 'remove_backend') {
      steps.push(planCall('delete', `${IPSET}/${name}/<cidr>`, [], `entries of version ${p.backend_config?.version ?? '<version>'}`));
    } else {
      if (action === 'replace_backends') steps.push(planCall('delete', `${IPSET}/${name}/<cidr>`, [], 'entries not among the servers'));
      const version = p.backend_config?.version ?? 'unversioned';
      let entries: IpsetEntry[] = [];
      try {
        entries = Array.isArray(p.backend_config?.servers) ? backendEntries(p.backend_config ?? {}, version) : [];
      } catch {
        entries = [];
      }
      for (const e of entries) steps.push(planCall('create', `${IPSET}/${name}`, [['cidr', e.cidr], ['comment', e.comment]], 'or set its comment when present'));
      if (entries.length === 0) steps.push(planCall('create', `${IPSET}/${name}`, [['cidr', '<server>'], ['comment', `cortex:${version}:<port>`]], 'for each server'));
    }
    steps.push(planCall('get', `${IPSET}/${name}`, [], 'confirm'));
    return steps;
  },

  async run(rt) {
    const p = rt.params as unknown as UpdateParams;
    const pv = new Pvesh(rt);
    const cfg = p.backend_config ?? {};
    const action = p.action ?? 'add_backend';
    const version = cfg.version ?? 'unversioned';
    const name = ipsetName(p.load_balancer, p.backend_pool);
    const set = await readIpset(pv, name);
    // The pool before the first attempt: a re-run finds the entries an interrupted attempt wrote.
    const previous = await rt.remember('previous_entries', async () => set.entries.map((e) => ({ ...e })));
    const hc = hcComment(cfg.health_check);

    let added: IpsetEntry[] = [];
    let removed: IpsetEntry[] = [];
    if (action === 'remove_backend') {
      if (cfg.version === undefined && !cfg.servers) {
        throw new ActionFailedError('remove_backend needs backend_config.version or backend_config.servers', { errorCode: 'invalid_parameters', retryable: false });
      }
      const servers = (cfg.servers ?? []).map((s) => (typeof s === 'string' ? s : s.ip));
      for (const e of ofVersionOrServers(set.entries, cfg.version, servers)) {
        await removeEntry(pv, name, e.cidr);
        removed.push(e);
      }
    } else {
      const wanted = backendEntries(cfg, version);
      if (!set.exists) {
        await createIpset(pv, name, hc);
      } else if (hc && set.comment !== hc) {
        await setIpsetComment(pv, name, hc);
      }
      ({ added, removed } = await syncEntries(pv, set, wanted, { removeOthers: action === 'replace_backends' }));
    }
    const after = set.exists || action !== 'remove_backend' ? await readIpset(pv, name) : set;
    return { ipset: name, entries: after.entries.length, added, removed, previous_entries: previous, version };
  },
};

interface RollbackParams {
  load_balancer: string;
  backend_pool: string;
  action?: 'remove_backend' | 'restore';
  version?: string;
  servers?: string[];
  entries?: IpsetEntry[];
}

export const rollbackLoadBalancerAction: ActionImpl = {
  plan(params) {
    const p = params as unknown as RollbackParams;
    const name = ipsetName(p.load_balancer, p.backend_pool);
    const steps: PlannedStep[] = [planCall('get', IPSET), planCall('get', `${IPSET}/${name}`)];
    if ((p.action ?? 'remove_backend') === 'remove_backend') {
      steps.push(planCall('delete', `${IPSET}/${name}/<cidr>`, [], `entries of version ${p.version ?? '-'} or servers ${(p.servers ?? []).join(', ') || '-'}`));
    } else if ((p.entries ?? []).length === 0) {
      steps.push(planCall('delete', `${IPSET}/${name}/<cidr>`, [], 'every entry'), planCall('delete', `${IPSET}/${name}`));
    } else {
      steps.push(planCall('delete', `${IPSET}/${name}/<cidr>`, [], 'entries not in the restored pool'));
      for (const e of p.entries ?? []) steps.push(planCall('create', `${IPSET}/${name}`, [['cidr', e.cidr], ['comment', e.comment]], 'or set its comment when present'));
    }
    return steps;
  },

  async run(rt) {
    const p = rt.params as unknown as RollbackParams;
    const pv = new Pvesh(rt);
    const name = ipsetName(p.load_balancer, p.backend_pool);
    const set = await readIpset(pv, name);
    const action = p.action ?? 'remove_backend';
    let removed: IpsetEntry[] = [];
    let restored: IpsetEntry[] = [];
    if (action === 'remove_backend') {
      if (p.version === undefined && !p.servers) {
        throw new ActionFailedError('remove_backend needs version or servers', { errorCode: 'invalid_parameters', retryable: false });
      }
      for (const e of ofVersionOrServers(set.entries, p.version, p.servers)) {
        await removeEntry(pv, name, e.cidr);
        removed.push(e);
      }
      const left = set.entries.length - removed.length;
      return { ipset: name, removed, restored, entries: left };
    }
    const wanted = p.entries ?? [];
    if (wanted.length === 0) {
      if (set.exists) {
        for (const e of set.entries) {
          await removeEntry(pv, name, e.cidr);
          removed.push(e);
        }
        await deleteIpset(pv, name);
      }
      return { ipset: name, removed, restored, entries: 0 };
    }
    if (!set.exists) {
      await createIpset(pv, name);
      for (const e of wanted) {
        await addEntry(pv, name, { ...e, cidr: normalizeCidr(e.cidr) });
        restored.push(e);
      }
    } else {
      ({ added: restored, removed } = await syncEntries(pv, set, wanted, { removeOthers: true }));
    }
    const after = await readIpset(pv, name);
    return { ipset: name, removed, restored, entries: after.entries.length };
  },
};
