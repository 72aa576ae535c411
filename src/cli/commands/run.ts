import { ExitCode, UsageError } from '../../errors.js';
import type { EngineDeps } from '../../engine/deps.js';
import { isPausedForLeftovers } from '../../engine/leftovers.js';
import { planExecution } from '../../engine/plan.js';
import type { ExecutionRecord } from '../../engine/records.js';
import { runRollback } from '../../engine/rollback.js';
import { Execution, newExecutionRecord, type RunContext } from '../../engine/run-workflow.js';
import { createExecution } from '../../engine/start.js';
import type { CommandContext } from '../context.js';
import { createProgress } from '../render/progress.js';
import { printPlan } from '../render/plan.js';
import { printSummary } from '../render/summary.js';
import { assertImplemented, assertToolsPresent, prepareWorkflow, type PreparedWorkflow } from '../prepare.js';
import { labDirFor, openSession, type SimulateOptions } from '../session.js';
import { audit } from '../audit.js';

export interface RunOptions extends SimulateOptions {
  param?: string[];
  paramsFile?: string;
  dryRun?: boolean;
  debug?: boolean;
  wait?: boolean;
  triggerInfo?: string;
}

/** The trigger recorded for a run: manual, or what tick/trigger/serve passed in --trigger-info. */
function triggerOf(opts: RunOptions, user: string, host: string): ExecutionRecord['trigger'] {
  if (!opts.triggerInfo) return { type: 'manual', user, host };
  let info: unknown;
  try {
    info = JSON.parse(opts.triggerInfo);
  } catch {
    throw new UsageError('--trigger-info expects a JSON object');
  }
  const t = info as Record<string, unknown>;
  const allowed = ['schedule', 'webhook', 'event', 'api'];
  if (!t || typeof t !== 'object' || !allowed.includes(String(t.type))) throw new UsageError(`--trigger-info "type" must be one of ${allowed.join(', ')}`);
  const out: ExecutionRecord['trigger'] = { type: t.type as ExecutionRecord['trigger']['type'], user, host };
  for (const k of ['source', 'trigger_id', 'event_id', 'scheduled_for'] as const) if (typeof t[k] === 'string') out[k] = t[k] as string;
  return out;
}

/** How much shorter cortex's own waits are in a --simulate run. */
export const LAB_SLEEP_SCALE = 0.01;

/** Exit code for an execution that stopped with this status. */
export function exitCodeFor(rec: ExecutionRecord, interrupted: boolean): number {
  if (isPausedForLeftovers(rec)) return ExitCode.CONFLICT;
  if (interrupted && (rec.status === 'paused' || rec.status === 'cancelled' || rec.status === 'rolling_back')) return ExitCode.INTERRUPTED;
  switch (rec.status) {
    case 'completed':
    case 'awaiting_approval':
      return ExitCode.OK;
    default:
      return ExitCode.WORKFLOW_FAILED;
  }
}

/** Runs an Execution with the CLI's progress output and summary; shared by run, resume, approve, rollback. */
export async function driveExecution(
  ctx: CommandContext,
  deps: EngineDeps,
  runCtx: RunContext,
  record: ExecutionRecord,
  how: { resumed: boolean; stopProgress: () => void; body?: (exec: Execution) => Promise<void> },
): Promise<number> {
  const lock = await deps.locks.acquire(`execution-${record.execution_id}`, {
    execution_id: record.execution_id,
    pid: deps.identity.pid,
    host: deps.identity.host,
    command: ctx.argv[0] ?? 'run',
  });
  try {
    deps.emit({ kind: 'execution-start', executionId: record.execution_id, workflowId: record.workflow_id, resumed: how.resumed });
    const exec = new Execution(deps, runCtx, record);
    if (how.body) await how.body(exec);
    else await exec.run();
    how.stopProgress();
    printSummary(ctx.out, record);
    return exitCodeFor(record, runCtx.signal.aborted);
  } finally {
    how.stopProgress();
    await lock.release();
  }
}

export function runContextFor(ctx: CommandContext, prep: Pick<PreparedWorkflow, 'loaded' | 'catalogue' | 'impls' | 'config' | 'params'>, opts: { debug?: boolean; simulate?: boolean }): RunContext {
  return {
    loaded: prep.loaded,
    catalogue: prep.catalogue,
    impls: prep.impls,
    config: prep.config,
    env: ctx.env,
    params: prep.params,
    signal: ctx.signal,
    debug: Boolean(opts.debug),
    simulate: Boolean(opts.simulate),
    // In the lab, cortex's own waits (retry delays, polling) are shortened a hundredfold.
    sleepScale: opts.simulate ? LAB_SLEEP_SCALE : 1,
    rollback: (exec, scope, reason, phaseId) => runRollback(exec, scope, reason, phaseId),
  };
}

/** `cortex run WORKFLOW_ID [-p k=v ...] [--params-file F] [--dry-run] [--debug] [--simulate ...]`. */
export async function run(ctx: CommandContext, args: unknown[], opts: RunOptions): Promise<number> {
  const workflowId = args[0] as string;
  const prep = await prepareWorkflow(ctx, workflowId, { assignments: opts.param ?? [], ...(opts.paramsFile ? { paramsFile: opts.paramsFile } : {}) });
  const def = prep.loaded.definition;
  assertImplemented(def, prep.catalogue, prep.impls);
  const progress = await createProgress(ctx.out);

  if (opts.dryRun) {
    const { createRealDeps } = await import('../../deps.js');
    const deps = createRealDeps({ root: ctx.root.dir, env: ctx.env });
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

  if (!opts.simulate) assertToolsPresent(def, prep.catalogue, prep.config, ctx.env);
  const session = await openSession(ctx, prep.config, { ...opts, emit: progress.emit });
  try {
    const { deps } = session;
    for (const v of prep.secretValues) deps.masker.add(v);
    const record = await createExecution(deps, {
      loaded: prep.loaded,
      parameters: prep.maskedParams,
      trigger: triggerOf(opts, deps.identity.user, deps.identity.host),
      ...(opts.simulate ? { simulate: true, labDir: labDirFor(ctx, opts.lab) } : {}),
    });
    await audit(deps, { command: 'run', execution_id: record.execution_id, workflow_id: def.workflow_id, parameters: prep.maskedParams, result: 'started', ...(opts.simulate ? { details: { simulate: true } } : {}) });
    const code = await driveExecution(ctx, deps, runContextFor(ctx, { ...prep, config: session.config }, opts), record, { resumed: false, stopProgress: progress.stop });
    await audit(deps, { command: 'run', execution_id: record.execution_id, workflow_id: def.workflow_id, result: record.status });
    return code;
  } finally {
    await session.stop();
  }
}
