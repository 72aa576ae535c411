import type { PlannedPhase } from '../../engine/plan.js';
import type { Masker } from '../../model/masker.js';
import type { WorkflowDefinition } from '../../definitions/types.js';
import type { Output } from '../output.js';

function quote(a: string): string {
  return /^[\w@%+=:,./<>\-[\]]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** `run --dry-run` and `cortex plan`: the commands and requests, in order, with parameters resolved and secrets masked. */
export function printPlan(out: Output, def: WorkflowDefinition, params: Record<string, unknown>, plan: PlannedPhase[], masker: Masker, title: 'dry run' | 'plan' = 'dry run'): void {
  if (out.json) {
    out.data(masker.maskValue({ workflow_id: def.workflow_id, dry_run: true, parameters: params, phases: plan }));
    return;
  }
  const s = out.style;
  out.line(`${s.bold(title)} of ${def.workflow_id}: nothing is executed${title === 'dry run' ? ' or written' : ''}`);
  out.line(s.dim(`parameters: ${masker.mask(JSON.stringify(params))}`));
  for (const p of plan) {
    out.line('');
    const cond = p.condition ? `  if ${p.condition.expression} (${String(p.condition.value)})` : '';
    const appr = p.requires_approval === true ? '  [approval required]' : p.requires_approval === 'unknown' ? '  [approval: decided at run time]' : '';
    out.line(`${s.bold(`phase ${p.phase_id}`)} [${p.contractor}]${cond}${appr}`);
    for (const a of p.actions) {
      const when = a.condition ? `  if ${a.condition.expression} (${String(a.condition.value)})` : '';
      out.line(`  ${a.action_id}: ${s.cyan(a.action)} ${s.dim(`(timeout ${a.timeout_seconds}s, on_error ${a.on_error}${a.retry ? `, retry ${a.retry.max_attempts}x${a.retry.fallback ? ' + fallback' : ''}` : ''})`)}${when}`);
      if (a.error) out.line(`    ${s.red('!')} ${masker.mask(a.error)}`);
      for (const step of a.steps) {
        switch (step.kind) {
          case 'command':
            out.line(`    $ ${masker.mask([step.tool, ...step.args].map(quote).join(' '))}${step.note ? s.dim(`   # ${step.note}`) : ''}`);
            if (step.stdin) out.line(s.dim(`      stdin: ${masker.mask(step.stdin.length > 300 ? `${step.stdin.slice(0, 300)}…` : step.stdin).replace(/\n/g, '\n             ')}`));
            break;
          case 'request':
            out.line(`    ${step.method} ${masker.mask(step.url)}${step.note ? s.dim(`   # ${step.note}`) : ''}`);
            if (step.body !== undefined) out.line(s.dim(`      body: ${masker.mask(JSON.stringify(step.body)).slice(0, 400)}`));
            break;
          default:
            out.line(`    ${s.dim(step.note)}`);
        }
      }
    }
    if (p.handoff_to) out.line(`  ${s.dim(`handoff -> ${p.handoff_to}`)}`);
  }
}
