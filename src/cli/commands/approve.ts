import { ExitCode, NotFoundError, StateConflictError, UsageError } from '../../errors.js';
import { parseParamAssignments } from '../../definitions/parameters.js';
import type { CommandContext } from '../context.js';
import { continueExecution, type ContinueOptions } from '../continue.js';
import { assertNotLive, expireApprovals, loadExisting } from '../existing.js';
import { currentUser } from '../../deps.js';
import { hostname } from 'node:os';

export interface ApproveOptions extends ContinueOptions {
  comment?: string;
  action?: string;
  output?: string[];
  param?: string[];
}

function parseOutputs(list: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, raw } of parseParamAssignments(list)) {
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    out[key] = value;
  }
  return out;
}

async function decide(ctx: CommandContext, args: unknown[], opts: ApproveOptions, decision: 'approved' | 'rejected'): Promise<number> {
  const ex = await loadExisting(ctx, args[0] as string, opts.param);
  assertNotLive(ex);
  const rec = ex.record;
  if (rec.status !== 'awaiting_approval' || ex.location !== 'active') {
    throw new StateConflictError(`execution ${rec.execution_id} is ${rec.status}, not awaiting approval`, { hint: `cortex status ${rec.execution_id}` });
  }
  const now = new Date();
  if (expireApprovals(rec, now)) {
    ctx.out.err(`the approval of ${rec.execution_id} expired before this ${decision === 'approved' ? 'approval' : 'rejection'}: it is rejected and rolled back`);
  }
  const user = currentUser(ctx.env);
  const host = hostname();
  const comment = opts.comment ? { comment: opts.comment } : {};
  if (opts.action) {
    const phase = rec.phases.find((p) => p.actions.some((a) => a.action_id === opts.action));
    const action = phase?.actions.find((a) => a.action_id === opts.action);
    if (!phase || !action) throw new NotFoundError(`execution ${rec.execution_id} has no action "${opts.action}"`);
    if (action.status !== 'awaiting_input') throw new StateConflictError(`action "${opts.action}" is ${action.status}, not waiting for a person`);
    action.person_task = { completed_by: user, completed_at: now.toISOString(), ...comment, result: decision === 'approved' ? 'done' : 'rejected' };
    if (decision === 'approved') {
      action.status = 'completed';
      action.outputs = parseOutputs(opts.output);
      action.finished_at = now.toISOString();
      action.duration_seconds = action.started_at ? Math.round((now.getTime() - Date.parse(action.started_at)) / 10) / 100 : null;
    }
    (rec.approvals ??= []).push({ time: now.toISOString(), decision: decision === 'approved' ? 'task_done' : 'task_rejected', phase_id: phase.phase_id, action_id: action.action_id, user, host, ...comment });
  } else {
    if (opts.output?.length) throw new UsageError('--output goes with --action (the outputs of a task done by a person)');
    const phase = rec.phases.find((p) => p.status === 'awaiting_approval' && !p.approval?.decision);
    if (!phase) {
      const task = rec.phases.flatMap((p) => p.actions).find((a) => a.status === 'awaiting_input');
      throw new StateConflictError(`no phase of ${rec.execution_id} is waiting for approval${task ? `; action "${task.action_id}" waits for a person: use --action ${task.action_id}` : ''}`);
    }
    phase.approval = { ...(phase.approval ?? {}), decision, decided_by: user, decided_at: now.toISOString(), ...comment };
    (rec.approvals ??= []).push({ time: now.toISOString(), decision, phase_id: phase.phase_id, user, host, ...comment });
  }
  return continueExecution(ctx, ex, decision === 'approved' ? 'approve' : 'reject', opts, undefined, {
    ...comment,
    ...(opts.action ? { details: { action: opts.action } } : {}),
  });
}

/** `cortex approve EXECUTION_ID [--comment T] [--action ID --output k=v ...]`. */
export async function approve(ctx: CommandContext, args: unknown[], opts: ApproveOptions): Promise<number> {
  return decide(ctx, args, opts, 'approved');
}

/** `cortex reject EXECUTION_ID [--comment T] [--action ID]`: ends it, rolling back what completed. */
export async function reject(ctx: CommandContext, args: unknown[], opts: ApproveOptions): Promise<number> {
  const code = await decide(ctx, args, opts, 'rejected');
  return code === ExitCode.WORKFLOW_FAILED ? ExitCode.OK : code;
}
