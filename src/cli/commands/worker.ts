import { UsageError } from '../../errors.js';
import type { CommandContext } from '../context.js';
import { createApp } from '../../compose.js';

export interface WorkerOptions {
  concurrency?: string;
}

function concurrencyOf(value: string | undefined): number {
  if (value === undefined) return 4;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new UsageError(`--concurrency expects a whole number from 1 to 256, got "${value}"`);
  return n;
}

/**
 * `cortex worker [--concurrency N]`: takes execution jobs from the queue and drives them here,
 * with the coordination directory shared by every worker. SIGTERM/Ctrl-C: stops taking jobs,
 * pauses the executions in progress and hands their jobs back to the queue, exits 0.
 */
export async function worker(ctx: CommandContext, _args: unknown[], opts: WorkerOptions): Promise<number> {
  const concurrency = concurrencyOf(opts.concurrency);
  const [{ loadRootConfig }, { BullmqQueueConsumer, workerName }, { processJob }, { redactUrl }, { ensureRoot }] = await Promise.all([
    import('../../app/prepare.js'),
    import('../../adapters/bullmq-queue.js'),
    import('../../app/worker.js'),
    import('../../config/config.js'),
    import('../../root.js'),
  ]);
  await ensureRoot(ctx.root);
  const config = await loadRootConfig(ctx);
  if (!config.queue) throw new UsageError('cortex worker needs queue mode: set queue: { url: redis://... } in config.yaml, or CORTEX_QUEUE_URL');
  const name = workerName('executions');
  const consumer = new BullmqQueueConsumer({ url: config.queue.url, lockSeconds: config.queue.lockSeconds });
  const stamp = () => new Date().toISOString();
  const appFor = (signal: AbortSignal) => createApp({ root: ctx.root, env: ctx.env, cwd: ctx.cwd, signal, command: 'worker' });
  try {
    await consumer.start(
      async (job, jobCtx) => {
        ctx.out.line(`${stamp()} ${job.kind} ${job.executionId} (${job.command}): started`);
        try {
          const r = await processJob(appFor, job, jobCtx);
          ctx.out.line(`${stamp()} ${job.kind} ${job.executionId}: ${r.error ? `${r.error.code}: ${r.error.message.split('\n')[0]}` : (r.status ?? r.message ?? '')} (exit ${r.exitCode})`);
          return r;
        } catch (e) {
          ctx.out.line(`${stamp()} ${job.kind} ${job.executionId}: handed back to the queue: ${(e as Error).message}`);
          throw e;
        }
      },
      { concurrency, name },
    );
  } catch (e) {
    await consumer.close().catch(() => undefined);
    const { EnvironmentError } = await import('../../errors.js');
    throw new EnvironmentError(`cannot reach the queue at ${redactUrl(config.queue.url)}: ${(e as Error).message}`, { hint: 'is redis-server running there? cortex doctor checks it' });
  }
  ctx.out.line(`${stamp()} ${name}: taking execution jobs from ${redactUrl(config.queue.url)} (concurrency ${concurrency}; root ${ctx.root.dir})`);
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  ctx.out.line(`${stamp()} ${name}: stopping (jobs in progress pause and go back to the queue)`);
  await consumer.close();
  return 0;
}
