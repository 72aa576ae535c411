import { chmodSync, constants, copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { appendLineSync, mkdirPrivateSync, type Confinement } from './atomic-file.js';

/**
 * Keeps a damaged state file aside before anything replaces or ignores it: a byte-for-byte copy
 * `<file>.damaged-<UTC time>` next to it (0600), made once per distinct content (a file read
 * again, still damaged, does not make another copy). Returns the copy's path, or undefined when
 * the file does not exist.
 */
export function keepDamagedCopy(path: string, confinement: Confinement = {}): string | undefined {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch {
    return undefined;
  }
  const dir = dirname(path);
  mkdirPrivateSync(dir, confinement);
  const prefix = `${basename(path)}.damaged-`;
  for (const name of readdirSync(dir).sort()) {
    if (!name.startsWith(prefix)) continue;
    try {
      if (readFileSync(join(dir, name)).equals(data)) return join(dir, name);
    } catch {
      // unreadable copy: make a new one
    }
  }
  const copy = join(dir, `${prefix}${new Date().toISOString().replace(/[:.]/g, '')}`);
  copyFileSync(path, copy, constants.COPYFILE_EXCL);
  chmodSync(copy, 0o600);
  return copy;
}

/**
 * Appends `lines` to `<file>.damaged` (0600) unless each is there already: where the unreadable
 * lines of an append-only file (the metrics ledger) are kept. Returns that file's path.
 */
export function keepDamagedLines(path: string, lines: readonly string[], confinement: Confinement = {}): string {
  const aside = `${path}.damaged`;
  let kept = new Set<string>();
  try {
    kept = new Set(readFileSync(aside, 'utf8').split('\n'));
  } catch {
    // none kept yet
  }
  for (const line of lines) {
    if (kept.has(line)) continue;
    appendLineSync(aside, line, { ...confinement, durable: true });
    kept.add(line);
  }
  return aside;
}
