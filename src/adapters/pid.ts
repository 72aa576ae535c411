import { readFileSync } from 'node:fs';

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

/** Linux only: a zombie has exited but still answers kill(pid, 0). Elsewhere: false. */
function isZombie(pid: number): boolean {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after "pid (comm)"; comm itself may contain ") ".
    return text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

