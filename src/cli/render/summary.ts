import type { ExecutionRecord } from '../../model/records.js';
import type { Output } from '../output.js';

function dur(s: number | null | undefined): string {
  if (s === null || s === undefined) return '-';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${Math.round(s % 60)}s` : `${Math.floor(m / 60)}h${m % 60}m`;
}

/** Compact end-of-run summary: one line per phase, the outcome, and where the record is. */
export function printSummary(out: Output, rec: ExecutionRecord): void {
  if (out.json) {
    out.data({
      execution_id: rec.execution_id,
      workflow_id: rec.workflow_id,
      status: rec.status,
      status_reason: rec.status_reason ?? null,
      duration_seconds: rec.duration_seconds ?? null,
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
    out.line(`  ${p.phase_id.padEnd(24)} ${p.status.padEnd(18)} ${dur(p.duration_seconds).padStart(7)}  ${s.dim(detail)}`);
  }
  const colour = rec.status === 'completed' ? s.green : rec.status === 'awaiting_approval' || rec.status === 'paused' ? s.yellow : s.red;
  out.line('');
  out.line(`${colour(rec.status)} ${rec.execution_id}${rec.duration_seconds !== null && rec.duration_seconds !== undefined ? ` in ${dur(rec.duration_seconds)}` : ''}`);
  if (rec.status_reason && rec.status !== 'completed') out.line(rec.status_reason);
  if (rec.rollback_required && !rec.rollback) out.line(`rollback required: cortex rollback ${rec.execution_id}`);
  out.line(s.dim(`details: cortex status ${rec.execution_id}`));
}
