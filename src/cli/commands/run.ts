import { ExitCode, UsageError } from '../../errors.js';
import type { ExecutionRecord } from '../../model/records.js';
import { checkPlan, planStartRequest, planSteps, readPlanFile } from '../../app/plan.js';
import { prepareRun, type StartRequest } from '../../app/start.js';
import type { CommandContext } from '../context.js';
import { appFor, labRequest, queueFor, type SimulateOptions } from '../app.js';
import { queuedCommand } from '../continue.js';
import { createProgress } from '../render/progress.js';
import { printPlan } from '../render/plan.js';
import { printSummary } from '../render/summary.js';

export interface RunOptions extends SimulateOptions {
  param?: string[];
  paramsFile?: string;
  dryRun?: boolean;
  debug?: boolean;
  triggerInfo?: string;
  plan?: string;
  /** Queue mode: return the execution id once queued. */
  detach?: boolean;
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

/** The start request: a workflow and its parameters, or a saved plan (`--plan FILE`). */
async function startRequest(ctx: CommandContext, args: unknown[], opts: RunOptions, app: ReturnType<typeof appFor>): Promise<StartRequest> {
  const lab = labRequest(opts);
  const trigger = triggerOf(opts);
  const common = { ...(trigger ? { trigger } : {}), ...(lab ? { lab } : {}) };
  if (!opts.plan) {
    if (args[0] === undefined) throw new UsageError('missing workflow id', { hint: 'cortex run WORKFLOW_ID, or cortex run --plan FILE' });
    return { workflowId: args[0] as string, assignments: opts.param ?? [], ...(opts.paramsFile ? { paramsFile: opts.paramsFile } : {}), ...common };
  }
  if (opts.paramsFile) throw new UsageError('--plan runs the parameters of the plan: give its secret parameters again with -p NAME=VALUE, not --params-file');
  const file = opts.plan;
  const plan = await readPlanFile(ctx.cwd, file);
  const masker = app.sessions.base().masker;
  return {
    ...planStartRequest(plan, file, { ...(args[0] !== undefined ? { workflowId: args[0] as string } : {}), assignments: opts.param ?? [] }),
    ...common,
    planFile: file,
    check: async (prep) => {
      for (const v of prep.secretValues) masker.add(v);
      await checkPlan(app, prep, plan, masker, file);
    },
  };
}

/** `cortex run WORKFLOW_ID [-p k=v ...] [--params-file F] [--dry-run] [--debug] [--simulate ...]`, or `cortex run --plan FILE`. */
export async function run(ctx: CommandContext, args: unknown[], opts: RunOptions): Promise<number> {
  const app = appFor(ctx);
  const req = await startRequest(ctx, args, opts, app);

  if (opts.dryRun) {
    // A plan needs no tools: nothing is run.
    const prep = await prepareRun(app, req, { checkTools: false });
    await req.check?.(prep);
    const deps = app.sessions.base();
    for (const v of prep.secretValues) deps.masker.add(v);
    const plan = await planSteps(app, prep, deps.masker, { now: deps.clock.now().toISOString(), user: deps.identity.user, host: deps.identity.host });
    printPlan(ctx.out, prep.loaded.definition, prep.maskedParams, plan, deps.masker);
    return ExitCode.OK;
  }

  const queue = await queueFor(ctx);
  if (queue) {
    const { queueRun } = await import('../../app/queue-client.js');
    const r = await queuedCommand(ctx, queue, (a) => queueRun(a, queue, { ...req, ...(opts.debug ? { debug: true } : {}) }), { detach: Boolean(opts.detach) });
    return r.exitCode;
  }
  if (opts.detach) throw new UsageError('--detach needs queue mode (config.yaml queue: or CORTEX_QUEUE_URL): without a queue the run is driven by this process');
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
