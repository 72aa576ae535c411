import { StateConflictError } from '../errors.js';
import type { LoadedWorkflow } from '../definitions/types.js';
import type { EngineDeps } from './deps.js';
import type { HeldLock } from '../ports/state-store.js';
import { isTerminal, makeExecutionId, type ExecutionRecord } from '../model/records.js';
import { newExecutionRecord } from './run-workflow.js';
import { liveStatus } from './live-status.js';

export { liveStatus } from './live-status.js';

/** How long a new run waits for another process that is creating a record of the same workflow. */
const WORKFLOW_LOCK_WAIT_MS = 10_000;

/**
 * Creates the record of a new execution, atomically with respect to other cortex processes:
 * under the workflow's lock, counts the executions of this workflow that have not ended (an
 * unreadable record of this workflow counts: it may be one) and refuses (StateConflictError,
 * exit 3) when `concurrency` (default 1) are already in flight. The new execution's own lock is
 * taken before its record appears, so nothing else can drive it before the caller does;
 * `keepLock: false` releases it (the run is driven by another process, which takes it).
 */
export async function createExecution(
  deps: EngineDeps,
  args: {
    loaded: LoadedWorkflow;
    parameters: Record<string, unknown>;
    trigger: ExecutionRecord['trigger'];
    simulate?: boolean;
    labDir?: string;
    command?: string;
    /** Keep the execution's lock (the caller drives it now); default true. */
    keepLock?: boolean;
    /** At the concurrency limit, create the record queued (pending, not to be driven yet) instead of refusing. */
    queue?: boolean;
    /** A queue worker is to drive it: the record starts `queued`. */
    queued?: boolean;
  },
): Promise<{ record: ExecutionRecord; lock?: HeldLock }> {
  const def = args.loaded.definition;
  const owner = { pid: deps.identity.pid, host: deps.identity.host, command: args.command ?? 'run' };
  const lock = await deps.locks.acquire(`workflow-${def.workflow_id}`, owner, { waitMs: WORKFLOW_LOCK_WAIT_MS });
  try {
    const damaged: string[] = [];
    const prefix = `workflow-${def.workflow_id}-`;
    const records = await deps.store.listActive((file, e) => {
      const name = file.slice(file.lastIndexOf('/') + 1);
      if (name.startsWith(prefix)) damaged.push(`${file} (${e.message})`);
    });
    const active = records.filter((r) => r.workflow_id === def.workflow_id && !isTerminal(r.status));
    const limit = def.concurrency ?? 1;
    if (damaged.length && active.length + damaged.length >= limit) {
      throw new StateConflictError(`workflow "${def.workflow_id}" may be in progress: an execution record of it cannot be read: ${damaged.join('; ')}`, {
        hint: 'the file is kept as it is: repair it, or move it out of workflows/active/ once you know that execution has ended',
      });
    }
    const isQueued = args.queue === true && !damaged.length && active.length >= limit;
    if (active.length >= limit && !isQueued) {
      const r = active[0] as ExecutionRecord;
      const st = liveStatus(r, deps);
      const what =
        st === 'interrupted'
          ? `execution ${r.execution_id} was interrupted and has not been resumed or rolled back`
          : `execution ${r.execution_id} is ${st}${r.process ? ` (pid ${r.process.pid} on ${r.process.host})` : ''}`;
      throw new StateConflictError(`workflow "${def.workflow_id}" is already in progress: ${what}`, {
        hint:
          st === 'interrupted' || st === 'paused'
            ? `cortex resume ${r.execution_id}, or cortex rollback ${r.execution_id}`
            : st === 'awaiting_approval'
              ? `cortex approve ${r.execution_id} or cortex reject ${r.execution_id}`
              : `wait for it (cortex status ${r.execution_id}); set "concurrency" in the definition to allow parallel runs`,
      });
    }
    const now = deps.clock.now();
    const record = newExecutionRecord({
      executionId: makeExecutionId(def.workflow_id, now, deps.randomHex4()),
      loaded: args.loaded,
      parameters: args.parameters,
      trigger: args.trigger,
      now: now.toISOString(),
      ...(args.simulate ? { simulate: true } : {}),
      ...(args.labDir ? { labDir: args.labDir } : {}),
      ...(args.queued ? { status: 'queued' as const } : {}),
    });
    if (isQueued) {
      const behind = active.map((r) => r.execution_id);
      record.queued = { behind, concurrency: limit, since: now.toISOString() };
      record.status_reason = `queued behind ${behind.join(', ')} (on_conflict queue): cortex tick or serve starts it when the workflow is under its concurrency (${limit}); cortex resume ${record.execution_id} starts it now`;
    }
    const own = await deps.locks.acquire(`execution-${record.execution_id}`, { ...owner, execution_id: record.execution_id });
    try {
      await deps.store.writeExecution(record);
    } catch (e) {
      await own.release();
      throw e;
    }
    if (args.keepLock === false || isQueued) {
      await own.release();
      return { record };
    }
    return { record, lock: own };
  } finally {
    await lock.release();
  }
}
