import { ExitCode } from '../../errors.js';
import { rollbackExecution } from '../../app/continue.js';
import { assertExecutionId, loadForContinue } from '../../app/existing.js';
import { planRollback } from '../../engine/rollback.js';
import { Execution } from '../../engine/run-workflow.js';
import { NotFoundError } from '../../errors.js';
import type { CommandContext } from '../context.js';
import { appFor } from '../app.js';
import { continueCommand, queuedCommand, type ContinueOptions } from '../continue.js';
import { continueLab, queueFor } from '../app.js';

/** `cortex rollback EXECUTION_ID [--dry-run]`: undo what the execution did (only what happened). */
export async function rollback(ctx: CommandContext, args: unknown[], opts: ContinueOptions & { dryRun?: boolean }): Promise<number> {
  const id = args[0] as string;
  if (opts.dryRun) {
    assertExecutionId(id);
    const app = appFor(ctx);
    const deps = app.sessions.base();
    const found = await deps.store.readExecution(id);
    if (!found) throw new NotFoundError(`no execution ${id} in active/ or history/`, { hint: 'cortex status; cortex history' });
    const rec = found.record;
    const { prep } = await loadForContinue(app, rec, opts.param ?? []);
    const exec = new Execution(deps, { ...prep, env: ctx.env, signal: ctx.signal, debug: false }, rec);
    const { steps, notUndone } = planRollback(exec, 'workflow');
    if (ctx.out.json) ctx.out.data({ execution_id: rec.execution_id, dry_run: true, steps, not_undone: notUndone });
    else {
      ctx.out.line(`rollback of ${rec.execution_id} (dry run: nothing is executed or written)`);
      for (const s of steps) ctx.out.line(`  ${s.status === 'completed' ? 'done   ' : 'will run'} ${s.step_id}: ${s.contractor} ${s.action}${s.for_action ? ` (undoes ${s.for_action})` : ''}`);
      if (steps.length === 0) ctx.out.line('  nothing completed that needs undoing');
      for (const n of notUndone) ctx.out.line(`  not undone: ${n}`);
    }
    return ExitCode.OK;
  }
  const queue = await queueFor(ctx);
  if (queue) {
    const { queueRollback } = await import('../../app/queue-client.js');
    const lab = continueLab(opts);
    const q = await queuedCommand(ctx, queue, (app) => queueRollback(app, queue, { executionId: id, params: opts.param ?? [], ...(opts.debug ? { debug: true } : {}), ...(lab ? { lab } : {}) }));
    return q.exitCode;
  }
  const r = await continueCommand(ctx, id, opts, rollbackExecution);
  return r.exitCode;
}
