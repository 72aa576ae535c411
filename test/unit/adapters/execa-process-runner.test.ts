import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmod, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecaProcessRunner } from '../../../src/adapters/execa-process-runner.js';
import { hasExited } from '../../../src/adapters/process-cookie.js';
import { spawn } from 'node:child_process';
import { waitFor } from '../../helpers/wait.js';

const NODE = process.execPath;

/** Gone = no such process, or a zombie (this sandbox's pid 1 does not reap orphans). */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

describe('ExecaProcessRunner', () => {
  const runner = new ExecaProcessRunner();
  let dir: string;

  beforeAll(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'cortex-runner-')));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns exit code, stdout and stderr without throwing', async () => {
    const r = await runner.run('sh', ['-c', 'echo out; echo err >&2; exit 7']);
    expect(r).toMatchObject({ exitCode: 7, signal: null, stdout: 'out\n', stderr: 'err\n', timedOut: false, aborted: false, truncated: false });
    expect(r.spawnError).toBeUndefined();
    expect(r.durationMs).toBeGreaterThan(0);
    const ok = await runner.run('true', []);
    expect(ok.exitCode).toBe(0);
  });

  it('passes arguments verbatim, with no shell', async () => {
    const r = await runner.run(NODE, ['-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', '$(id)', 'a b', '; rm -rf /']);
    expect(JSON.parse(r.stdout)).toEqual(['$(id)', 'a b', '; rm -rf /']);
  });

  it('reports the signal that killed the process', async () => {
    const r = await runner.run('sh', ['-c', 'kill -KILL $$']);
    expect(r.exitCode).toBeNull();
    expect(r.signal).toBe('SIGKILL');
  });

  it('writes input to stdin', async () => {
    const r = await runner.run('cat', [], { input: 'hello\nworld' });
    expect(r.stdout).toBe('hello\nworld');
  });

  it('merges env over the base environment, and baseEnv replaces process.env', async () => {
    const r = await runner.run(NODE, ['-e', 'process.stdout.write(`${process.env.CORTEX_T_FOO}|${process.env.PATH ? "path" : ""}`)'], {
      env: { CORTEX_T_FOO: 'bar' },
    });
    expect(r.stdout).toBe('bar|path');
    const isolated = new ExecaProcessRunner({ baseEnv: { ONLY: 'x' } });
    const r2 = await isolated.run(NODE, ['-e', 'process.stdout.write(JSON.stringify(Object.keys(process.env).filter(k => k === "ONLY" || k === "HOME" || k === "EXTRA")))'], {
      env: { EXTRA: '1' },
    });
    expect(JSON.parse(r2.stdout).sort()).toEqual(['EXTRA', 'ONLY']);
  });

  it('runs in cwd', async () => {
    const r = await runner.run(NODE, ['-e', 'process.stdout.write(process.cwd())'], { cwd: dir });
    expect(r.stdout).toBe(dir);
  });

  it('reports a missing or non-executable tool as spawnError, never a throw', async () => {
    const missing = await runner.run('cortex-definitely-not-a-tool', ['x']);
    expect(missing.spawnError?.code).toBe('ENOENT');
    expect(missing.exitCode).toBeNull();
    const file = join(dir, 'not-executable');
    await writeFile(file, '#!/bin/sh\necho hi\n');
    await chmod(file, 0o644);
    const denied = await runner.run(file, []);
    expect(denied.spawnError?.code).toBe('EACCES');
  });

  it('throws only for programming errors', async () => {
    await expect(runner.run('', [])).rejects.toThrow(TypeError);
    await expect(runner.run('sh', [1 as unknown as string])).rejects.toThrow(TypeError);
  });

  it('refuses a NUL byte in the command or an argument as a bad argument', async () => {
    await expect(runner.run('echo', ['a\0b'])).rejects.toThrow(TypeError);
    await expect(runner.run('ec\0ho', [])).rejects.toThrow(TypeError);
  });

  it('reports a missing cwd as spawnError ENOENT', async () => {
    const r = await runner.run('true', [], { cwd: join(dir, 'no-such-dir') });
    expect(r).toMatchObject({ exitCode: null, signal: null, spawnError: { code: 'ENOENT' } });
  });

  it('a tool that exits without reading its input is no error (EPIPE on its stdin)', async () => {
    const r = await runner.run('true', [], { input: 'x'.repeat(4 * 1024 * 1024) });
    expect(r).toMatchObject({ exitCode: 0, signal: null, stdout: '', stderr: '' });
    expect(r.spawnError).toBeUndefined();
    expect((await runner.run('cat', [], { input: '' })).stdout).toBe('');
  });

  it('on timeout kills the child and a grandchild that ignores SIGTERM', async () => {
    const script = join(dir, 'spawner.mjs');
    await writeFile(
      script,
      [
        "import { spawn } from 'node:child_process';",
        // The grandchild keeps our stdout open too, as background processes often do.
        "const g = spawn('sh', ['-c', 'trap \"\" TERM; sleep 30'], { stdio: ['ignore', 'inherit', 'inherit'] });",
        "process.stdout.write(g.pid + '\\n');",
        'setInterval(() => {}, 1000);',
      ].join('\n'),
    );
    // Long enough for node to start and print on a loaded machine (at 400 ms it sometimes did not).
    const r = await runner.run(NODE, [script], { timeoutMs: 2000, killGraceMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(r.aborted).toBe(false);
    const grandPid = Number(r.stdout.trim().split('\n')[0]);
    expect(grandPid).toBeGreaterThan(0);
    // run() returns only once it is gone.
    expect(isGone(grandPid)).toBe(true);
  });

  it('a timeout on a well-behaved child ends it with SIGTERM', async () => {
    const r = await runner.run('sleep', ['10'], { timeoutMs: 100, killGraceMs: 2000 });
    expect(r).toMatchObject({ timedOut: true, exitCode: null, signal: 'SIGTERM' });
    expect(r.durationMs).toBeLessThan(1500);
  });

  it('aborting the signal kills the process group', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop')), 100);
    const r = await runner.run('sleep', ['10'], { signal: controller.signal, killGraceMs: 200 });
    expect(r).toMatchObject({ aborted: true, timedOut: false, exitCode: null });
    const pre = await runner.run('sleep', ['10'], { signal: AbortSignal.abort() });
    expect(pre).toMatchObject({ aborted: true, exitCode: null, durationMs: 0 });
  });

  it('keeps the tail of an output larger than maxBufferBytes', async () => {
    const r = await runner.run(NODE, ['-e', "process.stdout.write('a'.repeat(100_000 - 4) + 'TAIL')"], { maxBufferBytes: 8192 });
    expect(r.truncated).toBe(true);
    expect(r.stdout.length).toBe(8192);
    expect(r.stdout.endsWith('aaaTAIL')).toBe(true);
    expect(r.exitCode).toBe(0);
  });

  it('does not cut a multi-byte character in half when truncating', async () => {
    const r = await runner.run(NODE, ['-e', "process.stdout.write('é'.repeat(10_000))"], { maxBufferBytes: 1001 });
    expect(r.truncated).toBe(true);
    expect(r.stdout).toBe('é'.repeat(500));
  });

  // `setsid` puts a process in a session (and group) of its own, as daemonizing tools do: killing
  // the tool's process group does not reach it. The second one also ignores SIGTERM.
  const ESCAPE = 'setsid sleep 60 & echo $!; setsid sh -c \'trap "" TERM; exec sleep 60\' & echo $!; wait';

  it.runIf(process.platform === 'linux')('on timeout kills descendants that left the process group too', async () => {
    const r = await runner.run('sh', ['-c', ESCAPE], { timeoutMs: 2000, killGraceMs: 300 });
    expect(r.timedOut).toBe(true);
    const pids = r.stdout.trim().split('\n').map(Number);
    expect(pids).toHaveLength(2);
    // run() returns only once they are gone.
    expect(pids.filter((p) => !isGone(p))).toEqual([]);
  });

  it.runIf(process.platform === 'linux')('aborting kills descendants that left the process group too', async () => {
    const controller = new AbortController();
    const pidFile = join(dir, 'escaped.pids');
    const running = runner.run('sh', ['-c', `(${ESCAPE}) > ${pidFile}`], { signal: controller.signal, killGraceMs: 300 });
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim().split('\n').length === 2, { what: `two pids in ${pidFile}`, timeoutMs: 10_000 });
    controller.abort(new Error('cancelled'));
    expect((await running).aborted).toBe(true);
    const pids = readFileSync(pidFile, 'utf8').trim().split('\n').map(Number);
    expect(pids.filter((p) => !isGone(p))).toEqual([]);
  });

  it.runIf(process.platform === 'linux')('survivors(cookie) finds what runs with that cookie left running; kill(cookie) stops them', async () => {
    const cookie = runner.newCookie();
    const other = runner.newCookie();
    expect(cookie).toMatch(/^[0-9a-f]{24}$/);
    expect(other).not.toBe(cookie);
    // A tool that exits at once and leaves a daemon behind (a crashed cortex leaves its tools the same way).
    const r = await runner.run('sh', ['-c', 'setsid sleep 60 > /dev/null 2>&1 & echo $!'], { cookie });
    expect(r.exitCode).toBe(0);
    const daemon = Number(r.stdout.trim());
    expect(isGone(daemon)).toBe(false);
    expect(await runner.survivors(cookie)).toEqual([daemon]);
    expect(await runner.survivors(other)).toEqual([]);
    expect(await runner.kill(cookie, { graceMs: 300 })).toEqual([daemon]);
    expect(isGone(daemon)).toBe(true);
    expect(await runner.survivors(cookie)).toEqual([]);
  });

  it.runIf(process.platform === 'linux')('hasExited: a running process has not; a zombie and a vanished pid have (kill() waits for that, not for the environment to read empty)', async () => {
    // sleep 5 never reaps the `sleep 0` it inherits from sh: a zombie for as long as sleep 5 lives.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const zombie = Number(await new Promise<string>((res) => parent.stdout.once('data', (d: Buffer) => res(d.toString()))));
      await waitFor(() => readFileSync(`/proc/${zombie}/stat`, 'utf8').includes(') Z '), { what: `pid ${zombie} to be a zombie` });
      expect(hasExited(zombie)).toBe(true);
      expect(hasExited(parent.pid!)).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }
    expect(hasExited(2 ** 22 + 1)).toBe(true);
  });

  it('marks every tool with its own cookie, which the caller cannot override', async () => {
    const read = ['-e', 'process.stdout.write(process.env.CORTEX_PROCESS_COOKIE ?? "")'];
    const a = await runner.run(NODE, read, { cookie: 'abcdef0123456789abcdef01', env: { CORTEX_PROCESS_COOKIE: 'forged' } });
    const b = await runner.run(NODE, read, { cookie: 'abcdef0123456789abcdef01' });
    expect(a.stdout).toMatch(/^abcdef0123456789abcdef01\.[0-9a-f]+$/);
    expect(b.stdout).toMatch(/^abcdef0123456789abcdef01\.[0-9a-f]+$/);
    expect(a.stdout).not.toBe(b.stdout);
    expect((await runner.run(NODE, read)).stdout).toMatch(/^[0-9a-f]{24}\.[0-9a-f]+$/);
  });

  it('returns when the child exits even if a background process keeps its pipes open', async () => {
    const marker = join(dir, 'bg.pid');
    const r = await runner.run('sh', ['-c', `sleep 60 & echo $! > ${marker}; echo done`]);
    expect(r).toMatchObject({ exitCode: 0, stdout: 'done\n' });
    // run() came back while the background process still holds the pipes (no wall-clock bound needed).
    const bg = Number((await readFile(marker, 'utf8')).trim());
    expect(hasExited(bg)).toBe(false);
    process.kill(bg, 'SIGKILL');
  });
});
