import { ExitCode } from '../../errors.js';
import { planRollback, runRollback } from '../../engine/rollback.js';
import { currentProcess } from '../../engine/live-status.js';
import { Execution } from '../../engine/run-workflow.js';
import type { CommandContext } from '../context.js';
import { continueExecution, type ContinueOptions } from '../continue.js';
import { assertNotLive, loadExisting } from '../existing.js';
import { runContextFor } from './run.js';

/** `cortex rollback EXECUTION_ID [--dry-run]`: undo what the execution did (only what happened). */
export async function rollback(ctx: CommandContext, args: unknown[], opts: ContinueOptions & { dryRun?: boolean; param?: string[] }): Promise<number> {
  const ex = await loadExisting(ctx, args[0] as string, opts.param);
  assertNotLive(ex);
  const rec = ex.record;
  if (rec.status === 'rolled_back') {
    if (ctx.out.json) ctx.out.data({ execution_id: rec.execution_id, status: rec.status, changed: false });
    else ctx.out.line(`${rec.execution_id} is already rolled back; nothing to do`);
    return ExitCode.OK;
  }
  if (opts.dryRun) {
    const { createRealDeps } = await import('../../deps.js');
    const deps = createRealDeps({ root: ctx.root.dir, env: ctx.env });
    const exec = new Execution(deps, runContextFor(ctx, ex.prep, {}), rec);
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
  const reason = `requested by an operator${rec.status_reason ? ` (was ${rec.status}: ${rec.status_reason})` : ` (was ${rec.status})`}`;
  const code = await continueExecution(ctx, ex, 'rollback', opts, async (exec) => {
    exec.record.process = currentProcess(exec.deps.identity, exec.now());
    await runRollback(exec, 'workflow', reason, undefined, exec.deps.identity.user);
    await exec.finalize();
  });
  return (rec.status as string) === 'rolled_back' ? ExitCode.OK : code;
}
