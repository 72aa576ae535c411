import * as fs from 'node:fs';
import { readFile, readdir, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { StateConflictError, UsageError } from '../errors.js';
import { layout } from '../layout.js';
import type { Clock } from '../ports/clock.js';
import type { HeldLock, LockManager, LockOwner } from '../ports/state-store.js';
import { mkdirPrivate, writeFileAtomic } from './atomic-file.js';
import { isRecordedProcessAlive, processStamp } from './pid.js';

export interface ProperLockManagerOptions {
  /** A lock whose directory mtime is older than this is stale (default 30 000 ms; minimum 2000). */
  staleMs?: number;
  /** How often a holder refreshes its lock's mtime (default 5000 ms). */
  updateMs?: number;
  /** Source of `acquired_at` (default: the system time). */
  clock?: Clock;
}

/** The latest in-process taker of each lock directory (with a wait), settled once it released it or gave up. */
const localHolders = new Map<string, Promise<void>>();

const LOCK_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/**
 * A lock directory touched less than this ago is never broken for a dead owner pid: it may belong
 * to a process that has just taken over a stale lock and not yet replaced the previous owner file.
 */
const FRESH_LOCK_MS = 1000;

/** How far ahead proper-lockfile may date a lock's mtime: the next whole second + 5 ms. */
const MTIME_AHEAD_MS = 1005;

/**
 * When the lock directory was last touched (created, or its mtime refreshed), in ms since the epoch.
 * Not its mtime alone: proper-lockfile dates the first lock a process takes up to a second ahead
 * (its probe of the file system's mtime precision sets the next whole second + 5 ms), so a lock
 * taken by a process killed right after read as younger than it was, for up to 2 s. The ctime is
 * stamped by the kernel when the directory is created or its mtime set, and is never ahead of then.
 */
function touchedAt(lockStat: { mtimeMs: number; ctimeMs: number }): number {
  // The ctime only corrects that second: on NFS it is the file server's clock, which may lag the
  // holders' by any amount, and a lock refreshed a moment ago must never read as stale by the lag.
  return Math.min(lockStat.mtimeMs, Math.max(lockStat.ctimeMs, lockStat.mtimeMs - MTIME_AHEAD_MS));
}

export { isPidAlive } from './pid.js';

/** node:fs for proper-lockfile, whose mkdir of the lock directory would otherwise be 0777 less the umask. */
const PRIVATE_LOCK_FS = {
  ...fs,
  mkdir: (path: fs.PathLike, callback: (error: NodeJS.ErrnoException | null) => void) => fs.mkdir(path, { mode: 0o700 }, callback),
};

/**
 * Cross-process locks on proper-lockfile: `<locks>/<name>.lock` is a directory (mkdir is atomic,
 * NFS included) whose mtime the holder refreshes; `<locks>/<name>.owner.json` says who holds it.
 * A lock is taken over when its mtime is older than staleMs, or at once when its owner ran on
 * this host and that pid is gone (or now belongs to a process started at another time).
 */
export class ProperLockManager implements LockManager {
  private readonly dir: string;
  private readonly staleMs: number;
  private readonly updateMs: number;
  private readonly clock: Clock | undefined;

  constructor(
    private readonly root: string,
    options: ProperLockManagerOptions = {},
  ) {
    this.dir = layout(root).locks;
    this.staleMs = options.staleMs ?? 30_000;
    this.updateMs = options.updateMs ?? 5000;
    this.clock = options.clock;
  }

  async acquire(name: string, owner: Omit<LockOwner, 'acquired_at'>, options: { waitMs?: number } = {}): Promise<HeldLock> {
    const paths = this.paths(name);
    const waitMs = Math.max(0, options.waitMs ?? 0);
    if (waitMs === 0) return this.acquireFile(name, paths, owner, performance.now());
    // Waiters in this process queue behind each other and are handed the lock on release,
    // instead of polling its directory (serve: many runs and requests want the same locks).
    // Bounded by waitMs; other processes are still kept out by the directory alone.
    const deadline = performance.now() + waitMs;
    const before = localHolders.get(paths.lockDir);
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    localHolders.set(paths.lockDir, mine);
    const finish = () => {
      done();
      if (localHolders.get(paths.lockDir) === mine) localHolders.delete(paths.lockDir);
    };
    if (before) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([before, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
      clearTimeout(timer);
    }
    let held: HeldLock;
    try {
      held = await this.acquireFile(name, paths, owner, deadline);
    } catch (error) {
      finish();
      throw error;
    }
    return {
      lost: held.lost,
      release: () => held.release().finally(finish),
    };
  }

  private async acquireFile(name: string, paths: LockPaths, owner: Omit<LockOwner, 'acquired_at'>, deadline: number): Promise<HeldLock> {
    await mkdirPrivate(this.dir, { root: this.root });
    const controller = new AbortController();
    const lockOptions: lockfile.LockOptions = {
      realpath: false,
      fs: PRIVATE_LOCK_FS,
      lockfilePath: paths.lockDir,
      stale: this.staleMs,
      update: this.updateMs,
      retries: 0,
      onCompromised: (error) => controller.abort(error),
    };

    let hasTriedBreaking = false;
    let lastBreakCheck = performance.now();
    for (;;) {
      try {
        const unlock = await lockfile.lock(paths.target, lockOptions);
        // The start time tells this owner apart from a later process that gets the same pid.
        const full: LockOwner = { ...processStamp(owner.pid), ...owner, acquired_at: (this.clock?.now() ?? new Date()).toISOString() };
        try {
          // Not fsynced: an owner file only tells about a live holder. After a power cut every lock is
          // stale (its boot_id is another boot's); one that did not reach the disk reads as unnamed, and
          // its lock is broken once stale by age (staleMs), as the lock directory itself is not synced either.
          await writeFileAtomic(paths.ownerFile, `${JSON.stringify(full, null, 2)}\n`, 0o600, { root: this.root, fsync: false });
        } catch (error) {
          await unlock().catch(() => undefined);
          throw error;
        }
        return this.held(paths, full, unlock, controller.signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
      }
      if (performance.now() < deadline) {
        // A crashed local holder need not wait out staleMs: check about once a second.
        if (performance.now() - lastBreakCheck > 1000) {
          lastBreakCheck = performance.now();
          if (await this.breakIfStale(name)) continue;
        }
        // Jitter keeps many waiters from retrying in lock step.
        await sleep(Math.min(25 + Math.random() * 75, Math.max(1, deadline - performance.now())));
        continue;
      }
      if (hasTriedBreaking) break;
      hasTriedBreaking = true;
      if (await this.breakIfStale(name)) continue;
      // A dead local holder whose lock is too fresh to break yet: wait that out once.
      const freshFor = await this.deadOwnerFreshFor(paths);
      if (freshFor !== undefined) {
        await sleep(freshFor + 50);
        if (await this.breakIfStale(name)) continue;
      }
      break;
    }
    throw this.conflict(name, await this.holder(name));
  }

  async holder(name: string): Promise<LockOwner | undefined> {
    const paths = this.paths(name);
    try {
      await stat(paths.lockDir);
    } catch {
      return undefined;
    }
    return readOwner(paths.ownerFile);
  }

  async isLocked(name: string): Promise<boolean> {
    try {
      await stat(this.paths(name).lockDir);
      return true;
    } catch {
      return false;
    }
  }

  async breakIfStale(name: string): Promise<boolean> {
    const paths = this.paths(name);
    let lockStat;
    try {
      lockStat = await stat(paths.lockDir);
    } catch {
      return false;
    }
    const age = Date.now() - touchedAt(lockStat);
    const owner = await readOwner(paths.ownerFile);
    const isStaleByMtime = age > this.staleMs;
    const isOwnerGone = isDeadLocalOwner(owner) && age > FRESH_LOCK_MS;
    if (!isStaleByMtime && !isOwnerGone) return false;
    // Same window as proper-lockfile's own stale takeover: a lock re-created between the stat
    // above and this removal would be removed too. FRESH_LOCK_MS makes that window tiny.
    await unlink(paths.ownerFile).catch(() => undefined);
    await rmdir(paths.lockDir).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOTEMPTY') await rm(paths.lockDir, { recursive: true, force: true });
      else if (error.code !== 'ENOENT') throw error;
    });
    return true;
  }

  /**
   * How long until breakIfStale takes over a lock whose owner ran on this host and is gone (it was
   * touched less than FRESH_LOCK_MS ago), at most FRESH_LOCK_MS; undefined when its owner is not such a one.
   */
  private async deadOwnerFreshFor(paths: LockPaths): Promise<number | undefined> {
    let lockStat;
    try {
      lockStat = await stat(paths.lockDir);
    } catch {
      return undefined;
    }
    if (!isDeadLocalOwner(await readOwner(paths.ownerFile))) return undefined;
    return Math.min(FRESH_LOCK_MS, Math.max(0, FRESH_LOCK_MS - (Date.now() - touchedAt(lockStat))));
  }

  /** Names of the locks currently present (for doctor/status). */
  async list(): Promise<string[]> {
    try {
      const entries = await readdir(this.dir);
      return entries.filter((e) => e.endsWith('.lock')).map((e) => e.slice(0, -'.lock'.length)).sort();
    } catch {
      return [];
    }
  }

  private held(paths: LockPaths, owner: LockOwner, unlock: () => Promise<void>, lost: AbortSignal): HeldLock {
    let releasing: Promise<void> | undefined;
    return {
      lost,
      release: () => {
        releasing ??= (async () => {
          if (!lost.aborted) {
            // Remove the owner file first, while the lock still protects it, and only if it is ours.
            const current = await readOwner(paths.ownerFile);
            if (current && current.pid === owner.pid && current.acquired_at === owner.acquired_at) {
              await unlink(paths.ownerFile).catch(() => undefined);
            }
          }
          // ERELEASED (compromised) or ENOTACQUIRED: nothing left to release.
          await unlock().catch(() => undefined);
        })();
        return releasing;
      },
    };
  }

  private conflict(name: string, owner: LockOwner | undefined): StateConflictError {
    const lockDir = this.paths(name).lockDir;
    if (!owner) {
      return new StateConflictError(`lock "${name}" is held by another cortex process (owner unknown)`, {
        hint: `if no cortex process is running, remove ${lockDir}`,
      });
    }
    const since = `pid ${owner.pid} on host ${owner.host} since ${owner.acquired_at}${owner.command !== undefined ? `, ${owner.command}` : ''}`;
    const who = owner.execution_id !== undefined ? `execution ${owner.execution_id} (${since})` : `another cortex process (${since})`;
    return new StateConflictError(
      `lock "${name}" is held by ${who}`,
      { hint: `wait for it to finish; if process ${owner.pid} on ${owner.host} is gone, remove ${lockDir}` },
    );
  }

  private paths(name: string): LockPaths {
    if (!LOCK_NAME_PATTERN.test(name) || name.includes('..')) throw new UsageError(`invalid lock name "${name}"`);
    return {
      target: join(this.dir, name),
      lockDir: join(this.dir, `${name}.lock`),
      ownerFile: join(this.dir, `${name}.owner.json`),
    };
  }
}

interface LockPaths {
  target: string;
  lockDir: string;
  ownerFile: string;
}

/** An owner that ran on this host and is gone (its pid is free, or now another process's). */
function isDeadLocalOwner(owner: LockOwner | undefined): boolean {
  return owner !== undefined && owner.host === hostname() && !isRecordedProcessAlive(owner);
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    if (typeof value.pid !== 'number' || typeof value.host !== 'string' || typeof value.acquired_at !== 'string') return undefined;
    if (typeof value.start_time !== 'number') delete value.start_time;
    if (typeof value.boot_id !== 'string') delete value.boot_id;
    return value as LockOwner;
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
