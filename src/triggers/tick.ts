/**
 * `cortex tick`: what cron runs every minute. Each schedule's runs are computed in its own time
 * zone (definitions/cron.ts, Vixie's DST rules). A tick looks at the window since the schedule was last
 * checked (kept in <root>/state/tick.json):
 *
 * - times due in the last GRACE (5 minutes) are on time: the latest of them starts one run
 *   (a tick that came late never starts a burst);
 * - older times in the window were missed (cortex or cron was down): catch_up `skip` (the
 *   default) starts nothing for them, `run_once` starts one run for the most recent missed time
 *   when no on-time run starts in this tick;
 * - a schedule seen for the first time starts counting one minute before the tick;
 * - a disabled schedule is advanced too, so enabling it later does not count its quiet time as missed.
 *
 * The whole tick holds the `tick` lock and tick.json is written (atomically) before any run
 * starts: two overlapping ticks never start a run twice, and a crash loses a run rather than
 * repeating it.
 */
import { hostname } from 'node:os';
import { StateConflictError } from '../errors.js';
import { ExpressionEvalError, ExpressionSyntaxError } from '../definitions/expression-eval.js';
import { CortexError } from '../errors.js';
import type { LockManager, LockOwner } from '../ports/state-store.js';
import type { TriggerStateStore } from '../ports/trigger-state.js';
import { formatLocal } from '../definitions/cron.js';
import type { TriggerEntry } from './load.js';
import { renderParameters } from './render.js';
import type { Starter } from './start.js';

export const GRACE_MS = 5 * 60_000;
const NEW_SCHEDULE_LOOKBACK_MS = 60_000;
/** A clock that jumped back further than this is taken as corrected, not as an early tick. */
const CLOCK_BACK_MS = 5 * 60_000;
const MISSED_COUNT_CAP = 1000;

export interface ScheduleState {
  /** End of the last window looked at: runs up to this time are done with. */
  last_checked: string;
  /** The last time a run was started for, and its execution. */
  last_scheduled_for?: string;
  last_started_at?: string;
  last_execution?: string | null;
  last_result?: string;
}

export interface TickState {
  version: 1;
  last_tick?: string;
  schedules: Record<string, ScheduleState>;
}

/**
 * The tick state; a missing one starts afresh, and so does a damaged one, kept aside first
 * (`tick.json.damaged-<time>`) with a note saying why and where.
 */
export async function readTickState(state: TriggerStateStore, notes: string[] = []): Promise<TickState> {
  let why: string;
  try {
    const s = (await state.read('tick')) as TickState | undefined;
    if (s === undefined) return { version: 1, schedules: {} };
    if (s && typeof s === 'object' && s.schedules && typeof s.schedules === 'object') return s;
    why = `${state.describe('tick')} has an unexpected shape`;
  } catch (e) {
    why = (e as Error).message.split('\n')[0] as string;
  }
  const kept = await state.keepDamaged('tick').catch(() => undefined);
  notes.push(`${why}: starting afresh${kept ? ` (the damaged file is kept at ${kept})` : ''}`);
  return { version: 1, schedules: {} };
}

export interface PlannedRun {
  entry: TriggerEntry;
  scheduledFor: Date;
  kind: 'due' | 'catch_up';
  /** Missed times (before the on-time window) in this tick's window. */
  missed: number;
  /** On-time times folded into this one run (a late tick). */
  coalesced: number;
}

export interface PlannedSkip {
  entry: TriggerEntry;
  missed: number;
  latest: Date;
}

export interface TickPlan {
  runs: PlannedRun[];
  skips: PlannedSkip[];
  notes: string[];
  state: TickState;
}

/** Pure: which schedules start a run at `now`, and the state to write. */
export function planTick(entries: TriggerEntry[], previous: TickState, now: Date, options: { graceMs?: number } = {}): TickPlan {
  const grace = options.graceMs ?? GRACE_MS;
  const nowMs = now.getTime();
  const state: TickState = { version: 1, last_tick: now.toISOString(), schedules: {} };
  const runs: PlannedRun[] = [];
  const skips: PlannedSkip[] = [];
  const notes: string[] = [];
  for (const entry of entries) {
    if (entry.type !== 'schedule' || !entry.schedule) continue;
    const prevState = Object.prototype.hasOwnProperty.call(previous.schedules, entry.key) ? previous.schedules[entry.key] : undefined;
    const next: ScheduleState = { ...(prevState ?? {}), last_checked: now.toISOString() };
    Object.defineProperty(state.schedules, entry.key, { value: next, enumerable: true, writable: true, configurable: true });
    let from = prevState ? Date.parse(prevState.last_checked) : nowMs - NEW_SCHEDULE_LOOKBACK_MS;
    if (!Number.isFinite(from)) from = nowMs - NEW_SCHEDULE_LOOKBACK_MS;
    if (from > nowMs) {
      if (from - nowMs > CLOCK_BACK_MS) notes.push(`${entry.key}: the clock went back (last checked ${new Date(from).toISOString()}); counting from now`);
      else next.last_checked = new Date(from).toISOString(); // an early or repeated --now: keep the later mark
      continue;
    }
    if (!entry.enabled) continue;
    const s = entry.schedule;
    const onTimeFrom = Math.max(from, nowMs - grace);
    const due = s.runsBetween(onTimeFrom, nowMs, 1000);
    const latestMissed = onTimeFrom > from ? s.lastRunBetween(from, onTimeFrom) : null;
    const missed = latestMissed ? s.runsBetween(from, onTimeFrom, MISSED_COUNT_CAP).length : 0;
    const catchUp = (entry.trigger.catch_up as string | undefined) ?? 'skip';
    if (due.length) {
      runs.push({ entry, scheduledFor: due[due.length - 1] as Date, kind: 'due', missed, coalesced: due.length - 1 });
    } else if (latestMissed && catchUp === 'run_once') {
      runs.push({ entry, scheduledFor: latestMissed, kind: 'catch_up', missed, coalesced: 0 });
      continue;
    }
    if (latestMissed && (due.length || catchUp !== 'run_once')) skips.push({ entry, missed, latest: latestMissed });
  }
  return { runs, skips, notes, state };
}

export interface TickRun {
  schedule: string;
  workflow_id: string;
  scheduled_for: string;
  scheduled_local: string;
  kind: 'due' | 'catch_up';
  status: 'started' | 'would_start' | 'failed' | 'invalid_parameters';
  execution_id?: string | null;
  pid?: number;
  message?: string;
  missed: number;
}

export interface TickResult {
  now: string;
  /** Set when another tick held the lock. */
  busy?: { holder?: LockOwner };
  runs: TickRun[];
  skipped: Array<{ schedule: string; workflow_id: string; missed: number; latest_missed: string; catch_up: string }>;
  notes: string[];
}

export interface TickOptions {
  /** Where tick.json is kept. */
  state: TriggerStateStore;
  now: Date;
  entries: TriggerEntry[];
  locks: LockManager;
  starter: Starter;
  env: Record<string, string | undefined>;
  dryRun?: boolean;
  /** How long a tick waits for a running one before giving up (default 2000 ms). */
  lockWaitMs?: number;
}

function describe(e: unknown): string {
  if (e instanceof CortexError || e instanceof ExpressionEvalError || e instanceof ExpressionSyntaxError) return e.message;
  throw e;
}

/** One tick: lock, plan, write tick.json, start the runs, record their executions. */
export async function runTick(o: TickOptions): Promise<TickResult> {
  const result: TickResult = { now: o.now.toISOString(), runs: [], skipped: [], notes: [] };
  let lock;
  try {
    lock = await o.locks.acquire('tick', { pid: process.pid, host: hostname(), command: 'tick' }, { waitMs: o.lockWaitMs ?? 2000 });
  } catch (e) {
    if (e instanceof StateConflictError) {
      const holder = await o.locks.holder('tick').catch(() => undefined);
      result.busy = holder ? { holder } : {};
      return result;
    }
    throw e;
  }
  try {
    const previous = await readTickState(o.state, result.notes);
    const plan = planTick(o.entries, previous, o.now);
    result.notes.push(...plan.notes);
    for (const s of plan.skips) {
      result.skipped.push({
        schedule: s.entry.key,
        workflow_id: s.entry.workflowId,
        missed: s.missed,
        latest_missed: s.latest.toISOString(),
        catch_up: (s.entry.trigger.catch_up as string | undefined) ?? 'skip',
      });
    }
    const prepared = plan.runs.map((p) => {
      const tz = p.entry.schedule?.timezone ?? 'UTC';
      const iso = p.scheduledFor.toISOString();
      const eventId = `schedule:${p.entry.key}@${iso}`;
      const run: TickRun = {
        schedule: p.entry.key,
        workflow_id: p.entry.workflowId,
        scheduled_for: iso,
        scheduled_local: formatLocal(p.scheduledFor, tz),
        kind: p.kind,
        status: 'would_start',
        missed: p.missed,
      };
      const event = { scheduled_for: iso, scheduled_local: run.scheduled_local, timezone: tz, cron: p.entry.schedule?.expression, catch_up: p.kind === 'catch_up' };
      const vars = { id: p.entry.id, key: p.entry.key, type: 'schedule', workflow_id: p.entry.workflowId, source: 'cron', event_id: eventId, scheduled_for: iso };
      let assignments: string[] | undefined;
      try {
        assignments = renderParameters(p.entry.def, p.entry.trigger.parameters as Record<string, unknown> | undefined, event, vars, o.env).assignments;
      } catch (e) {
        run.status = 'invalid_parameters';
        run.message = describe(e);
      }
      return { p, run, assignments, eventId };
    });
    result.runs = prepared.map((x) => x.run);
    if (o.dryRun) return result;

    for (const x of prepared) {
      const st = plan.state.schedules[x.p.entry.key];
      if (st) {
        st.last_scheduled_for = x.run.scheduled_for;
        st.last_result = x.run.status === 'invalid_parameters' ? 'invalid_parameters' : 'starting';
      }
    }
    await o.state.write('tick', plan.state);

    await Promise.all(
      prepared
        .filter((x) => x.assignments)
        .map(async (x) => {
          const res = await o.starter({
            workflowId: x.p.entry.workflowId,
            assignments: x.assignments as string[],
            triggerInfo: { type: 'schedule', source: 'cron', trigger_id: x.p.entry.id, event_id: x.eventId, scheduled_for: x.run.scheduled_for },
          });
          x.run.status = res.ok ? 'started' : 'failed';
          x.run.execution_id = res.executionId ?? null;
          if (res.pid !== undefined) x.run.pid = res.pid;
          if (res.message) x.run.message = res.message;
          const st = plan.state.schedules[x.p.entry.key];
          if (st) {
            st.last_started_at = new Date().toISOString();
            st.last_execution = res.executionId ?? null;
            st.last_result = x.run.status;
          }
        }),
    );
    if (prepared.length) await o.state.write('tick', plan.state);
    return result;
  } finally {
    await lock.release();
  }
}
