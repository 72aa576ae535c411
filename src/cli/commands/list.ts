import { ExitCode } from '../../errors.js';
import { loadCatalogue } from '../../contractors/load-catalogue.js';
import { checkDefinitionFile, listDefinitionFiles } from '../../definitions/repository.js';
import { ensureRoot } from '../../root.js';
import type { WorkflowDefinition } from '../../definitions/types.js';
import type { CommandContext } from '../context.js';
import { listFormat, printStructured } from '../render/format.js';
import { table } from '../render/table.js';

/** `cortex list [-o json|yaml|wide|name]`: the workflows in the root (templates with --templates). */
export async function list(ctx: CommandContext, _args: unknown[], opts: { templates?: boolean; output?: string }): Promise<number> {
  const format = listFormat(ctx.out, opts, ['json', 'yaml', 'wide', 'name']);
  await ensureRoot(ctx.root);
  const catalogue = await loadCatalogue(ctx.root.dir);
  const files = (await listDefinitionFiles(ctx.root.dir)).filter((f) => opts.templates || !f.isTemplate);
  const rows: Array<{ def: WorkflowDefinition; file: string; template: boolean }> = [];
  const invalid: string[] = [];
  for (const f of files) {
    const c = await checkDefinitionFile(f, catalogue);
    if (c.result.definition) rows.push({ def: c.result.definition, file: c.displayPath, template: c.isTemplate });
    else invalid.push(c.displayPath);
  }
  rows.sort((a, b) => Number(a.template) - Number(b.template) || a.def.workflow_id.localeCompare(b.def.workflow_id));
  if (format === 'name') {
    for (const { def } of rows) ctx.out.line(def.workflow_id);
  } else if (format === 'json' || format === 'yaml') {
    await printStructured(ctx.out, format, {
      root: ctx.root.dir,
      workflows: rows.map(({ def, file, template }) => ({
        workflow_id: def.workflow_id,
        workflow_name: def.workflow_name,
        version: def.version,
        description: def.description ?? null,
        contractors: [...new Set(def.phases.map((p) => p.contractor))],
        phases: def.phases.length,
        estimated_duration: def.estimated_duration ?? null,
        file,
        template,
      })),
      invalid,
    });
  } else {
    const wide = format === 'wide';
    ctx.out.line(
      table(
        ['WORKFLOW', 'NAME', 'VERSION', 'PHASES', 'CONTRACTORS', 'DURATION', ...(wide ? ['PARAMETERS', 'FILE'] : [])],
        rows.map(({ def, template, file }) => [
          template ? `${def.workflow_id} (template)` : def.workflow_id,
          def.workflow_name,
          def.version,
          String(def.phases.length),
          chain(def),
          def.estimated_duration ?? '-',
          ...(wide ? [parameterList(def), file] : []),
        ]),
      ),
    );
    if (rows.length === 0) ctx.out.err(`no workflows under ${ctx.root.dir}/workflows`);
    if (invalid.length) ctx.out.err(`${invalid.length} invalid definition(s) not listed (${invalid.join(', ')}): run cortex validate`);
  }
  return ExitCode.OK;
}

/** Parameter names, required ones marked with `*`: `environment*, replicas`. */
function parameterList(def: WorkflowDefinition): string {
  const names = Object.entries(def.parameters ?? {}).map(([n, spec]) => (spec.required && spec.default === undefined ? `${n}*` : n));
  return names.join(',') || '-';
}

/** Contractor chain in phase order, e.g. infrastructure -> talos -> n8n. */
export function chain(def: WorkflowDefinition): string {
  const seq: string[] = [];
  for (const p of def.phases) {
    const short = p.contractor.replace(/-contractor$/, '');
    if (seq[seq.length - 1] !== short) seq.push(short);
  }
  return seq.join(' -> ');
}
