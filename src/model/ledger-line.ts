import type { ExecutionSummary } from './records.js';

/**
 * The lines of the metrics ledger (`workflows/metrics/executions.jsonl`, one ExecutionSummary per
 * line), read the one way every reader of it shares: the metrics at the end of a run
 * (adapters/fs-state-store.ts, adapters/metrics-ledger.ts) and `cortex metrics --prometheus`.
 * Pure: no I/O.
 */

/** The statuses of an execution that has ended; only those are counted in the metrics. */
export const ENDED_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'rolled_back', 'rollback_failed', 'cancelled']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isOptionalString(value: unknown): boolean {
  return value === undefined || typeof value === 'string';
}

function isOptionalArray(value: unknown): value is unknown[] | undefined | null {
  return value === undefined || value === null || Array.isArray(value);
}

/**
 * Whether every field the metrics read has the type cortex writes. A line that is not is damaged
 * (cortex never writes one): it is unreadable, not counted (the computations would throw on it or
 * count it as nothing cortex wrote), and the fold of the index is exact for every other line.
 */
export function isRegularSummary(s: ExecutionSummary): boolean {
  const raw = s as unknown as Record<string, unknown>;
  if (typeof raw.execution_id !== 'string' || raw.execution_id.includes('\n') || raw.execution_id === '' || typeof raw.status !== 'string') return false;
  if (!ENDED_STATUSES.has(raw.status)) return true;
  if (typeof raw.workflow_id !== 'string' || typeof raw.finished_at !== 'string' || !isOptionalString(raw.workflow_name)) return false;
  if (raw.contractors !== undefined && raw.contractors !== null) {
    if (!isRecord(raw.contractors)) return false;
    for (const perf of Object.values(raw.contractors)) {
      if (!isRecord(perf)) return false;
      if (perf.errors !== undefined && perf.errors !== null && !(typeof perf.errors === 'number' && Number.isFinite(perf.errors))) return false;
    }
  }
  if (!isOptionalArray(raw.errors) || !isOptionalArray(raw.actions) || !isOptionalArray(raw.handoffs)) return false;
  for (const e of raw.errors ?? []) {
    if (!isRecord(e) || typeof e.error !== 'string' || typeof e.contractor !== 'string') return false;
  }
  for (const a of raw.actions ?? []) {
    if (!isRecord(a) || typeof a.status !== 'string' || typeof a.contractor !== 'string' || typeof a.action !== 'string') return false;
    if (!isOptionalString(a.error_code) || !isOptionalString(a.error_message)) return false;
  }
  for (const h of raw.handoffs ?? []) if (!isRecord(h)) return false;
  return true;
}

/**
 * The summaries of a ledger text, and its lines that are not one: a line cut by a crashed writer
 * (that execution appends a whole line when it is completed again), or a damaged one (not JSON, or
 * a field of another type than cortex writes: isRegularSummary).
 */
export function parseLedger(text: string): { summaries: ExecutionSummary[]; unreadable: string[] } {
  const summaries: ExecutionSummary[] = [];
  const unreadable: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const value = JSON.parse(line) as ExecutionSummary;
      if (value && typeof value === 'object' && !Array.isArray(value) && isRegularSummary(value)) {
        summaries.push(value);
        continue;
      }
    } catch {
      // below
    }
    unreadable.push(line);
  }
  return { summaries, unreadable };
}
