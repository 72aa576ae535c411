import { UsageError } from '../../errors.js';
import type { CommandContext } from '../context.js';
import { createApp } from '../../compose.js';

export interface WorkerOptions {
  concurrency?: string;
  /** Take only these contractors' action jobs (repeatable). */
  contractor?: string[];
  /** Take execution jobs (with --contractor: as well; alone: executions only). */
  executions?: boolean;
}

function concurrencyOf(value: string | undefined): number {
  if (value === undefined) return 4;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new UsageError(`--concurrency expects a whole number from 1 to 256, got "${value}"`);
  return n;
}

/**
 * `cortex worker [--concurrency N] [--contractor NAME]... [--executions]`: takes jobs from the
 * queue. Plain: execution jobs (driven here, with the coordination directory shared by every
 * worker) and the action jobs of every contractor in queue.contractors. `--contractor NAME`:
 * that contractor's action jobs only, run with this host's tools and secrets (no coordination
 * directory). SIGTERM/Ctrl-C: stops taking jobs; executions in progress pause and go back to the
 * queue, actions in progress finish; exits 0.
 */
export async function worker(ctx: CommandContext, _args: unknown[], opts: WorkerOptions): Promise<number> {
  const concurrency = concurrencyOf(opts.concurrency);
  const [{ loadRootConfig }, { BullmqQueueConsumer, workerName, actionQueueName }, { BullmqActionConsumer, BullmqActionDispatcher }, { processJob }, { runActionJob }, { redactUrl }, { ensureRoot }] = await Promise.all([
    import('../../app/prepare.js'),
    import('../../adapters/bullmq-queue.js'),
    import('../../adapters/bullmq-actions.js'),
    import('../../app/worker.js'),
    import('../../app/action-worker.js'),
    import('../../config/config.js'),
    import('../../root.js'),
  ]);
  await ensureRoot(ctx.root);
  const config = await loadRootConfig(ctx);
  if (!config.queue) throw new UsageError('cortex worker needs queue mode: set queue: { url: redis://... } in config.yaml, or CORTEX_QUEUE_URL');
  const queue = config.queue;
  for (const c of opts.contractor ?? []) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(c)) throw new UsageError(`--contractor expects a contractor name like talos-contractor, got "${c}"`);
  }
  const takesExecutions = !opts.contractor?.length || Boolean(opts.executions);
  const contractors = opts.contractor?.length ? [...new Set(opts.contractor)] : opts.executions ? [] : queue.contractors;
  const role = [...(takesExecutions ? ['executions'] : []), ...contractors].join(',') || 'executions';
  const name = workerName(role);
  const consumer = takesExecutions ? new BullmqQueueConsumer({ url: queue.url, lockSeconds: queue.lockSeconds }) : undefined;
  const actionConsumer = contractors.length ? new BullmqActionConsumer({ url: queue.url, lockSeconds: queue.lockSeconds }) : undefined;
  const stamp = () => new Date().toISOString();
  const dispatched = new Set(queue.contractors);
  const appFor = (signal: AbortSignal) =>
    createApp({
      root: ctx.root,
      env: ctx.env,
      cwd: ctx.cwd,
      signal,
      command: 'worker',
      ...(consumer ? { hold: () => consumer.problem() } : {}),
      ...(dispatched.size ? { actionsFor: (lab?: { dir?: string; faults?: string[]; latency?: string }) => new BullmqActionDispatcher(queue.url, dispatched, lab) } : {}),
    });
  try {
    await consumer?.start(
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
    await actionConsumer?.start(
      contractors,
      async (job, jobCtx) => {
        const what = `action ${job.executionId} ${job.phaseId}/${job.actionId} (${job.contractor}/${job.action} #${job.attempt})`;
        ctx.out.line(`${stamp()} ${what}: started`);
        // Its own signal only: a stopping worker lets the actions it holds finish.
        const app = createApp({ root: ctx.root, env: ctx.env, cwd: ctx.cwd, signal: jobCtx.signal, command: 'worker' });
        const r = await runActionJob(app, job, jobCtx);
        ctx.out.line(`${stamp()} ${what}: ${r.outcome}${r.error ? ` ${r.error.code}: ${r.error.message.split('\n')[0]}` : ''}`);
        return r;
      },
      { concurrency, name },
    );
  } catch (e) {
    await Promise.allSettled([consumer?.close(), actionConsumer?.close()]);
    const { EnvironmentError } = await import('../../errors.js');
    throw new EnvironmentError(`cannot reach the queue at ${redactUrl(queue.url)}: ${(e as Error).message}`, { hint: 'is redis-server running there? cortex doctor checks it' });
  }
  const takes = [...(consumer ? ['execution jobs'] : []), ...(contractors.length ? [`action jobs of ${contractors.join(', ')} (${contractors.map(actionQueueName).join(', ')})`] : [])].join(' and ');
  ctx.out.line(`${stamp()} ${name}: taking ${takes} from ${redactUrl(queue.url)} (concurrency ${concurrency}; root ${ctx.root.dir})`);
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  ctx.out.line(`${stamp()} ${name}: stopping (executions in progress pause and go back to the queue; actions in progress finish)`);
  await Promise.all([consumer?.close(), actionConsumer?.close()]);
  ctx.out.line(`${stamp()} ${name}: stopped`);
  return 0;
}
