/**
 * Queue mode, the worker side: one job drives one execution through the same lifecycle as a
 * local run (withExecution: the execution's lock, the record read again under it, the resume
 * rules for an action whose outcome is unknown). The coordination directory is shared.
 */
import { CortexError, ExitCode, StateConflictError, environmentErrorOf } from '../errors.js';
import type { EngineEvent } from '../engine/events.js';
import { isTerminal } from '../model/records.js';
import type { ExecutionJob, JobContext, JobResult } from '../ports/queue.js';
import { audit } from './audit.js';
import type { App } from './context.js';
import { resumeExecution, rollbackExecution } from './continue.js';
import { ExecutionLockedError } from './existing.js';
import { exitCodeFor } from './drive.js';

/** How often a job looks for a `cortex cancel` of its execution. */
const CANCEL_POLL_MS = 250;

/** Events worth sending over the queue to the command that follows the job. */
function publishable(e: EngineEvent): boolean {
  return e.kind !== 'command' && e.kind !== 'request';
}

/**
 * Runs one execution job. Returns how it ended (the exit code the queuing command reports);
 * throws to hand the job back to the queue: the execution is held by another process that may
 * be gone (its lock is taken over once stale), or this worker is stopping and paused it.
 */
export async function processJob(appFor: (signal: AbortSignal) => App, job: ExecutionJob, ctx: JobContext): Promise<JobResult> {
  const controller = new AbortController();
  const onStop = () => controller.abort(ctx.signal.reason ?? new Error('SIGTERM'));
  if (ctx.signal.aborted) onStop();
  else ctx.signal.addEventListener('abort', onStop, { once: true });
  const app = appFor(controller.signal);
  const deps = app.sessions.base();
  const worker = { host: deps.identity.host, pid: deps.identity.pid };
  // `cortex cancel` marks the execution; the job stops it as a signal would (the engine records `cancelled`).
  let watching = true;
  const watch = (async () => {
    while (watching && !controller.signal.aborted) {
      if (await deps.store.isCancelRequested(job.executionId).catch(() => false)) {
        controller.abort(new Error('cancelled'));
        break;
      }
      await new Promise((r) => setTimeout(r, CANCEL_POLL_MS));
    }
  })();
  const emit = (e: EngineEvent) => {
    if (publishable(e)) ctx.progress(e);
  };
  try {
    const common = {
      executionId: job.executionId,
      emit,
      ...(job.debug ? { debug: true } : {}),
      ...(job.lab ? { lab: job.lab } : {}),
    };
    const r =
      job.kind === 'rollback'
        ? await rollbackExecution(app, common)
        : await resumeExecution(app, {
            ...common,
            command: job.command,
            ...(job.retryAction ? { retryAction: job.retryAction } : {}),
            ...(job.skipAction ? { skipAction: job.skipAction } : {}),
          });
    if (r.record.status === 'paused' && app.hold?.()) {
      // Paused for the queue: the job goes back (once Redis answers) and a worker continues it.
      throw new Error(`worker ${worker.host}:${worker.pid} paused ${job.executionId} while the queue was unreachable`);
    }
    if (ctx.signal.aborted && !isTerminal(r.record.status) && r.record.status !== 'awaiting_approval') {
      // This worker is stopping: the execution paused; another worker (or this one, restarted) continues it.
      throw new Error(`worker ${worker.host}:${worker.pid} stopped while driving ${job.executionId}`);
    }
    return { exitCode: r.exitCode, status: r.record.status, ...(r.message ? { message: r.message } : {}), worker };
  } catch (e) {
    if (e instanceof ExecutionLockedError) throw new Error(e.message, { cause: e });
    if (e instanceof StateConflictError && job.kind === 'run' && /has ended/.test(e.message)) {
      // A job delivered again after its execution ended (its worker lost the job after finishing it).
      const ended = (await deps.store.readExecution(job.executionId))?.record;
      if (ended) return { exitCode: exitCodeFor(ended, false), status: ended.status, worker };
    }
    // A write the file system refused is reported as the CLI reports it (errors.ts), not as a bug.
    const reported = e instanceof CortexError ? e : environmentErrorOf(e);
    if (reported) {
      return { exitCode: reported.exitCode, error: { code: reported.code, message: reported.message, ...(reported.hint ? { hint: reported.hint } : {}), exitCode: reported.exitCode }, worker };
    }
    if (e instanceof Error && /stopped while driving|while the queue was unreachable/.test(e.message)) throw e;
    await audit(deps, { command: 'worker', execution_id: job.executionId, result: 'error', details: { error: e instanceof Error ? e.message : String(e) } }).catch(() => undefined);
    return { exitCode: ExitCode.INTERNAL, error: { code: 'CORTEX_INTERNAL', message: e instanceof Error ? (e.stack ?? e.message) : String(e), exitCode: ExitCode.INTERNAL }, worker };
  } finally {
    watching = false;
    ctx.signal.removeEventListener('abort', onStop);
    await watch;
  }
}
