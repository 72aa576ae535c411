import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ExitCode, formatIssue, type Issue } from '../../errors.js';
import { loadCatalogue } from '../../contractors/load-catalogue.js';
import {
  assertWorkflowId,
  checkDefinitionFile,
  duplicateIdIssues,
  listDefinitionFiles,
  type CheckedDefinition,
  type DefinitionFile,
} from '../../definitions/repository.js';
import { formatOf, loadDocument } from '../../definitions/load-document.js';
import { layout } from '../../layout.js';
import { ensureRoot } from '../../root.js';
import { checkTriggerFile, isTriggerFileData, loadTriggers, type LoadedTriggers } from '../../triggers/load.js';
import type { CommandContext } from '../context.js';

function looksLikeFile(target: string): boolean {
  return formatOf(target) !== undefined || target.includes('/') || existsSync(target);
}

/** A trigger file's result: its issues (the triggers of a file with one are ignored). */
interface CheckedTriggerFile {
  displayPath: string;
  issues: Issue[];
}

/** Whether a file given on the command line is a trigger file (by its folder, else by its content). */
async function isTriggerFile(path: string): Promise<boolean> {
  if (isTriggerFileData(path, undefined)) return true;
  try {
    return isTriggerFileData(path, (await loadDocument(path, path)).data);
  } catch {
    return false; // unreadable: the workflow check reports it
  }
}

/** `cortex validate [FILE|WORKFLOW_ID ...]`: exit 0 when every definition and trigger file is valid, 2 otherwise. */
export async function validate(ctx: CommandContext, args: unknown[]): Promise<number> {
  const targets = (args[0] as string[] | undefined) ?? [];
  const catalogue = await loadCatalogue(ctx.root.dir);
  let files: DefinitionFile[];
  const triggerChecks: CheckedTriggerFile[] = [];
  let rootTriggers: LoadedTriggers | undefined;
  const triggersOfRoot = async () => (rootTriggers ??= await loadTriggers(ctx.root.dir, catalogue));
  if (targets.length === 0) {
    await ensureRoot(ctx.root);
    files = await listDefinitionFiles(ctx.root.dir);
    const loaded = await triggersOfRoot();
    for (const f of loaded.triggerFiles) triggerChecks.push({ displayPath: f, issues: loaded.triggerProblems.filter((p) => p.file === f) });
  } else {
    files = [];
    let rootFiles: DefinitionFile[] | undefined;
    for (const t of targets) {
      if (looksLikeFile(t) && formatOf(t)) {
        const path = resolve(ctx.cwd, t);
        if (await isTriggerFile(path)) {
          const loaded = await triggersOfRoot();
          const dir = layout(ctx.root.dir).triggers;
          // A file of this root's triggers/ is also checked against the others (ids, paths).
          const issues =
            dirname(path) === dir
              ? loaded.triggerProblems.filter((p) => p.file === `triggers/${path.slice(dir.length + 1)}`).map((p) => ({ ...p, file: t }))
              : (await checkTriggerFile(path, t, loaded.workflows, layout(ctx.root.dir).workflows)).issues;
          triggerChecks.push({ displayPath: t, issues });
          continue;
        }
        files.push({ path, displayPath: t, isTemplate: false });
        continue;
      }
      assertWorkflowId(t);
      rootFiles ??= await listDefinitionFiles(ctx.root.dir);
      const matching: DefinitionFile[] = [];
      for (const f of rootFiles) {
        const c = await checkDefinitionFile(f, catalogue);
        if ((c.doc?.data as { workflow_id?: unknown } | undefined)?.workflow_id === t) matching.push(f);
      }
      if (matching.length === 0) {
        files.push({ path: '', displayPath: t, isTemplate: false });
      } else files.push(...matching);
    }
  }
  const checked: CheckedDefinition[] = [];
  for (const f of files) {
    if (f.path === '') {
      checked.push({ ...f, result: { errors: [{ message: `no workflow "${f.displayPath}" in ${ctx.root.dir}/workflows` }], warnings: [] } });
    } else checked.push(await checkDefinitionFile(f, catalogue));
  }
  for (const issue of duplicateIdIssues(checked)) {
    const owner = checked.find((c) => c.displayPath === issue.file);
    owner?.result.errors.push(issue);
  }
  // A workflow's own trigger that clashes with another (same id, a path used for two sources) is ignored: an error of that file.
  if (rootTriggers && targets.length === 0) {
    for (const issue of rootTriggers.triggerProblems) checked.find((c) => c.displayPath === issue.file)?.result.errors.push(issue);
  }
  const invalid = checked.filter((c) => c.result.errors.length > 0);
  const invalidTriggers = triggerChecks.filter((c) => c.issues.length > 0);
  const total = checked.length + triggerChecks.length;
  const bad = invalid.length + invalidTriggers.length;
  if (ctx.out.json) {
    ctx.out.data({
      valid: bad === 0,
      root: ctx.root.dir,
      files: [
        ...checked.map((c) => ({
          file: c.displayPath,
          kind: 'workflow',
          workflow_id: (c.doc?.data as { workflow_id?: unknown } | undefined)?.workflow_id ?? null,
          template: c.isTemplate,
          valid: c.result.errors.length === 0,
          errors: c.result.errors,
          warnings: c.result.warnings,
        })),
        ...triggerChecks.map((c) => ({ file: c.displayPath, kind: 'trigger', workflow_id: null, template: false, valid: c.issues.length === 0, errors: c.issues, warnings: [] })),
      ],
    });
  } else {
    const { style } = ctx.out;
    for (const c of checked) {
      const id = (c.doc?.data as { workflow_id?: unknown } | undefined)?.workflow_id;
      if (c.result.errors.length === 0) ctx.out.line(`${style.green('ok')}      ${c.displayPath}${typeof id === 'string' ? ` (${id})` : ''}`);
      else {
        ctx.out.err(`${style.red('invalid')} ${c.displayPath}`);
        for (const issue of c.result.errors) ctx.out.err(`  ${style.red('error')}   ${formatIssue(issue)}`);
      }
      if (ctx.out.verbose) for (const w of c.result.warnings) ctx.out.err(`  ${style.yellow('warning')} ${formatIssue(w as Issue)}`);
    }
    for (const c of triggerChecks) {
      if (c.issues.length === 0) ctx.out.line(`${style.green('ok')}      ${c.displayPath} (triggers)`);
      else {
        ctx.out.err(`${style.red('invalid')} ${c.displayPath} (its triggers are ignored by tick, serve and trigger)`);
        for (const issue of c.issues) ctx.out.err(`  ${style.red('error')}   ${formatIssue(issue)}`);
      }
    }
    if (total === 0) ctx.out.err(`no workflow definitions under ${ctx.root.dir}/workflows`);
    else if (bad) ctx.out.err(`${bad} of ${total} file(s) invalid`);
    else ctx.out.line(`${checked.length} definition(s)${triggerChecks.length ? ` and ${triggerChecks.length} trigger file(s)` : ''} valid`);
    const warnings = checked.reduce((n, c) => n + c.result.warnings.length, 0);
    if (warnings && !ctx.out.verbose) ctx.out.err(style.dim(`${warnings} warning(s) about values that may be null at run time; --verbose lists them`));
  }
  return bad ? ExitCode.INVALID_INPUT : ExitCode.OK;
}
