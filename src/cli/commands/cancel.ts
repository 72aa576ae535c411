import { ExitCode, StateConflictError } from '../../errors.js';
import { isTerminal } from '../../engine/records.js';
import { stopLeftovers } from '../../engine/leftovers.js';
import { runRollback } from '../../engine/rollback.js';
import type { CommandContext } from '../context.js';
import { continueExecution, type ContinueOptions } from '../continue.js';
import { loadExisting } from '../existing.js';
import { openStore } from '../state.js';

async function waitForStop(ctx: CommandContext, id: string, timeoutMs: number): Promise<boolean> {
  const state = await openStore(ctx);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = await state.store.readExecution(id);
    const rec = found?.record;
    if (!rec || (rec.status !== 'running' && rec.status !== 'rolling_back') || (rec.process && !state.isProcessAlive(rec.process))) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/**
 * `cortex cancel EXECUTION_ID [--rollback]`: stops a running execution in another process (SIGTERM
 * to its recorded pid; its tools' process groups are stopped by it) and records it cancelled; an
 * execution that is paused or waiting is marked cancelled directly.
 */
export async function cancel(ctx: CommandContext, args: unknown[], opts: ContinueOptions & { rollback?: boolean; param?: string[] }): Promise<number> {
  const id = args[0] as string;
  let ex = await loadExisting(ctx, id, opts.param);
  if (ex.location === 'history' || isTerminal(ex.record.status)) {
    throw new StateConflictError(`execution ${id} has already ended (${ex.record.status})`);
  }
  if (ex.isLive) {
    const p = ex.record.process;
    const state = await openStore(ctx);
    await state.store.requestCancel(id, true);
    if (p && p.host !== (await import('node:os')).hostname()) {
      throw new StateConflictError(`execution ${id} runs on ${p.host}; cancel it there`);
    }
    try {
      // Checked again just before: a pid whose start time no longer matches is another process.
      if (p && state.isProcessAlive(p)) process.kill(p.pid, 'SIGTERM');
    } catch {
      // exited meanwhile
    }
    if (!(await waitForStop(ctx, id, 30_000))) throw new StateConflictError(`execution ${id} (pid ${p?.pid}) did not stop within 30 s`);
    ex = await loadExisting(ctx, id, opts.param);
  }
  const rec = ex.record;
  if (isTerminal(rec.status) && !opts.rollback) {
    if (ctx.out.json) ctx.out.data({ execution_id: id, status: rec.status });
    else ctx.out.line(`${id} ${rec.status}`);
    return ExitCode.OK;
  }
  const code = await continueExecution(ctx, ex, 'cancel', opts, async (exec) => {
    // Tools an interrupted action left running (their cortex was killed) stop with it.
    await stopLeftovers(exec.deps, exec.record);
    if (opts.rollback) await runRollback(exec, 'workflow', 'cancelled by an operator', undefined, exec.deps.identity.user);
    if (!isTerminal(exec.record.status)) {
      exec.record.status = 'cancelled';
      exec.record.status_reason = 'cancelled by an operator (cortex cancel)';
    }
    await exec.deps.store.requestCancel(id, false);
    await exec.finalize();
  });
  return isTerminal(rec.status) ? ExitCode.OK : code;
}
