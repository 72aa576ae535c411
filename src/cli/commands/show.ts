import { ExitCode } from '../../errors.js';
import { loadCatalogue } from '../../contractors/load-catalogue.js';
import { findWorkflow } from '../../definitions/repository.js';
import { phaseCondition, type ParamSpec, type WorkflowDefinition } from '../../definitions/types.js';
import { ensureRoot } from '../../root.js';
import type { CommandContext } from '../context.js';
import type { Styler } from '../output.js';
import { chain } from './list.js';
import { status } from './status.js';
import { EXECUTION_ID_PATTERN } from '../../model/records.js';

/**
 * `cortex show WORKFLOW_ID`: the definition as an operator reads it before running it. Given an
 * execution id, it shows that execution as `cortex status ID` does (and says so).
 */
export async function show(ctx: CommandContext, args: unknown[]): Promise<number> {
  const id = args[0] as string;
  if (EXECUTION_ID_PATTERN.test(id)) {
    if (!ctx.out.json) ctx.out.err(ctx.out.style.dim(`${id} is an execution: showing cortex status ${id}`));
    return status(ctx, [id]);
  }
  await ensureRoot(ctx.root);
  const catalogue = await loadCatalogue(ctx.root.dir);
  const wf = await findWorkflow(ctx.root.dir, id, catalogue);
  if (ctx.out.json) {
    ctx.out.data({ file: wf.displayPath, hash: wf.hash, definition: wf.definition, warnings: wf.warnings });
    return ExitCode.OK;
  }
  ctx.out.line(renderWorkflow(wf.definition, wf.displayPath, ctx.out.style));
  return ExitCode.OK;
}

function paramLines(params: Record<string, ParamSpec>, indent: string, s: Styler): string[] {
  const lines: string[] = [];
  for (const [name, spec] of Object.entries(params)) {
    const bits = [s.cyan(spec.type)];
    if (spec.required) bits.push(s.bold('required'));
    if (spec.default !== undefined) bits.push(`default ${JSON.stringify(spec.default)}`);
    if (spec.enum) bits.push(`one of ${spec.enum.map((v) => JSON.stringify(v)).join(', ')}`);
    if (spec.secret) bits.push('secret');
    lines.push(`${indent}${name}  ${bits.join(', ')}${spec.description ? s.dim(`  ${spec.description}`) : ''}`);
    if (spec.properties) lines.push(...paramLines(spec.properties, `${indent}  `, s));
  }
  return lines;
}

export function renderWorkflow(def: WorkflowDefinition, file: string, s: Styler): string {
  const out: string[] = [];
  out.push(`${s.bold(def.workflow_id)}  ${def.workflow_name}  v${def.version}`);
  if (def.description) out.push(def.description);
  out.push(s.dim(`file: ${file}   contractors: ${chain(def)}   estimated: ${def.estimated_duration ?? '-'}${def.concurrency ? `   concurrency: ${def.concurrency}` : ''}`));
  out.push('', s.bold('Parameters'));
  const params = def.parameters ?? {};
  out.push(...(Object.keys(params).length ? paramLines(params, '  ', s) : ['  (none)']));
  out.push('', s.bold('Phases'));
  def.phases.forEach((p, i) => {
    out.push(`  ${i + 1}. ${s.bold(p.phase_id)}${p.phase_name ? ` (${p.phase_name})` : ''}  [${p.contractor}]${p.parallel ? '  parallel' : ''}`);
    const cond = phaseCondition(p);
    if (cond) out.push(`     runs only if: ${cond}`);
    if (p.requires_approval !== undefined && p.requires_approval !== false) {
      out.push(`     requires approval: ${String(p.requires_approval)}${p.approval_role ? ` by ${p.approval_role}` : ''}${p.approval_timeout ? `, expires after ${p.approval_timeout}s` : ''}`);
    }
    for (const a of p.actions) {
      const extras = [`timeout ${a.timeout ?? 'default'}s`, `on_error ${a.on_error ?? 'fail_workflow'}`];
      if (a.retry) extras.push(`retry ${a.retry.max_attempts}x${a.retry.fallback_parameters ? ' with fallback' : ''}`);
      out.push(`     - ${a.action_id}: ${s.cyan(a.action)}  ${s.dim(extras.join(', '))}`);
    }
    if (p.handoff_to) {
      const to = p.handoff_to === 'conditional' && p.handoff_decision ? `if ${p.handoff_decision.if} then ${p.handoff_decision.then} else ${p.handoff_decision.else}` : p.handoff_to;
      const keys = Array.isArray(p.handoff_data) ? p.handoff_data : Object.keys(p.handoff_data ?? {});
      out.push(`     handoff -> ${to}${keys.length ? `: ${keys.join(', ')}` : ''}`);
    }
  });
  out.push('', s.bold('Rollback'));
  const rb = def.rollback_procedure;
  if (!rb) out.push('  compensations of the completed actions, newest first');
  else {
    if (rb.description) out.push(`  ${rb.description}`);
    rb.phases.forEach((entry, i) => {
      if (typeof entry === 'string') out.push(`  ${i + 1}. ${entry} (compensate the phase's completed actions)`);
      else out.push(`  ${i + 1}. ${entry.phase_id}: ${entry.action ?? entry.actions?.map((a) => a.action).join(', ')} [${entry.contractor}]`);
    });
    out.push('  then the compensations of any completed action not yet undone, newest first');
  }
  if (def.success_criteria?.length) {
    out.push('', s.bold('Success criteria'));
    for (const c of def.success_criteria) out.push(`  - ${c}`);
  }
  if (def.triggers?.length) {
    out.push('', s.bold('Triggers'));
    for (const t of def.triggers) out.push(`  - ${t.type}${t.id ? ` ${String(t.id)}` : ''}${t.cron || t.schedule ? ` "${String(t.cron ?? t.schedule)}"${t.timezone ? ` ${String(t.timezone)}` : ''}` : ''}`);
  }
  return out.join('\n');
}
