import { describe, expect, it } from 'vitest';
import { holderOf } from '../../../src/app/existing.js';
import type { LockOwner } from '../../../src/ports/state-store.js';
import { ManualClock, MemoryLockManager } from '../../fakes/fakes.js';

const OWNER = { pid: 4242, host: 'h', command: 'rollback' } as const;

/** A lock manager whose lock is taken but whose owner file appears only after `ownerAfter` looks. */
class SlowOwnerLocks extends MemoryLockManager {
  looks = 0;
  constructor(private readonly ownerAfter: number, private readonly releasedAfter = Infinity) {
    super();
  }
  override async holder(): Promise<LockOwner | undefined> {
    this.looks++;
    return this.looks > this.ownerAfter ? { ...OWNER, acquired_at: '2026-11-25T12:00:00.000Z' } : undefined;
  }
  override async isLocked(): Promise<boolean> {
    return this.looks < this.releasedAfter;
  }
}

describe('holderOf: who holds an execution a command was refused', () => {
  it('names a holder that wrote its owner file at once', async () => {
    const locks = new MemoryLockManager();
    await locks.acquire('execution-x', OWNER);
    const clock = new ManualClock();
    expect(await holderOf({ locks, clock }, 'execution-x')).toMatchObject({ pid: 4242, command: 'rollback' });
    expect(clock.sleeps).toEqual([]);
  });

  it('waits for an owner file written just after the lock (the race a command lost by a hair)', async () => {
    const clock = new ManualClock();
    expect(await holderOf({ locks: new SlowOwnerLocks(3), clock }, 'execution-x')).toMatchObject({ command: 'rollback' });
    expect(clock.sleeps).toHaveLength(3);
  });

  it('gives up after about two seconds when the owner never says who it is', async () => {
    const clock = new ManualClock();
    expect(await holderOf({ locks: new SlowOwnerLocks(Infinity), clock }, 'execution-x')).toBeUndefined();
    const waited = clock.sleeps.reduce((a, b) => a + b, 0);
    expect(waited).toBeGreaterThanOrEqual(2000);
    expect(waited).toBeLessThan(2100);
  });

  it('does not wait for the owner of a lock released meanwhile', async () => {
    const clock = new ManualClock();
    expect(await holderOf({ locks: new SlowOwnerLocks(Infinity, 1), clock }, 'execution-x')).toBeUndefined();
    expect(clock.sleeps).toEqual([]);
    expect(await holderOf({ locks: new MemoryLockManager(), clock }, 'execution-y')).toBeUndefined();
    expect(clock.sleeps).toEqual([]);
  });
});
