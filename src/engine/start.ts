import { StateConflictError } from '../errors.js';
import type { LoadedWorkflow } from '../definitions/types.js';
import type { EngineDeps } from './deps.js';
import { isTerminal, makeExecutionId, type ExecutionRecord } from './records.js';
import { newExecutionRecord } from './run-workflow.js';
import { currentProcess, liveStatus } from './live-status.js';

export { liveStatus } from './live-status.js';

/**
 * Creates the record of a new execution, atomically with respect to other cortex processes:
 * under the workflow's lock, counts the executions of this workflow that have not ended and
 * refuses (StateConflictError, exit 3) when `concurrency` (default 1) are already in flight.
 */
export async function createExecution(
  deps: EngineDeps,
  args: {
    loaded: LoadedWorkflow;
    parameters: Record<string, unknown>;
    trigger: ExecutionRecord['trigger'];
    simulate?: boolean;
    labDir?: string;
  },
): Promise<ExecutionRecord> {
  const def = args.loaded.definition;
  const lock = await deps.locks.acquire(`workflow-${def.workflow_id}`, { pid: deps.identity.pid, host: deps.identity.host, command: 'run' }, { waitMs: 10_000 });
  try {
    const active = (await deps.store.listActive()).filter((r) => r.workflow_id === def.workflow_id && !isTerminal(r.status));
    const limit = def.concurrency ?? 1;
    if (active.length >= limit) {
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
    });
    record.process = currentProcess(deps.identity, record.started_at);
    await deps.store.writeExecution(record);
    return record;
  } finally {
    await lock.release();
  }
}
