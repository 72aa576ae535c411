import type { ContinueRequest, ContinueResult } from '../app/continue.js';
import type { App } from '../app/context.js';
import type { CommandContext } from './context.js';
import { appFor, continueLab, type SimulateOptions } from './app.js';
import { createProgress } from './render/progress.js';
import { printSummary } from './render/summary.js';

export interface ContinueOptions extends SimulateOptions {
  debug?: boolean;
  param?: string[];
}

/**
 * Runs one continue operation of the application layer (resume, approve, reject, rollback,
 * cancel) with the CLI's progress output, and prints its summary.
 */
export async function continueCommand<R extends ContinueResult>(
  ctx: CommandContext,
  id: string,
  opts: ContinueOptions,
  op: (app: App, req: ContinueRequest) => Promise<R>,
): Promise<R> {
  const app = appFor(ctx);
  const progress = await createProgress(ctx.out);
  const lab = continueLab(opts);
  try {
    const result = await op(app, {
      executionId: id,
      params: opts.param ?? [],
      ...(opts.debug ? { debug: true } : {}),
      ...(lab ? { lab } : {}),
      emit: progress.emit,
      onWarning: (w) => ctx.out.err(`warning: ${w}`),
    });
    progress.stop();
    if (result.message) {
      if (ctx.out.json) ctx.out.data({ execution_id: result.record.execution_id, status: result.record.status, changed: result.changed });
      else ctx.out.line(result.message);
    } else {
      printSummary(ctx.out, result.record);
    }
    return result;
  } finally {
    progress.stop();
  }
}
