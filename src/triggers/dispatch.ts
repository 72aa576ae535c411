/**
 * One incoming event, from matching to started runs: shared by `cortex trigger` and `cortex serve`.
 * match -> render each match's parameters -> claim the event ids (dedup) -> start the runs
 * (in parallel) -> a result that says, per trigger, what happened.
 */
import { CortexError, StateConflictError } from '../errors.js';
import { ExpressionEvalError, ExpressionSyntaxError } from '../definitions/expression-eval.js';
import { DedupDamagedError, type DedupStore } from './dedup.js';
import type { TriggerEntry } from './load.js';
import { matchEvent, type IncomingEvent } from './match.js';
import { renderParameters } from './render.js';
import type { Starter, TriggerInfoArg } from './start.js';

/** `busy`: refused for now (the workflow is at its concurrency limit, or too many runs are starting); the event is not marked seen. */
export type RunOutcome = 'started' | 'queued' | 'would_start' | 'duplicate' | 'invalid_parameters' | 'failed' | 'busy';

export interface DispatchedRun {
  trigger: string;
  workflow_id: string;
  event_id: string;
  status: RunOutcome;
  parameters?: Record<string, unknown>;
  execution_id?: string | null;
  pid?: number;
  exit_code?: number | null;
  message?: string;
  first_seen?: string;
  /**
   * For `busy`: why (conflict: the workflow is in progress; overloaded: too many starts at once, or
   * the dedup state's lock is held by another process past the wait;
   * unavailable: the dedup state is damaged, so whether the event was handled cannot be known;
   * queue_unreachable: queue mode, and Redis does not answer, so no worker could drive it).
   */
  busy?: 'conflict' | 'overloaded' | 'unavailable' | 'queue_unreachable';
  /** Older executions cancelled to start this one (on_conflict: cancel_older). */
  cancelled?: string[];
}

export interface DispatchResult {
  matched: number;
  executions: string[];
  runs: DispatchedRun[];
  not_matched: Array<{ trigger: string; workflow_id: string; reason: string; unit?: string }>;
}

export function triggerKind(type: string): TriggerInfoArg['type'] {
  if (type === 'schedule') return 'schedule';
  if (type === 'webhook' || type === 'github_webhook') return 'webhook';
  return 'event';
}

export interface DispatchOptions {
  env: Record<string, string | undefined>;
  starter: Starter;
  dedup?: DedupStore;
  dryRun?: boolean;
  force?: boolean;
  now?: () => Date;
}

function message(e: unknown): string {
  if (e instanceof CortexError || e instanceof ExpressionEvalError || e instanceof ExpressionSyntaxError) return e.message;
  throw e;
}

/** Matches `ev` against `entries` and starts the runs. Throws BadEventError for a malformed event. */
export async function dispatchEvent(entries: TriggerEntry[], ev: IncomingEvent, options: DispatchOptions): Promise<DispatchResult> {
  const { matches, misses } = matchEvent(entries, ev, options.env);
  const result: DispatchResult = {
    matched: matches.length,
    executions: [],
    runs: [],
    not_matched: misses.map((m) => ({ trigger: m.entry.key, workflow_id: m.entry.workflowId, reason: m.reason, ...(m.unit ? { unit: m.unit } : {}) })),
  };
  const ready: Array<{ run: DispatchedRun; assignments: string[]; dedup: boolean; aliases: string[]; kind: TriggerInfoArg['type'] }> = [];
  // The same event twice in one delivery (an Alertmanager notification listing one alert twice)
  // starts its runs once, as it would sent twice.
  const inDelivery = new Set<string>();
  for (const m of matches) {
    const run: DispatchedRun = { trigger: m.entry.key, workflow_id: m.entry.workflowId, event_id: m.eventId, status: 'would_start' };
    result.runs.push(run);
    if (m.dedup) {
      const key = `${m.entry.key}\0${m.eventId}`;
      if (inDelivery.has(key)) {
        const at = ev.receivedAt.toISOString();
        Object.assign(run, { status: 'duplicate', first_seen: at, message: `event ${m.eventId} appears more than once in this delivery: its run starts once` });
        continue;
      }
      inDelivery.add(key);
    }
    try {
      const r = renderParameters(m.entry.def, m.entry.trigger.parameters as Record<string, unknown> | undefined, m.event, m.vars, options.env);
      run.parameters = r.values;
      ready.push({ run, assignments: r.assignments, dedup: m.dedup, aliases: m.aliases ?? [], kind: triggerKind(m.entry.type) });
    } catch (e) {
      run.status = 'invalid_parameters';
      run.message = message(e);
    }
  }
  if (options.dryRun || ready.length === 0) return result;

  const toClaim = new Map<string, { workflows: string[]; aliases: string[] }>();
  for (const r of ready) {
    if (!r.dedup) continue;
    const c = toClaim.get(r.run.event_id) ?? { workflows: [], aliases: [] };
    c.workflows.push(r.run.workflow_id);
    c.aliases = [...new Set([...c.aliases, ...r.aliases])];
    toClaim.set(r.run.event_id, c);
  }
  let fresh = new Set<string>(toClaim.keys());
  if (options.dedup && toClaim.size) {
    let claimed;
    try {
      claimed = await options.dedup.claim(
        [...toClaim].map(([key, c]) => ({ key, workflows: c.workflows, aliases: c.aliases })),
        options.now?.() ?? new Date(),
        { force: options.force },
      );
    } catch (e) {
      // Damaged (until repaired), or its lock held past the wait (for now: a cortex killed while
      // holding it leaves it until it is stale): nothing that needs deduplication starts; the
      // sender's next delivery can.
      if (!(e instanceof DedupDamagedError) && !(e instanceof StateConflictError)) throw e;
      const refusal = e instanceof DedupDamagedError ? { busy: 'unavailable' as const, message: `${e.message} (${e.hint})` } : { busy: 'overloaded' as const, message: `${e.message}: send it again later` };
      for (const r of ready.filter((x) => x.dedup)) Object.assign(r.run, { status: 'busy', exit_code: e.exitCode, ...refusal });
      claimed = { fresh: new Set<string>(), seen: new Map() };
      toClaim.clear();
    }
    fresh = claimed.fresh;
    for (const r of ready) {
      const prev = claimed.seen.get(r.run.event_id);
      if (prev) {
        r.run.status = 'duplicate';
        r.run.first_seen = prev.first_seen;
        r.run.message = `event ${r.run.event_id} was already handled at ${prev.first_seen}`;
      }
    }
  }
  await Promise.all(
    ready
      .filter((r) => r.run.status === 'would_start' && (!r.dedup || fresh.has(r.run.event_id)))
      .map(async (r) => {
        const res = await options.starter({
          workflowId: r.run.workflow_id,
          assignments: r.assignments,
          triggerInfo: { type: r.kind, source: ev.source, trigger_id: r.run.trigger.slice(r.run.workflow_id.length + 1), event_id: r.run.event_id },
        });
        r.run.status = res.ok ? (res.queued ? 'queued' : 'started') : res.busy ? 'busy' : 'failed';
        if (res.busy) r.run.busy = res.busy;
        r.run.execution_id = res.executionId ?? null;
        if (res.pid !== undefined) r.run.pid = res.pid;
        if (res.exitCode !== undefined) r.run.exit_code = res.exitCode;
        if (res.message) r.run.message = res.message;
        if (res.cancelled?.length) r.run.cancelled = res.cancelled;
      }),
  );
  // An event none of whose runs could start for now is forgotten, so its sender's next delivery
  // (Alertmanager re-sends, GitHub redelivers) can start it.
  if (options.dedup) {
    const claimedNow = ready.filter((r) => r.dedup && fresh.has(r.run.event_id));
    const byEvent = new Map<string, DispatchedRun[]>();
    for (const r of claimedNow) byEvent.set(r.run.event_id, [...(byEvent.get(r.run.event_id) ?? []), r.run]);
    const forget = [...byEvent].filter(([, runs]) => runs.every((x) => x.status === 'busy')).map(([k]) => k);
    if (forget.length) await options.dedup.release(forget.flatMap((k) => [k, ...(toClaim.get(k)?.aliases ?? [])]));
  }
  result.executions = result.runs.flatMap((r) => ((r.status === 'started' || r.status === 'queued') && r.execution_id ? [r.execution_id] : []));
  return result;
}
