import { describe, expect, it } from 'vitest';
import { BullmqExecutionQueue } from '../../../src/adapters/bullmq-queue.js';
import { HAS_REDIS, REDIS_NOTE, startRedis } from '../../helpers/redis.js';

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
      await expect(queue.enqueue({ kind: 'run', executionId: 'gone-20261203T000000Z-0000', command: 'run' })).rejects.toThrow(/^Redis: no answer within 5 s$/);
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
});
