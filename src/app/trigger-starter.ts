import { CortexError, ExitCode, StateConflictError } from '../errors.js';
import { isTerminal } from '../model/records.js';
import { cancelExecution } from './continue.js';
import { prepareRun } from './start.js';
import type { Launcher } from '../ports/launcher.js';
import type { Starter, StartRequest, StartResult } from '../triggers/start.js';
import type { App, LabRequest } from './context.js';
import { createRun } from './start.js';

export interface StarterLimits {
  /** Runs being created and launched at the same time (default 32: creations of one workflow at the same time share one hold of its lock, see createExecution). */
  maxStarting?: number;
  /** Requests that may wait for a slot; beyond it a start is refused as overloaded (default 64). */
  maxWaiting?: number;
}

/**
 * The starter of tick, trigger and serve: the run's record is created here (status `pending`,
 * within its workflow's concurrency limit) before the caller answers, so the answer carries the
 * real execution id; `launcher` then has another process drive it. At most `maxStarting` starts
 * run at once; a burst beyond `maxWaiting` is refused as overloaded rather than queued without
 * bound. Refusals say whether they are for now (busy) or for good.
 */
export function createRunStarter(app: App, launcher: Launcher, options: { lab?: LabRequest } & StarterLimits = {}): Starter {
  const maxStarting = options.maxStarting ?? 32;
  const maxWaiting = options.maxWaiting ?? 64;
  let starting = 0;
  const waiting: Array<() => void> = [];
  const acquire = async (): Promise<boolean> => {
    if (starting < maxStarting) {
      starting++;
      return true;
    }
    if (waiting.length >= maxWaiting) return false;
    await new Promise<void>((resolve) => waiting.push(resolve));
    return true;
  };
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else starting--;
  };
  /**
   * on_conflict: cancel_older: cancels (without rollback) the executions of the workflow still in
   * flight, as `cortex cancel` does, and returns their ids.
   */
  const onConflict = async (req: StartRequest) => {
    const prep = await prepareRun(app, { workflowId: req.workflowId, assignments: req.assignments, trigger: { ...req.triggerInfo } }, { checkTools: false });
    return prep.loaded.definition.on_conflict ?? 'refuse';
  };
  const cancelOlder = async (req: StartRequest): Promise<string[]> => {
    const t = req.triggerInfo;
    const reason = `superseded by a newer ${t.source} event (${t.event_id}, trigger ${t.trigger_id}): on_conflict cancel_older`;
    const older = (await app.sessions.base().store.listActive()).filter((r) => r.workflow_id === req.workflowId && !isTerminal(r.status));
    const done: string[] = [];
    for (const r of older) {
      await cancelExecution(app, { executionId: r.execution_id, emit: () => undefined, reason });
      done.push(r.execution_id);
    }
    return done;
  };
  return async (req: StartRequest): Promise<StartResult> => {
    if (!(await acquire())) {
      return { ok: false, busy: 'overloaded', exitCode: 3, message: `too many runs are starting (${maxStarting} starting, ${maxWaiting} waiting); send it again later` };
    }
    // Room in the launcher's bounded queue (serve drives its runs itself), before anything is created.
    const slot = launcher.reserve ? launcher.reserve() : { release: () => undefined };
    if (!slot) {
      release();
      return { ok: false, busy: 'overloaded', exitCode: 3, message: 'too many runs are waiting to be driven; send it again later' };
    }
    // Queue mode: a run no worker could take is not created while Redis does not answer.
    const down = await launcher.unavailable?.();
    if (down) {
      slot.release();
      release();
      return { ok: false, busy: 'queue_unreachable', exitCode: ExitCode.ENVIRONMENT, message: `${down}: no run was created; send it again later` };
    }
    const runReq = { workflowId: req.workflowId, assignments: req.assignments, trigger: { ...req.triggerInfo }, ...(options.lab ? { lab: options.lab } : {}) };
    let cancelled: string[] = [];
    try {
      // Queue mode: the record starts `queued` for a worker (a run waiting behind older ones on_conflict: queue is
      // enqueued when tick or serve starts it).
      const viaQueue = launcher.queued ? { queued: true } : {};
      let created;
      try {
        created = await createRun(app, runReq, { drive: false, ...viaQueue });
      } catch (e) {
        if (!(e instanceof StateConflictError)) throw e;
        const policy = await onConflict(req);
        if (policy === 'queue') {
          created = await createRun(app, runReq, { drive: false, queue: true });
        } else {
          cancelled = policy === 'cancel_older' ? await cancelOlder(req) : [];
          if (!cancelled.length) throw e;
          created = await createRun(app, runReq, { drive: false, ...viaQueue });
        }
      }
      const { record } = created;
      if (record.queued) return { ok: true, executionId: record.execution_id, queued: true, message: record.status_reason ?? 'queued' };
      const launched = await launcher.launch(record.execution_id);
      slot.release();
      if (!launched.ok && launcher.queued) {
        // Redis went away since it answered: nothing would ever drive this record. It is withdrawn
        // (ended cancelled, saying why, as `cortex cancel` would) and the start refused for now.
        const why = launched.message ?? 'the queue did not take it';
        await cancelExecution(app, { executionId: record.execution_id, emit: () => undefined, reason: `not started: ${why}; the event or schedule may start it again` });
        return { ok: false, busy: 'queue_unreachable', exitCode: ExitCode.ENVIRONMENT, message: `${why}: ${record.execution_id} was withdrawn (cancelled); send it again later` };
      }
      return {
        ok: true,
        executionId: record.execution_id,
        ...(cancelled.length ? { cancelled } : {}),
        ...(launched.pid !== undefined ? { pid: launched.pid } : {}),
        ...(launched.ok ? (launched.message ? { message: launched.message } : {}) : { message: `created, but not started: ${launched.message ?? 'launch failed'}; cortex resume ${record.execution_id} starts it` }),
      };
    } catch (e) {
      if (!(e instanceof CortexError)) throw e;
      return { ok: false, exitCode: e.exitCode, message: e.message, ...(e instanceof StateConflictError ? { busy: 'conflict' as const } : {}), ...(cancelled.length ? { cancelled } : {}) };
    } finally {
      slot.release();
      release();
    }
  };
}
