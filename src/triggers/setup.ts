/** Loading helpers shared by the tick, schedule, trigger and serve commands. */
import { formatIssue, type Issue } from '../errors.js';
import { loadCatalogue } from '../contractors/load-catalogue.js';
import { loadTriggers, type LoadedTriggers } from './load.js';

export async function loadRootTriggers(root: string): Promise<LoadedTriggers> {
  return loadTriggers(root, await loadCatalogue(root));
}

export { definitionsSignature } from '../definitions/memo.js';

/**
 * One line per problem, for stderr. Each is an error: the file it names is not in force (an
 * invalid definition's or trigger file's triggers never fire), which a schedule must not hide.
 */
export function problemLines(problems: Issue[]): string[] {
  return problems.map((p) => `error: ${formatIssue(p)}`);
}

/** The hint under problem lines. */
export const PROBLEMS_HINT = 'cortex validate names every problem; the triggers of those files do not fire until they are fixed';
