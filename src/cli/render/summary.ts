import type { ExecutionRecord } from '../../model/records.js';
import type { Output } from '../output.js';
import { isPausedForLeftovers } from '../../engine/leftovers.js';

function dur(s: number | null | undefined): string {
  if (s === null || s === undefined) return '-';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${Math.round(s % 60)}s` : `${Math.floor(m / 60)}h${m % 60}m`;
}

/** An action that did not do its work although the execution went on (on_error continue_phase, alert_only, skip_action, skip_phase). */
export interface Tolerated {
  phase_id: string;
  action_id: string;
  action: string;
  status: string;
  on_error: string | null;
  error: string | null;
}

/** What failed or was skipped because of a failure, in a run that went on (or ended). */
export function toleratedFailures(rec: ExecutionRecord): Tolerated[] {
  const out: Tolerated[] = [];
  for (const p of rec.phases) {
    for (const a of p.actions) {
      const failed = a.status === 'failed' || a.status === 'errored';
      const skippedAfterFailure = a.status === 'skipped' && (a.on_error_applied !== undefined || /failed/.test(a.skip_reason ?? ''));
      if (!failed && !skippedAfterFailure) continue;
      out.push({ phase_id: p.phase_id, action_id: a.action_id, action: a.action, status: a.status, on_error: a.on_error_applied ?? null, error: a.error?.message ?? a.skip_reason ?? null });
    }
  }
  return out;
}

/** `completed`, or `completed with N errors` when actions failed and on_error let it go on. */
export function outcomeOf(rec: ExecutionRecord): string {
  const n = toleratedFailures(rec).filter((t) => t.status !== 'skipped' || t.on_error !== null).length;
  if (rec.status === 'completed' && n > 0) return `completed with ${n} error${n === 1 ? '' : 's'}`;
  return rec.status;
}

/** How long the rollback took, when the record has one that ran (seconds). */
export function rollbackSeconds(rec: ExecutionRecord): number | null {
  const rb = rec.rollback;
  if (!rb?.started_at || !rb.finished_at) return null;
  return Math.max(0, Math.round((Date.parse(rb.finished_at) - Date.parse(rb.started_at)) / 10) / 100);
}

/** Compact end-of-run summary: one line per phase, the outcome, and where the record is. */
export function printSummary(out: Output, rec: ExecutionRecord): void {
  const tolerated = toleratedFailures(rec);
  if (out.json) {
    out.data({
      execution_id: rec.execution_id,
      workflow_id: rec.workflow_id,
      status: rec.status,
      outcome: outcomeOf(rec),
      errors: tolerated,
      status_reason: rec.status_reason ?? null,
      duration_seconds: rec.duration_seconds ?? null,
      rollback_duration_seconds: rollbackSeconds(rec),
      error: rec.error ?? null,
      rollback_required: rec.rollback_required ?? false,
      phases: rec.phases.map((p) => ({
        phase_id: p.phase_id,
        status: p.status,
        duration_seconds: p.duration_seconds ?? null,
        actions: p.actions.map((a) => ({ action_id: a.action_id, status: a.status, attempts: a.attempts.length, duration_seconds: a.duration_seconds ?? null, error: a.error ?? null })),
      })),
    });
    return;
  }
  const s = out.style;
  out.line('');
  for (const p of rec.phases) {
    const counts = new Map<string, number>();
    for (const a of p.actions) counts.set(a.status, (counts.get(a.status) ?? 0) + 1);
    const detail = [...counts].map(([k, v]) => `${v} ${k}`).join(', ');
    const bad = (counts.get('failed') ?? 0) + (counts.get('errored') ?? 0);
    // A phase whose actions failed under a tolerant on_error did not simply "complete".
    const shown = p.status === 'completed' && bad > 0 ? `completed, ${bad} failed` : p.status;
    out.line(`  ${p.phase_id.padEnd(24)} ${shown.padEnd(18)} ${dur(p.duration_seconds).padStart(7)}  ${s.dim(detail)}`);
  }
  if (tolerated.length) {
    out.line('');
    for (const t of tolerated) out.line(`  ${s.yellow(t.status)} ${t.phase_id}/${t.action_id} (${t.action})${t.on_error ? s.dim(` on_error ${t.on_error}`) : ''}${t.error ? `: ${t.error}` : ''}`);
  }
  const outcome = outcomeOf(rec);
  const colour = outcome === 'completed' ? s.green : rec.status === 'completed' || rec.status === 'awaiting_approval' || rec.status === 'paused' ? s.yellow : s.red;
  out.line('');
  // A rollback run later (cortex rollback, cancel --rollback) reports its own time: the execution's
  // duration is that of the run it undid.
  const rollbackTook = rollbackSeconds(rec);
  const ran = rec.duration_seconds !== null && rec.duration_seconds !== undefined ? dur(rec.duration_seconds) : null;
  const isLater = rollbackTook !== null && rec.finished_at !== null && rec.finished_at !== undefined && (rec.rollback?.finished_at ?? '') > rec.finished_at;
  const took = isLater
    ? `: rollback in ${dur(rollbackTook)}${ran ? ` (the run took ${ran})` : ''}`
    : `${ran ? ` in ${ran}` : ''}${rollbackTook !== null ? ` (rollback ${dur(rollbackTook)})` : ''}`;
  out.line(`${colour(outcome)} ${rec.execution_id}${took}`);
  if (rec.status_reason && rec.status !== 'completed') out.line(rec.status_reason);
  if (rec.rollback_required && !rec.rollback) out.line(`rollback required: cortex rollback ${rec.execution_id}`);
  if (rec.status === 'paused' && !isPausedForLeftovers(rec) && !/cortex resume/.test(rec.status_reason ?? '')) out.line(`continue: cortex resume ${rec.execution_id}, or undo: cortex rollback ${rec.execution_id}`);
  out.line(s.dim(`details: cortex status ${rec.execution_id}`));
}
