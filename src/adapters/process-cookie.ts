import { randomFillSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Finding a tool's descendants after they left its process group, the way Jenkins'
 * ProcessTreeKiller does: every tool gets a cookie in its environment, which descendants inherit
 * (unless they clear their environment); /proc/<pid>/environ tells who carries it. Linux only.
 */
export const COOKIE_VAR = 'CORTEX_PROCESS_COOKIE';

const COOKIE_PATTERN = /^[0-9A-Za-z_-]{8,64}$/;

/**
 * Random bytes taken from a buffer filled 4 KiB at a time (the same CSPRNG as randomBytes):
 * two small randomBytes calls per action cost more than the rest of the cookie's bookkeeping.
 */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function randomHex(bytes: number): string {
  if (poolOffset + bytes > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const hex = pool.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return hex;
}

export function newCookie(): string {
  return randomHex(12);
}

/** Throws for a cookie that could match more than its own processes (e.g. an empty one). */
export function checkCookie(cookie: string): void {
  if (typeof cookie !== 'string' || !COOKIE_PATTERN.test(cookie)) throw new TypeError(`invalid process cookie ${JSON.stringify(cookie)}`);
}

/** The value one run() gives its tool: the caller's cookie and a suffix unique to that run. */
export function runMark(cookie: string): string {
  return `${cookie}.${randomHex(4)}`;
}

/**
 * Pids of live processes (not this one) whose environment has COOKIE_VAR set to `cookie` or to
 * `cookie.<suffix>`. Zombies have no environment left and are not listed. Synchronous, so that the
 * 'exit' hook can use it; one pass reads one small file per process, and only kill paths and
 * `resume` call it.
 */
export function findMarked(cookie: string): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const entry = `${COOKIE_VAR}=${cookie}`;
  const found: number[] = [];
  for (const name of names) {
    if (!/^[1-9][0-9]*$/.test(name) || Number(name) === process.pid) continue;
    let env: string;
    try {
      // Another user's processes are unreadable (EACCES): not ours to stop anyway.
      env = readFileSync(`/proc/${name}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (!env.includes(entry)) continue;
    if (env.split('\0').some((e) => e === entry || e.startsWith(`${entry}.`))) found.push(Number(name));
  }
  return found.sort((a, b) => a - b);
}

export function signalPids(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // exited meanwhile
    }
  }
}

/** SIGKILL rounds until nothing carries the cookie (a process can fork between scan and kill). */
export async function reapMarked(cookie: string, seen?: Set<number>): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const pids = findMarked(cookie);
    if (pids.length === 0) return;
    for (const p of pids) seen?.add(p);
    signalPids(pids, 'SIGKILL');
    await sleep(20);
  }
}

/** SIGTERM to every process carrying the cookie, SIGKILL after graceMs to those left; the pids signalled. */
export async function killMarked(cookie: string, graceMs: number): Promise<number[]> {
  const seen = new Set<number>();
  const deadline = performance.now() + graceMs;
  for (;;) {
    const pids = findMarked(cookie);
    if (pids.length === 0) break;
    const fresh = pids.filter((p) => !seen.has(p));
    for (const p of fresh) seen.add(p);
    signalPids(fresh, 'SIGTERM');
    if (performance.now() >= deadline) break;
    await sleep(Math.min(50, Math.max(1, deadline - performance.now())));
  }
  await reapMarked(cookie, seen);
  await untilExited(seen);
  return [...seen].sort((a, b) => a - b);
}

/**
 * A process that is exiting releases its memory (so its environment reads empty and findMarked no
 * longer lists it) before it becomes a zombie: wait, bounded, until each signalled pid is gone or a
 * zombie, so that "stopped" means stopped when kill() returns.
 */
async function untilExited(pids: ReadonlySet<number>): Promise<void> {
  for (let round = 0; round < 250; round++) {
    if ([...pids].every(hasExited)) return;
    await sleep(20);
  }
}

/** True when `pid` no longer runs: no such process, or a zombie waiting for its parent. */
export function hasExited(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return true;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
