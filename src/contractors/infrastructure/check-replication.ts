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
  schedule?: string;
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
  max_lag_seconds?: number | null;
  require_jobs?: boolean;
}

/** Proxmox's default replication schedule (the API schema's default of `schedule`). */
export const DEFAULT_SCHEDULE = '*/15';
/** What a sync may add to its schedule's interval before its job counts as behind. */
export const SYNC_GRACE_SECONDS = 60;

/**
 * Seconds between two runs of a replication schedule (a calendar event: `*\/15`, `0/30`,
 * `hourly`, `daily`, `22:00`, ...), or undefined when cortex cannot tell.
 */
export function scheduleInterval(schedule: string | undefined): number | undefined {
  const s = (schedule ?? DEFAULT_SCHEDULE).trim();
  const every = /^(?:\*|\d{1,2})\/(\d{1,2})$/.exec(s) ?? /^\*:(?:\*|\d{1,2})\/(\d{1,2})$/.exec(s);
  if (every) return Number(every[1]) * 60;
  if (/^(\*:)?\d{1,2}$/.test(s) || s === 'hourly') return 3600;
  if (s === 'daily' || /^\d{1,2}:\d{2}$/.test(s)) return 86_400;
  if (s === 'weekly') return 7 * 86_400;
  return undefined;
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
      if (p.require_jobs === false) return { max_lag_seconds: 0, jobs: 0, failing: [], lag_by_job: {}, allowed_lag_by_job: {} };
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
    const allowedByJob: Record<string, number | null> = {};
    const failing: string[] = [];
    const reasons: string[] = [];
    let worst = 0;
    for (const j of jobs) {
      const s = states.get(j.id);
      const schedule = j.schedule ?? DEFAULT_SCHEDULE;
      const job = `job ${j.id} (guest ${j.guest} -> ${j.target ?? '?'}, schedule ${schedule})`;
      // Without an explicit RPO a job is behind only when it missed its own schedule.
      const interval = scheduleInterval(schedule);
      const allowed = p.max_lag_seconds ?? (interval === undefined ? null : interval + SYNC_GRACE_SECONDS);
      allowedByJob[j.id] = allowed;
      const lag = s?.last_sync ? Math.max(0, now - s.last_sync) : null;
      lagByJob[j.id] = lag;
      if (lag !== null) worst = Math.max(worst, lag);
      if (!s) {
        failing.push(j.id);
        reasons.push(`${job}: no state on the guest's node`);
      } else if (s.error || (s.fail_count ?? 0) > 0) {
        failing.push(j.id);
        reasons.push(`${job}: ${s.error ?? `${s.fail_count} failed syncs`}`);
      } else if (allowed === null) {
        failing.push(j.id);
        reasons.push(`${job}: cannot tell how often the schedule runs; pass max_lag_seconds`);
      } else if (lag === null || lag > allowed) {
        failing.push(j.id);
        reasons.push(`${job}: lag ${lag === null ? 'unknown (never synced)' : `${lag}s`} > ${allowed}s allowed`);
      }
    }
    if (failing.length > 0) {
      throw new ActionFailedError(`replication behind or failing: ${reasons.join('; ')}`, {
        errorCode: 'replication_lag_exceeded',
        retryable: true,
        hint: 'replication may catch up: the action can be retried (pvesh get /nodes/<node>/replication shows each job)',
      });
    }
    return { max_lag_seconds: worst, jobs: jobs.length, failing, lag_by_job: lagByJob, allowed_lag_by_job: allowedByJob };
  },
};
