/**
 * The project's research notes and verbatim upstream reference files (workflow templates, metrics
 * examples) live next to the repository, not in it: CORTEX_SHARED_DIR, default ../shared beside
 * the checkout. Tests of compatibility with those files run only when they are there; on a fresh
 * clone they are reported as not run, by name, and a note says why. Every other test is hermetic.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

const PROJECT = fileURLToPath(new URL('../..', import.meta.url));

export const SHARED_DIR = process.env.CORTEX_SHARED_DIR ? resolve(process.env.CORTEX_SHARED_DIR) : resolve(PROJECT, '..', 'shared');
export const REFERENCE_DIR = join(SHARED_DIR, 'reference');
export const HAVE_SHARED = existsSync(REFERENCE_DIR);
const NOT_RUN = `not run: ${REFERENCE_DIR} is absent`;

let noted = false;
function note(): void {
  if (HAVE_SHARED || noted) return;
  noted = true;
  console.warn(`note: the upstream-compatibility tests in this file were ${NOT_RUN} (CORTEX_SHARED_DIR names another place)`);
}

/** A file under CORTEX_SHARED_DIR/reference/. */
export function referencePath(name: string): string {
  return join(REFERENCE_DIR, name);
}

function title(name: string): string {
  return HAVE_SHARED ? name : `${name} (${NOT_RUN})`;
}

/** A test that reads the upstream reference files: skipped, and named so, when they are absent. */
export function itWithShared(name: string, fn: () => unknown, timeoutMs?: number): void {
  note();
  it.skipIf(!HAVE_SHARED)(title(name), fn, timeoutMs);
}

/** A group of such tests. Load the reference files inside the tests (or a hook), not in the body. */
export function describeWithShared(name: string, fn: () => void): void {
  note();
  describe.skipIf(!HAVE_SHARED)(title(name), fn);
}
