import { readFileSync } from 'node:fs';

/**
 * What tells a process apart from a later one given the same pid (Linux): its start time in
 * clock ticks after boot (/proc/<pid>/stat field 22) and the boot it belongs to. Empty elsewhere.
 */
export interface ProcessStamp {
  start_time?: number;
  boot_id?: string;
}

/** True unless the pid certainly does not exist (or is a zombie awaiting its parent). */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
  return !isZombie(pid);
}

/**
 * True unless the recorded process is certainly gone: its pid is free, the machine has rebooted
 * since (another boot id), or the pid now belongs to a process started at another time. A record
 * without a start time (older cortex, not Linux) is judged by its pid alone.
 */
export function isRecordedProcessAlive(p: { pid: number } & ProcessStamp): boolean {
  if (p.boot_id !== undefined) {
    const boot = bootId();
    if (boot !== undefined && boot !== p.boot_id) return false;
  }
  if (!isPidAlive(p.pid)) return false;
  if (p.start_time === undefined) return true;
  // Unreadable (exited meanwhile, or /proc mounted with hidepid): the pid alone decides.
  const now = startTime(p.pid);
  return now === undefined || now === p.start_time;
}

/** The stamp of a running process (for the record or lock owner file that names it). */
export function processStamp(pid: number): ProcessStamp {
  const start = pid === process.pid ? ownStartTime() : startTime(pid);
  const boot = bootId();
  return { ...(start !== undefined ? { start_time: start } : {}), ...(start !== undefined && boot !== undefined ? { boot_id: boot } : {}) };
}

/** Fields after "pid (comm)"; comm itself may contain ") ". Undefined when unreadable. */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat: start time in clock ticks after boot. */
function startTime(pid: number): number | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  // Field 3 (state) is index 0 here, so field 22 is index 19.
  const value = Number(statFields(pid)?.[19]);
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** This process's start time never changes: read once (serve stamps every lock and record it writes). */
let cachedOwnStart: { value: number | undefined } | undefined;

function ownStartTime(): number | undefined {
  cachedOwnStart ??= { value: startTime(process.pid) };
  return cachedOwnStart.value;
}

let cachedBootId: string | null | undefined;

function bootId(): string | undefined {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      cachedBootId = null;
    }
  }
  return cachedBootId ?? undefined;
}

/** Linux only: a zombie has exited but still answers kill(pid, 0). Elsewhere: false. */
function isZombie(pid: number): boolean {
  return statFields(pid)?.[0] === 'Z';
}
