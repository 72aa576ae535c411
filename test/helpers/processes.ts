/** What tests need to know about live processes, read from /proc (Linux, as CI). */
import { readdirSync, readFileSync } from 'node:fs';

/** True while the process exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

function pids(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined; // gone meanwhile, or not ours to read
  }
}

/** The live (non-zombie) children of a process, with their argv. */
export function childProcesses(ppid: number): Array<{ pid: number; argv: string[] }> {
  const out: Array<{ pid: number; argv: string[] }> = [];
  for (const pid of pids()) {
    const stat = readProc(pid, 'stat');
    if (!stat) continue;
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
    const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(parent) !== ppid || state === 'Z') continue;
    out.push({ pid, argv: (readProc(pid, 'cmdline') ?? '').split('\0').filter(Boolean) });
  }
  return out;
}

/** Live processes started with NAME=VALUE in their environment. */
export function processesWithEnv(name: string, value: string): number[] {
  const entry = `${name}=${value}`;
  return pids().filter((pid) => (readProc(pid, 'environ') ?? '').split('\0').includes(entry) && isRunning(pid));
}
