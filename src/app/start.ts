import { UsageError } from '../errors.js';
import type { EngineEvent } from '../engine/events.js';
import type { ExecutionRecord, TriggerInfo } from '../model/records.js';
import { createExecution } from '../engine/start.js';
import type { HeldLock } from '../ports/state-store.js';
import { audit } from './audit.js';
import type { App, LabRequest } from './context.js';
import { driveExecution, exitCodeFor } from './drive.js';
import { assertImplemented, assertToolsPresent, prepareWorkflow, type PreparedWorkflow } from './prepare.js';

export interface StartRequest {
  workflowId: string;
  /** `-p key=value`. */
  assignments?: string[];
  paramsFile?: string;
  /** Parameter values already typed (triggers). */
  values?: Record<string, unknown>;
  /** How the run was started; a manual run when absent. */
  trigger?: Omit<TriggerInfo, 'user' | 'host'>;
  /** Present: rehearse in the lab (--simulate). */
  lab?: LabRequest;
  /** Run only if this accepts what was prepared (`run --plan`: nothing changed since the plan); may throw. */
  check?: (prep: PreparedWorkflow) => Promise<void>;
  /** The plan file run (recorded in the audit trail). */
  planFile?: string;
}

export interface CreatedRun {
  record: ExecutionRecord;
  prep: PreparedWorkflow;
  /** The execution's lock, when the caller is to drive it. */
  lock?: HeldLock;
}

/** Checks that apply before anything is created: the workflow, its parameters, the tools it needs. */
export async function prepareRun(app: App, req: StartRequest, options: { checkTools?: boolean } = {}): Promise<PreparedWorkflow> {
  const prep = await prepareWorkflow(app, req.workflowId, {
    ...(req.assignments ? { assignments: req.assignments } : {}),
    ...(req.paramsFile ? { paramsFile: req.paramsFile } : {}),
    ...(req.values ? { values: req.values } : {}),
  });
  assertImplemented(prep.loaded.definition, prep.catalogue, prep.impls);
  if (!req.lab && options.checkTools !== false) assertToolsPresent(prep.loaded.definition, prep.catalogue, prep.config, app.env);
  assertFaultsNameActions(req.workflowId, prep.loaded.definition.phases, req.lab?.faults);
  return prep;
}

/**
 * `--simulate-fail ACTION_ID[:N]` (or `PARENT/STEP[:N]`) must name an action of the workflow: an
 * unknown id would make a rehearsal of a failure "pass" with nothing failing (usage error, exit 2,
 * naming the valid ids). `phases` are the definition's, or an execution record's.
 */
export function assertFaultsNameActions(workflowId: string, phases: ReadonlyArray<{ actions: ReadonlyArray<{ action_id: string }> }>, faults: readonly string[] | undefined): void {
  if (!faults?.length) return;
  const known = new Set(phases.flatMap((p) => p.actions.map((a) => a.action_id)));
  for (const f of faults) {
    const id = f.split(':')[0]?.split('/')[0] ?? f;
    if (!known.has(id)) {
      throw new UsageError(`--simulate-fail names no action of ${workflowId}: "${id}"`, { hint: `its actions: ${[...known].join(', ')}` });
    }
  }
}

/**
 * Creates the record of a new run (status `pending`), under the workflow's lock and within its
 * concurrency limit (exit 3 otherwise). With `drive: true` the caller keeps the execution's lock
 * and drives it now; otherwise the lock is released for the process that will.
 */
export async function createRun(
  app: App,
  req: StartRequest,
  options: {
    drive: boolean;
    /** At the workflow's concurrency limit, create it waiting behind the older runs (on_conflict: queue). */
    queue?: boolean;
    /** Queue mode: a queue worker drives it; the record starts with status `queued`. */
    queued?: boolean;
  },
): Promise<CreatedRun> {
  const prep = await prepareRun(app, req, options.queued ? { checkTools: false } : {});
  await req.check?.(prep);
  if (options.queued && prep.secretValues.length) {
    throw new UsageError(`workflow "${req.workflowId}" has secret parameters: their values are never put on the queue, so a queue worker could not run it`, {
      hint: 'refer to secrets with ${secrets.NAME} (each worker reads them on its own host), or run it without a queue (unset CORTEX_QUEUE_URL)',
    });
  }
  const deps = app.sessions.base();
  const user = deps.identity.user;
  const trigger: ExecutionRecord['trigger'] = { ...(req.trigger ?? { type: 'manual' }), user, host: deps.identity.host };
  const created = await createExecution(deps, {
    loaded: prep.loaded,
    parameters: prep.maskedParams,
    trigger,
    command: app.command,
    keepLock: options.drive,
    ...(options.queue ? { queue: true } : {}),
    ...(options.queued ? { queued: true } : {}),
    ...(req.lab ? { simulate: true, labDir: app.sessions.labDirFor(req.lab) } : {}),
  });
  await audit(deps, {
    command: app.command,
    execution_id: created.record.execution_id,
    workflow_id: created.record.workflow_id,
    parameters: prep.maskedParams,
    result: created.record.queued || options.queued ? 'queued' : options.drive ? 'started' : 'created',
    ...(req.lab || req.trigger || req.planFile
      ? { details: { ...(req.lab ? { simulate: true } : {}), ...(req.trigger ? { trigger: req.trigger } : {}), ...(req.planFile ? { plan: req.planFile } : {}) } }
      : {}),
  });
  return { record: created.record, prep, ...(created.lock ? { lock: created.lock } : {}) };
}

/** `cortex run`: creates the run and drives it in this process to its end (or its stop). */
export async function runWorkflow(
  app: App,
  req: StartRequest & { debug?: boolean },
  ui: { emit: (event: EngineEvent) => void },
): Promise<{ record: ExecutionRecord; exitCode: number }> {
  const { record, prep, lock } = await createRun(app, req, { drive: true });
  try {
    await driveExecution(app, prep, record, { emit: ui.emit, resumed: false, debug: req.debug, ...(req.lab ? { lab: req.lab } : {}) });
  } finally {
    await lock?.release();
  }
  await audit(app.sessions.base(), { command: app.command, execution_id: record.execution_id, workflow_id: record.workflow_id, result: record.status });
  return { record, exitCode: exitCodeFor(record, app.signal.aborted) };
}
