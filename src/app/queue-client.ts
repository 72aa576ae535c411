/**
 * Queue mode, the operator's side: commands create or decide under the execution's lock as
 * always, then put a job on the queue for a worker to drive, and follow it to its end.
 */
import { ExitCode, StateConflictError, UsageError, WorkerReportedError, type ExitCode as ExitCodeT } from '../errors.js';
import type { EngineEvent } from '../engine/events.js';
import { prepareResume } from '../engine/run-workflow.js';
import { isTerminal, type ExecutionRecord } from '../model/records.js';
import { JobUnconfirmedError, type ExecutionJob, type ExecutionQueue, type JobResult } from '../ports/queue.js';
import { audit } from './audit.js';
import type { App, LabRequest } from './context.js';
import { applyDecision, checkFaults, type DecideRequest } from './continue.js';
import { withExecution } from './existing.js';
import { checkFaultsFor } from './rollback-faults.js';
import { createRun, type StartRequest } from './start.js';

export interface QueuedJob {
  executionId: string;
  jobId: string;
}

export interface FollowedResult {
  record: ExecutionRecord;
  exitCode: number;
  message?: string;
  worker?: JobResult['worker'];
}

function noSecretParams(params: string[] | undefined): void {
  if (params?.length) {
    throw new UsageError('-p is not taken in queue mode: parameter values given again (secret ones) are never put on the queue', {
      hint: 'refer to secrets with ${secrets.NAME}, or continue it without a queue (unset CORTEX_QUEUE_URL)',
    });
  }
}

async function put(queue: ExecutionQueue, executionId: string, job: ExecutionJob): Promise<QueuedJob> {
  try {
    return { executionId, jobId: await queue.enqueue(job) };
  } catch (e) {
    if (e instanceof JobUnconfirmedError) {
      // Sent, not confirmed: it may be stored and run once Redis answers. Resuming now could
      // start a second job for it; looking first cannot.
      throw new StateConflictError(`execution ${executionId}: the queue did not confirm its job (${e.message}); it may still be queued, and then a worker drives it once the queue answers`, {
        hint: `once the queue answers, cortex status ${executionId}: queued or running, nothing to do; still queued with workers idle: cortex resume ${executionId}`,
      });
    }
    throw new StateConflictError(`execution ${executionId} could not be queued: ${(e as Error).message}`, { hint: `once the queue answers: cortex resume ${executionId}` });
  }
}

const labOf = (lab?: LabRequest) => (lab ? { lab: { ...lab } } : {});

/** `cortex run` in queue mode: the record is created (status `queued`), then the job queued. */
export async function queueRun(app: App, queue: ExecutionQueue, req: StartRequest & { debug?: boolean }): Promise<QueuedJob> {
  const { record } = await createRun(app, req, { drive: false, queued: true });
  return put(queue, record.execution_id, { kind: 'run', executionId: record.execution_id, command: 'run', ...(req.debug ? { debug: true } : {}), ...labOf(req.lab) });
}

/** `cortex resume` in queue mode: checked under the lock (state, --retry-action/--skip-action), then queued. */
export async function queueResume(
  app: App,
  queue: ExecutionQueue,
  req: { executionId: string; retryAction?: string; skipAction?: string; params?: string[]; lab?: LabRequest; debug?: boolean },
): Promise<QueuedJob> {
  noSecretParams(req.params);
  await withExecution(app, req.executionId, async (held) => {
    const rec = held.record;
    if (held.location === 'history' || isTerminal(rec.status)) {
      throw new StateConflictError(`execution ${rec.execution_id} has ended (${rec.status}); there is nothing to resume`, {
        hint: rec.status === 'rolled_back' ? undefined : `cortex rollback ${rec.execution_id} undoes what it did`,
      });
    }
    checkFaults(rec, req.lab);
    // The worker applies the choice; here it is only checked, on a copy.
    const problem = prepareResume(structuredClone(rec), { ...(req.retryAction ? { retryAction: req.retryAction } : {}), ...(req.skipAction ? { skipAction: req.skipAction } : {}) }, held.deps.clock.now().toISOString());
    if (problem) throw new UsageError(problem);
  });
  return put(queue, req.executionId, {
    kind: 'resume',
    executionId: req.executionId,
    command: 'resume',
    ...(req.retryAction ? { retryAction: req.retryAction } : {}),
    ...(req.skipAction ? { skipAction: req.skipAction } : {}),
    ...(req.debug ? { debug: true } : {}),
    ...labOf(req.lab),
  });
}

/** `cortex approve` / `reject` in queue mode: the decision is recorded here, a worker continues. */
export async function queueDecision(app: App, queue: ExecutionQueue, req: Omit<DecideRequest, 'emit'>): Promise<QueuedJob & { expired: boolean }> {
  noSecretParams(req.params);
  const { expired } = await withExecution(app, req.executionId, async (held) => {
    const decided = await applyDecision(app, held, req);
    held.record.updated_at = held.deps.clock.now().toISOString();
    await held.deps.store.writeExecution(held.record);
    await audit(held.deps, {
      command: req.decision === 'approved' ? 'approve' : 'reject',
      execution_id: held.record.execution_id,
      workflow_id: held.record.workflow_id,
      result: 'queued',
      ...decided.comment,
      ...(decided.details ? { details: decided.details } : {}),
    });
    return decided;
  });
  const queued = await put(queue, req.executionId, { kind: 'resume', executionId: req.executionId, command: req.decision === 'approved' ? 'approve' : 'reject', ...(req.debug ? { debug: true } : {}), ...labOf(req.lab) });
  return { ...queued, expired };
}

/** `cortex rollback` in queue mode (an already rolled back execution is answered here). */
export async function queueRollback(app: App, queue: ExecutionQueue, req: { executionId: string; params?: string[]; lab?: LabRequest; debug?: boolean }): Promise<QueuedJob | { record: ExecutionRecord; message: string }> {
  noSecretParams(req.params);
  const done = await withExecution(app, req.executionId, async (held) => {
    if (held.record.status === 'rolled_back') return held.record;
    await checkFaultsFor(app, held.deps, held.record, req.lab, { kind: 'rollback', scope: 'workflow' });
    return undefined;
  });
  if (done) return { record: done, message: `${done.execution_id} is already rolled back; nothing to do` };
  return put(queue, req.executionId, { kind: 'rollback', executionId: req.executionId, command: 'rollback', ...(req.debug ? { debug: true } : {}), ...labOf(req.lab) });
}

/**
 * Follows a queued job to its end: progress events to `emit`, then the record as the worker left
 * it and the exit code the same command would have had locally. An error the worker met is
 * thrown as that error. Ctrl-C stops following only: the execution goes on on the workers.
 */
export async function followJob(app: App, queue: ExecutionQueue, job: QueuedJob, emit: (e: EngineEvent) => void): Promise<FollowedResult> {
  const result = await queue.follow(job.jobId, (e) => emit(e as EngineEvent), app.signal);
  const deps = app.sessions.base();
  const found = await deps.store.readExecution(job.executionId);
  if (!result) {
    if (!found) throw new StateConflictError(`execution ${job.executionId} has no record`);
    return { record: found.record, exitCode: ExitCode.INTERRUPTED, message: `stopped following ${job.executionId}; it goes on on the queue's workers: cortex status ${job.executionId}` };
  }
  if (result.error) throw new WorkerReportedError(result.error.code, result.error.exitCode as ExitCodeT, result.error.message, result.error.hint ? { hint: result.error.hint } : undefined);
  if (!found) throw new StateConflictError(`execution ${job.executionId} has no record in this coordination directory (is it the one the workers share?)`);
  return { record: found.record, exitCode: result.exitCode, ...(result.message ? { message: result.message } : {}), ...(result.worker ? { worker: result.worker } : {}) };
}
