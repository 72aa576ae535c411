import { cancelExecution } from '../../app/continue.js';
import type { CommandContext } from '../context.js';
import { continueCommand, queuedCommand, type ContinueOptions } from '../continue.js';
import { continueLab, queueFor } from '../app.js';

/**
 * `cortex cancel EXECUTION_ID [--rollback]`: stops a running execution in another process (it
 * records itself cancelled) or marks a paused, waiting or not started one cancelled.
 */
export async function cancel(ctx: CommandContext, args: unknown[], opts: ContinueOptions & { rollback?: boolean }): Promise<number> {
  const queue = await queueFor(ctx);
  if (queue) {
    // The worker holding it stops on the cancel mark; the rollback, asked for, is a job for a worker.
    let r;
    try {
      r = await continueCommand(ctx, args[0] as string, opts, (app, req) => cancelExecution(app, { ...req, ...(opts.rollback ? { rollbackQueued: true } : {}) }));
    } catch (e) {
      await queue.close();
      throw e;
    }
    if (!opts.rollback || r.record.status === 'rolled_back' || r.exitCode !== 0) {
      await queue.close();
      return r.exitCode;
    }
    const { queueRollback } = await import('../../app/queue-client.js');
    const lab = continueLab(opts);
    return (await queuedCommand(ctx, queue, (app) => queueRollback(app, queue, { executionId: args[0] as string, ...(lab ? { lab } : {}) }))).exitCode;
  }
  const r = await continueCommand(ctx, args[0] as string, opts, (app, req) => cancelExecution(app, { ...req, ...(opts.rollback ? { rollback: true } : {}) }));
  return r.exitCode;
}
