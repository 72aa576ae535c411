import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
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
import { formatOf } from '../../definitions/load-document.js';
import { ensureRoot } from '../../root.js';
import type { CommandContext } from '../context.js';

function looksLikeFile(target: string): boolean {
  return formatOf(target) !== undefined || target.includes('/') || existsSync(target);
}

/** `cortex validate [FILE|WORKFLOW_ID ...]`: exit 0 when every definition is valid, 2 otherwise. */
export async function validate(ctx: CommandContext, args: unknown[]): Promise<number> {
  const targets = (args[0] as string[] | undefined) ?? [];
  const catalogue = await loadCatalogue(ctx.root.dir);
  let files: DefinitionFile[];
  if (targets.length === 0) {
    await ensureRoot(ctx.root);
    files = await listDefinitionFiles(ctx.root.dir);
  } else {
    files = [];
    let rootFiles: DefinitionFile[] | undefined;
    for (const t of targets) {
      if (looksLikeFile(t) && formatOf(t)) {
        files.push({ path: resolve(ctx.cwd, t), displayPath: t, isTemplate: false });
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
  const invalid = checked.filter((c) => c.result.errors.length > 0);
  if (ctx.out.json) {
    ctx.out.data({
      valid: invalid.length === 0,
      root: ctx.root.dir,
      files: checked.map((c) => ({
        file: c.displayPath,
        workflow_id: (c.doc?.data as { workflow_id?: unknown } | undefined)?.workflow_id ?? null,
        template: c.isTemplate,
        valid: c.result.errors.length === 0,
        errors: c.result.errors,
        warnings: c.result.warnings,
      })),
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
    if (checked.length === 0) ctx.out.err(`no workflow definitions under ${ctx.root.dir}/workflows`);
    else if (invalid.length) ctx.out.err(`${invalid.length} of ${checked.length} definition(s) invalid`);
    else ctx.out.line(`${checked.length} definition(s) valid`);
    const warnings = checked.reduce((n, c) => n + c.result.warnings.length, 0);
    if (warnings && !ctx.out.verbose) ctx.out.err(style.dim(`${warnings} warning(s) about values that may be null at run time; --verbose lists them`));
  }
  return invalid.length ? ExitCode.INVALID_INPUT : ExitCode.OK;
}
