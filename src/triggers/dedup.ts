/**
 * Event deduplication, persisted in the `dedup` state document (<root>/state/dedup.json) so that one event starts one run even
 * when its sender delivers it again (Alertmanager re-sends a group every group_interval and
 * repeat_interval; GitHub redelivers with the same X-GitHub-Delivery) and across restarts of
 * `cortex serve`. Keys are claimed under the `trigger-dedup` lock before the runs start
 * (at most once: a crash after the claim loses the run rather than starting it twice). Entries
 * expire after 7 days. A damaged file is never replaced: what it held cannot be told apart from
 * nothing, so every claim is refused (DedupDamagedError) until a person repairs or removes it; a
 * copy is kept aside (`dedup.json.damaged-<time>`) the first time.
 */
import { hostname } from 'node:os';
import { CortexError, ExitCode } from '../errors.js';
import type { LockManager } from '../ports/state-store.js';
import type { TriggerStateStore } from '../ports/trigger-state.js';

export const DEDUP_TTL_MS = 7 * 24 * 3600 * 1000;

/** Longest time the dedup lock is kept across batches while claims keep coming (another process waits up to 10 s). */
const HOLD_MS = 1000;
/**
 * After the lock was kept HOLD_MS (one hold, or holds back to back), it stays free this long
 * before this process takes it again: another process tries the lock directory every 25 to
 * 100 ms, and a lock let go and taken again at once would never be free when it looks.
 */
const TURN_MS = 150;

export interface DedupEntry {
  first_seen: string;
  expires_at: string;
  /** Workflows the event matched when it was first seen. */
  workflows?: string[];
}

interface DedupFile {
  version: 1;
  entries: Record<string, DedupEntry>;
}

/**
 * state/dedup.json cannot be read: deduplicated runs are refused (serve: 503, trigger: exit 4)
 * rather than risk starting an event that was already handled.
 */
export class DedupDamagedError extends CortexError {
  readonly code = 'CORTEX_DEDUP_DAMAGED';
  readonly exitCode = ExitCode.ENVIRONMENT;
}
Object.defineProperty(DedupDamagedError.prototype, 'name', { value: 'DedupDamagedError', enumerable: false });

/** One claim or release, applied to the file in its turn: its result, and whether it changed the file. */
interface DedupOp {
  apply: (file: DedupFile) => { result: unknown; changed: boolean };
  resolve: (result: unknown) => void;
  reject: (error: unknown) => void;
}

export class DedupStore {
  /**
   * Claims and releases not yet applied. They are applied in order, all those waiting at once
   * under one hold of the lock, one read and one write of the file (serve answers many requests
   * at a time: one lock, read and fsynced write each made them wait in line). The lock
   * serialises processes.
   */
  private readonly queue: DedupOp[] = [];
  private draining = false;
  /** Since when this process has held the lock with no gap of TURN_MS (undefined: another process had its turn since). */
  private busySince: number | undefined;
  private releasedAt = -Infinity;

  constructor(
    private readonly state: TriggerStateStore,
    private readonly locks: LockManager,
    private readonly ttlMs = DEDUP_TTL_MS,
  ) {}

  /** The seen events; none when there is no file. Throws DedupDamagedError when it cannot be read. */
  private async read(): Promise<DedupFile> {
    let why: string;
    try {
      const f = (await this.state.read('dedup')) as DedupFile | undefined;
      if (f === undefined) return { version: 1, entries: {} };
      if (f && typeof f === 'object' && f.entries && typeof f.entries === 'object' && !Array.isArray(f.entries)) return f;
      why = 'it does not hold {"version": 1, "entries": {...}}';
    } catch (e) {
      why = (e as Error).message.split('\n')[0] as string;
    }
    const path = this.state.describe('dedup');
    const kept = await this.state.keepDamaged('dedup').catch(() => undefined);
    throw new DedupDamagedError(
      `${path} is damaged (${why}): the events already handled cannot be told from new ones, so no deduplicated event starts a run until it is repaired${kept ? `; a copy is kept at ${kept}` : ''}`,
      { hint: `repair the JSON, or remove ${path} to accept that events of the last 7 days may start runs again` },
    );
  }

  private enqueue<T>(apply: (file: DedupFile) => { result: T; changed: boolean }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ apply, resolve: resolve as (r: unknown) => void, reject });
      if (!this.draining) void this.drain();
    });
  }

  /**
   * Applies what waits, batch by batch; a batch whose lock, read or write fails fails each of its
   * operations. While more arrive, the lock is kept (at most HOLD_MS, then let go for TURN_MS so
   * another process can take its turn) and the file read once: under the lock no other process
   * writes it, so what this one last wrote is what it holds.
   */
  private async drain(): Promise<void> {
    this.draining = true;
    try {
      // Claims made in the same turn of the event loop join the first batch.
      await Promise.resolve();
      while (this.queue.length) {
        await this.letOthersHaveATurn();
        let lock;
        try {
          lock = await this.locks.acquire('trigger-dedup', { pid: process.pid, host: hostname(), command: 'trigger' }, { waitMs: 10_000 });
        } catch (e) {
          for (const op of this.queue.splice(0)) op.reject(e);
          continue;
        }
        // Let go TURN_MS or more before (waited out, or held by another process meanwhile): a new hold.
        if (performance.now() - this.releasedAt >= TURN_MS) this.busySince = undefined;
        const heldSince = (this.busySince ??= performance.now());
        try {
          let file: DedupFile | undefined;
          do {
            const batch = this.queue.splice(0);
            try {
              file ??= await this.read();
              let changed = false;
              const results = batch.map((op) => {
                const r = op.apply(file as DedupFile);
                changed ||= r.changed;
                return r.result;
              });
              if (changed) await this.state.write('dedup', file);
              batch.forEach((op, i) => op.resolve(results[i]));
            } catch (e) {
              for (const op of batch) op.reject(e);
              // What the failed batch changed in memory was not written: read the file again.
              break;
            }
            // Those that arrived meanwhile join at once when another turn of the event loop has
            // passed (the write above), without letting go of the lock.
          } while (this.queue.length && performance.now() - heldSince < HOLD_MS && !lock.lost.aborted);
        } finally {
          await lock.release();
          this.releasedAt = performance.now();
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Waits, when this process has kept the lock HOLD_MS with no gap of TURN_MS, until the lock has
   * been free TURN_MS: a process waiting for it (cortex trigger) takes it then.
   */
  private async letOthersHaveATurn(): Promise<void> {
    const free = performance.now() - this.releasedAt;
    if (free < TURN_MS && this.busySince !== undefined && performance.now() - this.busySince >= HOLD_MS) {
      await new Promise((resolve) => setTimeout(resolve, TURN_MS - free));
    }
  }

  /**
   * Claims `keys` at `now`: returns those not seen before (now recorded) and the entries of those
   * already seen. With `force`, every key counts as new (and is recorded again).
   */
  claim(keys: Array<{ key: string; workflows: string[]; aliases?: string[] }>, now: Date, options: { force?: boolean } = {}): Promise<{ fresh: Set<string>; seen: Map<string, DedupEntry> }> {
    return this.enqueue((file) => {
      const t = now.getTime();
      for (const [k, e] of Object.entries(file.entries)) if (!(Date.parse(e.expires_at) > t)) delete file.entries[k];
      const fresh = new Set<string>();
      const seen = new Map<string, DedupEntry>();
      const has = (k: string) => (Object.prototype.hasOwnProperty.call(file.entries, k) ? file.entries[k] : undefined);
      for (const { key, workflows, aliases = [] } of keys) {
        const prev = [key, ...aliases].map(has).find((e) => e !== undefined);
        if (prev && !options.force) {
          seen.set(key, prev);
          continue;
        }
        fresh.add(key);
        const entry = { first_seen: now.toISOString(), expires_at: new Date(t + this.ttlMs).toISOString(), workflows: [...new Set(workflows)] };
        for (const k of [key, ...aliases]) Object.defineProperty(file.entries, k, { value: entry, enumerable: true, writable: true, configurable: true });
      }
      return { result: { fresh, seen }, changed: fresh.size > 0 };
    });
  }

  /** Forgets `keys` (their runs were refused for now: a re-delivery may start them). */
  release(keys: string[]): Promise<void> {
    return this.enqueue((file) => {
      let changed = false;
      for (const k of keys) {
        if (Object.prototype.hasOwnProperty.call(file.entries, k)) {
          delete file.entries[k];
          changed = true;
        }
      }
      return { result: undefined, changed };
    });
  }

  /** The entry of `key`, if it was seen and has not expired. */
  async lookup(key: string, now: Date): Promise<DedupEntry | undefined> {
    const e = (await this.read()).entries[key];
    return e && Date.parse(e.expires_at) > now.getTime() ? e : undefined;
  }
}
