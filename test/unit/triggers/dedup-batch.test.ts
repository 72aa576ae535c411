import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { FsTriggerStateStore, triggerStatePath } from '../../../src/adapters/fs-trigger-state-store.js';
import { ProperLockManager } from '../../../src/adapters/proper-lock-manager.js';
import { DedupStore } from '../../../src/triggers/dedup.js';
import { removeDir, tempDir } from './helpers.js';
import { waitFor } from '../../helpers/wait.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

/** A DedupStore on a fresh root whose lock manager and state store count what they do. */
function counted() {
  const root = tempDir();
  dirs.push(root);
  const locks = new ProperLockManager(root);
  const state = new FsTriggerStateStore(root);
  const n = { locks: 0, reads: 0, writes: 0 };
  const acquire = locks.acquire.bind(locks);
  locks.acquire = (...a) => (n.locks++, acquire(...a));
  const read = state.read.bind(state);
  state.read = (...a) => (n.reads++, read(...a));
  const write = state.write.bind(state);
  state.write = (...a) => (n.writes++, write(...a));
  return { root, dedup: new DedupStore(state, locks), n };
}

describe('DedupStore: claims and releases made at the same time', () => {
  it('are applied in order under one hold of the lock, one read and one write; each gets its own answer', async () => {
    const { root, dedup, n } = counted();
    const t = new Date('2026-11-25T12:00:00Z');
    const [first, ...rest] = [
      dedup.claim([{ key: 'a', workflows: ['w'] }], t),
      dedup.claim([{ key: 'b', workflows: ['w'] }], t),
      dedup.claim([{ key: 'b', workflows: ['w'] }], t),
      dedup.release(['a']),
      dedup.claim([{ key: 'a', workflows: ['w'] }], t),
      dedup.claim([{ key: 'c', workflows: ['w'] }, { key: 'b', workflows: ['w'] }], t),
    ];
    expect((await first)?.fresh).toEqual(new Set(['a']));
    const [b1, b2, released, a2, cb] = await Promise.all(rest);
    expect(n).toEqual({ locks: 1, reads: 1, writes: 1 });
    expect(b1?.fresh).toEqual(new Set(['b']));
    expect([...(b2?.seen.keys() ?? [])]).toEqual(['b']);
    expect(b2?.fresh.size).toBe(0);
    expect(released).toBeUndefined();
    // Released in the same batch before it was claimed again: fresh again.
    expect(a2?.fresh).toEqual(new Set(['a']));
    expect(cb?.fresh).toEqual(new Set(['c']));
    expect([...(cb?.seen.keys() ?? [])]).toEqual(['b']);
    const file = JSON.parse(readFileSync(triggerStatePath(root, 'dedup'), 'utf8')) as { entries: Record<string, unknown> };
    expect(Object.keys(file.entries).sort()).toEqual(['a', 'b', 'c']);
  });

  it('a batch whose write fails fails each of its claims, and records none of them; the next batch goes on', async () => {
    const { root, dedup } = counted();
    const t = new Date('2026-11-25T12:00:00Z');
    const state = (dedup as unknown as { state: FsTriggerStateStore }).state;
    const write = state.write.bind(state);
    let fail = true;
    state.write = async (...a) => {
      if (fail) {
        fail = false;
        throw new Error('disk full');
      }
      return write(...a);
    };
    const outcomes = await Promise.allSettled([dedup.claim([{ key: 'x', workflows: ['w'] }], t), dedup.claim([{ key: 'y', workflows: ['w'] }], t)]);
    expect(outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : 'ok'))).toEqual(['disk full', 'disk full']);
    expect((await dedup.claim([{ key: 'x', workflows: ['w'] }], t)).fresh).toEqual(new Set(['x']));
    const file = JSON.parse(readFileSync(triggerStatePath(root, 'dedup'), 'utf8')) as { entries: Record<string, unknown> };
    expect(Object.keys(file.entries)).toEqual(['x']);
  });

  it('claims arriving while a batch is written form the next batch under the same hold of the lock, without reading the file again', async () => {
    const { root, dedup, n } = counted();
    const t = new Date('2026-11-25T12:00:00Z');
    const state = (dedup as unknown as { state: FsTriggerStateStore }).state;
    const write = state.write;
    const later: Array<Promise<unknown>> = [];
    let writes = 0;
    state.write = async (...a) => {
      // Two more claims arrive while the first batch is being written.
      if (writes++ === 0) later.push(dedup.claim([{ key: 'b', workflows: ['w'] }], t), dedup.claim([{ key: 'a', workflows: ['w'] }], t));
      return write(...a);
    };
    expect((await dedup.claim([{ key: 'a', workflows: ['w'] }], t)).fresh).toEqual(new Set(['a']));
    const [b, a] = (await Promise.all(later)) as Array<{ fresh: Set<string>; seen: Map<string, unknown> }>;
    expect(b?.fresh).toEqual(new Set(['b']));
    expect([...(a?.seen.keys() ?? [])]).toEqual(['a']);
    expect(n).toEqual({ locks: 1, reads: 1, writes: 2 });
    const file = JSON.parse(readFileSync(triggerStatePath(root, 'dedup'), 'utf8')) as { entries: Record<string, unknown> };
    expect(Object.keys(file.entries).sort()).toEqual(['a', 'b']);
    // Idle again: the lock is let go, so another process can take it.
    const other = new ProperLockManager(root);
    await waitFor(async () => !(await other.isLocked('trigger-dedup')), { what: 'the dedup lock to be let go', timeoutMs: 5000 });
    expect(n.locks).toBe(1);
  });

  it('after a failed write under a kept hold, the next batch reads the file again (what failed is not kept in memory)', async () => {
    const { root, dedup, n } = counted();
    const t = new Date('2026-11-25T12:00:00Z');
    const state = (dedup as unknown as { state: FsTriggerStateStore }).state;
    const write = state.write;
    const later: Array<Promise<unknown>> = [];
    let writes = 0;
    state.write = async (...a) => {
      writes++;
      if (writes === 1) later.push(dedup.claim([{ key: 'y', workflows: ['w'] }], t));
      if (writes === 2) {
        later.push(dedup.claim([{ key: 'z', workflows: ['w'] }], t));
        throw new Error('disk full');
      }
      return write(...a);
    };
    await dedup.claim([{ key: 'x', workflows: ['w'] }], t);
    const [y, z] = await Promise.allSettled(later);
    expect(y?.status === 'rejected' && (y.reason as Error).message).toBe('disk full');
    expect(z?.status).toBe('fulfilled');
    expect(n.reads).toBe(2);
    const file = JSON.parse(readFileSync(triggerStatePath(root, 'dedup'), 'utf8')) as { entries: Record<string, unknown> };
    expect(Object.keys(file.entries).sort()).toEqual(['x', 'z']);
  });

  it('under a burst that never pauses, another process polling for the lock (as cortex trigger does) gets its turn', async () => {
    const { root, dedup, n } = counted();
    const t = new Date('2026-11-25T12:00:00Z');
    const state = (dedup as unknown as { state: FsTriggerStateStore }).state;
    const write = state.write;
    // Another process: it cannot be handed the lock inside this process, it tries the lock
    // directory every 50 ms (cortex trigger waits 25 to 100 ms between tries).
    const other = new ProperLockManager(root);
    let otherGotIt = false;
    const poll = async () => {
      while (!otherGotIt && n.locks < 5) {
        try {
          const held = await other.acquire('trigger-dedup', { pid: process.pid, host: hostname(), command: 'trigger' }, { waitMs: 0 });
          otherGotIt = true;
          await held.release();
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    };
    let poller: Promise<void> | undefined;
    // Every write brings one more claim: the queue is never empty until the other process got in
    // (or serve took the lock 5 times, about 5 s of holds, without letting it).
    let i = 0;
    const claims: Array<Promise<unknown>> = [];
    state.write = async (...a) => {
      // The other process starts trying once serve holds the lock.
      poller ??= poll();
      if (!otherGotIt && n.locks < 5) claims.push(dedup.claim([{ key: `k${i++}`, workflows: ['w'] }], t));
      return write(...a);
    };
    await dedup.claim([{ key: 'first', workflows: ['w'] }], t);
    await poller;
    // No claim is added once the poller stopped: these are all.
    await Promise.all(claims);
    expect(otherGotIt).toBe(true);
  });
});
