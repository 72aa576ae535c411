import { resolve } from 'node:path';
import { ExitCode } from '../../errors.js';
import { makePlan } from '../../app/plan.js';
import { prepareRun } from '../../app/start.js';
import { writeFileAtomic } from '../../adapters/atomic-file.js';
import type { CommandContext } from '../context.js';
import { appFor } from '../app.js';
import { printPlan } from '../render/plan.js';
import { versionInfo } from '../version.js';

export interface PlanOptions {
  param?: string[];
  paramsFile?: string;
  out?: string;
}

/** `cortex plan WORKFLOW_ID [-p k=v ...] [--params-file F] [-o FILE]`: the run's commands and requests, saved for `run --plan`. */
export async function plan(ctx: CommandContext, args: unknown[], opts: PlanOptions): Promise<number> {
  const app = appFor(ctx);
  // A plan needs no tools: nothing is run.
  const prep = await prepareRun(app, { workflowId: args[0] as string, assignments: opts.param ?? [], ...(opts.paramsFile ? { paramsFile: opts.paramsFile } : {}) }, { checkTools: false });
  const deps = app.sessions.base();
  for (const v of prep.secretValues) deps.masker.add(v);
  const doc = await makePlan(app, prep, deps.masker, {
    now: deps.clock.now().toISOString(),
    user: deps.identity.user,
    host: deps.identity.host,
    cortexVersion: versionInfo().version,
    configPath: prep.config.source ? 'config.yaml' : null,
  });
  if (opts.out) await writeFileAtomic(resolve(ctx.cwd, opts.out), `${JSON.stringify(doc, null, 2)}\n`, 0o600);
  if (ctx.out.json) {
    ctx.out.data(doc);
    return ExitCode.OK;
  }
  printPlan(ctx.out, prep.loaded.definition, doc.parameters, doc.phases, deps.masker, 'plan');
  const s = ctx.out.style;
  ctx.out.line('');
  if (opts.out) ctx.out.line(`saved to ${opts.out}: run exactly this with ${s.bold(`cortex run --plan ${opts.out}`)}${Object.keys(doc.secret_parameters).length ? ' (giving its secret parameters again with -p)' : ''}`);
  else ctx.out.line(s.dim(`not saved: cortex plan ${doc.workflow.workflow_id} ... -o plan.json saves it for cortex run --plan plan.json`));
  return ExitCode.OK;
}
