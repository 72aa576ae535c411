import { ExitCode, UsageError } from '../../errors.js';
import { planExecution } from '../../engine/plan.js';
import type { ExecutionRecord } from '../../model/records.js';
import { newExecutionRecord } from '../../engine/run-workflow.js';
import { prepareRun, type StartRequest } from '../../app/start.js';
import type { CommandContext } from '../context.js';
import { appFor, labRequest, type SimulateOptions } from '../app.js';
import { createProgress } from '../render/progress.js';
import { printPlan } from '../render/plan.js';
import { printSummary } from '../render/summary.js';

export interface RunOptions extends SimulateOptions {
  param?: string[];
  paramsFile?: string;
  dryRun?: boolean;
  debug?: boolean;
  triggerInfo?: string;
}

/** The trigger recorded for a run: manual, or what --trigger-info passed in. */
function triggerOf(opts: RunOptions): StartRequest['trigger'] {
  if (!opts.triggerInfo) return undefined;
  let info: unknown;
  try {
    info = JSON.parse(opts.triggerInfo);
  } catch {
    throw new UsageError('--trigger-info expects a JSON object');
  }
  const t = info as Record<string, unknown>;
  const allowed = ['schedule', 'webhook', 'event', 'api'];
  if (!t || typeof t !== 'object' || !allowed.includes(String(t.type))) throw new UsageError(`--trigger-info "type" must be one of ${allowed.join(', ')}`);
  const out: NonNullable<StartRequest['trigger']> = { type: t.type as ExecutionRecord['trigger']['type'] };
  for (const k of ['source', 'trigger_id', 'event_id', 'scheduled_for'] as const) if (typeof t[k] === 'string') out[k] = t[k] as string;
  return out;
}

/** `cortex run WORKFLOW_ID [-p k=v ...] [--params-file F] [--dry-run] [--debug] [--simulate ...]`. */
export async function run(ctx: CommandContext, args: unknown[], opts: RunOptions): Promise<number> {
  const app = appFor(ctx);
  const lab = labRequest(opts);
  const trigger = triggerOf(opts);
  const req: StartRequest = {
    workflowId: args[0] as string,
    assignments: opts.param ?? [],
    ...(opts.paramsFile ? { paramsFile: opts.paramsFile } : {}),
    ...(trigger ? { trigger } : {}),
    ...(lab ? { lab } : {}),
  };

  if (opts.dryRun) {
    // A plan needs no tools: nothing is run.
    const prep = await prepareRun(app, req, { checkTools: false });
    const def = prep.loaded.definition;
    const deps = app.sessions.base();
    for (const v of prep.secretValues) deps.masker.add(v);
    const now = deps.clock.now().toISOString();
    const record = newExecutionRecord({ executionId: `${def.workflow_id}-dry-run`, loaded: prep.loaded, parameters: prep.maskedParams, trigger: { type: 'manual' }, now });
    const plan = await planExecution({
      loaded: prep.loaded,
      record,
      params: prep.params,
      env: ctx.env,
      catalogue: prep.catalogue,
      impls: prep.impls,
      config: prep.config,
      builtins: { workflow_id: def.workflow_id, workflow_name: def.workflow_name, execution_id: '<execution_id>', status: 'running', date: now.slice(0, 10).replace(/-/g, ''), time: now.slice(11, 19).replace(/:/g, ''), timestamp: now, sequence: '<sequence>', user: deps.identity.user, host: deps.identity.host },
    });
    printPlan(ctx.out, def, prep.maskedParams, plan, deps.masker);
    return ExitCode.OK;
  }

  const progress = await createProgress(ctx.out);
  try {
    const { runWorkflow } = await import('../../app/start.js');
    const { record, exitCode } = await runWorkflow(app, { ...req, ...(opts.debug ? { debug: true } : {}) }, { emit: progress.emit });
    progress.stop();
    printSummary(ctx.out, record);
    return exitCode;
  } finally {
    progress.stop();
  }
}
