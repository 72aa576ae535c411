import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, rmdir, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { isPidAlive, ProperLockManager } from '../../../src/adapters/proper-lock-manager.js';
import { bootId, startTicks } from '../../proc.js';
import { StateConflictError, UsageError } from '../../../src/errors.js';
import { layout } from '../../../src/layout.js';

const OWNER = { execution_id: 'deploy-20250101T000000Z-abcd', pid: process.pid, host: hostname(), command: 'cortex run deploy' };

/** A pid that certainly belonged to a process that has exited (and been reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

/** ageMs < 0: the directory's mtime is that far ahead (its ctime, which no one can set, is now). */
async function plantLock(root: string, name: string, owner: object | undefined, ageMs: number): Promise<string> {
  const dir = layout(root).locks;
  const lockDir = join(dir, `${name}.lock`);
  await mkdir(lockDir, { recursive: true });
  if (owner) await writeFile(join(dir, `${name}.owner.json`), JSON.stringify(owner));
  const t = new Date(Date.now() - ageMs);
  await utimes(lockDir, t, t);
  return lockDir;
}

describe('ProperLockManager', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'cortex-locks-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('waiters in this process are handed the lock in the order they asked, each once the one before released it', async () => {
    const locks = new ProperLockManager(root);
    const other = new ProperLockManager(root); // another instance in the same process (serve has several)
    const first = await locks.acquire('workflow-wf', OWNER, { waitMs: 10_000 });
    const order: string[] = [];
    const take = (m: ProperLockManager, name: string) =>
      m.acquire('workflow-wf', OWNER, { waitMs: 10_000 }).then(async (held) => {
        order.push(name);
        await held.release();
      });
    const waiters = [take(other, 'second'), take(locks, 'third'), take(other, 'fourth')];
    // Without a wait, a taker in this process is refused at once, as one in another process.
    await expect(locks.acquire('workflow-wf', OWNER)).rejects.toBeInstanceOf(StateConflictError);
    expect(order).toEqual([]);
    await first.release();
    await Promise.all(waiters);
    expect(order).toEqual(['second', 'third', 'fourth']);
    // Free again.
    await (await locks.acquire('workflow-wf', OWNER)).release();
  });

  it('acquires, names the holder and releases (idempotently)', async () => {
    const locks = new ProperLockManager(root);
    const held = await locks.acquire('run-deploy', OWNER);
    const holder = await locks.holder('run-deploy');
    expect(holder).toMatchObject(OWNER);
    expect(Date.parse(holder?.acquired_at ?? '')).not.toBeNaN();
    expect(await locks.isLocked('run-deploy')).toBe(true);
    expect(held.lost.aborted).toBe(false);
    await held.release();
    await held.release();
    expect(await locks.holder('run-deploy')).toBeUndefined();
    expect(await locks.isLocked('run-deploy')).toBe(false);
    expect(await readdir(layout(root).locks)).toEqual([]);
    const again = await locks.acquire('run-deploy', OWNER);
    await again.release();
  });

  it('the locks folder and a held lock (its directory and owner file) are owner-only', async () => {
    const held = await new ProperLockManager(root).acquire('run-deploy', OWNER);
    const dir = layout(root).locks;
    const modes = Object.fromEntries(
      await Promise.all(['', 'run-deploy.lock', 'run-deploy.owner.json'].map(async (n) => [n, ((await lstat(join(dir, n))).mode & 0o777).toString(8)])),
    );
    expect(modes).toEqual({ '': '700', 'run-deploy.lock': '700', 'run-deploy.owner.json': '600' });
    await held.release();
  });

  it('a second acquire throws StateConflictError naming the holder', async () => {
    const a = new ProperLockManager(root);
    const b = new ProperLockManager(root);
    const held = await a.acquire('run-deploy', OWNER);
    const error = await b.acquire('run-deploy', { pid: process.pid, host: hostname() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StateConflictError);
    const holder = await a.holder('run-deploy');
    expect((error as Error).message).toBe(
      `lock "run-deploy" is held by execution ${OWNER.execution_id} (pid ${process.pid} on host ${hostname()} since ${holder?.acquired_at}, cortex run deploy)`,
    );
    expect((error as StateConflictError).exitCode).toBe(3);
    await held.release();
  });

  it('says so when the owner file is unreadable', async () => {
    await plantLock(root, 'metrics', undefined, 0);
    const error = await new ProperLockManager(root).acquire('metrics', OWNER).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StateConflictError);
    expect((error as Error).message).toMatch(/held by another cortex process \(owner unknown\)/);
  });

  it('waits up to waitMs for the holder to release', async () => {
    const locks = new ProperLockManager(root);
    const held = await locks.acquire('metrics', OWNER);
    setTimeout(() => void held.release(), 150);
    const started = Date.now();
    const next = await locks.acquire('metrics', OWNER, { waitMs: 3000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    await next.release();
  });

  it('breaks a lock whose owner ran here and whose pid is gone', async () => {
    const pid = deadPid();
    expect(isPidAlive(pid)).toBe(false);
    await plantLock(root, 'run-deploy', { pid, host: hostname(), acquired_at: new Date().toISOString() }, 5000);
    const locks = new ProperLockManager(root);
    const held = await locks.acquire('run-deploy', OWNER);
    expect((await locks.holder('run-deploy'))?.pid).toBe(process.pid);
    await held.release();
  });

  it.runIf(process.platform === 'linux')('breaks a lock whose owner pid now belongs to a process started at another time', async () => {
    // The owner crashed and its pid went to an unrelated process (this sleep).
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const pid = other.pid as number;
      const [start_time, boot_id] = [startTicks(pid), bootId()];
      await plantLock(root, 'reused', { pid, host: hostname(), acquired_at: new Date().toISOString(), start_time: start_time - 1, boot_id }, 5000);
      await plantLock(root, 'same', { pid, host: hostname(), acquired_at: new Date().toISOString(), start_time, boot_id }, 5000);
      const locks = new ProperLockManager(root);
      expect(await locks.breakIfStale('same')).toBe(false);
      const held = await locks.acquire('reused', OWNER);
      expect((await locks.holder('reused'))?.pid).toBe(process.pid);
      await held.release();
      expect(isPidAlive(pid)).toBe(true);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('breakIfStale leaves live, foreign and fresh locks alone', async () => {
    const locks = new ProperLockManager(root);
    await plantLock(root, 'live', { pid: process.pid, host: hostname(), acquired_at: new Date().toISOString() }, 5000);
    await plantLock(root, 'foreign', { pid: deadPid(), host: 'some-other-host', acquired_at: new Date().toISOString() }, 5000);
    await plantLock(root, 'fresh', { pid: deadPid(), host: hostname(), acquired_at: new Date().toISOString() }, 0);
    expect(await locks.breakIfStale('live')).toBe(false);
    expect(await locks.breakIfStale('foreign')).toBe(false);
    expect(await locks.breakIfStale('fresh')).toBe(false);
    expect(await locks.breakIfStale('absent')).toBe(false);
    await expect(locks.acquire('foreign', OWNER)).rejects.toThrow(/on host some-other-host/);
  });

  it('acquire waits out the freshness guard for a dead local owner, then takes the lock', async () => {
    await plantLock(root, 'run-x', { pid: deadPid(), host: hostname(), acquired_at: new Date().toISOString() }, 0);
    const held = await new ProperLockManager(root).acquire('run-x', OWNER);
    await held.release();
  });

  // proper-lockfile dates the first lock a process takes up to a second ahead (its probe of the
  // mtime precision sets the next whole second + 5 ms). A cortex killed just after taking it left a
  // lock whose age read negative: the next command (rollback of the killed rollback's execution, in
  // the lifecycle-concurrency e2e test) waited 1.1 s once, still found it "fresh" and was refused,
  // naming the dead process as the holder.
  it('takes over a dead local owner\'s lock whose directory is dated a second ahead, once it has not been touched for a second', async () => {
    await plantLock(root, 'run-ahead', { pid: deadPid(), host: hostname(), acquired_at: new Date().toISOString() }, -1005);
    const locks = new ProperLockManager(root);
    expect(await locks.breakIfStale('run-ahead')).toBe(false);
    const held = await locks.acquire('run-ahead', OWNER);
    expect((await locks.holder('run-ahead'))?.pid).toBe(process.pid);
    await held.release();
  });

  it('takes over the lock of a process killed right after it took it (its first lock, dated ahead by proper-lockfile)', async () => {
    const dir = layout(root).locks;
    await mkdir(dir, { recursive: true });
    // Another process takes its first lock just after a whole second, as a cortex command does
    // (owner file next to it), and is killed at once: its lock's mtime is then about 0.9 s ahead.
    const script = `
      const lockfile = require(${JSON.stringify(createRequire(import.meta.url).resolve('proper-lockfile'))});
      const { writeFileSync } = require('node:fs');
      const { hostname } = require('node:os');
      setTimeout(async () => {
        await lockfile.lock(${JSON.stringify(join(dir, 'run-killed'))}, { realpath: false, lockfilePath: ${JSON.stringify(join(dir, 'run-killed.lock'))}, stale: 30000, update: 5000 });
        writeFileSync(${JSON.stringify(join(dir, 'run-killed.owner.json'))}, JSON.stringify({ pid: process.pid, host: hostname(), acquired_at: new Date().toISOString() }));
        process.stdout.write('held');
        setInterval(() => undefined, 1000);
      }, 1010 - (Date.now() % 1000));`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`the lock taker exited (${code}) before it held the lock`)));
    });
    child.kill('SIGKILL');
    await exited;
    const locks = new ProperLockManager(root);
    const held = await locks.acquire('run-killed', OWNER);
    expect((await locks.holder('run-killed'))?.pid).toBe(process.pid);
    await held.release();
  });

  // On NFS the holder sets the mtime with its own clock while the server stamps the ctime with
  // the server's: a server clock behind made a lock refreshed a moment ago look as old as the lag,
  // and a live holder's lock (here on another host) was broken once the lag passed staleMs.
  it('a lock whose mtime was just refreshed is not stale however far behind its ctime is (a file server clock behind)', async () => {
    const lockDir = await plantLock(root, 'nfs', { pid: 4242, host: 'other-client', acquired_at: new Date().toISOString() }, -40_000);
    const locks = new ProperLockManager(root);
    const realNow = Date.now.bind(Date);
    // This host's clock is the holder's: 40 s ahead of the ctime the "server" stamped.
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 40_000);
    try {
      expect(await locks.breakIfStale('nfs')).toBe(false);
    } finally {
      spy.mockRestore();
    }
    expect((await lstat(lockDir)).isDirectory()).toBe(true);
  });

  it('breakIfStale removes a lock whose mtime is older than staleMs, whoever owned it', async () => {
    const locks = new ProperLockManager(root, { staleMs: 2000 });
    await plantLock(root, 'old', { pid: 1, host: 'elsewhere', acquired_at: '2025-01-01T00:00:00.000Z' }, 10_000);
    expect(await locks.breakIfStale('old')).toBe(true);
    expect(await readdir(layout(root).locks)).toEqual([]);
  });

  it('rejects lock names that are paths', async () => {
    const locks = new ProperLockManager(root);
    await expect(locks.acquire('../escape', OWNER)).rejects.toThrow(UsageError);
    await expect(locks.holder('a/b')).rejects.toThrow(UsageError);
  });

  it('aborts `lost` when the lock is taken away', async () => {
    const locks = new ProperLockManager(root, { staleMs: 2000, updateMs: 1000 });
    const held = await locks.acquire('metrics', OWNER);
    await rmdir(join(layout(root).locks, 'metrics.lock'));
    await new Promise<void>((resolve) => held.lost.addEventListener('abort', () => resolve(), { once: true }));
    expect(held.lost.aborted).toBe(true);
    await held.release();
  });

  it('writes the owner file as JSON next to the lock', async () => {
    const held = await new ProperLockManager(root).acquire('metrics', OWNER);
    const owner = JSON.parse(await readFile(join(layout(root).locks, 'metrics.owner.json'), 'utf8'));
    expect(owner).toMatchObject({ ...OWNER, start_time: startTicks(process.pid), boot_id: bootId() });
    await held.release();
  });

  it('isPidAlive', () => {
    expect(isPidAlive(process.pid)).toBe(true);
    expect(isPidAlive(deadPid())).toBe(false);
    expect(isPidAlive(0)).toBe(false);
    expect(isPidAlive(-5)).toBe(false);
  });
});
