import { NotFoundError, StateConflictError, UsageError } from '../errors.js';
import { createImplementationRegistry } from '../contractors/registry.js';
import { parseParamAssignments, unrecordableText } from '../definitions/parameters.js';
import { parseJsonBounded, TooDeepError } from '../definitions/load-document.js';
import type { LoadedWorkflow } from '../definitions/types.js';
import type { EngineDeps } from '../engine/deps.js';
import { assertExecutionId, isTerminal, type ExecutionRecord } from '../model/records.js';
import { completeEnded } from '../engine/run-workflow.js';
import type { HeldLock, LockOwner } from '../ports/state-store.js';
import { ensureRoot } from '../root.js';
import type { App } from './context.js';
import type { DrivePrep } from './drive.js';
import { loadDefinitions } from './prepare.js';

export { assertExecutionId } from '../model/records.js';

/** Another process holds the execution's lock: it is working on it now. */
export class ExecutionLockedError extends StateConflictError {
  constructor(
    message: string,
    readonly record: ExecutionRecord | undefined,
    readonly holder: LockOwner | undefined,
    hint: string,
  ) {
    super(message, { hint });
  }
}

/** An execution held under its lock, read again after the lock was taken. */
export interface HeldExecution {
  record: ExecutionRecord;
  location: 'active' | 'history';
  deps: EngineDeps;
  lock: HeldLock;
}

function describeHolder(holder: LockOwner | undefined): string {
  if (!holder) return 'another cortex process';
  return `cortex ${holder.command ?? ''} (pid ${holder.pid} on ${holder.host}, since ${holder.acquired_at})`.replace('cortex  (', 'cortex (');
}

/**
 * One record per execution, whatever a crash left: a finished record still in active/ (killed
 * between its last write and its move) is completed (metrics counted once) and moved to
 * history/; a history/ copy older than an active/ record (left by an older cortex) is removed.
 * Runs under the execution's lock.
 */
async function reconcile(deps: EngineDeps, id: string): Promise<{ record: ExecutionRecord; location: 'active' | 'history' }> {
  const both = await deps.store.readBothCopies(id);
  if (both.active) {
    if (isTerminal(both.active.status)) {
      await completeEnded(deps, both.active);
      return { record: both.active, location: 'history' };
    }
    if (both.history) await deps.store.discardHistoryCopy(id);
    // The file lags its journal (the process that ran it was killed): written whole now, by the
    // process that holds the execution, so that the file says what ran again.
    if (both.activeLags) await deps.store.writeExecution(both.active);
    return { record: both.active, location: 'active' };
  }
  if (both.history) return { record: both.history, location: 'history' };
  throw new NotFoundError(`no execution ${id} in active/ or history/`, { hint: 'cortex status; cortex history' });
}

/**
 * Runs `fn` with the execution's lock held and its record read again under the lock, so two
 * operator commands never act on the same state: the one that does not get the lock fails (exit
 * 3) naming who works on the execution and its state now.
 */
export async function withExecution<T>(app: App, id: string, fn: (held: HeldExecution) => Promise<T>): Promise<T> {
  assertExecutionId(id);
  await ensureRoot(app.root);
  const deps = app.sessions.base();
  if (!(await deps.store.readExecution(id))) {
    throw new NotFoundError(`no execution ${id} in active/ or history/`, { hint: 'cortex status; cortex history' });
  }
  const key = `${app.root.dir}\0${id}`;
  if (heldHere.has(key)) throw await lockedError(app, id, heldHere.get(key));
  let lock: HeldLock;
  for (let attempt = 1; ; attempt++) {
    try {
      lock = await deps.locks.acquire(`execution-${id}`, { execution_id: id, pid: deps.identity.pid, host: deps.identity.host, command: app.command });
      break;
    } catch (e) {
      if (!(e instanceof StateConflictError)) throw e;
      const holder = await holderOf(deps, `execution-${id}`);
      // The holder finished between the refusal and the look (its lock is gone): this command
      // acts on the state it left, under the lock, rather than naming a holder that is no more.
      if (holder || attempt >= RELEASED_RETRIES || (await deps.locks.isLocked(`execution-${id}`))) throw await lockedError(app, id, holder);
    }
  }
  // Held for the process too: a process that drives several executions (a queue worker, serve)
  // must never drive one twice, even when its lock was broken as stale under it (a starved
  // event loop leaves the lock's mtime unrefreshed) or its queue hands it the same job again.
  heldHere.set(key, { execution_id: id, pid: deps.identity.pid, host: deps.identity.host, command: app.command, acquired_at: deps.clock.now().toISOString() });
  try {
    const { record, location } = await reconcile(deps, id);
    return await fn({ record, location, deps, lock });
  } finally {
    heldHere.delete(key);
    await lock.release();
  }
}

/** How many times a command tries the lock when each refusal finds it released a moment later. */
const RELEASED_RETRIES = 3;

/** Executions held by this process (root and id), with who holds each. */
const heldHere = new Map<string, LockOwner>();

/** How long a refused command waits for the holder's owner file (written just after the lock). */
const OWNER_WAIT_MS = 2000;

/**
 * Who holds a lock. The owner file is written just after the lock directory, so a command that
 * lost the race by a hair finds no owner yet: it waits for it (briefly) rather than saying
 * "another cortex process" where the operator needs to know it was a rollback. A lock released
 * meanwhile has no owner to wait for.
 */
export async function holderOf(deps: Pick<EngineDeps, 'locks' | 'clock'>, name: string): Promise<LockOwner | undefined> {
  const deadline = deps.clock.now().getTime() + OWNER_WAIT_MS;
  for (;;) {
    const holder = await deps.locks.holder(name);
    if (holder || deps.clock.now().getTime() >= deadline || !(await deps.locks.isLocked(name))) return holder;
    await deps.clock.sleep(25);
  }
}

async function lockedError(app: App, id: string, holder: LockOwner | undefined): Promise<ExecutionLockedError> {
  const now = (await app.sessions.base().store.readExecution(id).catch(() => undefined))?.record;
  const state = now ? `is ${now.status}` : 'exists';
  const rolling = now?.status === 'rolling_back' || holder?.command === 'rollback';
  return new ExecutionLockedError(
    `execution ${id} ${state} and is being worked on by ${describeHolder(holder)}`,
    now,
    holder,
    rolling ? `wait for the rollback to end: cortex status ${id}` : `wait for it (cortex status ${id}), or stop it: cortex cancel ${id}`,
  );
}

function sameShape(def: LoadedWorkflow['definition'], rec: ExecutionRecord): boolean {
  if (def.phases.length !== rec.phases.length) return false;
  return def.phases.every((p, i) => {
    const r = rec.phases[i];
    return r !== undefined && r.phase_id === p.phase_id && p.actions.length === r.actions.length && p.actions.every((a, j) => r.actions[j]?.action_id === a.action_id);
  });
}

/**
 * What is needed to continue an execution: the current definition of its workflow (refused when
 * its phases and actions no longer match the record), the config, and the parameters it started
 * with. Secret parameters were masked in the record: they must be given again with -p.
 */
export async function loadForContinue(app: App, record: ExecutionRecord, paramOverrides: string[] = []): Promise<{ prep: DrivePrep; warnings: string[] }> {
  const { catalogue, config: baseConfig, loaded } = await loadDefinitions(app, record.workflow_id);
  const warnings: string[] = [];
  if (!sameShape(loaded.definition, record)) {
    throw new StateConflictError(`the definition of "${record.workflow_id}" (${loaded.displayPath}) no longer has the phases and actions execution ${record.execution_id} ran with`, {
      hint: 'restore the definition it ran with (its hash is in the record) to continue or roll it back',
    });
  }
  if (loaded.hash !== record.definition.hash) warnings.push(`${loaded.displayPath} changed since ${record.execution_id} started (hash ${record.definition.hash.slice(7, 19)} -> ${loaded.hash.slice(7, 19)})`);
  const params: Record<string, unknown> = JSON.parse(JSON.stringify(record.parameters)) as Record<string, unknown>;
  const secretValues: string[] = [];
  for (const { key, raw } of parseParamAssignments(paramOverrides)) {
    const spec = loaded.definition.parameters?.[key.split('.')[0] as string];
    if (!spec) throw new UsageError(`unknown parameter "${key}" for ${record.workflow_id}`);
    try {
      params[key] = spec.type === 'string' ? raw : parseJsonBounded(raw);
    } catch (e) {
      if (e instanceof TooDeepError) throw new UsageError(`parameter "${key}": ${e.message}`);
      throw new UsageError(`parameter "${key}" expects a ${spec.type} value (JSON), got ${JSON.stringify(raw)}`);
    }
    const bad = unrecordableText(params[key]);
    if (bad) throw new UsageError(`parameter "${key}"${bad}`);
    if (spec.secret) secretValues.push(raw);
  }
  for (const [name, spec] of Object.entries(loaded.definition.parameters ?? {})) {
    if (spec.secret && params[name] === '***') {
      throw new UsageError(`parameter "${name}" is secret and was not recorded: give it again with -p ${name}=...`);
    }
  }
  return { prep: { loaded, catalogue, impls: createImplementationRegistry(), config: baseConfig, params, secretValues }, warnings };
}
