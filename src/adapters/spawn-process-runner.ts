import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { ProcessResult, ProcessRunner, RunOptions } from '../ports/process-runner.js';
import { checkCookie, COOKIE_VAR, findMarked, killMarked, newCookie, reapMarked, runMark, signalPids } from './process-cookie.js';

export interface SpawnProcessRunnerOptions {
  /** Environment the per-call `env` is merged over (default: process.env). */
  baseEnv?: NodeJS.ProcessEnv;
  /** Default grace between SIGTERM and SIGKILL (default 5000 ms). */
  killGraceMs?: number;
  /** Default bound on captured stdout and stderr, each (default 16 MiB). */
  maxBufferBytes?: number;
}

const DEFAULT_KILL_GRACE_MS = 5000;
const DEFAULT_MAX_BUFFER_BYTES = 16 * 1024 * 1024;
/**
 * After the direct child exits, how long to keep reading output. A background process that
 * inherited the pipes (ssh ControlPersist does this) would otherwise keep run() waiting forever.
 */
const STREAM_DRAIN_MS = 1000;

/** Process groups of children still running, with their cookie; killed if cortex itself exits. */
const liveGroups = new Map<number, string>();
let isExitHookInstalled = false;

function installExitHook(): void {
  if (isExitHookInstalled) return;
  isExitHookInstalled = true;
  // 'exit' handlers must be synchronous; process.kill is. SIGINT/SIGTERM handling belongs to
  // cli/main.ts, which aborts the run signals (and so kills the groups the normal way).
  process.on('exit', () => {
    for (const [pgid, mark] of liveGroups) {
      signalGroup(pgid, 'SIGKILL');
      signalPids(findMarked(mark), 'SIGKILL');
    }
  });
}

/** Sends a signal to a whole process group; false when the group no longer exists. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Keeps the last `limit` bytes written to it. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  isTruncated = false;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.chunks.push(buf);
    this.size += buf.length;
    while (this.size > this.limit && this.chunks.length > 0) {
      const first = this.chunks[0] as Buffer;
      const excess = this.size - this.limit;
      this.isTruncated = true;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }

  text(): string {
    let buf = Buffer.concat(this.chunks, this.size);
    // The cut may have landed inside a multi-byte character: drop its continuation bytes.
    if (this.isTruncated) {
      let start = 0;
      while (start < buf.length && start < 3 && ((buf[start] as number) & 0xc0) === 0x80) start++;
      buf = buf.subarray(start);
    }
    return buf.toString('utf8');
  }
}

/** Resolves once the stream has closed (its end read, or destroyed). */
function closed(stream: Readable | null): Promise<void> {
  if (!stream || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => stream.once('close', () => resolve()));
}

/** How the child ended, or why it never started. */
type Ending = { kind: 'exit'; exitCode: number | null; signal: NodeJS.Signals | null } | { kind: 'error'; error: NodeJS.ErrnoException };

/**
 * Runs tools with child_process.spawn: argument arrays, no shell, each child leading its own
 * process group. A timeout or abort sends SIGTERM to the whole group and SIGKILL after the grace
 * period, so grandchildren that ignore SIGTERM die too; descendants that left the group (setsid,
 * daemons) are found by their cookie (process-cookie.ts) and stopped the same way. run() returns
 * only after that. Never throws for a failing or missing tool: the result says what happened.
 * (It replaced execa, which cost about twice a bare spawn per tool: issue 14, BENCHMARKS.md.)
 */
export class SpawnProcessRunner implements ProcessRunner {
  private readonly baseEnv: NodeJS.ProcessEnv;
  private readonly killGraceMs: number;
  private readonly maxBufferBytes: number;

  constructor(options: SpawnProcessRunnerOptions = {}) {
    // Tools get no CORTEX_SECRET_* variable unless an action passes one explicitly.
    this.baseEnv = Object.fromEntries(Object.entries(options.baseEnv ?? process.env).filter(([k]) => !/^CORTEX_SECRET_/.test(k)));
    this.killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.maxBufferBytes = options.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES;
  }

  newCookie(): string {
    return newCookie();
  }

  async survivors(cookie: string): Promise<number[]> {
    checkCookie(cookie);
    return findMarked(cookie);
  }

  async kill(cookie: string, options: { graceMs?: number } = {}): Promise<number[]> {
    checkCookie(cookie);
    return killMarked(cookie, options.graceMs ?? this.killGraceMs);
  }

  async run(command: string, args: readonly string[], options: RunOptions = {}): Promise<ProcessResult> {
    if (typeof command !== 'string' || command.length === 0) throw new TypeError('run(): command must be a non-empty string');
    if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) throw new TypeError('run(): args must be an array of strings');
    if (command.includes('\0') || args.some((a) => a.includes('\0'))) throw new TypeError('run(): the command and its arguments cannot contain NUL bytes');
    if (options.cookie !== undefined) checkCookie(options.cookie);

    const started = performance.now();
    const limit = options.maxBufferBytes ?? this.maxBufferBytes;
    const grace = options.killGraceMs ?? this.killGraceMs;

    if (options.signal?.aborted) {
      return { exitCode: null, signal: null, stdout: '', stderr: '', durationMs: 0, timedOut: false, aborted: true, truncated: false };
    }

    installExitHook();
    const stdout = new TailBuffer(limit);
    const stderr = new TailBuffer(limit);
    const mark = runMark(options.cookie ?? newCookie());
    const neverStarted = (error: NodeJS.ErrnoException): ProcessResult => ({
      exitCode: null,
      signal: null,
      stdout: '',
      stderr: '',
      durationMs: performance.now() - started,
      timedOut: false,
      aborted: false,
      truncated: false,
      spawnError: { code: typeof error.code === 'string' ? error.code : 'ESPAWN', message: `could not start ${command}: ${error.message}` },
    });

    let child: ChildProcess;
    try {
      child = spawn(command, [...args], {
        cwd: options.cwd,
        env: { ...this.baseEnv, ...options.env, [COOKIE_VAR]: mark },
        shell: false,
        detached: true,
        windowsHide: true,
        stdio: [options.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      // Arguments spawn refuses outright (a NUL byte in an argument, ...).
      return neverStarted(error as NodeJS.ErrnoException);
    }

    // 'exit', or 'error' when the tool could not be started (ENOENT, EACCES, a missing cwd: no
    // pid then). Other 'error' events of a started child (a failed kill or send) change nothing.
    const ending = new Promise<Ending>((resolve) => {
      child.once('exit', (exitCode, signal) => resolve({ kind: 'exit', exitCode, signal }));
      child.on('error', (error) => {
        if (child.pid === undefined) resolve({ kind: 'error', error });
      });
    });
    const pid = child.pid;
    if (pid !== undefined) liveGroups.set(pid, mark);
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    // A read error ends the output there; the exit status still says how the tool ended.
    child.stdout?.on('error', () => undefined);
    child.stderr?.on('error', () => undefined);
    const outputClosed = Promise.all([closed(child.stdout), closed(child.stderr)]);
    if (child.stdin) {
      // The tool may exit without reading its input (EPIPE): that is its business, not an error here.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }

    let timedOut = false;
    let aborted = false;
    let killDeadline: number | undefined;
    let sigkillTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;

    const sigkill = (): void => {
      if (pid !== undefined) signalGroup(pid, 'SIGKILL');
      signalPids(findMarked(mark), 'SIGKILL');
    };
    const terminate = (): void => {
      if (pid === undefined || killDeadline !== undefined) return;
      killDeadline = performance.now() + grace;
      signalGroup(pid, 'SIGTERM');
      signalPids(findMarked(mark), 'SIGTERM');
      sigkillTimer = setTimeout(sigkill, grace);
    };

    const timeoutTimer =
      options.timeoutMs !== undefined && options.timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            terminate();
          }, options.timeoutMs)
        : undefined;
    const onAbort = (): void => {
      aborted = true;
      terminate();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    try {
      const end = await ending;
      if (end.kind === 'error') {
        child.stdout?.destroy();
        child.stderr?.destroy();
        return neverStarted(end.error);
      }
      // Output still in the pipes is read; a background process holding them open is not waited for.
      drainTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, STREAM_DRAIN_MS);
      await outputClosed;
      clearTimeout(timeoutTimer);
      options.signal?.removeEventListener('abort', onAbort);

      const deadline = killDeadline as number | undefined;
      if (pid !== undefined && deadline !== undefined) {
        if (signalGroup(pid, 0) || findMarked(mark).length > 0) {
          // The leader is gone but part of its tree ignored SIGTERM: finish the job on schedule.
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - performance.now())));
          sigkill();
        }
        await reapMarked(mark);
      }

      return {
        exitCode: end.exitCode,
        signal: end.signal,
        stdout: stdout.text(),
        stderr: stderr.text(),
        durationMs: performance.now() - started,
        timedOut,
        aborted,
        truncated: stdout.isTruncated || stderr.isTruncated,
      };
    } finally {
      clearTimeout(timeoutTimer);
      clearTimeout(sigkillTimer);
      clearTimeout(drainTimer);
      options.signal?.removeEventListener('abort', onAbort);
      if (pid !== undefined) liveGroups.delete(pid);
    }
  }
}
