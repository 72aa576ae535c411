/**
 * `--simulate-fail STEP_ID[:N]` on the commands that run a rollback (rollback, reject,
 * cancel --rollback): each id must name a step that rollback runs, as `run` checks action ids,
 * so a rehearsal of a failing rollback cannot pass with nothing failing. Checked before anything
 * is recorded or queued (usage error, exit 2, naming the valid ids).
 */
import { UsageError } from '../errors.js';
import type { EngineDeps } from '../engine/deps.js';
import { planRollback } from '../engine/rollback.js';
import { Execution } from '../engine/run-workflow.js';
import type { ExecutionRecord } from '../model/records.js';
import type { App, LabRequest } from './context.js';
import type { DrivePrep } from './drive.js';
import { loadForContinue } from './existing.js';
import { assertFaultsNameActions } from './start.js';

/** What runs after the command: a rollback (of the workflow, or of one phase), the rest of the run, or nothing. */
export type AfterCommand = { kind: 'rollback'; scope: 'workflow' } | { kind: 'rollback'; scope: 'phase'; phaseId: string } | { kind: 'run' } | { kind: 'nothing'; why: string };

/** The id an entry of --simulate-fail names (`ID`, `ID:N`, `PARENT/STEP[:N]` name ID). */
const faultId = (f: string) => f.split(':')[0]?.split('/')[0] ?? f;

/**
 * The ids of the steps a rollback of `record` would run now (steps an earlier rollback did are
 * not run again). `mayComplete`: count the actions running now as completed too (a cancel stops
 * an execution another process runs: its current action may complete before it stops).
 */
export function rollbackStepIds(deps: EngineDeps, prep: DrivePrep, record: ExecutionRecord, after: Extract<AfterCommand, { kind: 'rollback' }>, options: { mayComplete?: boolean } = {}): { toRun: string[]; done: string[] } {
  const plan = (rec: ExecutionRecord) => {
    const exec = new Execution(deps, { ...prep, env: {}, signal: new AbortController().signal, debug: false }, rec);
    return planRollback(exec, after.scope, after.scope === 'phase' ? after.phaseId : undefined).steps;
  };
  const steps = plan(record);
  if (options.mayComplete) {
    const completed = structuredClone(record);
    for (const a of completed.phases.flatMap((p) => p.actions)) if (a.status === 'running') a.status = 'completed';
    for (const s of plan(completed)) if (!steps.some((x) => x.step_id === s.step_id)) steps.push(s);
  }
  return { toRun: steps.filter((s) => s.status !== 'completed').map((s) => s.step_id), done: steps.filter((s) => s.status === 'completed').map((s) => s.step_id) };
}

/** Throws a usage error when an id of `faults` names no rollback step that will run. */
export function assertFaultsNameSteps(executionId: string, steps: { toRun: string[]; done: string[] }, faults: readonly string[]): void {
  for (const f of faults) {
    const id = faultId(f);
    if (steps.toRun.includes(id)) continue;
    const hint = `${steps.toRun.length ? `the steps its rollback runs: ${steps.toRun.join(', ')}` : 'its rollback runs no step'} (cortex rollback ${executionId} --dry-run lists them)`;
    if (steps.done.includes(id)) throw new UsageError(`--simulate-fail names a rollback step of ${executionId} that an earlier rollback did (it is not run again): "${id}"`, { hint });
    throw new UsageError(`--simulate-fail names no rollback step of ${executionId}: "${id}"`, { hint });
  }
}

/**
 * Checks `lab.faults` of a command on a simulated execution against what runs after it. `prep`:
 * the definition etc. when the caller loaded them (else they are loaded here, with `params`).
 * Does nothing for a real execution (the lab options are refused for it elsewhere) or without faults.
 */
export async function checkFaultsFor(
  app: App,
  deps: EngineDeps,
  record: ExecutionRecord,
  lab: LabRequest | undefined,
  after: AfterCommand,
  options: { prep?: DrivePrep; params?: string[]; mayComplete?: boolean } = {},
): Promise<void> {
  const faults = lab?.faults;
  if (!record.simulate || !faults?.length) return;
  if (after.kind === 'run') return assertFaultsNameActions(record.workflow_id, record.phases, faults);
  if (after.kind === 'nothing') {
    throw new UsageError(`--simulate-fail: ${after.why}, so no action or rollback step of ${record.execution_id} runs: "${faultId(faults[0] as string)}" would not fail`);
  }
  const prep = options.prep ?? (await loadForContinue(app, record, options.params)).prep;
  assertFaultsNameSteps(record.execution_id, rollbackStepIds(deps, prep, record, after, { mayComplete: options.mayComplete }), faults);
}

/** What runs after a rejection: of the waiting phase (a workflow rollback), or of a person's task (its on_error). */
export function afterRejection(record: ExecutionRecord, onError: string | undefined, actionId: string | undefined): AfterCommand {
  if (!actionId) return { kind: 'rollback', scope: 'workflow' };
  const phase = record.phases.find((p) => p.actions.some((a) => a.action_id === actionId));
  switch (onError ?? 'fail_workflow') {
    case 'rollback':
    case 'rollback_workflow':
      return { kind: 'rollback', scope: 'workflow' };
    case 'rollback_deployment':
      return phase ? { kind: 'rollback', scope: 'phase', phaseId: phase.phase_id } : { kind: 'rollback', scope: 'workflow' };
    case 'skip_action':
    case 'continue_phase':
    case 'alert_only':
    case 'skip_phase':
      return { kind: 'run' };
    case 'pause':
      return { kind: 'nothing', why: `the rejected task "${actionId}" pauses the execution (on_error pause)` };
    default:
      return { kind: 'nothing', why: `the rejected task "${actionId}" fails the execution without a rollback (on_error ${onError ?? 'fail_workflow'})` };
  }
}
