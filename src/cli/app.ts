import type { App, LabRequest } from '../app/context.js';
import { createApp } from '../compose.js';
import { UsageError } from '../errors.js';
import { assertNoLinksInRoot } from '../adapters/root-links.js';
import type { CommandContext } from './context.js';

/**
 * The application layer for this command, with the real ports. Throws UnsafePathError when a
 * folder or log of the root is a symbolic link: refused before anything is written.
 */
export function appFor(ctx: CommandContext): App {
  assertNoLinksInRoot(ctx.root.dir);
  return createApp({ root: ctx.root, env: ctx.env, cwd: ctx.cwd, signal: ctx.signal, command: ctx.command, ...(ctx.definitions ? { definitions: ctx.definitions } : {}) });
}

export interface SimulateOptions {
  simulate?: boolean;
  lab?: string;
  simulateFail?: string[];
  simulateLatency?: string;
}

/** The lab request of --simulate, --lab, --simulate-fail, --simulate-latency (undefined: the real tools). */
export function labRequest(opts: SimulateOptions): LabRequest | undefined {
  if (!opts.simulate) {
    if (opts.simulateFail?.length || opts.simulateLatency !== undefined || opts.lab) throw new UsageError('--simulate-fail, --simulate-latency and --lab need --simulate');
    return undefined;
  }
  return {
    ...(opts.lab ? { dir: opts.lab } : {}),
    ...(opts.simulateFail?.length ? { faults: opts.simulateFail } : {}),
    ...(opts.simulateLatency !== undefined ? { latency: opts.simulateLatency } : {}),
  };
}

/** Lab options for continuing an execution: the lab is used when the record says so. */
export function continueLab(opts: SimulateOptions): LabRequest | undefined {
  if (!opts.simulate && !opts.lab && !opts.simulateFail?.length && opts.simulateLatency === undefined) return undefined;
  return {
    ...(opts.lab ? { dir: opts.lab } : {}),
    ...(opts.simulateFail?.length ? { faults: opts.simulateFail } : {}),
    ...(opts.simulateLatency !== undefined ? { latency: opts.simulateLatency } : {}),
  };
}

/** The launcher of triggered runs: a detached `cortex resume` per run, output to state/runs.log. */
export async function launcherFor(ctx: CommandContext): Promise<import('../ports/launcher.js').Launcher> {
  const { loadRootConfig } = await import('../app/prepare.js');
  const queue = (await loadRootConfig(ctx)).queue;
  if (queue) return new (await import('../adapters/bullmq-queue.js')).QueueLauncher(queue.url, ctx.command);
  const [{ DetachedLauncher }, { runsLogPath }] = await Promise.all([import('../adapters/detached-launcher.js'), import('../triggers/start.js')]);
  return new DetachedLauncher({ root: ctx.root.dir, env: ctx.env, logFile: runsLogPath(ctx.root.dir) });
}

/** The starter of tick, trigger and serve (records created here; runs driven by `launcher`, default detached processes or the queue). */
export async function triggerStarterFor(
  ctx: CommandContext,
  opts: { simulate?: boolean; lab?: string },
  limits: { maxStarting?: number; maxWaiting?: number } = {},
  launcher?: import('../ports/launcher.js').Launcher,
) {
  const { createRunStarter } = await import('../app/trigger-starter.js');
  const lab = opts.simulate ? { ...(opts.lab ? { dir: opts.lab } : {}) } : undefined;
  if (!opts.simulate && opts.lab) throw new UsageError('--lab needs --simulate');
  return createRunStarter(appFor(ctx), launcher ?? (await launcherFor(ctx)), { ...(lab ? { lab } : {}), ...limits });
}

/**
 * The execution queue when queue mode is configured (config.yaml `queue:` or CORTEX_QUEUE_URL),
 * connected; undefined otherwise. A queue that does not answer is an environment error (exit 4).
 */
export async function queueFor(ctx: CommandContext): Promise<import('../ports/queue.js').ExecutionQueue | undefined> {
  const { loadRootConfig } = await import('../app/prepare.js');
  const config = await loadRootConfig(ctx);
  if (!config.queue) return undefined;
  return openQueue(config.queue.url);
}

/** Connects to the queue at `url` (exit 4 when Redis does not answer). */
export async function openQueue(url: string): Promise<import('../ports/queue.js').ExecutionQueue> {
  const [{ BullmqExecutionQueue }, { redactUrl }, { EnvironmentError }] = await Promise.all([import('../adapters/bullmq-queue.js'), import('../config/config.js'), import('../errors.js')]);
  try {
    return await BullmqExecutionQueue.open(url);
  } catch (e) {
    throw new EnvironmentError(`cannot reach the queue at ${redactUrl(url)}: ${(e as Error).message}`, { hint: 'is redis-server running there? (cortex doctor checks it); unset CORTEX_QUEUE_URL to run in this process' });
  }
}
