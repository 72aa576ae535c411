import { ActionFailedError, ActionOutcomeUnknownError, ExitCode, InterruptedError, StateConflictError, WorkerReportedError } from '../errors.js';
import type { ActionDispatcher } from '../ports/action-queue.js';
import type { ActionImpl, ImplementationRegistry } from '../contractors/action-impl.js';
import type { ActionSpec, Catalogue } from '../model/catalogue.js';
import type { ResolvedConfig } from '../config/config.js';
import { evaluateCondition, resolveValue, type Resolver } from '../definitions/expression-eval.js';
import { phaseCondition, type ActionDef, type LoadedWorkflow, type PhaseDef, type WorkflowDefinition } from '../definitions/types.js';
import type { EngineDeps } from './deps.js';
import { collectListHandoff, newHandoff, receivingPhase } from './handoffs.js';
import type { ActionRecord, AttemptRecord, ErrorInfo, ExecutionRecord, HandoffRecord, PhaseRecord } from '../model/records.js';
import type { ActionPosition } from '../model/journal.js';
import { isTerminal } from '../model/records.js';
import { createResolver, secretNamesIn } from './scope.js';
import { errorInfo, retryPolicy, runAttempts, type AttemptHost, type AttemptTarget } from './attempt.js';
import { buildSummary } from './summary.js';
import { currentProcess } from './live-status.js';
import { checkLeftovers } from './leftovers.js';
import { taskCommands, writeDraftFile } from './person-task.js';


/**
 * One debug.log entry. Every line of it, output tails included, starts with the time, the
 * execution id and the action (continuation lines with " | "), so that `grep <execution_id>` and
 * `cortex logs ID --debug` keep the whole entry.
 */
export function debugEntry(prefix: string, message: string): string {
  const [first, ...rest] = message.replace(/\n+$/, '').split('\n');
  return `${[`${prefix} ${first}`, ...rest.map((l) => `${prefix} | ${l}`)].join('\n')}\n`;
}

/** Everything one execution needs besides the ports. */
export interface RunContext {
  loaded: LoadedWorkflow;
  catalogue: Catalogue;
  impls: ImplementationRegistry;
  config: ResolvedConfig;
  env: Record<string, string | undefined>;
  /** Unmasked parameter values (after defaults and coercion). */
  params: Record<string, unknown>;
  signal: AbortSignal;
  debug: boolean;
  /** Operator choices for an action whose outcome is unknown after a crash. */
  resume?: { retryAction?: string; skipAction?: string };
  /** A reason to pause before starting the next action (queue mode: the queue does not answer); undefined: go on. */
  hold?: () => string | undefined;
  /** Called when an on_error asks for rollback; without it the record only says rollback_required. */
  rollback?: (exec: Execution, scope: 'workflow' | 'phase', reason: string, phaseId?: string) => Promise<void>;
}

type Stop =
  | { kind: 'failed'; error: ErrorInfo; rollback?: 'workflow' | 'phase'; phaseId?: string }
  | { kind: 'paused'; reason: string; error?: ErrorInfo }
  | { kind: 'awaiting'; reason: string }
  | { kind: 'interrupted'; reason: string }
  | { kind: 'unknown_outcome'; reason: string };

const iso = (d: Date) => d.toISOString();

/** While the process lives, the record file lags its journal by at most this (then it is written whole). */
export const REWRITE_AFTER_MS = 1000;
const seconds = (from?: string | null, to?: string | null) =>
  from && to ? Math.round((Date.parse(to) - Date.parse(from)) / 10) / 100 : null;

export { errorInfo } from './attempt.js';

/**
 * One execution in progress. Holds the record, persists it after every state change (writes are
 * serialised), and walks phases and actions. Used for fresh runs and for resume alike: whatever
 * the record says is done is not done again.
 */
export class Execution implements AttemptHost {
  readonly def: WorkflowDefinition;
  /** A change not written yet. */
  private dirty = false;
  /** Among the changes not written yet, one that only a whole record write holds (an unhinted persist). */
  private needsWholeWrite = false;
  /** Among the changes not written yet, one whose persist waits for it to be durable (all but an action's end). */
  private needsSync = false;
  /** The actions the changes not written yet touched (hinted persists); the journal line holds them. */
  private readonly touched = new Set<ActionRecord>();
  /** Lines in the journal since the record file was last written whole: the file lags until the next one. */
  private hasJournalLines = false;
  /** Cancels the rewrite of the record file due at most REWRITE_AFTER_MS after the first journal line. */
  private rewriteTimer: AbortController | undefined;
  /** Where each action record sits in record.phases (checked on use; rebuilt when stale). */
  private positions = new WeakMap<object, ActionPosition>();
  private writing: Promise<void> | undefined;
  private readonly debugContractors = new Map<string, boolean>();
  private readonly secretValues = new Map<string, string>();

  constructor(
    readonly deps: EngineDeps,
    readonly ctx: RunContext,
    readonly record: ExecutionRecord,
  ) {
    this.def = ctx.loaded.definition;
  }

  now(): string {
    return iso(this.deps.clock.now());
  }

  get config(): ResolvedConfig {
    return this.ctx.config;
  }

  get catalogue(): Catalogue {
    return this.ctx.catalogue;
  }

  get impls(): ImplementationRegistry {
    return this.ctx.impls;
  }

  get executionId(): string {
    return this.record.execution_id;
  }

  get workflowId(): string {
    return this.record.workflow_id;
  }

  evaluateCondition(condition: string): boolean {
    return this.evaluate(condition);
  }

  /**
   * Makes every change made before the call durable; resolves when it is on disk. `changed` names
   * the action records (or plan steps of one) that are all the change since the last persist,
   * besides the top-level fields: it goes to the journal as one fsynced line (the per-action
   * path). Without it, or when a target is not an action of this record, the whole record file
   * is written. Writes never overlap: changes made while one is in flight are written together
   * by the next one (the store serialises the record when the write starts).
   *
   * `sync: false` (an action's end only): its journal line need not be fsynced on its own; it
   * is written (a kill of cortex keeps it) and becomes durable with the store's next durable
   * write (the next action's start line, before its tool starts), the next whole write, or
   * flush() (see StateStore.journalExecution and docs/file-contract.md).
   */
  persist(changed?: AttemptTarget | readonly AttemptTarget[], options: { sync?: boolean } = {}): Promise<void> {
    this.record.updated_at = this.now();
    this.dirty = true;
    if (options.sync !== false) this.needsSync = true;
    const targets = changed === undefined ? [] : Array.isArray(changed) ? changed : [changed as AttemptTarget];
    if (targets.length === 0) this.needsWholeWrite = true;
    for (const t of targets) {
      if (this.positionOf(t)) this.touched.add(t as ActionRecord);
      else this.needsWholeWrite = true;
    }
    return this.startWriting();
  }

  private startWriting(): Promise<void> {
    this.writing ??= this.drain().finally(() => {
      this.writing = undefined;
    });
    return this.writing;
  }

  /** Where an action record sits in this record; undefined for anything else (a rollback step). */
  private positionOf(target: AttemptTarget): ActionPosition | undefined {
    const at = this.positions.get(target);
    if (at && this.record.phases[at.phase]?.actions[at.action] === target) return at;
    this.positions = new WeakMap();
    this.record.phases.forEach((p, i) => p.actions.forEach((a, j) => this.positions.set(a, { phase: i, action: j })));
    const again = this.positions.get(target);
    return again && this.record.phases[again.phase]?.actions[again.action] === target ? again : undefined;
  }

  private async drain(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      const isWhole = this.needsWholeWrite;
      const sync = this.needsSync;
      const changed = [...this.touched].map((a) => this.positionOf(a));
      this.needsWholeWrite = false;
      this.needsSync = false;
      this.touched.clear();
      if (!isWhole && changed.every((c) => c !== undefined)) {
        try {
          if (await this.deps.store.journalExecution(this.record, changed as ActionPosition[], sync ? {} : { sync: false })) {
            this.noteJournalLine();
            continue;
          }
        } catch (e) {
          // Nothing of this step is durable yet: the next attempt is a whole write.
          this.needsWholeWrite = true;
          this.dirty = true;
          throw e;
        }
      }
      try {
        await this.deps.store.writeExecution(this.record);
      } catch (e) {
        this.needsWholeWrite = true;
        this.dirty = true;
        throw e;
      }
      this.hasJournalLines = false;
      this.rewriteTimer?.abort();
      this.rewriteTimer = undefined;
    }
  }

  /** The first line since the record file was written whole: rewrite it within REWRITE_AFTER_MS. */
  private noteJournalLine(): void {
    if (this.hasJournalLines) return;
    this.hasJournalLines = true;
    const timer = new AbortController();
    this.rewriteTimer = timer;
    this.deps.clock.timer(REWRITE_AFTER_MS, timer.signal).then(
      () => {
        if (this.rewriteTimer !== timer) return;
        this.rewriteTimer = undefined;
        this.rewriteWhole().catch((e: unknown) => this.deps.emit({ kind: 'warning', message: `cannot rewrite the record of ${this.record.execution_id}: ${(e as Error).message}` }));
      },
      () => undefined,
    );
  }

  /** Writes the record file whole when journal lines are ahead of it (no other change). */
  private rewriteWhole(): Promise<void> {
    if (!this.hasJournalLines) return this.writing ?? Promise.resolve();
    this.needsWholeWrite = true;
    this.dirty = true;
    return this.startWriting();
  }

  /**
   * Waits for every write, the debug.log lines included, and leaves the record file whole (not
   * behind its journal). Call it before the execution's lock is released.
   */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    await this.rewriteWhole();
    this.rewriteTimer?.abort();
    this.rewriteTimer = undefined;
    await this.debugWrites;
  }

  private async isDebug(contractor: string): Promise<boolean> {
    if (this.ctx.debug) return true;
    let v = this.debugContractors.get(contractor);
    if (v === undefined) {
      v = await this.deps.store.isDebug(contractor);
      this.debugContractors.set(contractor, v);
    }
    return v;
  }

  /** One line in the contractor's log; a failed write is reported (once) but never stops the run. */
  async log(contractor: string, phaseId: string, actionId: string, event: string, extra: Record<string, unknown> = {}): Promise<void> {
    const fields = Object.entries(extra)
      .filter(([, v]) => v !== undefined && v !== null && v !== '')
      .map(([k, v]) => `${k}=${typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : String(v)}`);
    const line = [this.now(), `execution=${this.record.execution_id}`, `phase=${phaseId}`, `action=${actionId}`, `event=${event}`, ...fields].join(' ');
    try {
      await this.deps.store.appendContractorLog(contractor, line);
    } catch (e) {
      this.logFailed(contractor, e);
    }
  }

  /** What was already warned about in this execution (see warnOnce). */
  private readonly warned = new Set<string>();
  private debugWrites: Promise<void> = Promise.resolve();

  /** A warning, the first time only for `key` in this execution (shown without --verbose: no repeats). */
  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.deps.emit({ kind: 'warning', message });
  }

  private logFailed(contractor: string, e: unknown): void {
    this.warnOnce(`log ${contractor}`, `cannot write the log of ${contractor}: ${(e as Error).message}`);
  }

  /** debug.log lines are written in order; flush() waits for them. */
  private debugLine(contractor: string, text: string): void {
    this.debugWrites = this.debugWrites.then(() => this.deps.store.appendDebugLog(contractor, text)).catch((e: unknown) => this.logFailed(contractor, e));
  }

  builtins(): Record<string, unknown> {
    const start = this.record.started_at;
    return {
      workflow_id: this.record.workflow_id,
      workflow_name: this.record.workflow_name,
      execution_id: this.record.execution_id,
      status: () => this.record.status,
      date: start.slice(0, 10).replace(/-/g, ''),
      time: start.slice(11, 19).replace(/:/g, ''),
      timestamp: start,
      sequence: this.record.execution_id.slice(-4),
      user: this.record.trigger.user ?? this.deps.identity.user,
      host: this.deps.identity.host,
    };
  }

  resolver(extra?: Record<string, unknown>): Resolver {
    return createResolver({
      def: this.def,
      record: this.record,
      params: this.ctx.params,
      env: this.ctx.env,
      secrets: this.secretValues,
      builtins: this.builtins(),
      mode: 'run',
      ...(extra ? { extra } : {}),
      // Once per reference and reason: a reference to a skipped action is a normal design, seen
      // again by every action and every attempt that resolves it.
      onNull: (text, why) => this.warnOnce(`null \${${text}} ${why}`, `\${${text}} is null: ${why}`),
    });
  }

  /** Fetches every secret a value mentions, so synchronous evaluation can use them. */
  async loadSecrets(value: unknown): Promise<void> {
    for (const name of secretNamesIn(value)) {
      if (this.secretValues.has(name)) continue;
      const v = await this.deps.secrets.get(name);
      if (v === undefined) {
        throw new ActionFailedError(`secret "${name}" is not set`, { errorCode: 'secret_missing', retryable: false, hint: `set ${this.deps.secrets.describe(name)}` });
      }
      if (v.length < 4) {
        throw new ActionFailedError(`secret "${name}" is shorter than 4 characters and cannot be masked safely`, { errorCode: 'secret_unsafe', retryable: false });
      }
      this.deps.masker.add(v);
      this.secretValues.set(name, v);
    }
  }

  evaluate(condition: string, extra?: Record<string, unknown>): boolean {
    return evaluateCondition(condition, this.resolver(extra));
  }

  phaseRecord(id: string): PhaseRecord {
    const p = this.record.phases.find((x) => x.phase_id === id);
    if (!p) throw new Error(`no phase record ${id}`);
    return p;
  }

  /**
   * Refuses, before anything runs, an execution whose handoff files cannot be read (the files
   * are kept as they are for the operator to repair).
   */
  async checkHandoffs(): Promise<void> {
    for (const pr of this.record.phases) {
      const def = this.def.phases.find((p) => p.phase_id === pr.phase_id);
      const targets = new Set([def?.handoff_to, def?.handoff_decision?.then, def?.handoff_decision?.else].filter((c): c is string => Boolean(c) && c !== 'conditional'));
      const refs: Array<[string, string]> = [...(pr.handoff_out ? [...targets].map((c) => [c, pr.handoff_out as string] as [string, string]) : []), ...(pr.handoff_in ? [[pr.contractor, pr.handoff_in] as [string, string]] : [])];
      for (const [contractor, id] of refs) {
        try {
          await this.deps.store.readHandoff(contractor, id);
        } catch (e) {
          throw new StateConflictError(`execution ${this.record.execution_id}: handoff ${id} cannot be read: ${(e as Error).message}`, {
            hint: 'the file is kept as it is: repair it from the execution record (phases[].handoff_data), then run the command again',
          });
        }
      }
    }
  }

  /** Runs (or continues) the execution until it ends or has to stop; returns the record. */
  async run(): Promise<ExecutionRecord> {
    const rec = this.record;
    if ((rec.status === 'rolling_back' || rec.rollback?.status === 'running') && rec.rollback && this.ctx.rollback) {
      return this.continueRollback();
    }
    rec.status = 'running';
    delete rec.status_reason;
    rec.process = currentProcess(this.deps.identity, this.now());
    await this.persist();
    let stop: Stop | undefined;
    try {
      for (let i = 0; i < this.def.phases.length && !stop; i++) {
        stop = await this.runPhase(this.def.phases[i] as PhaseDef, i);
        if (!stop) this.checkEscalations();
      }
    } catch (e) {
      if (e instanceof InterruptedError || this.ctx.signal.aborted) stop = { kind: 'interrupted', reason: this.abortReason() };
      else throw e;
    }
    await this.finish(stop);
    return rec;
  }

  /** A rollback that a crash or Ctrl-C interrupted: run its remaining steps. */
  private async continueRollback(): Promise<ExecutionRecord> {
    const rec = this.record;
    const rb = rec.rollback as NonNullable<ExecutionRecord['rollback']>;
    rec.process = currentProcess(this.deps.identity, this.now());
    const phaseId = rb.scope === 'phase' ? rb.steps.find((s) => s.for_phase)?.for_phase : undefined;
    try {
      await (this.ctx.rollback as NonNullable<RunContext['rollback']>)(this, rb.scope, rb.reason, phaseId);
    } catch (e) {
      if (!(e instanceof InterruptedError) && !this.ctx.signal.aborted) throw e;
      rec.status_reason = `${this.abortReason()} during the rollback: cortex rollback ${rec.execution_id} continues it`;
    }
    if (rb.scope === 'phase' && rec.status === 'rolling_back') rec.status = 'failed';
    await this.finalize();
    return rec;
  }

  private abortReason(): string {
    const r = this.ctx.signal.reason;
    const what = r instanceof Error ? r.message : String(r ?? 'interrupted');
    return what === 'cancelled' ? 'cancelled by an operator' : `interrupted by ${what}`;
  }

  private async runPhase(phase: PhaseDef, index: number): Promise<Stop | undefined> {
    const pr = this.phaseRecord(phase.phase_id);
    if (pr.status === 'completed' || pr.status === 'skipped' || pr.status === 'failed') return undefined;
    if (this.ctx.signal.aborted) return { kind: 'interrupted', reason: this.abortReason() };
    this.record.current_phase = phase.phase_id;
    this.record.current_action = null;

    if (pr.status === 'pending') {
      const cond = phaseCondition(phase);
      if (cond !== undefined) {
        let value: boolean;
        try {
          value = this.evaluate(cond);
        } catch (e) {
          return { kind: 'failed', error: { code: 'condition_error', message: `phase "${phase.phase_id}" condition ${cond}: ${errorInfo(e).message}` } };
        }
        pr.condition = { expression: cond, value };
        if (!value) {
          pr.status = 'skipped';
          pr.skip_reason = `condition is false: ${cond}`;
          for (const a of pr.actions) {
            a.status = 'skipped';
            a.skip_reason = 'phase skipped';
          }
          await this.retargetHandoffs(phase, index);
          this.deps.emit({ kind: 'phase-skip', phaseId: phase.phase_id, reason: pr.skip_reason });
          await this.persist();
          return undefined;
        }
      }
      if (phase.requires_approval !== undefined && phase.requires_approval !== false) {
        let needed: boolean;
        try {
          needed = typeof phase.requires_approval === 'boolean' ? phase.requires_approval : this.evaluate(phase.requires_approval);
        } catch (e) {
          return { kind: 'failed', error: { code: 'condition_error', message: `phase "${phase.phase_id}" requires_approval: ${errorInfo(e).message}` } };
        }
        if (needed) {
          const now = this.deps.clock.now();
          pr.status = 'awaiting_approval';
          pr.approval = {
            required: true,
            ...(phase.approval_role ? { role: phase.approval_role } : {}),
            requested_at: iso(now),
            expires_at: phase.approval_timeout ? iso(new Date(now.getTime() + phase.approval_timeout * 1000)) : null,
          };
          this.deps.emit({ kind: 'approval-wait', phaseId: phase.phase_id, role: phase.approval_role, expiresAt: pr.approval.expires_at });
          return { kind: 'awaiting', reason: `phase "${phase.phase_id}" needs approval${phase.approval_role ? ` by ${phase.approval_role}` : ''}: cortex approve ${this.record.execution_id}` };
        }
      }
    }
    if (pr.status === 'awaiting_approval') {
      const decision = pr.approval?.decision;
      if (decision === undefined) return { kind: 'awaiting', reason: `phase "${phase.phase_id}" is waiting for approval` };
      if (decision !== 'approved') {
        pr.status = 'failed';
        pr.finished_at = this.now();
        return { kind: 'failed', error: { code: `approval_${decision}`, message: `phase "${phase.phase_id}" was ${decision}${pr.approval?.comment ? `: ${pr.approval.comment}` : ''}` }, rollback: 'workflow' };
      }
    }

    if (pr.status !== 'running') {
      pr.status = 'running';
      pr.started_at = this.now();
      await this.pickUpHandoff(phase);
      this.deps.emit({ kind: 'phase-start', phaseId: phase.phase_id, phaseName: phase.phase_name, contractor: phase.contractor });
      await this.persist();
    }

    const stop = phase.parallel ? await this.runParallel(phase, pr) : await this.runSequential(phase, pr);
    if (stop) {
      if (stop.kind === 'failed') {
        pr.status = 'failed';
        pr.finished_at = this.now();
        pr.duration_seconds = seconds(pr.started_at, pr.finished_at);
        await this.closeHandoffIn(pr, 'failed');
        this.deps.emit({ kind: 'phase-end', phaseId: phase.phase_id, status: 'failed', durationMs: (pr.duration_seconds ?? 0) * 1000 });
      }
      return stop;
    }
    pr.status = 'completed';
    pr.finished_at = this.now();
    pr.duration_seconds = seconds(pr.started_at, pr.finished_at);
    await this.closeHandoffIn(pr, 'completed');
    await this.handOff(phase, index, pr);
    this.deps.emit({ kind: 'phase-end', phaseId: phase.phase_id, status: 'completed', durationMs: (pr.duration_seconds ?? 0) * 1000 });
    await this.persist();
    return undefined;
  }

  private async runSequential(phase: PhaseDef, pr: PhaseRecord): Promise<Stop | undefined> {
    for (let j = 0; j < phase.actions.length; j++) {
      const def = phase.actions[j] as ActionDef;
      const ar = pr.actions[j] as ActionRecord;
      const outcome = await this.runOneAction(phase, def, ar);
      if (outcome === 'skip_phase') {
        for (const rest of pr.actions.slice(j + 1)) {
          if (rest.status === 'pending') {
            rest.status = 'skipped';
            rest.skip_reason = `skip_phase after "${def.action_id}" failed`;
          }
        }
        await this.persist();
        return undefined;
      }
      if (outcome) return outcome;
    }
    return undefined;
  }

  private async runParallel(phase: PhaseDef, pr: PhaseRecord): Promise<Stop | undefined> {
    const limit = phase.max_parallel ?? this.ctx.config.defaults.maxParallel;
    const queue = phase.actions.map((def, j) => ({ def, ar: pr.actions[j] as ActionRecord }));
    const stops: Stop[] = [];
    let skipRest = false;
    const worker = async () => {
      for (;;) {
        const next = queue.shift();
        if (!next) return;
        if (stops.length || skipRest) {
          if (next.ar.status === 'pending') {
            next.ar.status = 'skipped';
            next.ar.skip_reason = 'an earlier failure in this parallel phase stopped it';
          }
          continue;
        }
        const outcome = await this.runOneAction(phase, next.def, next.ar);
        if (outcome === 'skip_phase') skipRest = true;
        else if (outcome) stops.push(outcome);
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, worker));
    await this.persist();
    const rank = (s: Stop) => ({ interrupted: 0, unknown_outcome: 1, failed: 2, paused: 3, awaiting: 4 })[s.kind];
    return stops.sort((a, b) => rank(a) - rank(b))[0];
  }

  /** Runs one action to its end and applies its on_error. Returns a Stop, 'skip_phase', or undefined to go on. */
  private async runOneAction(phase: PhaseDef, def: ActionDef, ar: ActionRecord): Promise<Stop | 'skip_phase' | undefined> {
    if (ar.status === 'completed' || ar.status === 'skipped' || ar.status === 'failed' || ar.status === 'errored') return undefined;
    if (this.ctx.signal.aborted) return { kind: 'interrupted', reason: this.abortReason() };
    // Paused between actions, never in one: nothing is left half done while the queue is away.
    const hold = this.ctx.hold?.();
    if (hold) return { kind: 'paused', reason: hold };
    const spec = this.ctx.catalogue.get(phase.contractor, def.action) as ActionSpec;
    ar.contractor = phase.contractor;
    ar.idempotent = spec.idempotent;
    this.record.current_action = def.action_id;

    if (ar.status === 'awaiting_input') {
      const task = ar.person_task;
      if (task?.result === 'rejected') {
        const by = task.completed_by ? ` by ${task.completed_by}` : '';
        return this.applyOnError(phase, def, ar, { code: 'task_rejected', message: `the task was rejected${by}${task.comment ? `: ${task.comment}` : ''}` });
      }
      if (task?.result === 'failed') return this.applyOnError(phase, def, ar, task.error ?? { code: 'task_failed', message: 'the person said the task did not succeed' });
      return { kind: 'awaiting', reason: this.taskReason(def, ar) };
    }
    if (ar.status === 'running' || ar.status === 'interrupted') {
      // The process died (or was stopped) while this action ran: its effect is unknown.
      const choice = this.ctx.resume;
      if (choice?.skipAction === def.action_id) {
        ar.status = 'skipped';
        ar.skip_reason = 'skipped by the operator on resume (--skip-action)';
        this.closeOpenAttempt(ar, 'interrupted');
        await this.persist();
        return undefined;
      }
      // Its tools may outlive the cortex that started them: never run it twice at once.
      const busy = await checkLeftovers(this.deps, ar, this.record.execution_id, this.ctx.signal);
      if (busy) return busy === 'aborted' ? { kind: 'interrupted', reason: this.abortReason() } : busy;
      if (!spec.idempotent && choice?.retryAction !== def.action_id) {
        return {
          kind: 'unknown_outcome',
          reason: `action "${def.action_id}" (${def.action}) was running when the execution stopped and is not idempotent, so running it again could repeat its effect; check it, then choose: cortex resume ${this.record.execution_id} --retry-action ${def.action_id} | --skip-action ${def.action_id}, or cortex rollback ${this.record.execution_id}`,
        };
      }
      this.closeOpenAttempt(ar, 'interrupted');
    }

    if (def.condition !== undefined) {
      let value: boolean;
      try {
        value = this.evaluate(def.condition);
      } catch (e) {
        return this.applyOnError(phase, def, ar, { code: 'condition_error', message: `condition ${def.condition}: ${errorInfo(e).message}` });
      }
      if (!value) {
        ar.status = 'skipped';
        ar.skip_reason = `condition is false: ${def.condition}`;
        await this.persist(ar);
        return undefined;
      }
    }

    if (spec.kind === 'person') {
      ar.started_at ??= this.now();
      ar.person_task = {};
      let params: Record<string, unknown>;
      try {
        await this.loadSecrets(def.parameters ?? {});
        params = resolveValue(def.parameters ?? {}, this.resolver()) as Record<string, unknown>;
        ar.parameters = this.deps.masker.maskValue(params);
      } catch (e) {
        return this.applyOnError(phase, def, ar, errorInfo(e));
      }
      const impl = await this.ctx.impls.get(spec);
      if (impl && (await this.draftTask(phase, def, ar, spec, impl, params)) === 'interrupted') return { kind: 'interrupted', reason: this.abortReason() };
      ar.status = 'awaiting_input';
      await this.persist();
      this.deps.emit({ kind: 'approval-wait', phaseId: phase.phase_id, actionId: def.action_id, role: phase.approval_role });
      await this.log(phase.contractor, phase.phase_id, def.action_id, 'awaiting_person', ar.person_task.draft_file ? { draft: ar.person_task.draft_file } : {});
      return { kind: 'awaiting', reason: this.taskReason(def, ar) };
    }

    const impl = await this.ctx.impls.get(spec);
    if (!impl) {
      return this.applyOnError(phase, def, ar, { code: 'not_implemented', message: `no implementation of ${phase.contractor}/${def.action}` });
    }
    const result = await this.attemptAction(phase, def, ar, spec, impl);
    if (result === 'interrupted') return { kind: 'interrupted', reason: this.abortReason() };
    if (result === 'unknown') {
      return {
        kind: 'unknown_outcome',
        reason: `action "${def.action_id}" (${def.action}) was running when the execution stopped and is not idempotent, so running it again could repeat its effect (the ${phase.contractor} worker that held it stopped answering); check it, then choose: cortex resume ${this.record.execution_id} --retry-action ${def.action_id} | --skip-action ${def.action_id}, or cortex rollback ${this.record.execution_id}`,
      };
    }
    if (result === 'ok') return undefined;
    return this.applyOnError(phase, def, ar, result);
  }

  /** What a waiting task asks of the person, with its draft file when there is one. */
  private taskReason(def: ActionDef, ar: ActionRecord): string {
    const cmd = taskCommands(this.record.execution_id, def.action_id);
    const task = ar.person_task ?? {};
    if (task.draft_file) {
      return `action "${def.action_id}" (${def.action}) waits for a person: review the draft (cortex status ${this.record.execution_id}; file ${task.draft_file}), then approve it as is: ${cmd.asIs}, or approve your edited copy: ${cmd.withData}`;
    }
    const why = task.draft_error ? ` (cortex could not draft it: ${task.draft_error.message})` : '';
    return `action "${def.action_id}" (${def.action}) is a task for a person${why}: when done, ${cmd.withData} (JSON or YAML outputs) or --output key=value ...`;
  }

  /** What every attempt of an action (its run or a person's draft) is made of: the target, its retry policy and timeout. */
  private attemptOf(phase: PhaseDef, def: ActionDef, ar: ActionRecord, spec: ActionSpec, impl: ActionImpl) {
    return {
      target: ar,
      spec,
      impl,
      phaseId: phase.phase_id,
      actionId: def.action_id,
      contractor: phase.contractor,
      action: def.action,
      policy: retryPolicy(def.retry),
      timeoutMs: (def.timeout ?? this.ctx.config.defaults.actionTimeoutSeconds) * 1000,
      signal: this.ctx.signal,
    };
  }

  /**
   * Drafts a person's task with its implementation (attempts recorded like an action's; it only
   * reads): the draft goes into the record and a file the person can edit. A draft that fails
   * leaves the task waiting without one (the person gives the outputs); only an interruption stops.
   */
  private async draftTask(phase: PhaseDef, def: ActionDef, ar: ActionRecord, spec: ActionSpec, impl: ActionImpl, params: Record<string, unknown>): Promise<'ok' | 'interrupted'> {
    ar.status = 'running';
    await this.persist(ar);
    const debug = await this.isDebug(phase.contractor);
    const outcome = await runAttempts(this, {
      ...this.attemptOf(phase, def, ar, spec, impl),
      parameters: async () => JSON.parse(JSON.stringify(params)) as Record<string, unknown>,
      debug: (m) => {
        if (debug) this.debugLine(phase.contractor, `${this.now()} ${this.record.execution_id} ${phase.phase_id}/${def.action_id} draft ${this.deps.masker.mask(m)}\n`);
      },
    });
    if (outcome.kind === 'interrupted') return 'interrupted';
    const task = (ar.person_task ??= {});
    if (outcome.kind === 'failed') {
      task.draft_error = { code: outcome.error.code, message: this.deps.masker.mask(outcome.error.message) };
      await this.log(phase.contractor, phase.phase_id, def.action_id, 'draft_failed', { error: outcome.error.code });
      return 'ok';
    }
    task.draft = this.deps.masker.maskValue(outcome.outputs);
    try {
      const file = await writeDraftFile(this.deps, this.record.execution_id, def.action_id, def.action, task.draft);
      task.draft_file = file.path;
      task.draft_sha256 = file.sha256;
    } catch (e) {
      // The draft is in the record (cortex status shows it); only the editable copy is missing.
      this.deps.emit({ kind: 'warning', message: `could not write the draft file of "${def.action_id}": ${(e as Error).message}` });
    }
    return 'ok';
  }

  private closeOpenAttempt(ar: ActionRecord, status: AttemptRecord['status']): void {
    for (const at of ar.attempts) {
      if (at.status === 'running') {
        at.status = status;
        at.finished_at ??= this.now();
      }
    }
  }

  /** Runs the action's attempts (retry policy of its definition). Returns 'ok', 'interrupted', or the last error. */
  private async attemptAction(
    phase: PhaseDef,
    def: ActionDef,
    ar: ActionRecord,
    spec: ActionSpec,
    impl: ActionImpl,
  ): Promise<'ok' | 'interrupted' | 'unknown' | ErrorInfo> {
    const retry = def.retry;
    const debug = await this.isDebug(phase.contractor);
    // Queue mode: this contractor's actions run on its own workers (plans stay here: their steps are recorded here).
    const dispatcher = spec.kind !== 'plan' && this.deps.actions?.handles(phase.contractor) ? this.deps.actions : undefined;
    ar.status = 'running';
    ar.started_at ??= this.now();
    const started = this.deps.clock.now().getTime();
    const outcome = await runAttempts(this, {
      ...this.attemptOf(phase, def, ar, spec, dispatcher ? this.dispatchedImpl(dispatcher, phase, def, ar, spec, debug) : impl),
      allowSteps: true,
      ...(dispatcher ? { isDispatched: true } : {}),
      parameters: async (fallback) => {
        const raw = fallback ? { ...(def.parameters ?? {}), ...(retry?.fallback_parameters ?? {}) } : (def.parameters ?? {});
        if (dispatcher) return this.resolveKeepingSecrets(raw, spec);
        await this.loadSecrets(raw);
        const params = resolveValue(raw, this.resolver()) as Record<string, unknown>;
        for (const key of spec.rawParameters ?? []) if (key in raw) params[key] = raw[key];
        return params;
      },
      debug: (m) => {
        if (debug) this.debugLine(phase.contractor, debugEntry(`${this.now()} ${this.record.execution_id} ${phase.phase_id}/${def.action_id}#${ar.attempts.length}`, this.deps.masker.mask(m)));
      },
      onStart: async (attempt) => {
        this.deps.emit({ kind: 'action-start', phaseId: phase.phase_id, actionId: def.action_id, action: def.action, attempt: attempt.attempt, fallback: Boolean(attempt.fallback) });
        await this.log(phase.contractor, phase.phase_id, def.action_id, 'start', { type: def.action, attempt: attempt.attempt, fallback: attempt.fallback ? 'yes' : undefined });
      },
      onFailed: async (attempt, error) => {
        await this.log(phase.contractor, phase.phase_id, def.action_id, 'attempt_failed', { attempt: attempt.attempt, error: error.code, exit: attempt.exit_code, message: this.deps.masker.mask(error.message).slice(0, 300) });
      },
      onRetry: (next, delayMs, error) => {
        // The wait as it really happens (the lab's clock shortens it), and the nominal one beside it.
        const scale = this.deps.clock.scale ?? 1;
        const real = { delayMs: Math.round(delayMs * scale), ...(scale !== 1 ? { nominalDelayMs: delayMs } : {}) };
        this.deps.emit({ kind: 'action-retry', phaseId: phase.phase_id, actionId: def.action_id, attempt: next, ...real, error: this.deps.masker.mask(error.message) });
      },
    });
    const attemptNo = ar.attempts.length;
    if (outcome.kind === 'ok') {
      // Outputs cut to their tail (a command's stdout) may start with the end of a secret.
      ar.outputs = this.deps.masker.maskCutValues(outcome.outputs);
      ar.status = 'completed';
      delete ar.error;
      ar.finished_at = this.now();
      ar.duration_seconds = seconds(ar.started_at, ar.finished_at);
      this.deps.emit({ kind: 'action-end', phaseId: phase.phase_id, actionId: def.action_id, action: def.action, status: 'completed', durationMs: this.deps.clock.now().getTime() - started, attempts: ar.attempts.length });
      await this.log(phase.contractor, phase.phase_id, def.action_id, 'end', { status: 'completed', attempt: attemptNo, duration: `${ar.attempts.at(-1)?.duration_seconds ?? 0}s`, exit: ar.attempts.at(-1)?.exit_code });
      // Not fsynced on its own: durable before anything after it is (the next start line, whose
      // fsync covers it, before the next tool starts; a whole write; flush() at the end).
      await this.persist(ar, { sync: false });
      return 'ok';
    }
    if (outcome.kind === 'failed' && outcome.cause instanceof ActionOutcomeUnknownError) {
      // Left `running`, as a crash leaves it: resume, --retry-action or --skip-action decide.
      await this.log(phase.contractor, phase.phase_id, def.action_id, 'outcome_unknown', { attempt: attemptNo, message: outcome.error.message.slice(0, 300) });
      await this.persist(ar);
      return 'unknown';
    }
    if (outcome.kind === 'interrupted') {
      ar.status = 'interrupted';
      await this.noteInterrupted(phase, def, ar, spec);
      await this.log(phase.contractor, phase.phase_id, def.action_id, 'interrupted', { attempt: attemptNo });
      await this.persist(ar);
      return 'interrupted';
    }
    if (outcome.errored) ar.status = 'errored';
    else ar.status = 'failed';
    ar.error = outcome.error;
    ar.finished_at = this.now();
    ar.duration_seconds = seconds(ar.started_at, ar.finished_at);
    return outcome.error;
  }

  /** Parameters for a contractor worker: resolved, except `${secrets.NAME}`, which stays a reference. */
  private resolveKeepingSecrets(raw: Record<string, unknown>, spec: ActionSpec): Record<string, unknown> {
    const references = new Map([...secretNamesIn(raw)].map((n) => [n, `\${secrets.${n}}`]));
    const resolver = createResolver({ def: this.def, record: this.record, params: this.ctx.params, env: this.ctx.env, secrets: references, builtins: this.builtins(), mode: 'run' });
    const params = resolveValue(raw, resolver) as Record<string, unknown>;
    for (const key of spec.rawParameters ?? []) if (key in raw) params[key] = raw[key];
    return params;
  }

  /**
   * The implementation of a dispatched action: one attempt is one job on the contractor's queue;
   * what the worker reports (masked there) goes into this attempt's record.
   */
  private dispatchedImpl(dispatcher: ActionDispatcher, phase: PhaseDef, def: ActionDef, ar: ActionRecord, spec: ActionSpec, debug: boolean): ActionImpl {
    const raw = { ...(def.parameters ?? {}), ...(def.retry?.fallback_parameters ?? {}) };
    return {
      plan: () => [],
      run: async (rt) => {
        const attempt = ar.attempts.at(-1) as AttemptRecord;
        const r = await dispatcher.run(
          {
            executionId: this.record.execution_id,
            workflowId: this.record.workflow_id,
            phaseId: phase.phase_id,
            actionId: def.action_id,
            contractor: phase.contractor,
            action: def.action,
            attempt: rt.attempt,
            idempotent: spec.idempotent,
            params: rt.params,
            secretNames: [...secretNamesIn(raw)],
            timeoutMs: rt.remainingMs(),
            ...(attempt.process_cookie ? { cookie: attempt.process_cookie } : {}),
            ...(ar.observed ? { observed: ar.observed } : {}),
            ...(debug ? { debug: true } : {}),
          },
          {
            signal: this.ctx.signal,
            onProgress: async (p) => {
              if (!p.observed) return;
              ar.observed = this.deps.masker.maskValue(p.observed);
              await this.persist(ar);
            },
          },
        );
        if (r.invocations) attempt.invocations = r.invocations;
        if (r.requests) attempt.requests = r.requests;
        if (r.exit_code !== undefined) attempt.exit_code = r.exit_code;
        if (r.signal !== undefined) attempt.signal = r.signal;
        for (const line of r.log ?? []) rt.debug(line);
        const err = r.error ?? { code: 'internal_error', message: `the ${phase.contractor} worker reported no result` };
        const on = ` (on ${r.worker.host}:${r.worker.pid})`;
        if (r.outcome === 'ok') return r.outputs ?? {};
        if (r.outcome === 'interrupted') throw new InterruptedError('interrupted');
        if (r.outcome === 'failed') throw new ActionFailedError(err.message, { errorCode: err.code, retryable: err.retryable !== false, ...(err.hint ? { hint: err.hint } : {}) });
        throw new WorkerReportedError(err.code, ExitCode.WORKFLOW_FAILED, `${err.message}${on}`, err.hint ? { hint: err.hint } : undefined);
      },
    } as ActionImpl;
  }

  /**
   * An action stopped mid-run (cancel, Ctrl-C, a signal): the record says so and what it may
   * have left, so the operator (and `cortex rollback`) know to look.
   */
  private async noteInterrupted(phase: PhaseDef, def: ActionDef, ar: ActionRecord, spec: ActionSpec): Promise<void> {
    const undo = def.compensation === false ? undefined : def.compensation?.action ?? spec.compensation?.action;
    const note = spec.idempotent && !undo
      ? `${def.action_id} (${def.action}) was stopped mid-run; it changes nothing that needs undoing`
      : `${def.action_id} (${def.action}) was stopped mid-run and may have left part of its change${undo ? ` (what ${undo} undoes)` : ''}: check it before resuming; cortex rollback ${this.record.execution_id} undoes it when the action recorded enough to find it`;
    ar.interrupted_note = note;
    const list = (this.record.interrupted_actions ??= []);
    const entry = { phase_id: phase.phase_id, action_id: def.action_id, action: def.action, at: this.now(), note };
    const i = list.findIndex((x) => x.action_id === def.action_id);
    if (i >= 0) list[i] = entry;
    else list.push(entry);
  }

  /** Applies on_error (documented in the README) after an action failed for good. */
  private async applyOnError(phase: PhaseDef, def: ActionDef, ar: ActionRecord, error: ErrorInfo): Promise<Stop | 'skip_phase' | undefined> {
    const onError = def.on_error ?? 'fail_workflow';
    const masked = { ...error, message: this.deps.masker.mask(error.message) };
    if (ar.status !== 'errored') ar.status = 'failed';
    ar.error = masked;
    ar.on_error = onError;
    ar.on_error_applied = onError;
    ar.finished_at ??= this.now();
    ar.duration_seconds ??= seconds(ar.started_at, ar.finished_at);
    this.deps.emit({ kind: 'action-end', phaseId: phase.phase_id, actionId: def.action_id, action: def.action, status: ar.status, durationMs: (ar.duration_seconds ?? 0) * 1000, attempts: ar.attempts.length, error: masked.message, onError });
    await this.log(phase.contractor, phase.phase_id, def.action_id, 'end', { status: ar.status, on_error: onError, error: masked.code, attempts: ar.attempts.length, duration: `${ar.duration_seconds ?? 0}s` });
    const where = `action "${def.action_id}" (${def.action}) in phase "${phase.phase_id}" failed: ${masked.message}`;
    let result: Stop | 'skip_phase' | undefined;
    switch (onError) {
      case 'skip_action':
        ar.status = 'skipped';
        ar.skip_reason = `failed and skipped (on_error skip_action): ${masked.message}`;
        break;
      case 'continue_phase':
        break;
      case 'alert_only':
        (this.record.notifications ??= []).push({ time: this.now(), kind: 'alert_only', phase_id: phase.phase_id, action_id: def.action_id, message: where });
        this.deps.emit({ kind: 'notification', phaseId: phase.phase_id, actionId: def.action_id, message: where });
        break;
      case 'skip_phase':
        result = 'skip_phase';
        break;
      case 'pause':
        result = { kind: 'paused', reason: `${where}; paused (on_error pause): fix the cause, then cortex resume ${this.record.execution_id}`, error: masked };
        break;
      case 'rollback':
      case 'rollback_workflow':
        result = { kind: 'failed', error: { ...masked, message: where }, rollback: 'workflow' };
        break;
      case 'rollback_deployment':
        result = { kind: 'failed', error: { ...masked, message: where }, rollback: 'phase', phaseId: phase.phase_id };
        break;
      default:
        result = { kind: 'failed', error: { ...masked, message: where } };
    }
    await this.persist();
    return result;
  }

  private async pickUpHandoff(phase: PhaseDef): Promise<void> {
    for (const pr of this.record.phases) {
      if (!pr.handoff_out) continue;
      const h = await this.deps.store.readHandoff(phase.contractor, pr.handoff_out);
      if (!h || h.to_phase !== phase.phase_id || h.status !== 'pending') continue;
      const now = this.now();
      h.status = 'in_progress';
      h.picked_up_at = now;
      h.updated_at = now;
      await this.deps.store.writeHandoff(h.to_contractor, h);
      this.phaseRecord(phase.phase_id).handoff_in = h.handoff_id;
    }
  }

  private async closeHandoffIn(pr: PhaseRecord, status: 'completed' | 'failed'): Promise<void> {
    if (!pr.handoff_in) return;
    const h = await this.deps.store.readHandoff(pr.contractor, pr.handoff_in);
    if (!h || h.status !== 'in_progress') return;
    const now = this.now();
    h.status = status;
    h.completed_at = now;
    h.updated_at = now;
    await this.deps.store.writeHandoff(h.to_contractor, h);
  }

  private async handOff(phase: PhaseDef, index: number, pr: PhaseRecord): Promise<void> {
    if (phase.handoff_data !== undefined) {
      pr.handoff_data = Array.isArray(phase.handoff_data)
        ? collectListHandoff(phase.handoff_data, pr)
        : (resolveValue(phase.handoff_data, this.resolver()) as Record<string, unknown>);
    }
    if (!phase.handoff_to) return;
    let to = phase.handoff_to;
    let decision: { expression: string; value: boolean } | undefined;
    if (to === 'conditional' && phase.handoff_decision) {
      const value = this.evaluate(phase.handoff_decision.if);
      decision = { expression: phase.handoff_decision.if, value };
      to = value ? phase.handoff_decision.then : phase.handoff_decision.else;
    }
    const target = receivingPhase(this.def, index, to);
    const h = newHandoff(this.record, phase, to, target?.phase_id ?? null, this.deps.masker.maskValue(pr.handoff_data ?? {}), this.now(), decision);
    await this.deps.store.writeHandoff(to, h);
    pr.handoff_out = h.handoff_id;
    (this.record.handoffs ??= []).push(h.handoff_id);
    this.deps.emit({ kind: 'handoff', handoffId: h.handoff_id, from: phase.contractor, to, toPhase: h.to_phase ?? null });
  }

  /** A receiving phase was skipped: pass its pending handoffs on to the next phase of the same contractor. */
  private async retargetHandoffs(skipped: PhaseDef, index: number): Promise<void> {
    const next = receivingPhase(this.def, index, skipped.contractor);
    for (const pr of this.record.phases) {
      if (!pr.handoff_out) continue;
      const h = await this.deps.store.readHandoff(skipped.contractor, pr.handoff_out);
      if (!h || h.to_phase !== skipped.phase_id || h.status !== 'pending') continue;
      h.to_phase = next?.phase_id ?? null;
      h.updated_at = this.now();
      if (!next) {
        h.status = 'failed';
        h.status_reason = `receiving phase "${skipped.phase_id}" was skipped and no later phase of ${skipped.contractor} exists`;
      }
      await this.deps.store.writeHandoff(h.to_contractor, h);
    }
  }

  private checkEscalations(): void {
    const rules = this.def.escalation_rules ?? [];
    rules.forEach((rule, i) => {
      const tag = `escalation_rules[${i}]`;
      if (this.record.notifications?.some((n) => n.kind === 'escalation' && n.message.startsWith(tag))) return;
      let fire = false;
      try {
        fire = evaluateCondition(rule.condition, createResolver({ def: this.def, record: this.record, params: this.ctx.params, env: this.ctx.env, secrets: this.secretValues, builtins: this.builtins(), mode: 'run' }));
      } catch {
        return;
      }
      if (!fire) return;
      const message = `${tag} ${rule.condition}: notify ${(rule.notify ?? []).join(', ') || '-'}${rule.escalate_to ? `; escalate to ${rule.escalate_to}` : ''}${rule.sla ? `; SLA ${rule.sla}` : ''}`;
      (this.record.notifications ??= []).push({ time: this.now(), kind: 'escalation', message, notify: [...(rule.notify ?? []), ...(rule.escalate_to ? [rule.escalate_to] : [])] });
      this.deps.emit({ kind: 'notification', message });
    });
  }

  /** Sets the final (or waiting) status, writes the record and, for ended executions, metrics and history. */
  async finish(stop: Stop | undefined): Promise<void> {
    const rec = this.record;
    if (!stop) {
      rec.status = 'completed';
      rec.current_phase = null;
      rec.current_action = null;
    } else {
      switch (stop.kind) {
        case 'failed':
          rec.status = 'failed';
          rec.error = stop.error;
          rec.status_reason = stop.error.message;
          if (stop.rollback) {
            rec.rollback_required = true;
            if (this.ctx.rollback) {
              await this.persist();
              try {
                await this.ctx.rollback(this, stop.rollback, stop.error.message, stop.phaseId);
              } catch (e) {
                if (!(e instanceof InterruptedError) && !this.ctx.signal.aborted) throw e;
                // Stopped mid-rollback: the record keeps rolling_back; resume or rollback continues it.
                rec.status_reason = `${this.abortReason()} during the rollback: cortex rollback ${rec.execution_id} continues it`;
              }
            }
          }
          break;
        case 'paused':
          rec.status = 'paused';
          rec.status_reason = stop.reason;
          if (stop.error) rec.error = stop.error;
          break;
        case 'unknown_outcome':
          rec.status = 'paused';
          rec.status_reason = stop.reason;
          break;
        case 'interrupted': {
          const cancelled = await this.deps.store.isCancelRequested(rec.execution_id);
          rec.status = cancelled ? 'cancelled' : 'paused';
          // The reason the cancel gave (on_conflict cancel_older names the newer event).
          rec.status_reason = cancelled ? ((await this.deps.store.cancelReason(rec.execution_id)) ?? 'cancelled by an operator (cortex cancel)') : stop.reason;
          if (cancelled) await this.deps.store.requestCancel(rec.execution_id, false);
          break;
        }
        case 'awaiting':
          rec.status = 'awaiting_approval';
          rec.status_reason = stop.reason;
          break;
      }
    }
    await this.finalize();
  }

  /** Writes the record; an ended execution gets its metrics counted once and moves to history/. */
  async finalize(): Promise<void> {
    const rec = this.record;
    if (isTerminal(rec.status)) {
      rec.finished_at ??= this.now();
      rec.duration_seconds = seconds(rec.started_at, rec.finished_at);
      await this.failPendingHandoffs();
      await this.persist();
      await this.flush();
      await completeEnded(this.deps, rec);
    } else {
      await this.persist();
      await this.flush();
    }
    this.deps.emit({ kind: 'execution-end', executionId: rec.execution_id, status: rec.status, durationMs: (rec.duration_seconds ?? 0) * 1000, reason: rec.status_reason });
  }

  private async failPendingHandoffs(): Promise<void> {
    for (const pr of this.record.phases) {
      if (!pr.handoff_out) continue;
      const to = this.def.phases.find((p) => p.phase_id === pr.phase_id);
      const contractors = new Set([to?.handoff_to, to?.handoff_decision?.then, to?.handoff_decision?.else].filter((c): c is string => Boolean(c) && c !== 'conditional'));
      for (const c of contractors) {
        const h: HandoffRecord | undefined = await this.deps.store.readHandoff(c, pr.handoff_out);
        if (!h || (h.status !== 'pending' && h.status !== 'in_progress')) continue;
        h.status = 'failed';
        h.status_reason = h.status_reason ?? `the execution ended (${this.record.status}) before phase ${h.to_phase ?? '-'} finished with it`;
        h.updated_at = this.now();
        await this.deps.store.writeHandoff(c, h);
      }
    }
  }
}

/**
 * The last steps of an ended execution, safe to repeat after a crash at any point: its metrics
 * are counted (once: the record remembers it), then its record moves to history/.
 */
export async function completeEnded(deps: EngineDeps, rec: ExecutionRecord): Promise<void> {
  if (!rec.metrics_recorded) {
    const { warnings } = await deps.store.recordMetrics(buildSummary(rec));
    for (const message of warnings) deps.emit({ kind: 'warning', message });
    rec.metrics_recorded = true;
  }
  rec.updated_at = deps.clock.now().toISOString();
  await deps.store.archiveExecution(rec);
}

/** Actions a resume can be told about: their outcome is unknown, or they failed and paused the execution. */
export function resumableActions(rec: ExecutionRecord): { unknown: ActionRecord[]; paused: ActionRecord[] } {
  const all = rec.phases.flatMap((p) => p.actions);
  return {
    unknown: all.filter((a) => a.status === 'running' || a.status === 'interrupted'),
    paused: rec.status === 'paused' ? all.filter((a) => (a.status === 'failed' || a.status === 'errored') && a.on_error_applied === 'pause') : [],
  };
}

/**
 * Before a resume: an action that failed and paused the execution (on_error: pause) runs again
 * with a fresh count of attempts ("fix the cause, then resume"), unless --skip-action names it.
 * Throws a message (UsageError in the caller) when --retry-action/--skip-action names an action
 * there is no choice about.
 */
export function prepareResume(rec: ExecutionRecord, choice: { retryAction?: string; skipAction?: string } = {}, now: string): string | undefined {
  const { unknown, paused } = resumableActions(rec);
  const choosable = [...unknown, ...paused].map((a) => a.action_id);
  for (const [flag, id] of [['--retry-action', choice.retryAction], ['--skip-action', choice.skipAction]] as const) {
    if (id === undefined || choosable.includes(id)) continue;
    const found = rec.phases.flatMap((p) => p.actions).find((a) => a.action_id === id);
    return `${flag} ${id}: ${found ? `action "${id}" is ${found.status}; there is nothing to choose about it` : `execution ${rec.execution_id} has no action "${id}"`}${choosable.length ? ` (the choice is about: ${choosable.join(', ')})` : ''}`;
  }
  for (const a of paused) {
    if (choice.skipAction === a.action_id) {
      a.status = 'skipped';
      a.skip_reason = `failed and skipped by the operator on resume (--skip-action): ${a.error?.message ?? ''}`.trim();
      a.finished_at ??= now;
      continue;
    }
    a.status = 'pending';
    a.attempts_counted_from = a.attempts.length;
    delete a.error;
    delete a.on_error_applied;
    delete a.finished_at;
    delete a.duration_seconds;
  }
  if (paused.length) delete rec.error;
  return undefined;
}

/** A fresh record for a new execution: every phase and action pending. */
export function newExecutionRecord(args: {
  executionId: string;
  loaded: LoadedWorkflow;
  parameters: Record<string, unknown>;
  trigger: ExecutionRecord['trigger'];
  now: string;
  simulate?: boolean;
  labDir?: string;
  /** `queued` when a queue worker is to drive it (default `pending`). */
  status?: 'pending' | 'queued';
}): ExecutionRecord {
  const def = args.loaded.definition;
  return {
    schema_version: 1,
    execution_id: args.executionId,
    workflow_id: def.workflow_id,
    workflow_name: def.workflow_name,
    definition: { version: def.version, hash: args.loaded.hash, path: args.loaded.displayPath },
    status: args.status ?? 'pending',
    trigger: args.trigger,
    parameters: args.parameters,
    ...(args.simulate ? { simulate: true } : {}),
    ...(args.labDir ? { lab_dir: args.labDir } : {}),
    started_at: args.now,
    updated_at: args.now,
    finished_at: null,
    duration_seconds: null,
    current_phase: null,
    current_action: null,
    phases: def.phases.map((p) => ({
      phase_id: p.phase_id,
      ...(p.phase_name ? { phase_name: p.phase_name } : {}),
      contractor: p.contractor,
      status: 'pending',
      actions: p.actions.map((a) => ({
        action_id: a.action_id,
        action: a.action,
        contractor: p.contractor,
        status: 'pending',
        on_error: a.on_error ?? 'fail_workflow',
        attempts: [],
      })),
    })),
    handoffs: [],
    notifications: [],
    approvals: [],
  };
}
