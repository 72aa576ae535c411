import { hostname } from 'node:os';
import { listActiveRecords } from '../adapters/record-files.js';
import { isRecordedProcessAlive } from '../adapters/pid.js';
import type { ProcessRef } from '../model/records.js';
import type { LockManager, StateStore } from '../ports/state-store.js';
import type { CommandContext } from './context.js';

export interface ReadOnlyState {
  store: StateStore;
  isProcessAlive: (proc: ProcessRef) => boolean;
}

/** Loads proper-lockfile only if a lock is actually needed (read-only commands never need one). */
function lazyLocks(root: string, clock: import('../ports/clock.js').Clock): LockManager {
  let real: Promise<LockManager> | undefined;
  const get = () => (real ??= import('../adapters/proper-lock-manager.js').then((m) => new m.ProperLockManager(root, { clock })));
  return {
    acquire: async (...a) => (await get()).acquire(...a),
    holder: async (...a) => (await get()).holder(...a),
    isLocked: async (...a) => (await get()).isLocked(...a),
    breakIfStale: async (...a) => (await get()).breakIfStale(...a),
  };
}

/** Active records without loading the state store (the fast path of `cortex status`). */
export function readActive(ctx: CommandContext, onError?: (file: string, e: Error) => void) {
  return listActiveRecords(ctx.root.dir, onError);
}

/** False when a recorded process on this host is gone (or its pid now belongs to another process). */
export function processCheck(): (proc: ProcessRef) => boolean {
  const host = hostname();
  return (p) => (p.host === host ? isRecordedProcessAlive(p) : true);
}

/** The state store for commands that only read (status, history, logs): no process, HTTP or lock adapters loaded. */
export async function openStore(ctx: CommandContext): Promise<ReadOnlyState> {
  const [{ FsStateStore }, { SystemClock }, { Masker }] = await Promise.all([
    import('../adapters/fs-state-store.js'),
    import('../adapters/system-clock.js'),
    import('../model/masker.js'),
  ]);
  const clock = new SystemClock();
  const store = new FsStateStore(ctx.root.dir, new Masker(), lazyLocks(ctx.root.dir, clock), clock);
  return { store, isProcessAlive: processCheck() };
}
