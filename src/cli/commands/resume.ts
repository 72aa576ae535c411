import { ExitCode, StateConflictError } from '../../errors.js';
import { isTerminal } from '../../engine/records.js';
import type { CommandContext } from '../context.js';
import { continueExecution, type ContinueOptions } from '../continue.js';
import { assertNotLive, expireApprovals, loadExisting } from '../existing.js';

/** `cortex resume EXECUTION_ID [--retry-action ID | --skip-action ID]`: continue from the first action that did not complete. */
export async function resume(ctx: CommandContext, args: unknown[], opts: ContinueOptions & { param?: string[] }): Promise<number> {
  const ex = await loadExisting(ctx, args[0] as string, opts.param);
  assertNotLive(ex);
  if (ex.location === 'history' || isTerminal(ex.record.status)) {
    throw new StateConflictError(`execution ${ex.record.execution_id} has ended (${ex.record.status}); there is nothing to resume`, {
      hint: ex.record.status === 'rolled_back' ? undefined : `cortex rollback ${ex.record.execution_id} undoes what it did`,
    });
  }
  expireApprovals(ex.record, new Date());
  const code = await continueExecution(ctx, ex, 'resume', opts, undefined, {
    ...(opts.retryAction || opts.skipAction ? { details: { retry_action: opts.retryAction ?? null, skip_action: opts.skipAction ?? null } } : {}),
  });
  return code === ExitCode.OK && ex.record.status === 'paused' ? ExitCode.WORKFLOW_FAILED : code;
}
