import { cancelExecution } from '../../app/continue.js';
import type { CommandContext } from '../context.js';
import { continueCommand, type ContinueOptions } from '../continue.js';

/**
 * `cortex cancel EXECUTION_ID [--rollback]`: stops a running execution in another process (it
 * records itself cancelled) or marks a paused, waiting or not started one cancelled.
 */
export async function cancel(ctx: CommandContext, args: unknown[], opts: ContinueOptions & { rollback?: boolean }): Promise<number> {
  const r = await continueCommand(ctx, args[0] as string, opts, (app, req) => cancelExecution(app, { ...req, ...(opts.rollback ? { rollback: true } : {}) }));
  return r.exitCode;
}
