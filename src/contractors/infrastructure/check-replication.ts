import { ActionFailedError } from '../../errors.js';
import type { ActionImpl } from '../action-impl.js';
import { planCall, Pvesh } from './pvesh.js';
import { listVms } from './vms.js';

interface JobConfig {
  id: string;
  guest: number | string;
  target?: string;
  source?: string;
  disable?: number;
}

interface JobStatus {
  id: string;
  guest?: number | string;
  target?: string;
  last_sync?: number;
  fail_count?: number;
  error?: string;
}

interface Params {
  node: string;
  guests?: number[];
  max_lag_seconds?: number;
  require_jobs?: boolean;
}

/**
 * Replication jobs are configured cluster-wide (/cluster/replication) but their state is kept on
 * the node that runs the guest (/nodes/<source>/replication). `node` may be either side: jobs that
 * replicate to it, or of guests running on it, are examined.
 */
export const checkReplicationAction: ActionImpl = {
  plan(params) {
    const p = params as unknown as Params;
    return [
      planCall('get', '/cluster/replication'),
      planCall('get', '/cluster/resources', [['type', 'vm']]),
      planCall('get', '/nodes/<source-node>/replication', [], `for each node running a guest replicated to or from ${p.node}`),
    ];
  },

  async run(rt) {
    const p = rt.params as unknown as Params;
    const maxLag = p.max_lag_seconds ?? 60;
    const pv = new Pvesh(rt);
    const configs = ((await pv.get<JobConfig[]>('/cluster/replication')) ?? []).filter((j) => j.disable !== 1);
    const vms = await listVms(pv);
    const nodeOfGuest = new Map(vms.map((v) => [v.vmid, v.node]));
    const jobs = configs.filter((j) => {
      const guest = Number(j.guest);
      if (p.guests && !p.guests.includes(guest)) return false;
      return j.target === p.node || nodeOfGuest.get(guest) === p.node;
    });
    if (jobs.length === 0) {
      if (p.require_jobs === false) return { max_lag_seconds: 0, jobs: 0, failing: [], lag_by_job: {} };
      throw new ActionFailedError(`no replication job to or from node ${p.node}${p.guests ? ` for guests ${p.guests.join(', ')}` : ''}`, {
        errorCode: 'replication_not_configured',
        retryable: false,
      });
    }
    const sources = [...new Set(jobs.map((j) => nodeOfGuest.get(Number(j.guest)) ?? j.source).filter((n): n is string => Boolean(n)))];
    const states = new Map<string, JobStatus>();
    for (const source of sources) {
      for (const s of (await pv.get<JobStatus[]>(`/nodes/${source}/replication`)) ?? []) states.set(s.id, s);
    }
    const now = Math.floor(rt.now().getTime() / 1000);
    const lagByJob: Record<string, number | null> = {};
    const failing: string[] = [];
    const reasons: string[] = [];
    let worst = 0;
    for (const j of jobs) {
      const s = states.get(j.id);
      const lag = s?.last_sync ? Math.max(0, now - s.last_sync) : null;
      lagByJob[j.id] = lag;
      if (lag !== null) worst = Math.max(worst, lag);
      if (!s) {
        failing.push(j.id);
        reasons.push(`${j.id}: no state on the guest's node`);
      } else if (s.error || (s.fail_count ?? 0) > 0) {
        failing.push(j.id);
        reasons.push(`${j.id}: ${s.error ?? `${s.fail_count} failed syncs`}`);
      } else if (lag === null || lag > maxLag) {
        failing.push(j.id);
        reasons.push(`${j.id}: lag ${lag === null ? 'unknown (never synced)' : `${lag}s`} > ${maxLag}s`);
      }
    }
    if (failing.length > 0) {
      throw new ActionFailedError(`replication behind or failing: ${reasons.join('; ')}`, {
        errorCode: 'replication_lag_exceeded',
        retryable: true,
        hint: 'replication may catch up: the action can be retried',
      });
    }
    return { max_lag_seconds: worst, jobs: jobs.length, failing, lag_by_job: lagByJob };
  },
};
