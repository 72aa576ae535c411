/**
 * `cortex serve` drives its runs in its own process: the record is created before the answer
 * (src/app/trigger-starter.ts), then the run waits here for one of `maxRunning` slots and is
 * driven through the same lifecycle as `cortex resume ID` (withExecution: the execution's lock,
 * the record read again under it). At most `maxQueued` runs wait; their records exist (status
 * `pending`), so a crash of serve leaves them for `cortex resume ID` or the next serve start
 * (pendingRunsToPickUp).
 */
import { CortexError, StateConflictError, environmentErrorOf } from '../errors.js';
import type { ExecutionRecord } from '../model/records.js';
import type { Launcher } from '../ports/launcher.js';
import type { App } from './context.js';
import { resumeExecution } from './continue.js';
import { ExecutionLockedError } from './existing.js';

export interface InProcessRunsOptions {
  /** Runs driven at the same time (config serve.max_running, default 4). */
  maxRunning: number;
  /** Created runs that may wait for a slot (config serve.max_queued, default 256); beyond it new runs are refused as overloaded. */
  maxQueued: number;
  /** One line per run started, ended or refused (state/runs.log). */
  log: (line: string) => void;
  /** Longest time new drives wait while requests are being answered (default 2000 ms). */
  maxDeferMs?: number;
  /**
   * How long after the last answer drives still wait for the next request (default 50 ms): under
   * a burst the requests in hand are all between two answers now and then, and a drive started
   * in such a gap would take the event loop from the rest of the burst.
   */
  quietMs?: number;
  /** Drives one execution (default: as `cortex resume ID`, logged). Tests pass a fake. */
  drive?: (executionId: string) => Promise<void>;
  /** Told when a run driven here has ended or stopped (its workflow and the hash of the definition it ran with, when its record was read). */
  ended?: (executionId: string, workflowId: string | undefined, definitionHash: string | undefined) => void;
}

/** How often a run being driven looks for a `cortex cancel` of it. */
const CANCEL_POLL_MS = 250;

/** Defaults of config serve.max_running and serve.max_queued. */
export const DEFAULT_MAX_RUNNING = 4;
export const DEFAULT_MAX_QUEUED = 256;
/** Default of config serve.stop_grace_seconds: how long a stopping serve lets its runs end before pausing them. */
export const DEFAULT_STOP_GRACE_SECONDS = 20;

/**
 * A Launcher that drives the launched executions in this process, `maxRunning` at a time, in
 * launch order. `signal` stops them: a run being driven pauses as on Ctrl-C (the engine
 * records where it stopped), the waiting ones stay `pending`.
 */
export class InProcessRuns implements Launcher {
  private readonly waiting: string[] = [];
  private readonly running = new Map<string, Promise<void>>();
  private reserved = 0;
  private stopped = false;
  private starting = true;
  private answering = 0;
  private answeringSince = 0;
  private lastAnswerAt = -Infinity;
  private deferTimerAt = 0;
  private deferTimer: NodeJS.Timeout | undefined;

  /**
   * `appFor` gives the application a drive runs with (one per run: its signal stops that run);
   * `signal` stops them all.
   */
  constructor(
    private readonly appFor: (signal: AbortSignal) => App,
    private readonly signal: AbortSignal,
    private readonly options: InProcessRunsOptions,
  ) {}

  /** Room for one more new run: held until launch() takes it or release() gives it back. */
  reserve(): { release: () => void } | undefined {
    if (this.stopped || this.running.size + this.waiting.length + this.reserved >= this.options.maxRunning + this.options.maxQueued) return undefined;
    this.reserved++;
    let held = true;
    return {
      release: () => {
        if (held) this.reserved--;
        held = false;
      },
    };
  }

  /** Queues the execution (never refuses: the caller reserved room, or it is one of a few internal starts). */
  async launch(executionId: string): Promise<{ ok: boolean; pid?: number; message?: string }> {
    if (this.stopped) return { ok: false, message: 'serve is stopping' };
    if (this.running.has(executionId) || this.waiting.includes(executionId)) return { ok: true };
    this.waiting.push(executionId);
    this.pump();
    return { ok: true, pid: process.pid, ...(this.running.has(executionId) ? {} : { message: `waiting for one of ${this.options.maxRunning} run slots` }) };
  }

  /**
   * Runs `fn` (the answer to one request) with priority: while requests are being answered, no
   * new drive starts (starting one spawns processes and writes records on the same event loop),
   * for at most maxDeferMs; drives already going carry on. Under a burst the records are created
   * and answered first, and the runs driven right after.
   */
  async whileAnswering<T>(fn: () => Promise<T>): Promise<T> {
    // A request within quietMs of the last answer goes on the same busy spell (maxDeferMs counts it whole).
    if (this.answering++ === 0 && !this.isInQuietGap()) this.answeringSince = performance.now();
    try {
      return await fn();
    } finally {
      this.answering--;
      this.lastAnswerAt = performance.now();
      this.pump();
    }
  }

  private isInQuietGap(): boolean {
    return performance.now() - this.lastAnswerAt < (this.options.quietMs ?? 50);
  }

  /** Counts, for the log and tests. */
  get counts(): { running: number; waiting: number } {
    return { running: this.running.size, waiting: this.waiting.length };
  }

  /**
   * Starts no more drives (serve was told to stop, and answers the requests it has before stop()):
   * runs launched or waiting from now on wait, and stop() hands them back to stay `pending`,
   * rather than being started now and paused midway when the stop grace ends.
   */
  stopStarting(): void {
    this.starting = false;
  }

  /** Takes no more runs; the waiting ones stay `pending` for the next serve or `cortex resume`. */
  stop(): string[] {
    this.stopped = true;
    return this.waiting.splice(0);
  }

  /** Resolves when every run being driven has stopped (ended, or paused by `app.signal`). */
  async settled(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running.values()]);
  }

  /** Executions being driven now. */
  drivingNow(): string[] {
    return [...this.running.keys()];
  }

  private pump(): void {
    const deferMs = this.options.maxDeferMs ?? 2000;
    const now = performance.now();
    const isBusy = this.answering > 0 || this.isInQuietGap();
    const deferredFor = isBusy ? now - this.answeringSince : Infinity;
    if (deferredFor < deferMs && this.waiting.length && this.running.size < this.options.maxRunning) {
      // Looked at again when the busy spell may be over (quiet since the last answer) or at maxDeferMs.
      const quietLeft = this.answering > 0 ? Infinity : this.lastAnswerAt + (this.options.quietMs ?? 50) - now;
      const wakeAt = now + Math.max(1, Math.min(deferMs - deferredFor, quietLeft));
      // One timer, at the earliest time it may be needed.
      if (this.deferTimer && this.deferTimerAt <= wakeAt) return;
      clearTimeout(this.deferTimer);
      this.deferTimerAt = wakeAt;
      this.deferTimer = setTimeout(() => {
        this.deferTimer = undefined;
        this.pump();
      }, wakeAt - now);
      return;
    }
    if (this.deferTimer && !isBusy) {
      clearTimeout(this.deferTimer);
      this.deferTimer = undefined;
    }
    while (this.starting && !this.stopped && !this.signal.aborted && this.running.size < this.options.maxRunning && this.waiting.length) {
      const id = this.waiting.shift() as string;
      const run = (this.options.drive ?? ((x: string) => this.drive(x)))(id).catch(() => undefined).finally(() => {
        this.running.delete(id);
        this.pump();
      });
      this.running.set(id, run);
    }
  }

  private async drive(id: string): Promise<void> {
    const { log } = this.options;
    // `cortex cancel` marks the execution (it does not signal serve, which drives many): the
    // run stops as on a signal, and cancel then records it cancelled (as for a queue worker).
    const controller = new AbortController();
    const onStop = () => controller.abort(this.signal.reason);
    if (this.signal.aborted) onStop();
    else this.signal.addEventListener('abort', onStop, { once: true });
    const app = this.appFor(controller.signal);
    const store = app.sessions.base().store;
    let wake: (() => void) | undefined;
    let watching = true;
    const watch = (async () => {
      while (watching && !controller.signal.aborted) {
        if (await store.isCancelRequested(id).catch(() => false)) {
          controller.abort(new Error('cancelled'));
          break;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, CANCEL_POLL_MS);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    })();
    let workflowId: string | undefined;
    let definitionHash: string | undefined;
    try {
      const r = await resumeExecution(app, { executionId: id, emit: () => undefined, command: 'serve' });
      workflowId = r.record.workflow_id;
      definitionHash = r.record.definition?.hash;
      log(`${r.record.status} ${id} (exit ${r.exitCode})${r.record.status_reason ? `: ${r.record.status_reason}` : ''}`);
    } catch (e) {
      // Held by another process (an operator's resume), or ended meanwhile: not ours to drive.
      if (e instanceof ExecutionLockedError || (e instanceof StateConflictError && /has ended/.test(e.message))) log(`not driven ${id}: ${e.message}`);
      else {
        // A write the file system refused is the machine's to fix, as the CLI reports it (errors.ts).
        const reported = e instanceof CortexError ? e : environmentErrorOf(e);
        if (reported) log(`failed ${id} (exit ${reported.exitCode}): ${reported.message}${reported.hint ? ` (${reported.hint})` : ''}`);
        else log(`failed ${id}: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}; cortex resume ${id} continues it`);
      }
    } finally {
      watching = false;
      wake?.();
      this.signal.removeEventListener('abort', onStop);
      await watch;
    }
    this.options.ended?.(id, workflowId, definitionHash);
  }
}

/**
 * Runs created for an event (serve, `cortex trigger`) that nothing has driven yet: `pending`, not
 * waiting behind others (on_conflict: queue), never held by a process. serve drives them when it
 * starts (a previous serve stopped or crashed with them waiting); oldest first.
 */
export function pendingRunsToPickUp(records: ExecutionRecord[]): string[] {
  return records
    .filter((r) => r.status === 'pending' && r.queued === undefined && !r.process && (r.trigger.type === 'webhook' || r.trigger.type === 'event'))
    .sort((a, b) => a.started_at.localeCompare(b.started_at))
    .map((r) => r.execution_id);
}
