/**
 * A private redis-server for a test: on a free loopback port, its files in a temporary directory,
 * stopped by the test. Without redis-server the tests that need it are skipped, saying so in their
 * names, except in CI (CI=true), where its absence is a failure (.ci/run installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { waitFor } from './wait.js';

function findRedisServer(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/bin', '/usr/sbin', '/usr/local/bin'])) {
    if (dir && existsSync(join(dir, 'redis-server'))) return join(dir, 'redis-server');
  }
  return undefined;
}

export const REDIS_SERVER = findRedisServer();
const IN_CI = process.env.CI === 'true';
if (!REDIS_SERVER && IN_CI) throw new Error('redis-server is not installed, and CI needs it for the queue tests (.ci/run installs it with apt-get)');

/** True when the queue tests can run here. */
export const HAS_REDIS = REDIS_SERVER !== undefined;
/** Suffix for the name of a test that needs Redis, when it cannot run. */
export const REDIS_NOTE = HAS_REDIS ? '' : ' (not run: redis-server is absent)';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  /** Stops it (SIGTERM; with appendonly the data is on disk) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  dispose(): Promise<void>;
  /** Sends a signal to the running server (SIGSTOP: it keeps its connections and answers nothing). */
  signal(sig: NodeJS.Signals): void;
}

/** Starts a redis-server; `persistent` turns on the append-only file (fsync always) for restart tests. */
export async function startRedis(options: { persistent?: boolean } = {}): Promise<RedisServer> {
  if (!REDIS_SERVER) throw new Error('redis-server is absent');
  const dir = mkdtempSync(join(tmpdir(), 'cortex-redis-'));
  let child: ChildProcess | undefined;
  let port = 0;
  const persistence = options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const launch = async (): Promise<void> => {
    const proc = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir, '--logfile', join(dir, 'redis.log')], { stdio: 'ignore' });
    child = proc;
    let exited = false;
    proc.once('exit', () => (exited = true));
    await waitFor(async () => exited || (await ping(port)), { what: `redis-server on port ${port}`, timeoutMs: 10_000, detail: () => (existsSync(join(dir, 'redis.log')) ? readFileSync(join(dir, 'redis.log'), 'utf8').slice(-500) : '') });
    if (exited) throw new Error(`redis-server exited at start on port ${port}`);
  };
  // A free port can be taken by someone else before redis-server binds it: try another.
  for (let tries = 0; ; tries++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (e) {
      if (tries >= 4) throw e;
    }
  }
  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    dir,
    stop,
    start: launch,
    signal: (sig) => {
      child?.kill(sig);
    },
    dispose: async () => {
      // A stopped server would not take its SIGTERM.
      child?.kill('SIGCONT');
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
