/**
 * What a long-lived process (`cortex serve`) loads again and again from the definitions (the
 * catalogue, the config, a workflow's validated definition), kept while the files it comes from
 * are unchanged. Every use first takes the signature of the definition files (names, sizes,
 * modification and change times, inodes: one readdir per folder and one stat per file), so an
 * edit is seen by the next use as it would be without the memo; only the reading, parsing and
 * validating of unchanged files is saved.
 *
 * A signature cannot tell apart two writes that keep the size and the inode within one tick of
 * the clock the kernel stamps files with (1 to 10 ms before Linux 6.13; a second on some file
 * systems; the ctime comes from the same clock and only catches an mtime set back by `touch -d`,
 * `cp -p`, `rsync -t` or `tar`). So, as git does with racily clean files, nothing is kept while
 * any of the files changed less than RACY_MS ago: each use then loads anew, until the files have
 * been still for that long, when a later write can no longer share its stamp.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { layout } from '../layout.js';

/** The folders and file whose state the definitions come from. */
function watchedPaths(root: string): { dirs: string[]; config: string } {
  const l = layout(root);
  return { dirs: [l.workflows, join(l.workflows, 'templates'), l.triggers, l.contractors], config: l.config };
}

/**
 * Changes whenever a file under workflows/ (templates included), triggers/ or contractors/, or the
 * config, is added, removed, replaced or written (its size, mtime, ctime or inode changes).
 * Folders in them (workflows/active/, history/, locks/) are not looked into.
 */
export function definitionsSignature(root: string, paths = watchedPaths(root)): string {
  return takeSignature(paths).text;
}

/** The signature, and the latest modification or change time among the files (ms since the epoch). */
function takeSignature(paths: ReturnType<typeof watchedPaths>): { text: string; latestMs: number } {
  const parts: string[] = [];
  let latestMs = 0;
  const stamp = (path: string) => {
    const s = statSync(path, { throwIfNoEntry: false });
    if (!s?.isFile()) return undefined;
    latestMs = Math.max(latestMs, s.mtimeMs, s.ctimeMs);
    return `${s.size}:${s.mtimeMs}:${s.ctimeMs}:${s.ino}`;
  };
  for (const dir of paths.dirs) {
    let entries;
    try {
      // A folder that is not there (no triggers/, say) is the common case: no exception for it.
      entries = statSync(dir, { throwIfNoEntry: false })?.isDirectory() ? readdirSync(dir, { withFileTypes: true }) : undefined;
    } catch {
      entries = undefined;
    }
    if (!entries) {
      parts.push(`${dir}:-`);
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      // A folder is none of the definitions; a link is judged by what it points to.
      if (e.isDirectory()) continue;
      try {
        const st = stamp(join(dir, e.name));
        if (st !== undefined) parts.push(`${dir}/${e.name}:${st}`);
      } catch {
        // vanished meanwhile, or unreadable: as if absent
      }
    }
  }
  let config: string | undefined;
  try {
    config = stamp(paths.config);
  } catch {
    config = undefined;
  }
  parts.push(`config:${config ?? '-'}`);
  return { text: parts.join('|'), latestMs };
}

/** How long after a file's last change what is loaded from it is not kept (see the top of this file). */
export const RACY_MS = 2000;

/** The loads of one state of the definitions. */
export interface DefinitionsSnapshot {
  /** What `load()` gives for `key` in this state of the files: loaded once, shared after (a failed load is not kept). */
  get<T>(key: string, load: () => Promise<T>): Promise<T>;
}

export class DefinitionsMemo {
  private signature: string | undefined;
  private entries = new Map<string, Promise<unknown>>();
  private readonly paths: ReturnType<typeof watchedPaths>;

  private readonly now: () => number;

  /** `now`: the wall clock, in ms since the epoch, that file times are compared with (tests). */
  constructor(root: string, options: { now?: () => number } = {}) {
    this.paths = watchedPaths(root);
    this.now = options.now ?? Date.now;
  }

  /**
   * The loads for the files as they are now: those of the previous state are dropped when any
   * file changed. A file written while a load runs changes the signature the next snapshot
   * takes, so what was loaded from it then is never reused after.
   */
  snapshot(): DefinitionsSnapshot {
    const { text: signature, latestMs } = takeSignature(this.paths);
    if (this.now() - latestMs < RACY_MS) {
      // A file changed just now may change again unseen: load anew, keep nothing.
      this.signature = undefined;
      this.entries = new Map();
      return { get: (_key, load) => load() };
    }
    if (signature !== this.signature) {
      this.signature = signature;
      this.entries = new Map();
    }
    const entries = this.entries;
    return {
      get: <T>(key: string, load: () => Promise<T>): Promise<T> => {
        const known = entries.get(key) as Promise<T> | undefined;
        if (known) return known;
        const loading = load();
        entries.set(key, loading);
        // A failure (a file being replaced, a transient read error) is tried again by the next use.
        loading.catch(() => {
          if (entries.get(key) === loading) entries.delete(key);
        });
        return loading;
      },
    };
  }
}
