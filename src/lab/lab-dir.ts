import { mkdirSync, readFileSync, rmSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { appendLineSync, mkdirPrivateSync, writeFileAtomicSync } from '../adapters/atomic-file.js';

/**
 * The lab directory: persistent state shared by the stand-in tools (separate processes), the
 * lab servers and cortex. Small JSON files, each changed under its own lock so parallel actions
 * (several stand-in processes at once) never lose an update.
 *
 *   <lab>/config.json          latency scale, failure injections
 *   <lab>/state/<name>.json    pve, talos, helm, kube, http (each module owns one)
 *   <lab>/services.json        ports of the running lab servers
 *   <lab>/invocations.jsonl    one line per stand-in invocation (tool, args, action, attempt)
 *   <lab>/requests.jsonl       one line per HTTP request the lab services received
 *   <lab>/bin/                 stand-in executables put first on PATH
 *   <lab>/kubeconfig           points kubectl at the lab API server
 */
export function labPaths(lab: string) {
  return {
    lab,
    config: join(lab, 'config.json'),
    state: (name: string) => join(lab, 'state', `${name}.json`),
    services: join(lab, 'services.json'),
    invocations: join(lab, 'invocations.jsonl'),
    requests: join(lab, 'requests.jsonl'),
    bin: join(lab, 'bin'),
    kubeconfig: join(lab, 'kubeconfig'),
    talosconfig: join(lab, 'talosconfig'),
    files: join(lab, 'files'),
    secrets: join(lab, 'secrets'),
    lockDir: (name: string) => join(lab, 'state', `${name}.lock`),
    /** Held while the lab is seeded (outside state/, which seeding replaces). */
    seedLock: join(lab, 'seed.lock'),
    /** Present in state/ while seeding is under way (a crash there leaves it: the next start seeds again). */
    seeding: join(lab, 'state', '.seeding'),
  };
}

export interface LabFault {
  action_id: string;
  /** Fail the first N attempts; null: every attempt. */
  attempts: number | null;
}

export interface LabConfig {
  /** Multiplies task, rollout and other simulated durations (default 1). */
  latency: number;
  faults: LabFault[];
}

/** Lab folders are owner-only like the rest of the root: 0700 (a stricter umask narrows it). */
export function mkdirLab(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/**
 * Writes a lab file in place (not atomically: for files a stand-in tool writes as the real tool
 * would), creating its folder; owner-only 0600 (0700 for an executable) when it is created.
 */
export function writeLabFile(path: string, data: string | Buffer, mode = 0o600): void {
  mkdirLab(dirname(path));
  writeFileSync(path, data, { mode });
}

/**
 * A file the lab's start writes for the tools (a shim in bin/, the kubeconfig, services.json):
 * left alone when unchanged, else replaced by a rename. Another rehearsal in the same lab may be
 * running or reading it this instant; rewritten in place it would see an empty or half-written
 * file (a shim would exit 0 having done nothing) or fail with ETXTBSY.
 */
export function replaceLabFile(lab: string, path: string, text: string, mode = 0o600): void {
  try {
    if (readFileSync(path, 'utf8') === text && (statSync(path).mode & 0o777) === mode) return;
  } catch {
    // not there yet
  }
  mkdirLab(dirname(path));
  writeFileAtomicSync(path, text, mode, { root: lab, fsync: false });
}

/**
 * The lab's own files: replaced atomically, owner-only, never through a link inside the lab. Not
 * fsynced: the simulated systems must outlive a kill -9 of cortex or of a stand-in (the page cache
 * does that), not a power cut of the machine rehearsing; an fsync per change was most of the cost of
 * the lab API server writing each change before it answers (about 35 of 50 ms under load).
 */
function writeAtomic(lab: string, path: string, text: string): void {
  writeFileAtomicSync(path, text, 0o600, { root: lab, fsync: false });
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Runs fn with an exclusive lock on state `name` (a mkdir lock; a lock older than 10 s is taken
 * over, since stand-ins finish in well under that). Synchronous on purpose: stand-ins are short
 * processes and the servers call this between requests.
 */
export function withLock<T>(lab: string, name: string, fn: () => T): T {
  return withLockAt(lab, labPaths(lab).lockDir(name), name, fn);
}

/** withLock on the lock directory `dir` (inside the lab). */
export function withLockAt<T>(lab: string, dir: string, name: string, fn: () => T): T {
  mkdirPrivateSync(dirname(dir), { root: lab });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      mkdirSync(dir, { mode: 0o700 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        if (Date.now() - statSync(dir).mtimeMs > 10_000) rmSync(dir, { recursive: true, force: true });
      } catch {
        // removed by someone else meanwhile
      }
      if (Date.now() > deadline) throw new Error(`lab state ${name} is locked (${dir})`, { cause: e });
      sleepSync(5);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function readState<T>(lab: string, name: string, fallback: () => T): T {
  try {
    return JSON.parse(readFileSync(labPaths(lab).state(name), 'utf8')) as T;
  } catch {
    return fallback();
  }
}

export function writeState(lab: string, name: string, value: unknown): void {
  writeAtomic(lab, labPaths(lab).state(name), `${JSON.stringify(value, null, 2)}\n`);
}

/** Read-modify-write of one state file under its lock. */
export function updateState<T, R>(lab: string, name: string, fallback: () => T, fn: (state: T) => R): R {
  return withLock(lab, name, () => {
    const state = readState(lab, name, fallback);
    const result = fn(state);
    writeState(lab, name, state);
    return result;
  });
}

export function readLabConfig(lab: string): LabConfig {
  try {
    const c = JSON.parse(readFileSync(labPaths(lab).config, 'utf8')) as Partial<LabConfig>;
    return { latency: c.latency ?? 1, faults: c.faults ?? [] };
  } catch {
    return { latency: 1, faults: [] };
  }
}

export function writeLabConfig(lab: string, config: LabConfig): void {
  writeAtomic(lab, labPaths(lab).config, `${JSON.stringify(config, null, 2)}\n`);
}

/** What a stand-in knows about the call it serves (set by cortex in the tool's environment). */
export interface CallContext {
  lab: string;
  executionId?: string;
  actionId?: string;
  attempt: number;
}

export function callContextFromEnv(env: NodeJS.ProcessEnv): CallContext {
  const lab = env.CORTEX_LAB_DIR;
  if (!lab) throw new Error('CORTEX_LAB_DIR is not set: this stand-in only runs inside `cortex run --simulate`');
  return {
    lab,
    ...(env.CORTEX_EXECUTION_ID ? { executionId: env.CORTEX_EXECUTION_ID } : {}),
    ...(env.CORTEX_ACTION_ID ? { actionId: env.CORTEX_ACTION_ID } : {}),
    attempt: Number(env.CORTEX_ATTEMPT ?? '1') || 1,
  };
}

/**
 * True when --simulate-fail asks this action's current attempt to fail. The steps of a plan an
 * action runs call as ACTION_ID/STEP_ID: a fault on the action fails its steps too.
 */
export function shouldFail(lab: string, actionId: string | undefined, attempt: number): boolean {
  if (!actionId) return false;
  const f = readLabConfig(lab).faults.find((x) => x.action_id === actionId || actionId.startsWith(`${x.action_id}/`));
  return Boolean(f && (f.attempts === null || attempt <= f.attempts));
}

export function latencyMs(lab: string, baseMs: number): number {
  return Math.round(baseMs * readLabConfig(lab).latency);
}

/** One line per stand-in invocation, so tests can assert what ran (and that nothing ran twice). */
export function recordInvocation(ctx: CallContext, tool: string, args: readonly string[], extra: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ time: new Date().toISOString(), tool, args, execution_id: ctx.executionId ?? null, action_id: ctx.actionId ?? null, attempt: ctx.attempt, ...extra });
  mkdirLab(ctx.lab);
  appendLineSync(labPaths(ctx.lab).invocations, line, { root: ctx.lab });
}

export function recordRequest(lab: string, entry: Record<string, unknown>): void {
  appendLineSync(labPaths(lab).requests, JSON.stringify({ time: new Date().toISOString(), ...entry }), { root: lab });
}

export function readJsonLines<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as T];
      } catch {
        return [];
      }
    });
}
