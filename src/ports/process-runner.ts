/** Options for one tool invocation. Arguments are always an array: no shell is ever involved. */
export interface RunOptions {
  cwd?: string;
  /** Extra environment variables, merged over the runner's base environment. */
  env?: Record<string, string>;
  /** Written to the child's stdin, then stdin is closed. */
  input?: string;
  /** Kill the whole process group after this many ms: SIGTERM, then SIGKILL after killGraceMs. */
  timeoutMs?: number;
  killGraceMs?: number;
  /** Aborting kills the process group the same way as a timeout. */
  signal?: AbortSignal;
  /** Bytes of stdout/stderr kept in memory for parsing (the tail is kept past this). */
  maxBufferBytes?: number;
  /**
   * Marks the tool and every descendant (they inherit it, even those that leave the process
   * group) as started under this cookie (from newCookie()), for survivors() and kill().
   */
  cookie?: string;
}

export interface ProcessResult {
  /** null when the process was killed by a signal or never started. */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  aborted: boolean;
  /** True when more output was produced than maxBufferBytes; stdout/stderr then hold the tail. */
  truncated: boolean;
  /** Set when the process could not be started (ENOENT: not found, EACCES: not executable). */
  spawnError?: { code: string; message: string };
}

/**
 * Runs external tools. Never throws because a tool failed: the result says how it ended.
 * Throws only for programming errors (bad arguments). After a timeout or abort, run() returns
 * only once the tool and all its descendants are gone, including those that left its process
 * group (setsid, daemonizing tools).
 */
export interface ProcessRunner {
  run(command: string, args: readonly string[], options?: RunOptions): Promise<ProcessResult>;
  /** A new random cookie (a non-secret id, [0-9a-f]{24}) to pass as RunOptions.cookie. */
  newCookie(): string;
  /**
   * Pids of processes on this host, started by run() calls with `cookie` (by this or an earlier
   * cortex process), that are still running. Linux; [] where it cannot tell.
   */
  survivors(cookie: string): Promise<number[]>;
  /**
   * Stops those processes: SIGTERM, then SIGKILL after graceMs to any left; resolves with the
   * pids it signalled once they are gone (or after a bounded wait for ones that cannot die).
   */
  kill(cookie: string, options?: { graceMs?: number }): Promise<number[]>;
}
