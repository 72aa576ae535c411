import type { ContinueRequest, ContinueResult } from '../app/continue.js';
import type { App } from '../app/context.js';
import type { QueuedJob } from '../app/queue-client.js';
import type { ExecutionRecord } from '../model/records.js';
import type { ExecutionQueue } from '../ports/queue.js';
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

/**
 * Queue mode: `enqueue` decides (under the execution's lock) and queues a job; the command then
 * follows it on the workers with the same progress output, summary and exit code as locally.
 */
export async function queuedCommand(
  ctx: CommandContext,
  queue: ExecutionQueue,
  enqueue: (app: App) => Promise<QueuedJob | { record: ExecutionRecord; message: string }>,
  options: { detach?: boolean } = {},
): Promise<{ record: ExecutionRecord; exitCode: number }> {
  const app = appFor(ctx);
  try {
    const queued = await enqueue(app);
    if ('message' in queued) {
      if (ctx.out.json) ctx.out.data({ execution_id: queued.record.execution_id, status: queued.record.status, changed: false });
      else ctx.out.line(queued.message);
      return { record: queued.record, exitCode: 0 };
    }
    if (options.detach) {
      const found = await app.sessions.base().store.readExecution(queued.executionId);
      if (ctx.out.json) ctx.out.data({ execution_id: queued.executionId, job_id: queued.jobId, status: found?.record.status ?? 'queued' });
      else ctx.out.line(`${queued.executionId} queued (job ${queued.jobId}); follow it with: cortex status ${queued.executionId}`);
      return { record: found?.record as ExecutionRecord, exitCode: 0 };
    }
    const workers = await queue.workers().catch(() => []);
    if (!workers.length) ctx.out.err(`warning: no cortex worker is connected to the queue; ${queued.executionId} waits for one (start one with: cortex worker)`);
    const { followJob } = await import('../app/queue-client.js');
    const progress = await createProgress(ctx.out);
    try {
      const r = await followJob(app, queue, queued, progress.emit);
      progress.stop();
      if (r.message) {
        if (ctx.out.json) ctx.out.data({ execution_id: r.record.execution_id, status: r.record.status, message: r.message });
        else ctx.out.line(r.message);
      } else {
        printSummary(ctx.out, r.record);
      }
      return { record: r.record, exitCode: r.exitCode };
    } finally {
      progress.stop();
    }
  } finally {
    await queue.close();
  }
}
