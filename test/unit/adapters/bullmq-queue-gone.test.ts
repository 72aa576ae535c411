import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { BullmqExecutionQueue, EXECUTION_QUEUE, PREFIX, probe } from '../../../src/adapters/bullmq-queue.js';
import { JobUnconfirmedError } from '../../../src/ports/queue.js';
import { HAS_REDIS, REDIS_NOTE, startRedis } from '../../helpers/redis.js';
import { waitFor } from '../../helpers/wait.js';

// Seen: `cortex run --detach` processes still waiting 27 minutes after their Redis was stopped
// (the client waits for Redis to come back before a command, and again to say QUIT).
describe.skipIf(!HAS_REDIS)(`the queue producer when Redis goes away after it connected${REDIS_NOTE}`, () => {
  it('enqueue fails naming Redis within its bound, and close returns: the command can say so and exit', { timeout: 30_000 }, async () => {
    const redis = await startRedis();
    try {
      const queue = await BullmqExecutionQueue.open(redis.url);
      await redis.stop();
      // Without the bounds both calls waited for as long as Redis stayed away: the test's own
      // timeout is the hang guard here, not a speed check.
      const e = await queue.enqueue({ kind: 'run', executionId: 'gone-20261203T000000Z-0000', command: 'run' }).catch((x: unknown) => x);
      // Sent and not confirmed: the command must not say "not queued" (it may land later).
      expect(e).toBeInstanceOf(JobUnconfirmedError);
      expect((e as Error).message).toBe('Redis: no answer within 5 s');
      await queue.close();
    } finally {
      await redis.dispose();
    }
  });

  it('a follow stopped (Ctrl-C) while Redis is away returns, and so does workers()', { timeout: 30_000 }, async () => {
    const redis = await startRedis();
    try {
      const queue = await BullmqExecutionQueue.open(redis.url);
      const jobId = await queue.enqueue({ kind: 'run', executionId: 'gone-20261203T000000Z-0001', command: 'run' });
      await redis.stop();
      const stop = new AbortController();
      setTimeout(() => stop.abort(), 500);
      expect(await queue.follow(jobId, () => undefined, stop.signal)).toBeUndefined();
      await expect(queue.workers()).rejects.toThrow(/^Redis: no answer within 5 s$/);
      await queue.close();
    } finally {
      await redis.dispose();
    }
  });

  it('a Redis that takes the connection and answers nothing (stopped): the probe every command starts with fails within its bound', { timeout: 30_000 }, async () => {
    const redis = await startRedis();
    try {
      redis.signal('SIGSTOP');
      await expect(probe(redis.url)).rejects.toThrow(/no answer within 5 s|timeout/i);
    } finally {
      await redis.dispose();
    }
  });

  it('a job sent to a stopped Redis is unconfirmed, and it is there once Redis answers again', { timeout: 30_000 }, async () => {
    const redis = await startRedis();
    try {
      const queue = await BullmqExecutionQueue.open(redis.url);
      redis.signal('SIGSTOP');
      const e = await queue.enqueue({ kind: 'run', executionId: 'late-20261203T000000Z-0000', command: 'run' }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(JobUnconfirmedError);
      const closing = queue.close();
      redis.signal('SIGCONT');
      await closing;
      // Why the command says "may still be queued": the add it sent lands once Redis answers.
      await waitFor(() => jobExists(redis.url, 'run-late-20261203T000000Z-0000'), { what: 'the late job in Redis', timeoutMs: 10_000 });
    } finally {
      await redis.dispose();
    }
  });
});

async function jobExists(url: string, jobId: string): Promise<boolean> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  try {
    return (await client.exists(`${PREFIX}:${EXECUTION_QUEUE}:${jobId}`)) === 1;
  } finally {
    client.disconnect();
  }
}
