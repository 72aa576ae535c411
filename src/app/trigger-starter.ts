import { CortexError, StateConflictError } from '../errors.js';
import type { Launcher } from '../ports/launcher.js';
import type { Starter, StartRequest, StartResult } from '../triggers/start.js';
import type { App, LabRequest } from './context.js';
import { createRun } from './start.js';

export interface StarterLimits {
  /** Runs being created and launched at the same time (default 4). */
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
  const maxStarting = options.maxStarting ?? 4;
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
  return async (req: StartRequest): Promise<StartResult> => {
    if (!(await acquire())) {
      return { ok: false, busy: 'overloaded', exitCode: 3, message: `too many runs are starting (${maxStarting} starting, ${maxWaiting} waiting); send it again later` };
    }
    try {
      const { record } = await createRun(
        app,
        {
          workflowId: req.workflowId,
          assignments: req.assignments,
          trigger: { ...req.triggerInfo },
          ...(options.lab ? { lab: options.lab } : {}),
        },
        { drive: false },
      );
      const launched = await launcher.launch(record.execution_id);
      return {
        ok: true,
        executionId: record.execution_id,
        ...(launched.pid !== undefined ? { pid: launched.pid } : {}),
        ...(launched.ok ? (launched.message ? { message: launched.message } : {}) : { message: `created, but not started: ${launched.message ?? 'launch failed'}; cortex resume ${record.execution_id} starts it` }),
      };
    } catch (e) {
      if (!(e instanceof CortexError)) throw e;
      return { ok: false, exitCode: e.exitCode, message: e.message, ...(e instanceof StateConflictError ? { busy: 'conflict' as const } : {}) };
    } finally {
      release();
    }
  };
}
