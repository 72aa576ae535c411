/** Loading helpers shared by the tick, schedule, trigger and serve commands. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatIssue, type Issue } from '../errors.js';
import { loadCatalogue } from '../contractors/load-catalogue.js';
import { layout } from '../layout.js';
import { loadTriggers, type LoadedTriggers } from './load.js';

export async function loadRootTriggers(root: string): Promise<LoadedTriggers> {
  return loadTriggers(root, await loadCatalogue(root));
}

/** Changes whenever a definition, trigger file or the config changes (names, sizes, mtimes). */
export function definitionsSignature(root: string): string {
  const l = layout(root);
  const parts: string[] = [];
  for (const dir of [l.workflows, l.triggers, l.contractors]) {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      parts.push(`${dir}:-`);
      continue;
    }
    for (const n of names) {
      try {
        const s = statSync(join(dir, n));
        if (s.isFile()) parts.push(`${dir}/${n}:${s.size}:${s.mtimeMs}`);
      } catch {
        // vanished meanwhile
      }
    }
  }
  try {
    const s = statSync(l.config);
    parts.push(`config:${s.size}:${s.mtimeMs}`);
  } catch {
    parts.push('config:-');
  }
  return parts.join('|');
}

/**
 * One line per problem, for stderr. Each is an error: the file it names is not in force (an
 * invalid definition's or trigger file's triggers never fire), which a schedule must not hide.
 */
export function problemLines(problems: Issue[]): string[] {
  return problems.map((p) => `error: ${formatIssue(p)}`);
}

/** The hint under problem lines. */
export const PROBLEMS_HINT = 'cortex validate names every problem; the triggers of those files do not fire until they are fixed';
