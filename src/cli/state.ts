import { hostname } from 'node:os';
import { FsStateStore } from '../adapters/fs-state-store.js';
import { isPidAlive, ProperLockManager } from '../adapters/proper-lock-manager.js';
import { SystemClock } from '../adapters/system-clock.js';
import { Masker } from '../engine/masker.js';
import type { StateStore } from '../ports/state-store.js';
import type { CommandContext } from './context.js';

export interface ReadOnlyState {
  store: StateStore;
  isProcessAlive: (pid: number, host: string) => boolean;
}

/** The state store for commands that only read (status, history, logs): no process or HTTP adapters loaded. */
export async function openStore(ctx: CommandContext): Promise<ReadOnlyState> {
  const clock = new SystemClock();
  const host = hostname();
  const store = new FsStateStore(ctx.root.dir, new Masker(), new ProperLockManager(ctx.root.dir, { clock }), clock);
  return { store, isProcessAlive: (pid, h) => (h === host ? isPidAlive(pid) : true) };
}
