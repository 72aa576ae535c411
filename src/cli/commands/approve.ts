import { ExitCode } from '../../errors.js';
import { decideExecution } from '../../app/continue.js';
import { parseParamAssignments } from '../../definitions/parameters.js';
import type { CommandContext } from '../context.js';
import { continueCommand, queuedCommand, type ContinueOptions } from '../continue.js';
import { continueLab, queueFor } from '../app.js';

export interface ApproveOptions extends ContinueOptions {
  comment?: string;
  action?: string;
  output?: string[];
  data?: string;
}

async function decide(ctx: CommandContext, args: unknown[], opts: ApproveOptions, decision: 'approved' | 'rejected'): Promise<number> {
  const outputs = parseParamAssignments(opts.output ?? []);
  const queue = await queueFor(ctx);
  if (queue) {
    const { queueDecision } = await import('../../app/queue-client.js');
    const lab = continueLab(opts);
    let expired = false;
    const r = await queuedCommand(ctx, queue, async (app) => {
      const q = await queueDecision(app, queue, {
        executionId: args[0] as string,
        params: opts.param ?? [],
        decision,
        ...(opts.comment ? { comment: opts.comment } : {}),
        ...(opts.action ? { action: opts.action } : {}),
        ...(opts.data ? { dataFile: opts.data } : {}),
        outputs,
        onWarning: (w: string) => ctx.out.err(`warning: ${w}`),
        ...(opts.debug ? { debug: true } : {}),
        ...(lab ? { lab } : {}),
      });
      expired = q.expired;
      return q;
    });
    if (expired) ctx.out.err(`the approval of ${r.record.execution_id} had expired before this ${decision === 'approved' ? 'approval' : 'rejection'}: it was rejected and rolled back`);
    return r.exitCode;
  }
  const r = await continueCommand(ctx, args[0] as string, opts, (app, req) =>
    decideExecution(app, {
      ...req,
      decision,
      ...(opts.comment ? { comment: opts.comment } : {}),
      ...(opts.action ? { action: opts.action } : {}),
      ...(opts.data ? { dataFile: opts.data } : {}),
      outputs,
    }),
  );
  if (r.expired) ctx.out.err(`the approval of ${r.record.execution_id} had expired before this ${decision === 'approved' ? 'approval' : 'rejection'}: it was rejected and rolled back`);
  return r.exitCode;
}

/** `cortex approve EXECUTION_ID [--comment T] [--action ID [--data FILE] [--output k=v ...]]`. */
export async function approve(ctx: CommandContext, args: unknown[], opts: ApproveOptions): Promise<number> {
  return decide(ctx, args, opts, 'approved');
}

/** `cortex reject EXECUTION_ID [--comment T] [--action ID]`: ends it, rolling back what completed. */
export async function reject(ctx: CommandContext, args: unknown[], opts: ApproveOptions): Promise<number> {
  const code = await decide(ctx, args, opts, 'rejected');
  return code === ExitCode.WORKFLOW_FAILED ? ExitCode.OK : code;
}
