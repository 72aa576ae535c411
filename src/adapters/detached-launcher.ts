import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Launcher } from '../ports/launcher.js';
import { appendLine, openAppendSync } from './atomic-file.js';

/**
 * The cortex command of this installation, bin/cortex.js (package.json "bin"), for the processes
 * cortex starts itself (detached runs, the crontab line): it runs the program's CommonJS bundle
 * while it is fresh, else dist/cli/main.js.
 */
export const CLI_ENTRY = fileURLToPath(new URL('../../bin/cortex.js', import.meta.url));

/** File descriptor on which a launched `cortex resume --ready-fd` says it holds the execution. */
export const READY_FD = 3;

/** How long a launch waits for the child to take the execution. */
const READY_WAIT_MS = 20_000;

/**
 * Drives executions in detached `cortex resume ID` processes of their own: a run outlives the
 * `serve` or `tick` that created it, and a crash of one run touches nothing else. A launch
 * resolves once the child holds the execution's lock (it writes a line on fd 3), or has exited;
 * its output goes to `logFile` (state/runs.log).
 */
export class DetachedLauncher implements Launcher {
  constructor(
    private readonly options: { root: string; env: Record<string, string | undefined>; logFile: string; entry?: string; readyWaitMs?: number },
  ) {}

  async launch(executionId: string): Promise<{ ok: boolean; pid?: number; message?: string }> {
    const { root, logFile } = this.options;
    let fd: number | undefined;
    let child;
    try {
      fd = openAppendSync(logFile, { root });
      child = spawn(process.execPath, [this.options.entry ?? CLI_ENTRY, '--root', root, 'resume', executionId, '--ready-fd', String(READY_FD)], {
        detached: true,
        stdio: ['ignore', fd, fd, 'pipe'],
        cwd: root,
        env: { ...(this.options.env as NodeJS.ProcessEnv), NO_COLOR: '1', FORCE_COLOR: '0' },
      });
    } catch (e) {
      return { ok: false, message: `cannot start cortex resume: ${(e as Error).message}` };
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    const pid = child.pid;
    const ready = child.stdio[READY_FD] as NodeJS.ReadableStream | null;
    const outcome = await new Promise<{ ready: boolean; code?: number | null; error?: Error }>((resolve) => {
      const timer = setTimeout(() => resolve({ ready: false }), this.options.readyWaitMs ?? READY_WAIT_MS);
      const done = (v: { ready: boolean; code?: number | null; error?: Error }) => {
        clearTimeout(timer);
        resolve(v);
      };
      ready?.once('data', () => done({ ready: true }));
      child.once('exit', (code, signal) => done({ ready: false, code: code ?? (signal ? 128 : null) }));
      child.once('error', (error) => done({ ready: false, error }));
    });
    (ready as unknown as { destroy?: () => void } | null)?.destroy?.();
    child.unref();
    await appendLine(logFile, `${new Date().toISOString()} cortex: launched pid ${pid ?? '-'}: resume ${executionId}${outcome.ready ? '' : ` (${outcome.error ? outcome.error.message : outcome.code !== undefined ? `exited ${outcome.code}` : 'not ready yet'})`}`, { root }).catch(() => undefined);
    if (outcome.error || pid === undefined) return { ok: false, message: `cannot start cortex resume: ${outcome.error?.message ?? 'no process id'}` };
    if (outcome.ready) return { ok: true, pid };
    if (outcome.code === undefined) return { ok: true, pid, message: `started (pid ${pid}); it has not taken the execution yet` };
    if (outcome.code === 0) return { ok: true, pid };
    return { ok: false, pid, message: `cortex resume ${executionId} exited with code ${outcome.code} before taking the execution; see ${logFile}` };
  }
}
