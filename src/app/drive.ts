import type { EngineEvent } from '../engine/events.js';
import type { ExecutionRecord } from '../model/records.js';
import { runRollback } from '../engine/rollback.js';
import { Execution, type RunContext } from '../engine/run-workflow.js';
import { currentProcess } from '../engine/live-status.js';
import type { App, LabRequest } from './context.js';
import type { PreparedWorkflow } from './prepare.js';
import { exitCodeFor } from './exit-codes.js';

export { exitCodeFor };

/** What driving an execution needs from its preparation. */
export type DrivePrep = Pick<PreparedWorkflow, 'loaded' | 'catalogue' | 'impls' | 'config' | 'params'> & { secretValues?: string[] };

export interface DriveOptions {
  emit: (event: EngineEvent) => void;
  /** A fresh run (false) or a continued one. */
  resumed: boolean;
  /** The command continuing it (resume, approve, reject, rollback, cancel), for the progress output. */
  command?: string;
  debug?: boolean;
  /** Lab options; the lab is used when the record says simulate. */
  lab?: LabRequest;
  resume?: RunContext['resume'];
  /** What to do instead of carrying on with the phases (rollback, cancel). */
  body?: (exec: Execution) => Promise<void>;
}

/**
 * Drives an execution whose lock the caller holds: opens the ports (the lab's, when the
 * execution is simulated), records this process as the one working on it, and runs the phases
 * (or `body`) until the execution ends or has to stop. The record is left as the engine wrote it.
 */
export async function driveExecution(app: App, prep: DrivePrep, record: ExecutionRecord, options: DriveOptions): Promise<void> {
  const session = await app.sessions.open({
    ...(record.simulate ? { lab: { ...options.lab, ...(options.lab?.dir ? {} : record.lab_dir ? { dir: record.lab_dir } : {}) } } : {}),
    emit: options.emit,
  });
  try {
    const { deps } = session;
    for (const v of prep.secretValues ?? []) deps.masker.add(v);
    // Every secret cortex can see is masked, also one the workflow never names.
    for (const v of (await deps.secrets.all?.()) ?? []) deps.masker.add(v);
    const ctx: RunContext = {
      loaded: prep.loaded,
      catalogue: prep.catalogue,
      impls: prep.impls,
      config: session.config(prep.config),
      env: app.env,
      params: prep.params,
      signal: app.signal,
      debug: Boolean(options.debug),
      ...(options.resume ? { resume: options.resume } : {}),
      ...(app.hold ? { hold: app.hold } : {}),
      rollback: (exec, scope, reason, phaseId) => runRollback(exec, scope, reason, phaseId),
    };
    const exec = new Execution(deps, ctx, record);
    await exec.checkHandoffs();
    deps.emit({ kind: 'execution-start', executionId: record.execution_id, workflowId: record.workflow_id, resumed: options.resumed, ...(options.command ? { command: options.command } : {}) });
    let isDone = false;
    try {
      if (options.body) {
        record.process = currentProcess(deps.identity, exec.now());
        await exec.persist();
        await options.body(exec);
      } else {
        await exec.run();
      }
      isDone = true;
    } finally {
      // The record file whole before the caller releases the lock (a no-op after a normal end);
      // after a failure, its own error is the one to report.
      const flushed = exec.flush();
      if (isDone) await flushed;
      else await flushed.catch(() => undefined);
    }
  } finally {
    await session.stop();
  }
}
