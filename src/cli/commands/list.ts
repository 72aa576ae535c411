import { ExitCode } from '../../errors.js';
import { loadCatalogue } from '../../contractors/load-catalogue.js';
import { checkDefinitionFile, listDefinitionFiles } from '../../definitions/repository.js';
import { ensureRoot } from '../../root.js';
import type { WorkflowDefinition } from '../../definitions/types.js';
import type { CommandContext } from '../context.js';
import { table } from '../render/table.js';

/** `cortex list`: the workflows in the root (templates with --templates). */
export async function list(ctx: CommandContext, _args: unknown[], opts: Record<string, unknown>): Promise<number> {
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
  if (ctx.out.json) {
    ctx.out.data({
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
    ctx.out.line(
      table(
        ['WORKFLOW', 'NAME', 'VERSION', 'PHASES', 'CONTRACTORS', 'DURATION'],
        rows.map(({ def, template }) => [
          template ? `${def.workflow_id} (template)` : def.workflow_id,
          def.workflow_name,
          def.version,
          String(def.phases.length),
          chain(def),
          def.estimated_duration ?? '-',
        ]),
      ),
    );
    if (rows.length === 0) ctx.out.err(`no workflows under ${ctx.root.dir}/workflows`);
    if (invalid.length) ctx.out.err(`${invalid.length} invalid definition(s) not listed (${invalid.join(', ')}): run cortex validate`);
  }
  return ExitCode.OK;
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
