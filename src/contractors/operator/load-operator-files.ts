/**
 * Reads every operator action file under <root>/contractors/ (*.yaml, *.yml, *.json), checks each
 * against schemas/contractor-actions.schema.json and the semantic rules (compile.ts), then the
 * rules that span files: one definition per contractor and action, compensations that name a
 * known action with parameters its schema accepts.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ErrorObject } from 'ajv';
import { DefinitionInvalidError, type Issue } from '../../errors.js';
import { formatOf, loadDocument } from '../../definitions/load-document.js';
import { describeAjvError, selectAjvErrors, validatorFor } from '../../definitions/schemas.js';
import { checkActionParameters } from '../../definitions/validate-workflow.js';
import { builtinSpecs, createCatalogue } from '../catalogue.js';
import { CONTRACTORS, masterDir, type ActionSpec } from '../../model/catalogue.js';
import { compileOperatorFile, type CompiledOperatorAction } from './compile.js';
import { linkDefinition } from './operator-action.js';

/** Operator action files in `dir`, sorted by name (dot files and other extensions are ignored). */
export async function listOperatorFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw e;
  }
  return names.filter((n) => !n.startsWith('.') && formatOf(n) !== undefined).sort();
}

/**
 * The operator-defined specs of a root (marked operatorDefined, each linked to its definition).
 * Throws DefinitionInvalidError listing every problem in every file, with file:line:column.
 */
export async function loadOperatorActions(root: string): Promise<ActionSpec[]> {
  const dir = join(root, 'contractors');
  const files = await listOperatorFiles(dir);
  if (files.length === 0) return [];
  const issues: Issue[] = [];
  const compiled: CompiledOperatorAction[] = [];
  const validate = validatorFor('contractor-actions');
  for (const name of files) {
    const display = `contractors/${name}`;
    let doc;
    try {
      doc = await loadDocument(join(dir, name), display);
    } catch (e) {
      if (e instanceof DefinitionInvalidError) {
        issues.push(...e.issues);
        continue;
      }
      throw e;
    }
    if (!validate(doc.data)) {
      for (const err of selectAjvErrors(validate.errors as ErrorObject[])) {
        const d = describeAjvError(err);
        issues.push(doc.issueAt(d.pointer, d.message));
      }
      continue;
    }
    const contractor = (doc.data as { contractor: string }).contractor;
    const builtinSharing = CONTRACTORS.find((c) => c !== contractor && masterDir(c) === masterDir(contractor));
    if (builtinSharing) {
      issues.push(doc.issueAt('/contractor', `"${contractor}" would share masters/${masterDir(contractor)}/ with ${builtinSharing}; choose another name`));
      continue;
    }
    const result = compileOperatorFile(doc);
    issues.push(...result.issues);
    compiled.push(...result.actions);
  }

  const byKey = new Map<string, CompiledOperatorAction>();
  const unique: CompiledOperatorAction[] = [];
  for (const c of compiled) {
    const key = `${c.spec.contractor}/${c.spec.name}`;
    const first = byKey.get(key);
    if (first) {
      issues.push(c.doc.issueAt(`${c.pointer}/name`, `${c.spec.contractor} action "${c.spec.name}" is also defined in ${first.def.file} (${first.pointer})`));
      continue;
    }
    byKey.set(key, c);
    unique.push(c);
  }

  const catalogue = createCatalogue(unique.map((c) => c.spec));
  for (const c of unique) {
    const comp = c.spec.compensation;
    if (!comp) continue;
    const target = catalogue.get(c.spec.contractor, comp.action);
    if (!target) {
      issues.push(c.doc.issueAt(`${c.pointer}/compensation/action`, `unknown action "${comp.action}" for ${c.spec.contractor} (not in contractors/ nor built in; cortex actions ${c.spec.contractor} lists them)`));
      continue;
    }
    if (target.kind === 'person' || target.kind === 'plan') {
      issues.push(c.doc.issueAt(`${c.pointer}/compensation/action`, `"${comp.action}" is a ${target.kind} action and cannot be a compensation`));
      continue;
    }
    for (const e of checkActionParameters(target.parameters, comp.parameters)) {
      issues.push(c.doc.issueAt(`${c.pointer}/compensation/parameters${e.pointer}`, `${e.message} (parameters of ${comp.action})`));
    }
  }

  // A replaced built-in action may be the compensation of other built-in actions: they must
  // still be able to call it with the parameters their compensation template gives.
  for (const c of unique) {
    for (const other of builtinSpecs()) {
      if (other.contractor !== c.spec.contractor || other.compensation?.action !== c.spec.name || byKey.has(`${other.contractor}/${other.name}`)) continue;
      for (const e of checkActionParameters(c.spec.parameters, other.compensation.parameters)) {
        issues.push(c.doc.issueAt(`${c.pointer}/parameters`, `built-in ${other.name} undoes itself with ${c.spec.name} ${JSON.stringify(other.compensation.parameters)}, which this schema refuses: ${e.pointer || '/'} ${e.message}`));
      }
    }
  }

  if (issues.length) {
    throw new DefinitionInvalidError(issues, {
      code: 'CORTEX_CONTRACTORS_INVALID',
      summary: `operator action file(s) under ${dir} are invalid:`,
      hint: 'fix them (schemas/contractor-actions.schema.json describes the format), or move the file out of contractors/',
    });
  }
  for (const c of unique) linkDefinition(c.spec, c.def);
  return unique.map((c) => c.spec);
}
