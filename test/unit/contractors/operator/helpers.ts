import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { DefinitionInvalidError, formatIssue } from '../../../../src/errors.js';
import { loadCatalogue } from '../../../../src/contractors/load-catalogue.js';
import type { Catalogue } from '../../../../src/model/catalogue.js';

const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

/** A temporary root whose contractors/ holds the given files. */
export function rootWith(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'cortex-operator-'));
  roots.push(root);
  mkdirSync(join(root, 'contractors'), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, 'contractors', name), text);
  return root;
}

export async function load(files: Record<string, string>): Promise<Catalogue> {
  return loadCatalogue(rootWith(files));
}

/** The formatted issues loadCatalogue reports (fails the test when it loads). */
export async function loadErrors(files: Record<string, string>): Promise<string[]> {
  try {
    await load(files);
  } catch (e) {
    if (e instanceof DefinitionInvalidError) return e.issues.map(formatIssue);
    throw e;
  }
  throw new Error('expected the files to be rejected');
}
