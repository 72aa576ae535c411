import { hostname } from 'node:os';
import { listActiveRecords } from '../adapters/record-files.js';
import { layout } from '../layout.js';
import { isPidAlive } from '../adapters/pid.js';
import type { LockManager, StateStore } from '../ports/state-store.js';
import type { CommandContext } from './context.js';

export interface ReadOnlyState {
  store: StateStore;
  isProcessAlive: (pid: number, host: string) => boolean;
}

/** Loads proper-lockfile only if a lock is actually needed (read-only commands never need one). */
function lazyLocks(root: string, clock: import('../ports/clock.js').Clock): LockManager {
  let real: Promise<LockManager> | undefined;
  const get = () => (real ??= import('../adapters/proper-lock-manager.js').then((m) => new m.ProperLockManager(root, { clock })));
  return {
    acquire: async (...a) => (await get()).acquire(...a),
    holder: async (...a) => (await get()).holder(...a),
    breakIfStale: async (...a) => (await get()).breakIfStale(...a),
  };
}

/** Active records without loading the state store (the fast path of `cortex status`). */
export function readActive(ctx: CommandContext, onError?: (file: string, e: Error) => void) {
  return listActiveRecords(layout(ctx.root.dir).active, onError);
}

export function processCheck(): (pid: number, host: string) => boolean {
  const host = hostname();
  return (pid, h) => (h === host ? isPidAlive(pid) : true);
}

/** The state store for commands that only read (status, history, logs): no process, HTTP or lock adapters loaded. */
export async function openStore(ctx: CommandContext): Promise<ReadOnlyState> {
  const [{ FsStateStore }, { SystemClock }, { Masker }] = await Promise.all([
    import('../adapters/fs-state-store.js'),
    import('../adapters/system-clock.js'),
    import('../model/masker.js'),
  ]);
  const clock = new SystemClock();
  const host = hostname();
  const store = new FsStateStore(ctx.root.dir, new Masker(), lazyLocks(ctx.root.dir, clock), clock);
  return { store, isProcessAlive: (pid, h) => (h === host ? isPidAlive(pid) : true) };
}
