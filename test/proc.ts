import { readFileSync } from 'node:fs';

/** Field 22 of /proc/<pid>/stat (start in clock ticks after boot), read independently of src/. */
export function startTicks(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[19]);
}

export function bootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}
