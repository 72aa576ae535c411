import { dirname, join } from 'node:path';
import type { Clock } from '../../src/ports/clock.js';
import type { ActionFiles, ActionFileStore } from '../../src/ports/files.js';
import type { HttpClient, HttpRequest, HttpResponse } from '../../src/ports/http-client.js';
import type { ProcessResult, ProcessRunner, RunOptions } from '../../src/ports/process-runner.js';
import type { SecretSource } from '../../src/ports/secret-source.js';
import type { AuditEntry, HeldLock, LockManager, LockOwner, StateStore } from '../../src/ports/state-store.js';
import type { ExecutionRecord, ExecutionSummary, HandoffRecord } from '../../src/model/records.js';
import type { EngineDeps } from '../../src/engine/deps.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { Masker } from '../../src/model/masker.js';
import { StateConflictError } from '../../src/errors.js';

export type Reply = Partial<ProcessResult> | ((args: readonly string[], opts?: RunOptions) => Partial<ProcessResult> | Promise<Partial<ProcessResult>>);

/**
 * Scripted process runner: replies matched on command + args prefix, every call recorded.
 * Cookies are `cookie-1`, `cookie-2`, ...; `leftovers` scripts what survivors() reports per cookie
 * (a list of replies, the last one repeated, like `on`).
 */
export class FakeProcessRunner implements ProcessRunner {
  readonly calls: Array<{ command: string; args: string[]; options?: RunOptions }> = [];
  readonly leftovers = new Map<string, number[][]>();
  readonly survivorChecks: string[] = [];
  readonly kills: string[] = [];
  private cookies = 0;
  private readonly rules: Array<{ match: (cmd: string, args: readonly string[]) => boolean; replies: Reply[] }> = [];

  newCookie(): string {
    return `cookie-${++this.cookies}`;
  }

  async survivors(cookie: string): Promise<number[]> {
    this.survivorChecks.push(cookie);
    const replies = this.leftovers.get(cookie);
    if (!replies?.length) return [];
    return [...((replies.length > 1 ? replies.shift() : replies[0]) as number[])];
  }

  async kill(cookie: string): Promise<number[]> {
    this.kills.push(cookie);
    const pids = this.leftovers.get(cookie)?.[0] ?? [];
    this.leftovers.delete(cookie);
    return [...pids];
  }

  on(command: string, argsPrefix: string[], ...replies: Reply[]): this {
    this.rules.push({
      match: (cmd, args) => cmd === command && argsPrefix.every((a, i) => args[i] === a),
      replies,
    });
    return this;
  }

  async run(command: string, args: readonly string[], options?: RunOptions): Promise<ProcessResult> {
    this.calls.push({ command, args: [...args], options });
    const rule = [...this.rules].reverse().find((r) => r.match(command, args));
    const reply = rule ? (rule.replies.length > 1 ? rule.replies.shift() : rule.replies[0]) : { exitCode: 127, stderr: `fake: no reply for ${command} ${args.join(' ')}` };
    const r = typeof reply === 'function' ? await reply(args, options) : (reply ?? {});
    return { exitCode: 0, signal: null, stdout: '', stderr: '', durationMs: 1, timedOut: false, aborted: false, truncated: false, ...r };
  }
}

export class FakeHttpClient implements HttpClient {
  readonly requests: HttpRequest[] = [];
  constructor(private readonly handler: (req: HttpRequest) => Partial<HttpResponse> = () => ({ status: 200, body: '{}' })) {}
  async request(req: HttpRequest): Promise<HttpResponse> {
    this.requests.push(req);
    return { status: 200, headers: {}, body: '', durationMs: 1, ...this.handler(req) };
  }
}

/** Time that only moves when told to (sleep advances it). */
export class ManualClock implements Clock {
  constructor(private t = Date.parse('2026-11-25T12:00:00.000Z')) {}
  readonly sleeps: number[] = [];
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    this.sleeps.push(ms);
    this.t += ms;
  }
  /** Deadlines never fire by themselves: a test moves time with advance() and calls fireTimers(). */
  private readonly timers: Array<{ at: number; resolve: () => void }> = [];
  timer(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const entry = { at: this.t + ms, resolve };
      this.timers.push(entry);
      signal?.addEventListener('abort', () => {
        this.timers.splice(this.timers.indexOf(entry), 1);
        reject(signal.reason);
      }, { once: true });
    });
  }
  /** Resolves every deadline that the current time has passed. */
  fireTimers(): void {
    for (const t of [...this.timers]) {
      if (t.at <= this.t) {
        this.timers.splice(this.timers.indexOf(t), 1);
        t.resolve();
      }
    }
  }
}

/** Keeps every written file in memory; records the order of writes. */
export class MemoryStateStore implements StateStore {
  readonly root = '/memory';
  readonly active = new Map<string, ExecutionRecord>();
  readonly history = new Map<string, ExecutionRecord>();
  readonly handoffs = new Map<string, HandoffRecord>();
  readonly logs: Array<{ contractor: string; line: string }> = [];
  readonly debug: Array<{ contractor: string; text: string }> = [];
  readonly summaries: ExecutionSummary[] = [];
  readonly writes: ExecutionRecord[] = [];
  debugContractors = new Set<string>();
  constructor(readonly masker = new Masker()) {}

  private clone<T>(v: T): T {
    return JSON.parse(this.masker.mask(JSON.stringify(v))) as T;
  }
  /** Executions written whole at least once: journal lines continue them (as FsStateStore's journal does). */
  private readonly journaled = new Set<string>();
  /** How each write went: a whole record (`whole`) or a journal line (`journal`), in order, beside `writes`. */
  readonly writeKinds: Array<'whole' | 'journal'> = [];
  /** Beside `writes`: whether the write was to be durable at once (whole writes always are; a journal line unless sync: false). */
  readonly synced: boolean[] = [];
  /**
   * What a power loss would leave of each execution, by the contract of StateStore.journalExecution:
   * a line written with sync false is durable once any later durable write of the store is.
   */
  readonly durable = new Map<string, ExecutionRecord>();
  private readonly unsynced = new Map<string, ExecutionRecord>();
  private syncAll(): void {
    for (const [id, r] of this.unsynced) this.durable.set(id, r);
    this.unsynced.clear();
  }
  async writeExecution(r: ExecutionRecord): Promise<void> {
    const c = this.clone(r);
    this.syncAll();
    this.durable.set(r.execution_id, c);
    this.active.set(r.execution_id, c);
    this.writes.push(c);
    this.writeKinds.push('whole');
    this.synced.push(true);
    this.journaled.add(r.execution_id);
  }
  /** What a reader sees after a journal line: the record as it is (the merge is FsStateStore's and tested there). */
  async journalExecution(r: ExecutionRecord, _changed?: unknown, options: { sync?: boolean } = {}): Promise<boolean> {
    if (!this.journaled.has(r.execution_id)) return false;
    const c = this.clone(r);
    const sync = options.sync !== false;
    if (sync) {
      this.syncAll();
      this.durable.set(r.execution_id, c);
    } else {
      this.unsynced.set(r.execution_id, c);
    }
    this.active.set(r.execution_id, c);
    this.writes.push(c);
    this.writeKinds.push('journal');
    this.synced.push(sync);
    return true;
  }
  async readExecution(id: string) {
    const a = this.active.get(id);
    if (a) return { record: this.clone(a), location: 'active' as const };
    const h = this.history.get(id);
    return h ? { record: this.clone(h), location: 'history' as const } : undefined;
  }
  async listActive(): Promise<ExecutionRecord[]> {
    return [...this.active.values()].map((r) => this.clone(r));
  }
  async listActiveIds(): Promise<string[]> {
    return [...this.active.keys()].sort();
  }
  async readBothCopies(id: string) {
    const a = this.active.get(id);
    const h = this.history.get(id);
    return { ...(a ? { active: this.clone(a) } : {}), ...(h ? { history: this.clone(h) } : {}) };
  }
  async archiveExecution(r: ExecutionRecord): Promise<void> {
    this.syncAll();
    this.durable.set(r.execution_id, this.clone(r));
    this.journaled.delete(r.execution_id);
    this.history.set(r.execution_id, this.clone(r));
    this.active.delete(r.execution_id);
  }
  async reopenExecution(id: string): Promise<void> {
    const h = this.history.get(id);
    if (!h) return;
    this.active.set(id, h);
    this.history.delete(id);
  }
  async discardHistoryCopy(id: string): Promise<void> {
    this.history.delete(id);
  }
  async writeHandoff(contractor: string, h: HandoffRecord): Promise<void> {
    this.syncAll();
    this.handoffs.set(`${contractor}/${h.handoff_id}`, this.clone(h));
  }
  async readHandoff(contractor: string, id: string): Promise<HandoffRecord | undefined> {
    const h = this.handoffs.get(`${contractor}/${id}`);
    return h ? this.clone(h) : undefined;
  }
  async appendContractorLog(contractor: string, line: string): Promise<void> {
    this.logs.push({ contractor, line: this.masker.mask(line) });
  }
  async appendDebugLog(contractor: string, text: string): Promise<void> {
    this.debug.push({ contractor, text: this.masker.mask(text) });
  }
  async isDebug(contractor: string): Promise<boolean> {
    return this.debugContractors.has(contractor);
  }
  async recordMetrics(s: ExecutionSummary): Promise<{ warnings: string[] }> {
    if (!this.summaries.some((x) => x.execution_id === s.execution_id)) this.summaries.push(this.clone(s));
    return { warnings: [] };
  }
  readonly audit: AuditEntry[] = [];
  readonly cancels = new Set<string>();
  readonly cancelReasons = new Map<string, string>();
  async appendAudit(e: AuditEntry): Promise<void> {
    this.audit.push(this.clone(e));
  }
  async isCancelRequested(id: string): Promise<boolean> {
    return this.cancels.has(id);
  }
  async requestCancel(id: string, requested: boolean, reason?: string): Promise<void> {
    if (requested) this.cancels.add(id);
    else this.cancels.delete(id);
    if (requested && reason) this.cancelReasons.set(id, reason);
    else this.cancelReasons.delete(id);
  }
  async cancelReason(id: string): Promise<string | undefined> {
    return this.cancels.has(id) ? this.cancelReasons.get(id) : undefined;
  }
}

export class MemoryLockManager implements LockManager {
  readonly held = new Map<string, LockOwner>();
  async acquire(name: string, owner: Omit<LockOwner, 'acquired_at'>): Promise<HeldLock> {
    const h = this.held.get(name);
    if (h) throw new StateConflictError(`lock ${name} held by pid ${h.pid}`);
    this.held.set(name, { ...owner, acquired_at: new Date(0).toISOString() });
    return { release: async () => void this.held.delete(name), lost: new AbortController().signal };
  }
  async holder(name: string) {
    return this.held.get(name);
  }
  async isLocked(name: string) {
    return this.held.has(name);
  }
  async breakIfStale(): Promise<boolean> {
    return false;
  }
}

export class MapSecretSource implements SecretSource {
  constructor(private readonly values: Record<string, string> = {}) {}
  async get(name: string) {
    return this.values[name];
  }
  describe(name: string) {
    return `CORTEX_SECRET_${name}`;
  }
}

/**
 * In-memory ActionFiles for every action: `files` holds the text of each written (or seeded) file,
 * `modes` each path's mode, `writes` every write in order with the action that made it.
 */
export class MemoryActionFileStore implements ActionFileStore {
  readonly files = new Map<string, string>();
  readonly dirs = new Set<string>();
  readonly modes = new Map<string, number>();
  readonly writes: Array<{ executionId: string; actionId: string; path: string; data: string }> = [];

  constructor(readonly root = '/coordination') {}

  private mkdirs(dir: string): void {
    for (let d = dir; !this.dirs.has(d) && d !== dirname(d); d = dirname(d)) {
      this.dirs.add(d);
      this.modes.set(d, 0o700);
    }
  }

  forAction(executionId: string, actionId: string): ActionFiles {
    const missing = (path: string) => Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
    return {
      readText: async (path) => {
        const text = this.files.get(path);
        if (text === undefined) throw missing(path);
        return text;
      },
      writePrivate: async (path, data) => {
        this.mkdirs(dirname(path));
        this.files.set(path, data);
        this.modes.set(path, 0o600);
        this.writes.push({ executionId, actionId, path, data });
      },
      mkdirPrivate: async (dir) => this.mkdirs(dir),
      chmodPrivate: async (path) => {
        if (this.files.has(path)) this.modes.set(path, 0o600);
        else if (this.dirs.has(path)) this.modes.set(path, 0o700);
        else throw missing(path);
      },
      exists: async (path) => this.files.has(path) || this.dirs.has(path),
      artifactsDir: async (sub) => {
        const dir = join(this.root, 'state', 'artifacts', executionId, actionId, ...(sub ? [sub] : []));
        this.mkdirs(dir);
        return dir;
      },
      clustersDir: () => join(this.root, 'clusters'),
    };
  }
}

export function fakeDeps(overrides: Partial<EngineDeps> = {}): EngineDeps & { events: EngineEvent[]; store: MemoryStateStore; runner: FakeProcessRunner; clock: ManualClock; http: FakeHttpClient } {
  const masker = overrides.masker ?? new Masker();
  const events: EngineEvent[] = [];
  const deps = {
    runner: new FakeProcessRunner(),
    http: new FakeHttpClient(),
    store: new MemoryStateStore(masker),
    locks: new MemoryLockManager(),
    clock: new ManualClock(),
    secrets: new MapSecretSource(),
    masker,
    emit: (e: EngineEvent) => void events.push(e),
    scratchDir: async () => '/tmp/cortex-test-scratch',
    files: new MemoryActionFileStore(),
    randomHex4: () => 'abcd',
    identity: { pid: 4242, host: 'test-host', user: 'tester' },
    isProcessAlive: () => true,
    ...overrides,
    events,
  };
  return deps as EngineDeps & { events: EngineEvent[]; store: MemoryStateStore; runner: FakeProcessRunner; clock: ManualClock; http: FakeHttpClient };
}
