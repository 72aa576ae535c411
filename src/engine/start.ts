import { StateConflictError } from '../errors.js';
import type { LoadedWorkflow } from '../definitions/types.js';
import type { EngineDeps } from './deps.js';
import type { HeldLock } from '../ports/state-store.js';
import { isTerminal, makeExecutionId, workflowIdOf, type ExecutionRecord } from '../model/records.js';
import { newExecutionRecord } from './run-workflow.js';
import { liveStatus } from './live-status.js';

export { liveStatus } from './live-status.js';

/** How long a new run waits for another process that is creating a record of the same workflow. */
const WORKFLOW_LOCK_WAIT_MS = 10_000;

/** Execution ids drawn for a new run before giving up (each already taken: 1 in 65,536 per run of the workflow started in that second). */
const MAX_ID_DRAWS = 16;

/** What one new execution is created from. */
export interface CreateExecutionArgs {
  loaded: LoadedWorkflow;
  parameters: Record<string, unknown>;
  trigger: ExecutionRecord['trigger'];
  simulate?: boolean;
  labDir?: string;
  command?: string;
  /** Keep the execution's lock (the caller drives it now); default true. */
  keepLock?: boolean;
  /** At the concurrency limit, create the record queued (pending, not to be driven yet) instead of refusing. */
  queue?: boolean;
  /** A queue worker is to drive it: the record starts `queued`. */
  queued?: boolean;
}

type Created = { record: ExecutionRecord; lock?: HeldLock };

interface Waiting {
  args: CreateExecutionArgs;
  settle: (outcome: { ok: true; value: Created } | { ok: false; error: unknown }) => void;
}

/** Creations waiting for their workflow's lock, per set of ports and workflow (see createExecution). */
const waitingCreations = new WeakMap<EngineDeps, Map<string, { queue: Waiting[]; draining: boolean }>>();

/**
 * Creates the record of a new execution, atomically with respect to other cortex processes:
 * under the workflow's lock, counts the executions of this workflow that have not ended (an
 * unreadable record of this workflow counts: it may be one) and refuses (StateConflictError,
 * exit 3) when `concurrency` (default 1) are already in flight. With `keepLock` (the default) the
 * new execution's own lock is taken before its record appears, so nothing else can drive it
 * before the caller does.
 *
 * Creations of one workflow asked for at the same time in this process (serve answering a burst
 * of alerts) are made together: one hold of the workflow's lock, one count, each decided in
 * turn as if alone (each counts those created before it), their records written at the same
 * time. Each gets its own outcome.
 */
export function createExecution(deps: EngineDeps, args: CreateExecutionArgs): Promise<Created> {
  const workflowId = args.loaded.definition.workflow_id;
  let byWorkflow = waitingCreations.get(deps);
  if (!byWorkflow) waitingCreations.set(deps, (byWorkflow = new Map()));
  let line = byWorkflow.get(workflowId);
  if (!line) byWorkflow.set(workflowId, (line = { queue: [], draining: false }));
  const { promise, settle } = outcome<Created>();
  line.queue.push({ args, settle });
  if (!line.draining) void drainCreations(deps, workflowId, line, byWorkflow);
  return promise;
}

function outcome<T>(): { promise: Promise<T>; settle: Waiting['settle'] } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((ok, ko) => ((resolve = ok), (reject = ko)));
  return { promise, settle: (o) => (o.ok ? resolve(o.value as T) : reject(o.error)) };
}

async function drainCreations(deps: EngineDeps, workflowId: string, line: { queue: Waiting[]; draining: boolean }, byWorkflow: Map<string, unknown>): Promise<void> {
  line.draining = true;
  try {
    // Creations asked for in the same turn of the event loop join the first batch.
    await Promise.resolve();
    while (line.queue.length) {
      const batch = line.queue.splice(0);
      let outcomes: Array<Parameters<Waiting['settle']>[0]>;
      try {
        outcomes = await createBatch(deps, workflowId, batch.map((w) => w.args));
      } catch (error) {
        outcomes = batch.map(() => ({ ok: false as const, error }));
      }
      batch.forEach((w, i) => w.settle(outcomes[i] as Parameters<Waiting['settle']>[0]));
    }
  } finally {
    line.draining = false;
    byWorkflow.delete(workflowId);
  }
}

/** Creations of one workflow under one hold of its lock; each outcome is settled after the lock is released. */
async function createBatch(deps: EngineDeps, workflowId: string, batch: CreateExecutionArgs[]): Promise<Array<{ ok: true; value: Created } | { ok: false; error: unknown }>> {
  const first = batch[0] as CreateExecutionArgs;
  const lock = await deps.locks.acquire(`workflow-${workflowId}`, { pid: deps.identity.pid, host: deps.identity.host, command: first.command ?? 'run' }, { waitMs: WORKFLOW_LOCK_WAIT_MS });
  const outcomes: Array<{ ok: true; value: Created } | { ok: false; error: unknown }> = [];
  try {
    const ids = new Set(await deps.store.listActiveIds());
    // Every execution id names its workflow, so fewer active/ files named so than the limit leaves
    // room without reading a record (each read of them all grew with their number). At the limit,
    // each record is read to count.
    let named = [...ids].filter((id) => isOfWorkflow(id, workflowId)).length;
    let read: { active: ExecutionRecord[]; damaged: string[] } | undefined;
    const created: Created[] = [];
    const pending: Array<{ index: number; created: Created }> = [];
    for (const args of batch) {
      try {
        const def = args.loaded.definition;
        const limit = def.concurrency ?? 1;
        if (named >= limit && !read) {
          const damaged: string[] = [];
          const records = await deps.store.listActive((file, e) => {
            const name = file.slice(file.lastIndexOf('/') + 1);
            if (name.startsWith('workflow-') && name.endsWith('.json') && isOfWorkflow(name.slice('workflow-'.length, -'.json'.length), workflowId)) damaged.push(`${file} (${e.message})`);
          });
          read = { active: [...records.filter((r) => r.workflow_id === workflowId && !isTerminal(r.status)), ...created.map((c) => c.record)], damaged };
        }
        const active = read?.active ?? [];
        const damaged = read?.damaged ?? [];
        checkRoom(deps, def.workflow_id, limit, active, damaged, args.queue === true);
        const isQueued = args.queue === true && !damaged.length && active.length >= limit;
        const record = await newRecord(deps, args, ids);
        if (isQueued) {
          const behind = active.map((r) => r.execution_id);
          record.queued = { behind, concurrency: limit, since: record.started_at };
          record.status_reason = `queued behind ${behind.join(', ')} (on_conflict queue): cortex tick or serve starts it when the workflow is under its concurrency (${limit}); cortex resume ${record.execution_id} starts it now`;
        }
        // Its own lock only for a caller that drives it now; a run another process drives is
        // taken by that process (a lock taken and released here would keep no one out).
        const own = args.keepLock === false || isQueued ? undefined : await deps.locks.acquire(`execution-${record.execution_id}`, { pid: deps.identity.pid, host: deps.identity.host, command: args.command ?? 'run', execution_id: record.execution_id });
        const c: Created = { record, ...(own ? { lock: own } : {}) };
        created.push(c);
        read?.active.push(record);
        named++;
        ids.add(record.execution_id);
        pending.push({ index: outcomes.length, created: c });
        outcomes.push({ ok: true, value: c });
      } catch (error) {
        outcomes.push({ ok: false, error });
      }
    }
    // Written at the same time: their fsyncs overlap.
    await Promise.all(
      pending.map(async ({ index, created: c }) => {
        try {
          // Driven by another process (or store): that one starts the journal when it takes it.
          await deps.store.writeExecution(c.record, c.lock ? {} : { journal: false });
        } catch (error) {
          await c.lock?.release();
          outcomes[index] = { ok: false, error };
        }
      }),
    );
  } finally {
    await lock.release();
  }
  return outcomes;
}

/**
 * Whether the execution id (an active/ file name) is one of `workflowId`'s: its workflow id, read
 * from the id's fixed-form end (`-<stamp>-<hex4>`), so that a run of "foo-bar" is not one of "foo".
 * An id not in that form (no cortex wrote it) is the workflow's when it starts with its id: an
 * unreadable file that may be one of its records keeps counting.
 */
function isOfWorkflow(executionId: string, workflowId: string): boolean {
  const owner = workflowIdOf(executionId);
  return owner !== executionId ? owner === workflowId : executionId.startsWith(`${workflowId}-`);
}

/** Throws StateConflictError when the workflow has no room for one more execution (and it is not to be queued). */
function checkRoom(deps: EngineDeps, workflowId: string, limit: number, active: ExecutionRecord[], damaged: string[], queue: boolean): void {
  if (damaged.length && active.length + damaged.length >= limit) {
    throw new StateConflictError(`workflow "${workflowId}" may be in progress: an execution record of it cannot be read: ${damaged.join('; ')}`, {
      hint: 'the file is kept as it is: repair it, or move it out of workflows/active/ once you know that execution has ended',
    });
  }
  const isQueued = queue && !damaged.length && active.length >= limit;
  if (active.length >= limit && !isQueued) {
    const r = active[0] as ExecutionRecord;
    const st = liveStatus(r, deps);
    const what =
      st === 'interrupted'
        ? `execution ${r.execution_id} was interrupted and has not been resumed or rolled back`
        : `execution ${r.execution_id} is ${st}${r.process ? ` (pid ${r.process.pid} on ${r.process.host})` : ''}`;
    throw new StateConflictError(`workflow "${workflowId}" is already in progress: ${what}`, {
      hint:
        st === 'interrupted' || st === 'paused'
          ? `cortex resume ${r.execution_id}, or cortex rollback ${r.execution_id}`
          : st === 'awaiting_approval'
            ? `cortex approve ${r.execution_id} or cortex reject ${r.execution_id}`
            : `wait for it (cortex status ${r.execution_id}); set "concurrency" in the definition to allow parallel runs`,
    });
  }
}

/**
 * The record of a new execution, with an id no other record has: the id is the workflow's, the
 * second and 4 random hex digits, so two runs started in the same second may draw the same one
 * (a burst of alerts); it is drawn again when active/ (`taken`) or history/ has it.
 */
async function newRecord(deps: EngineDeps, args: CreateExecutionArgs, taken: ReadonlySet<string>): Promise<ExecutionRecord> {
  const now = deps.clock.now();
  const workflowId = args.loaded.definition.workflow_id;
  let executionId = makeExecutionId(workflowId, now, deps.randomHex4());
  for (let draws = 1; taken.has(executionId) || (await deps.store.readExecution(executionId)) !== undefined; draws++) {
    if (draws === MAX_ID_DRAWS) throw new StateConflictError(`no free execution id for workflow "${workflowId}" in this second (${draws} drawn, each taken)`, { hint: 'start it again' });
    executionId = makeExecutionId(workflowId, now, deps.randomHex4());
  }
  return newExecutionRecord({
    executionId,
    loaded: args.loaded,
    parameters: args.parameters,
    trigger: args.trigger,
    now: now.toISOString(),
    ...(args.simulate ? { simulate: true } : {}),
    ...(args.labDir ? { labDir: args.labDir } : {}),
    ...(args.queued ? { status: 'queued' as const } : {}),
  });
}
