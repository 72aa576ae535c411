import { resumeExecution } from '../../app/continue.js';
import type { CommandContext } from '../context.js';
import { continueCommand, queuedCommand, type ContinueOptions } from '../continue.js';
import { continueLab, queueFor } from '../app.js';
import { closeSync, writeSync } from 'node:fs';

function signalReady(fd: number): void {
  if (!Number.isInteger(fd) || fd < 3) return;
  try {
    writeSync(fd, 'held\n');
    closeSync(fd);
  } catch {
    // The launcher went away: nothing waits for the line.
  }
}

/** `cortex resume EXECUTION_ID [--retry-action ID | --skip-action ID]`: continue from the first action that did not complete. */
export async function resume(ctx: CommandContext, args: unknown[], opts: ContinueOptions & { retryAction?: string; skipAction?: string; readyFd?: string }): Promise<number> {
  // A launcher (serve, tick, trigger) passes --ready-fd and waits for one line on it.
  const queue = opts.readyFd === undefined ? await queueFor(ctx) : undefined;
  if (queue) {
    const { queueResume } = await import('../../app/queue-client.js');
    const lab = continueLab(opts);
    const r = await queuedCommand(ctx, queue, (app) =>
      queueResume(app, queue, {
        executionId: args[0] as string,
        params: opts.param ?? [],
        ...(opts.retryAction ? { retryAction: opts.retryAction } : {}),
        ...(opts.skipAction ? { skipAction: opts.skipAction } : {}),
        ...(opts.debug ? { debug: true } : {}),
        ...(lab ? { lab } : {}),
      }),
    );
    return r.exitCode === 0 && r.record.status === 'paused' ? 1 : r.exitCode;
  }
  const onHeld = opts.readyFd !== undefined ? () => signalReady(Number(opts.readyFd)) : undefined;
  const r = await continueCommand(ctx, args[0] as string, opts, (app, req) =>
    resumeExecution(app, {
      ...req,
      ...(onHeld ? { onHeld } : {}),
      ...(opts.retryAction ? { retryAction: opts.retryAction } : {}),
      ...(opts.skipAction ? { skipAction: opts.skipAction } : {}),
    }),
  );
  return r.exitCode;
}
