import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UnsafePathError } from '../errors.js';
import { layout } from '../layout.js';

/**
 * The folders cortex writes in and the files it appends to under a coordination root, as far as
 * they exist: these must never be symbolic links (a link would send a write outside the root).
 * Files replaced atomically (records, handoffs, dedup.json) are not listed: a rename replaces a
 * link there instead of following it. `secrets/` and `lab` may be links (cortex only reads the
 * one, and the lab checks its own place).
 */
function watchedPaths(root: string): Array<{ path: string; kind: 'dir' | 'file' }> {
  const l = layout(root);
  const dirs = [l.workflows, l.active, l.history, l.metrics, l.locks, join(root, 'audit'), l.state, join(l.state, 'scratch'), l.journals, l.artifacts, join(l.state, 'cancel'), l.clusters, join(root, 'masters')];
  const files = [l.ledger, l.audit, join(l.state, 'runs.log'), join(l.state, 'serve.log'), join(l.state, 'cron.log')];
  let masters: string[] = [];
  try {
    masters = readdirSync(join(root, 'masters'));
  } catch {
    // none yet
  }
  for (const m of masters) {
    const base = join(root, 'masters', m);
    dirs.push(base, join(base, 'handoffs'), join(base, 'logs'), join(base, 'context'));
    files.push(join(base, 'logs', 'contractor.log'), join(base, 'logs', 'debug.log'));
  }
  return [...dirs.map((path) => ({ path, kind: 'dir' as const })), ...files.map((path) => ({ path, kind: 'file' as const }))];
}

/**
 * Throws UnsafePathError for the first folder or log under `root` that is a symbolic link (or a
 * folder that is not one, a log that is not a regular file: a FIFO): checked before a command writes anything, so it refuses with one
 * message instead of failing half-way. Each write checks its own path again (atomic-file.ts).
 */
export function assertNoLinksInRoot(root: string): void {
  for (const { path, kind } of watchedPaths(root)) {
    let st;
    try {
      st = lstatSync(path);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) throw new UnsafePathError(path, 'is a symbolic link', root);
    if (kind === 'dir' && !st.isDirectory()) throw new UnsafePathError(path, 'is not a directory', root);
    // A FIFO there would be written to, or would block the append's open (atomic-file.ts).
    if (kind === 'file' && !st.isFile()) throw new UnsafePathError(path, 'is not a regular file', root);
  }
}
