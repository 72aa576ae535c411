/**
 * Continuing an existing execution: resume, approve, reject, rollback, cancel, and the expiry
 * of approvals. Each takes the execution's lock first and decides on the record as read under
 * it (withExecution), so concurrent operator commands never overwrite each other.
 */
import { ExitCode, NotFoundError, StateConflictError, UsageError } from '../errors.js';
import type { EngineEvent } from '../engine/events.js';
import { isTerminal, type ExecutionRecord } from '../model/records.js';
import { runRollback } from '../engine/rollback.js';
import { stopLeftovers } from '../engine/leftovers.js';
import { prepareResume } from '../engine/run-workflow.js';
import { expireApprovals, hasExpiredApproval } from '../engine/approvals.js';

export { expireApprovals, hasExpiredApproval } from '../engine/approvals.js';
import { audit } from './audit.js';
import type { App, LabRequest } from './context.js';
import { driveExecution, exitCodeFor, type DrivePrep } from './drive.js';
import { approvedTaskOutputs } from './person-task.js';
import { ExecutionLockedError, loadForContinue, withExecution, type HeldExecution } from './existing.js';
import { assertFaultsNameActions } from './start.js';
import { afterRejection, checkFaultsFor } from './rollback-faults.js';

export interface ContinueRequest {
  executionId: string;
  /** `-p name=value`: secret parameters given again. */
  params?: string[];
  debug?: boolean;
  /** Lab options for a simulated execution (--simulate-fail, --simulate-latency, --lab). */
  lab?: LabRequest;
  emit: (event: EngineEvent) => void;
  /** Warnings about the definition (it changed since the execution started). */
  onWarning?: (message: string) => void;
  /** Called once this process holds the execution's lock (a launcher waits for it). */
  onHeld?: () => void;
}

export interface ContinueResult {
  record: ExecutionRecord;
  exitCode: number;
  /** Set when nothing ran (e.g. already rolled back). */
  message?: string;
  changed: boolean;
}

/** Drives a held execution (moving it back to active/ first when it had ended) and audits it. */
async function carryOn(
  app: App,
  held: HeldExecution,
  req: ContinueRequest,
  options: {
    command: string;
    /** A queued run no worker started yet: it starts (it is not a resume). */
    fresh?: boolean;
    body?: Parameters<typeof driveExecution>[3]['body'];
    resume?: { retryAction?: string; skipAction?: string };
    audit?: { comment?: string; details?: Record<string, unknown> };
    /** The definition etc., when the caller loaded them already (and reported their warnings). */
    loaded?: { prep: DrivePrep };
    /** Checks the request against the loaded definition before anything is recorded; may throw. */
    check?: (prep: DrivePrep) => Promise<void>;
  },
): Promise<ExecutionRecord> {
  const { record } = held;
  if (req.lab && !record.simulate) throw new UsageError(`execution ${record.execution_id} ran against the real tools: --simulate, --lab and --simulate-fail apply only to a simulated execution`);
  let prep = options.loaded?.prep;
  if (!prep) {
    const loaded = await loadForContinue(app, record, req.params);
    for (const w of loaded.warnings) req.onWarning?.(w);
    prep = loaded.prep;
  }
  await options.check?.(prep);
  if (held.location === 'history') {
    // One record per execution: it moves back to active/ (one rename) while it changes again.
    await held.deps.store.reopenExecution(record.execution_id);
    held.location = 'active';
  }
  await audit(held.deps, { command: options.command, execution_id: record.execution_id, workflow_id: record.workflow_id, result: 'started', ...options.audit });
  await driveExecution(app, prep, record, {
    emit: req.emit,
    resumed: !options.fresh,
    command: options.command,
    debug: req.debug,
    ...(req.lab ? { lab: req.lab } : {}),
    ...(options.resume ? { resume: options.resume } : {}),
    ...(options.body ? { body: options.body } : {}),
  });
  await audit(held.deps, { command: options.command, execution_id: record.execution_id, workflow_id: record.workflow_id, result: record.status });
  return record;
}

/**
 * `resume` and `approve --simulate-fail ID` continue the run in the lab: the ids must name actions
 * of the execution (as for `run`). A real execution is refused by carryOn (the lab options do not
 * apply to it). `reject` and `cancel --rollback` run only a rollback: their ids name rollback steps.
 */
export function checkFaults(record: ExecutionRecord, lab: LabRequest | undefined): void {
  if (record.simulate) assertFaultsNameActions(record.workflow_id, record.phases, lab?.faults);
}

/** `cortex resume`: continue a paused, interrupted, waiting or not yet started execution. */
export async function resumeExecution(app: App, req: ContinueRequest & { retryAction?: string; skipAction?: string; command?: string }): Promise<ContinueResult> {
  return withExecution(app, req.executionId, async (held) => {
    req.onHeld?.();
    const rec = held.record;
    if (held.location === 'history' || isTerminal(rec.status)) {
      throw new StateConflictError(`execution ${rec.execution_id} has ended (${rec.status}); there is nothing to resume`, {
        hint: rec.status === 'rolled_back' ? undefined : `cortex rollback ${rec.execution_id} undoes what it did`,
      });
    }
    checkFaults(rec, req.lab);
    const choice = { ...(req.retryAction ? { retryAction: req.retryAction } : {}), ...(req.skipAction ? { skipAction: req.skipAction } : {}) };
    const problem = prepareResume(rec, choice, held.deps.clock.now().toISOString());
    if (problem) throw new UsageError(problem);
    expireApprovals(rec, held.deps.clock.now());
    await carryOn(app, held, req, {
      command: req.command ?? 'resume',
      fresh: rec.status === 'queued' && rec.phases.every((p) => p.status === 'pending'),
      resume: choice,
      ...(req.retryAction || req.skipAction ? { audit: { details: { retry_action: req.retryAction ?? null, skip_action: req.skipAction ?? null } } } : {}),
    });
    const code = exitCodeFor(rec, app.signal.aborted);
    return { record: rec, exitCode: code === ExitCode.OK && rec.status === 'paused' ? ExitCode.WORKFLOW_FAILED : code, changed: true };
  });
}

export interface DecideRequest extends ContinueRequest {
  decision: 'approved' | 'rejected';
  comment?: string;
  /** A task for a person instead of the phase approval. */
  action?: string;
  /** Outputs of that task (`--output key=value`), over the draft or the --data file. */
  outputs?: Array<{ key: string; raw: string }>;
  /** `--data FILE`: the task's outputs as a JSON or YAML file, replacing the draft. */
  dataFile?: string;
}

/** What applyDecision recorded, for the audit trail and the drive that follows. */
export interface Decision {
  expired: boolean;
  comment: { comment?: string };
  details?: Record<string, unknown>;
  loaded?: { prep: DrivePrep };
}

/**
 * Records an operator's decision on a held execution (the waiting phase, or a person's task with
 * its outputs, checked first) in the record only; continuing it is the caller's (here, or a queue
 * worker). Throws, changing nothing, when the decision does not apply.
 */
export async function applyDecision(app: App, held: HeldExecution, req: Omit<DecideRequest, 'emit'>): Promise<Decision> {
  const rec = held.record;
  if (rec.status !== 'awaiting_approval' || held.location !== 'active') {
    throw new StateConflictError(`execution ${rec.execution_id} is ${rec.status}, not awaiting approval`, { hint: `cortex status ${rec.execution_id}` });
  }
  if (req.decision === 'approved') checkFaults(rec, req.lab);
  const now = held.deps.clock.now();
  const expired = expireApprovals(rec, now);
  const user = held.deps.identity.user;
  const host = held.deps.identity.host;
  const comment = req.comment ? { comment: req.comment } : {};
  let loaded: { prep: DrivePrep } | undefined;
  let details: Record<string, unknown> | undefined;
  if (req.action) {
    const phase = rec.phases.find((p) => p.actions.some((a) => a.action_id === req.action));
    const action = phase?.actions.find((a) => a.action_id === req.action);
    if (!phase || !action) throw new NotFoundError(`execution ${rec.execution_id} has no action "${req.action}"`);
    if (action.status !== 'awaiting_input') throw new StateConflictError(`action "${req.action}" is ${action.status}, not waiting for a person`);
    if (req.decision === 'rejected' && (req.dataFile || req.outputs?.length)) throw new UsageError('--data and --output go with approve (a rejected task records no outputs)');
    const task = action.person_task ?? {};
    const draft = { ...(task.draft ? { draft: task.draft } : {}), ...(task.draft_file ? { draft_file: task.draft_file } : {}), ...(task.draft_sha256 ? { draft_sha256: task.draft_sha256 } : {}), ...(task.draft_error ? { draft_error: task.draft_error } : {}) };
    const done = { completed_by: user, completed_at: now.toISOString(), ...comment };
    details = { action: action.action_id };
    if (req.decision === 'approved') {
      // Checked before anything is recorded: a bad file changes nothing.
      const prepared = await loadForContinue(app, rec, req.params);
      for (const w of prepared.warnings) req.onWarning?.(w);
      loaded = { prep: prepared.prep };
      const approval = await approvedTaskOutputs(app, held, prepared.prep, action, { ...(req.dataFile ? { dataFile: req.dataFile } : {}), ...(req.outputs ? { outputs: req.outputs } : {}) });
      // Secrets cortex knows never reach the record or the audit trail.
      for (const v of prepared.prep.secretValues ?? []) held.deps.masker.add(v);
      for (const v of (await held.deps.secrets.all?.()) ?? []) held.deps.masker.add(v);
      const outputs = held.deps.masker.maskValue(approval.outputs);
      action.person_task = {
        ...draft,
        outputs_from: approval.from,
        ...(approval.dataFile ? { data_file: approval.dataFile } : {}),
        ...done,
        result: approval.failed ? 'failed' : 'done',
        ...(approval.failed ? { error: { code: 'task_failed', message: held.deps.masker.mask(approval.failed) } } : {}),
      };
      action.outputs = outputs;
      if (!approval.failed) {
        action.status = 'completed';
        action.finished_at = now.toISOString();
        action.duration_seconds = action.started_at ? Math.round((now.getTime() - Date.parse(action.started_at)) / 10) / 100 : null;
      }
      details = { ...details, outputs_from: approval.from, ...(approval.dataFile ? { data_file: approval.dataFile } : {}), outputs, ...(approval.failed ? { failed: held.deps.masker.mask(approval.failed) } : {}) };
    } else {
      action.person_task = { ...draft, ...done, result: 'rejected' };
    }
    (rec.approvals ??= []).push({ time: now.toISOString(), decision: req.decision === 'approved' ? 'task_done' : 'task_rejected', phase_id: phase.phase_id, action_id: action.action_id, user, host, ...comment });
  } else {
    if (req.outputs?.length || req.dataFile) throw new UsageError('--data and --output go with --action (the outputs of a task done by a person)');
    const phase = rec.phases.find((p) => p.status === 'awaiting_approval' && !p.approval?.decision);
    if (!phase && !expired) {
      const task = rec.phases.flatMap((p) => p.actions).find((a) => a.status === 'awaiting_input');
      throw new StateConflictError(`no phase of ${rec.execution_id} is waiting for approval${task ? `; action "${task.action_id}" waits for a person: use --action ${task.action_id}` : ''}`);
    }
    if (phase) {
      phase.approval = { ...(phase.approval ?? {}), decision: req.decision, decided_by: user, decided_at: now.toISOString(), ...comment };
      (rec.approvals ??= []).push({ time: now.toISOString(), decision: req.decision, phase_id: phase.phase_id, user, host, ...comment });
    }
  }
  if (req.decision === 'rejected' && rec.simulate && req.lab?.faults?.length) {
    // What runs next is a rollback (or, for a task, what its on_error says): checked before the
    // caller records the decision.
    const prepared = await loadForContinue(app, rec, req.params);
    for (const w of prepared.warnings) req.onWarning?.(w);
    loaded = { prep: prepared.prep };
    const def = req.action ? prepared.prep.loaded.definition.phases.flatMap((p) => p.actions).find((a) => a.action_id === req.action) : undefined;
    await checkFaultsFor(app, held.deps, rec, req.lab, afterRejection(rec, def?.on_error, req.action), { prep: prepared.prep });
  }
  return { expired, comment, ...(details ? { details } : {}), ...(loaded ? { loaded } : {}) };
}

/** `cortex approve` / `cortex reject`: decide the waiting phase (or a person's task), then continue. */
export async function decideExecution(app: App, req: DecideRequest): Promise<ContinueResult & { expired: boolean }> {
  return withExecution(app, req.executionId, async (held) => {
    const rec = held.record;
    const { expired, comment, details, loaded } = await applyDecision(app, held, req);
    await carryOn(app, held, req, {
      command: req.decision === 'approved' ? 'approve' : 'reject',
      audit: { ...comment, ...(details ? { details } : {}) },
      ...(loaded ? { loaded } : {}),
    });
    return { record: rec, exitCode: exitCodeFor(rec, app.signal.aborted), changed: true, expired };
  });
}

/** `cortex rollback`: undo what the execution did (only what happened); a second one is a no-op. */
export async function rollbackExecution(app: App, req: ContinueRequest): Promise<ContinueResult> {
  return withExecution(app, req.executionId, async (held) => {
    const rec = held.record;
    if (rec.status === 'rolled_back') {
      return { record: rec, exitCode: ExitCode.OK, changed: false, message: `${rec.execution_id} is already rolled back; nothing to do` };
    }
    const reason = `requested by an operator${rec.status_reason ? ` (was ${rec.status}: ${rec.status_reason})` : ` (was ${rec.status})`}`;
    const user = held.deps.identity.user;
    await carryOn(app, held, req, {
      command: 'rollback',
      check: (prep) => checkFaultsFor(app, held.deps, rec, req.lab, { kind: 'rollback', scope: 'workflow' }, { prep }),
      body: async (exec) => {
        await runRollback(exec, 'workflow', reason, undefined, user);
        await exec.finalize();
      },
    });
    const after = rec.status as ExecutionRecord['status'];
    return { record: rec, exitCode: after === 'rolled_back' ? ExitCode.OK : exitCodeFor(rec, app.signal.aborted), changed: true };
  });
}

/** How long `cortex cancel` waits for a running execution to stop. */
const CANCEL_WAIT_MS = 30_000;

async function waitForRelease(app: App, id: string, timeoutMs: number): Promise<boolean> {
  const deps = app.sessions.base();
  const deadline = deps.clock.now().getTime() + timeoutMs;
  while (deps.clock.now().getTime() < deadline) {
    const holder = await deps.locks.holder(`execution-${id}`);
    if (!holder || !app.processes.isAlive(holder)) return true;
    await deps.clock.sleep(100);
  }
  return false;
}

/**
 * `cortex cancel [--rollback]`: an execution running in another process is asked to stop
 * (a cancel mark, then SIGTERM to that process, checked to still be it); it records itself
 * cancelled. One that is paused, waiting or not started is marked cancelled here. A rollback in
 * progress is never cancelled.
 */
export async function cancelExecution(
  app: App,
  req: ContinueRequest & {
    rollback?: boolean;
    /** Queue mode: the rollback is queued after the cancel; --simulate-fail is checked against its steps here. */
    rollbackQueued?: boolean;
    /** Recorded as the status_reason (default: by an operator). */ reason?: string;
  },
): Promise<ContinueResult> {
  const rollbackFaults = (req.rollback || req.rollbackQueued) && req.lab?.faults?.length ? req.lab : undefined;
  let isChecked = false;
  const act = () =>
    withExecution(app, req.executionId, async (held) => {
      const rec = held.record;
      if (held.location === 'history' || isTerminal(rec.status)) {
        if (!req.rollback) {
          if (rec.status === 'cancelled') return { record: rec, exitCode: ExitCode.OK, changed: false, message: `${rec.execution_id} cancelled` };
          if (rec.status === 'rolled_back') throw new StateConflictError(`execution ${rec.execution_id} has already been rolled back: there is nothing to cancel`);
          throw new StateConflictError(`execution ${rec.execution_id} has already ended (${rec.status})`, { hint: `cortex rollback ${rec.execution_id} undoes what it did` });
        }
        if (rec.status === 'rolled_back') return { record: rec, exitCode: ExitCode.OK, changed: false, message: `${rec.execution_id} is already rolled back` };
      }
      if (rec.status === 'rolling_back') {
        throw new StateConflictError(`execution ${rec.execution_id} is rolling back (its rollback was interrupted); a rollback is not cancelled`, { hint: `cortex rollback ${rec.execution_id} continues it` });
      }
      const user = held.deps.identity.user;
      await carryOn(app, held, req, {
        command: 'cancel',
        ...(rollbackFaults && !isChecked ? { check: (prep: DrivePrep) => checkFaultsFor(app, held.deps, rec, rollbackFaults, { kind: 'rollback', scope: 'workflow' }, { prep }) } : {}),
        body: async (exec) => {
          // Tools an interrupted action left running (their cortex was killed) stop with it.
          await stopLeftovers(exec.deps, exec.record);
          if (req.rollback) await runRollback(exec, 'workflow', 'cancelled by an operator', undefined, user);
          if (!isTerminal(exec.record.status)) {
            exec.record.status = 'cancelled';
            exec.record.status_reason = req.reason ?? 'cancelled by an operator (cortex cancel)';
          }
          await exec.deps.store.requestCancel(rec.execution_id, false);
          await exec.finalize();
        },
      });
      return { record: rec, exitCode: isTerminal(rec.status) ? ExitCode.OK : exitCodeFor(rec, app.signal.aborted), changed: true };
    });
  try {
    return await act();
  } catch (e) {
    if (!(e instanceof ExecutionLockedError)) throw e;
    const { holder, record } = e;
    if (record?.status === 'rolling_back' || holder?.command === 'rollback') {
      throw new StateConflictError(`execution ${req.executionId} is being rolled back by ${holder ? `pid ${holder.pid} on ${holder.host}` : 'another process'}; a rollback is not cancelled`, {
        hint: `wait for it: cortex status ${req.executionId}`,
      });
    }
    if (!holder) throw e;
    if (holder.command === 'cancel') throw new StateConflictError(`execution ${req.executionId} is being cancelled by pid ${holder.pid} on ${holder.host}`);
    // A queue worker or serve drives many executions: it watches the cancel mark instead of taking a signal.
    const isWorker = holder.command === 'worker' || holder.command === 'serve';
    if (!isWorker && holder.host !== app.processes.host) {
      throw new StateConflictError(`execution ${req.executionId} runs on ${holder.host} (pid ${holder.pid}); cancel it there`);
    }
    const deps = app.sessions.base();
    const deadline = deps.clock.now().getTime() + CANCEL_WAIT_MS;
    if (rollbackFaults && record) {
      // Checked before it is stopped, on the record as it is now: the action running may still
      // complete (its undo step counts). Not again once it stopped (the cancel is done by then).
      await checkFaultsFor(app, deps, record, rollbackFaults, { kind: 'rollback', scope: 'workflow' }, { params: req.params ?? [], mayComplete: true });
      isChecked = true;
    }
    await deps.store.requestCancel(req.executionId, true, req.reason);
    // The lock owner is who works on the execution (its start time is checked before the signal).
    if (!isWorker) app.processes.terminate(holder);
    if (!(await waitForRelease(app, req.executionId, CANCEL_WAIT_MS))) {
      throw new StateConflictError(`execution ${req.executionId} (pid ${holder.pid}) did not stop within ${CANCEL_WAIT_MS / 1000} s`);
    }
    // The process that stopped took the cancel mark away when it recorded itself cancelled: the
    // cancel is done, whatever another command (a rollback) did with the execution since.
    if (!req.rollback && !(await deps.store.isCancelRequested(req.executionId))) {
      const now = await deps.store.readExecution(req.executionId);
      if (now) {
        const since = now.record.status === 'cancelled' ? '' : `; since then ${now.record.status} (another command acted on it after it stopped)`;
        return { record: now.record, exitCode: ExitCode.OK, changed: true, message: `${req.executionId} cancelled${since}` };
      }
    }
    // It stopped without taking the mark (it ended first, or died): act here. Another command may
    // take the lock between its release and now; wait for that one too, within the same time.
    for (;;) {
      try {
        return await act();
      } catch (e2) {
        if (!(e2 instanceof ExecutionLockedError) || e2.holder?.command === 'rollback' || e2.record?.status === 'rolling_back') {
          if (e2 instanceof StateConflictError) await deps.store.requestCancel(req.executionId, false).catch(() => undefined);
          throw e2;
        }
        const left = deadline - deps.clock.now().getTime();
        if (left <= 0 || !(await waitForRelease(app, req.executionId, left))) throw e2;
      }
    }
  }
}

/**
 * Rejects the approvals that passed their approval_timeout (tick, serve): each is marked expired
 * under its lock, then `launch` drives the rejection and its rollback elsewhere. Executions that
 * another process holds are left for the next pass.
 */
export async function expireDueApprovals(app: App, launch: (executionId: string) => Promise<unknown>): Promise<string[]> {
  const deps = app.sessions.base();
  const now = deps.clock.now();
  const due = (await deps.store.listActive()).filter((r) => hasExpiredApproval(r, now));
  const expired: string[] = [];
  for (const r of due) {
    try {
      await withExecution(app, r.execution_id, async (held) => {
        if (held.location !== 'active' || !expireApprovals(held.record, now)) return;
        held.record.updated_at = now.toISOString();
        await held.deps.store.writeExecution(held.record);
        await audit(held.deps, { command: app.command, execution_id: r.execution_id, workflow_id: r.workflow_id, result: 'approval_expired' });
        expired.push(r.execution_id);
      });
    } catch (e) {
      if (!(e instanceof StateConflictError)) throw e;
    }
  }
  for (const id of expired) await launch(id);
  return expired;
}

/**
 * Starts the queued runs (on_conflict: queue) of each workflow that is under its concurrency now,
 * oldest first (tick, serve): under the workflow's lock (as a new run is counted), each is taken
 * out of the queue under its own lock, then `launch` drives it elsewhere. Returns their ids.
 */
export async function startQueuedRuns(app: App, launch: (executionId: string) => Promise<unknown>): Promise<string[]> {
  const deps = app.sessions.base();
  const isWaiting = (r: ExecutionRecord) => r.status === 'pending' && r.queued !== undefined;
  const workflows = [...new Set((await deps.store.listActive()).filter(isWaiting).map((r) => r.workflow_id))];
  const started: string[] = [];
  for (const workflowId of workflows) {
    const owner = { pid: deps.identity.pid, host: deps.identity.host, command: app.command };
    const lock = await deps.locks.acquire(`workflow-${workflowId}`, owner, { waitMs: 10_000 });
    try {
      const mine = (await deps.store.listActive()).filter((r) => r.workflow_id === workflowId && !isTerminal(r.status));
      let inFlight = mine.filter((r) => !isWaiting(r)).length;
      const queue = mine.filter(isWaiting).sort((a, b) => (a.queued?.since ?? '').localeCompare(b.queued?.since ?? '') || a.started_at.localeCompare(b.started_at));
      for (const q of queue) {
        if (inFlight >= (q.queued?.concurrency ?? 1)) break;
        let isTaken = false;
        try {
          await withExecution(app, q.execution_id, async (held) => {
            if (held.location !== 'active' || !isWaiting(held.record)) return;
            delete held.record.queued;
            delete held.record.status_reason;
            held.record.updated_at = held.deps.clock.now().toISOString();
            await held.deps.store.writeExecution(held.record);
            await audit(held.deps, { command: app.command, execution_id: q.execution_id, workflow_id: workflowId, result: 'dequeued' });
            isTaken = true;
          });
        } catch (e) {
          // Held by another process (an operator resuming it): it is not waiting any more.
          if (!(e instanceof StateConflictError)) throw e;
        }
        if (!isTaken) continue;
        inFlight++;
        started.push(q.execution_id);
      }
    } finally {
      await lock.release();
    }
  }
  for (const id of started) await launch(id);
  return started;
}
