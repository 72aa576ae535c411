import { readdir } from 'node:fs/promises';
import { join, relative, isAbsolute } from 'node:path';
import { DefinitionInvalidError, NotFoundError, UsageError, type Issue } from '../errors.js';
import type { Catalogue } from '../model/catalogue.js';
import { formatOf, loadDocument, type SourceDocument } from './load-document.js';
import { validateWorkflowDocument, type ValidationResult } from './validate-workflow.js';
import type { LoadedWorkflow, WorkflowDefinition } from './types.js';

export const WORKFLOW_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,79}$/;

export function assertWorkflowId(id: string): void {
  if (!WORKFLOW_ID_PATTERN.test(id)) {
    throw new UsageError(`"${id}" is not a workflow id: expected lower-case letters, digits, "-" and "_" (no dots or slashes)`, {
      hint: 'cortex list shows the workflow ids',
    });
  }
}

export interface DefinitionFile {
  path: string;
  displayPath: string;
  isTemplate: boolean;
}

export interface CheckedDefinition extends DefinitionFile {
  doc?: SourceDocument;
  result: ValidationResult;
}

function display(root: string, path: string): string {
  const rel = relative(root, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** Definition files under workflows/ and workflows/templates/ (not active/history/metrics). */
export async function listDefinitionFiles(root: string): Promise<DefinitionFile[]> {
  const out: DefinitionFile[] = [];
  for (const [dir, isTemplate] of [
    [join(root, 'workflows'), false],
    [join(root, 'workflows', 'templates'), true],
  ] as const) {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      if (!formatOf(name) || name.startsWith('.')) continue;
      const path = join(dir, name);
      out.push({ path, displayPath: display(root, path), isTemplate });
    }
  }
  return out;
}

/** Loads and validates one file. Parse errors become the result's errors rather than throwing. */
export async function checkDefinitionFile(file: DefinitionFile, catalogue: Catalogue): Promise<CheckedDefinition> {
  try {
    const doc = await loadDocument(file.path, file.displayPath);
    return { ...file, doc, result: validateWorkflowDocument(doc, catalogue) };
  } catch (e) {
    if (e instanceof DefinitionInvalidError) return { ...file, result: { errors: e.issues, warnings: [] } };
    throw e;
  }
}

/** Errors for workflow ids defined by more than one file, naming every file. */
export function duplicateIdIssues(checked: CheckedDefinition[]): Issue[] {
  const byId = new Map<string, CheckedDefinition[]>();
  for (const c of checked) {
    const id = (c.doc?.data as { workflow_id?: unknown } | undefined)?.workflow_id;
    if (typeof id !== 'string') continue;
    byId.set(id, [...(byId.get(id) ?? []), c]);
  }
  const issues: Issue[] = [];
  for (const [id, list] of byId) {
    if (list.length < 2) continue;
    for (const c of list) {
      const others = list.filter((o) => o !== c).map((o) => o.displayPath);
      issues.push(c.doc ? c.doc.issueAt('/workflow_id', `workflow_id "${id}" is also defined in ${others.join(', ')}`) : { file: c.displayPath, message: `duplicate workflow_id "${id}"` });
    }
  }
  return issues;
}

function toLoaded(c: CheckedDefinition): LoadedWorkflow {
  const doc = c.doc as SourceDocument;
  return { definition: c.result.definition as WorkflowDefinition, path: c.path, displayPath: c.displayPath, hash: doc.hash, format: doc.format };
}

/**
 * Finds and validates the definition of `id` in the root. Throws NotFoundError when no file
 * defines it, DefinitionInvalidError when it (or a duplicate of its id) is invalid.
 */
export async function findWorkflow(root: string, id: string, catalogue: Catalogue): Promise<LoadedWorkflow & { warnings: Issue[] }> {
  assertWorkflowId(id);
  const files = await listDefinitionFiles(root);
  const matches: CheckedDefinition[] = [];
  const unreadable: string[] = [];
  for (const f of files) {
    // Cheap pre-filter: parse only; full validation only for files that define this id.
    let doc: SourceDocument;
    try {
      doc = await loadDocument(f.path, f.displayPath);
    } catch {
      unreadable.push(f.displayPath);
      continue;
    }
    if ((doc.data as { workflow_id?: unknown })?.workflow_id === id) {
      matches.push({ ...f, doc, result: validateWorkflowDocument(doc, catalogue) });
    }
  }
  if (matches.length === 0) {
    const known = (await listAllIds(files)).filter((k) => k !== id);
    const hint = known.length ? `known workflows: ${known.join(', ')}` : 'cortex list shows the workflows';
    throw new NotFoundError(`no workflow "${id}" in ${join(root, 'workflows')}`, {
      hint: unreadable.length ? `${hint}; ${unreadable.join(', ')} cannot be read (cortex validate says why)` : hint,
    });
  }
  const dup = duplicateIdIssues(matches);
  if (dup.length) throw new DefinitionInvalidError(dup);
  const only = matches[0] as CheckedDefinition;
  if (only.result.errors.length) throw new DefinitionInvalidError(only.result.errors, { summary: `${only.displayPath} is not a valid workflow definition:` });
  return { ...toLoaded(only), warnings: only.result.warnings };
}

async function listAllIds(files: DefinitionFile[]): Promise<string[]> {
  const ids: string[] = [];
  for (const f of files) {
    try {
      const doc = await loadDocument(f.path, f.displayPath);
      const id = (doc.data as { workflow_id?: unknown })?.workflow_id;
      if (typeof id === 'string' && !f.isTemplate) ids.push(id);
    } catch {
      // unreadable files are reported by cortex validate
    }
  }
  return ids;
}
