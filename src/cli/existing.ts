import { StateConflictError, UsageError } from '../errors.js';
import { loadCatalogue } from '../contractors/load-catalogue.js';
import { createImplementationRegistry } from '../contractors/registry.js';
import { findWorkflow } from '../definitions/repository.js';
import type { LoadedWorkflow } from '../definitions/types.js';
import { parseParamAssignments } from '../definitions/parameters.js';
import { liveStatus } from '../engine/live-status.js';
import type { ExecutionRecord } from '../engine/records.js';
import { ensureRoot } from '../root.js';
import type { CommandContext } from './context.js';
import { loadRootConfig, type PreparedWorkflow } from './prepare.js';
import { openStore, processCheck } from './state.js';
import { readExecutionOrThrow } from './commands/status.js';

export interface Existing {
  record: ExecutionRecord;
  location: 'active' | 'history';
  prep: Pick<PreparedWorkflow, 'loaded' | 'catalogue' | 'impls' | 'config' | 'params'>;
  /** running/rolling_back with its process alive: another cortex is working on it. */
  isLive: boolean;
  warnings: string[];
}

function sameShape(def: LoadedWorkflow['definition'], rec: ExecutionRecord): boolean {
  if (def.phases.length !== rec.phases.length) return false;
  return def.phases.every((p, i) => {
    const r = rec.phases[i];
    return r !== undefined && r.phase_id === p.phase_id && p.actions.length === r.actions.length && p.actions.every((a, j) => r.actions[j]?.action_id === a.action_id);
  });
}

/**
 * An execution and what is needed to continue it: its record, the current definition of its
 * workflow (refused when its phases and actions no longer match the record), the config, and the
 * parameters it started with. Secret parameters were masked in the record: they must be given
 * again with -p.
 */
export async function loadExisting(ctx: CommandContext, id: string, paramOverrides: string[] = []): Promise<Existing> {
  await ensureRoot(ctx.root);
  const state = await openStore(ctx);
  const { record, location } = await readExecutionOrThrow(state, id);
  const catalogue = await loadCatalogue(ctx.root.dir);
  const loaded = await findWorkflow(ctx.root.dir, record.workflow_id, catalogue);
  const warnings: string[] = [];
  if (!sameShape(loaded.definition, record)) {
    throw new StateConflictError(`the definition of "${record.workflow_id}" (${loaded.displayPath}) no longer has the phases and actions execution ${id} ran with`, {
      hint: 'restore the definition it ran with (its hash is in the record) to continue or roll it back',
    });
  }
  if (loaded.hash !== record.definition.hash) warnings.push(`${loaded.displayPath} changed since ${id} started (hash ${record.definition.hash.slice(7, 19)} -> ${loaded.hash.slice(7, 19)})`);
  const params: Record<string, unknown> = JSON.parse(JSON.stringify(record.parameters)) as Record<string, unknown>;
  for (const { key, raw } of parseParamAssignments(paramOverrides)) {
    const spec = loaded.definition.parameters?.[key.split('.')[0] as string];
    if (!spec) throw new UsageError(`unknown parameter "${key}" for ${record.workflow_id}`);
    params[key] = spec.type === 'string' ? raw : JSON.parse(raw);
  }
  for (const [name, spec] of Object.entries(loaded.definition.parameters ?? {})) {
    if (spec.secret && params[name] === '***') {
      throw new UsageError(`parameter "${name}" is secret and was not recorded: give it again with -p ${name}=...`);
    }
  }
  const shown = location === 'active' ? liveStatus(record, { isProcessAlive: processCheck() }) : record.status;
  const isLive = location === 'active' && (record.status === 'running' || record.status === 'rolling_back') && shown !== 'interrupted';
  const config = await loadRootConfig(ctx);
  return { record, location, prep: { loaded, catalogue, impls: createImplementationRegistry(), config, params }, isLive, warnings };
}

export function assertNotLive(ex: Existing): void {
  if (ex.isLive) {
    const p = ex.record.process;
    throw new StateConflictError(`execution ${ex.record.execution_id} is ${ex.record.status} in another process (pid ${p?.pid} on ${p?.host})`, {
      hint: `wait for it, or stop it first: cortex cancel ${ex.record.execution_id}`,
    });
  }
}

/** Marks approvals whose approval_timeout has passed as expired. Returns true when one expired. */
export function expireApprovals(record: ExecutionRecord, now: Date): boolean {
  let changed = false;
  for (const p of record.phases) {
    const a = p.approval;
    if (p.status !== 'awaiting_approval' || !a || a.decision || !a.expires_at) continue;
    if (Date.parse(a.expires_at) > now.getTime()) continue;
    a.decision = 'expired';
    a.decided_by = 'cortex';
    a.decided_at = now.toISOString();
    a.comment = `approval_timeout passed at ${a.expires_at}`;
    (record.approvals ??= []).push({ time: now.toISOString(), decision: 'expired', phase_id: p.phase_id, user: 'cortex', comment: a.comment });
    changed = true;
  }
  return changed;
}
