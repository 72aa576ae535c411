/**
 * What a long-lived process (`cortex serve`) loads again and again from the definitions (the
 * catalogue, the config, a workflow's validated definition), kept while the files it comes from
 * are unchanged. Every use first takes the signature of the definition files (names, sizes,
 * modification and change times, inodes: one readdir per folder and one stat per file), so an
 * edit is seen by the next use as it would be without the memo; only the reading, parsing and
 * validating of unchanged files is saved.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { layout } from '../layout.js';

/**
 * Changes whenever a file under workflows/ (templates included), triggers/ or contractors/, or the
 * config, is added, removed, replaced or written (its size, mtime, ctime or inode changes).
 */
export function definitionsSignature(root: string): string {
  const l = layout(root);
  const parts: string[] = [];
  for (const dir of [l.workflows, join(l.workflows, 'templates'), l.triggers, l.contractors]) {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      parts.push(`${dir}:-`);
      continue;
    }
    for (const n of names) {
      try {
        const s = statSync(join(dir, n), { bigint: true });
        if (s.isFile()) parts.push(`${dir}/${n}:${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}`);
      } catch {
        // vanished meanwhile
      }
    }
  }
  try {
    const s = statSync(l.config, { bigint: true });
    parts.push(`config:${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}`);
  } catch {
    parts.push('config:-');
  }
  return parts.join('|');
}

/** The loads of one state of the definitions. */
export interface DefinitionsSnapshot {
  /** What `load()` gives for `key` in this state of the files: loaded once, shared after (a failed load is not kept). */
  get<T>(key: string, load: () => Promise<T>): Promise<T>;
}

export class DefinitionsMemo {
  private signature: string | undefined;
  private entries = new Map<string, Promise<unknown>>();

  constructor(private readonly root: string) {}

  /**
   * The loads for the files as they are now: those of the previous state are dropped when any
   * file changed. A file written while a load runs changes the signature the next snapshot
   * takes, so what was loaded from it then is never reused after.
   */
  snapshot(): DefinitionsSnapshot {
    const signature = definitionsSignature(this.root);
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
