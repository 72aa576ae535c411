import type { Execution } from '../engine/run-workflow.js';
import type { CommandContext } from './context.js';
import type { Existing } from './existing.js';
import { createProgress } from './render/progress.js';
import { openSession, type SimulateOptions } from './session.js';
import { driveExecution, runContextFor } from './commands/run.js';
import { audit } from './audit.js';

export interface ContinueOptions extends SimulateOptions {
  debug?: boolean;
  retryAction?: string;
  skipAction?: string;
}

/**
 * Continues an existing execution in this process (resume, approve, reject, rollback): starts
 * the lab again when the execution was simulated, takes the execution's lock, runs `body`
 * (default: carry on with the phases) and prints the summary.
 */
export async function continueExecution(
  ctx: CommandContext,
  ex: Existing,
  command: string,
  opts: ContinueOptions,
  body?: (exec: Execution) => Promise<void>,
  auditExtra: { comment?: string; details?: Record<string, unknown> } = {},
): Promise<number> {
  const progress = await createProgress(ctx.out);
  for (const w of ex.warnings) ctx.out.err(`warning: ${w}`);
  const simulate = Boolean(opts.simulate || ex.record.simulate);
  const session = await openSession(ctx, ex.prep.config, {
    simulate,
    ...(opts.lab ? { lab: opts.lab } : ex.record.lab_dir ? { lab: ex.record.lab_dir } : {}),
    ...(opts.simulateFail ? { simulateFail: opts.simulateFail } : {}),
    ...(opts.simulateLatency !== undefined ? { simulateLatency: opts.simulateLatency } : {}),
    emit: progress.emit,
  });
  try {
    const runCtx = runContextFor(ctx, { ...ex.prep, config: session.config }, { debug: opts.debug, simulate });
    if (opts.retryAction || opts.skipAction) runCtx.resume = { ...(opts.retryAction ? { retryAction: opts.retryAction } : {}), ...(opts.skipAction ? { skipAction: opts.skipAction } : {}) };
    await audit(session.deps, { command, execution_id: ex.record.execution_id, workflow_id: ex.record.workflow_id, result: 'started', ...auditExtra });
    const code = await driveExecution(ctx, session.deps, runCtx, ex.record, { resumed: true, stopProgress: progress.stop, ...(body ? { body } : {}) });
    await audit(session.deps, { command, execution_id: ex.record.execution_id, workflow_id: ex.record.workflow_id, result: ex.record.status });
    return code;
  } finally {
    await session.stop();
  }
}
