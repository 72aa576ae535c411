import type { ExecutionRecord, ExecutionSummary } from '../model/records.js';

function durationOf(from?: string | null, to?: string | null): number {
  if (!from || !to) return 0;
  return Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 10) / 100);
}

/** What the metrics keep of a finished execution (one ledger line). */
export function buildSummary(rec: ExecutionRecord): ExecutionSummary {
  const finished = rec.finished_at ?? rec.updated_at;
  const contractors: ExecutionSummary['contractors'] = {};
  const actions: ExecutionSummary['actions'] = [];
  const errors: ExecutionSummary['errors'] = [];
  for (const phase of rec.phases) {
    const c = (contractors[phase.contractor] ??= { duration_seconds: 0, errors: 0 });
    c.duration_seconds += phase.duration_seconds ?? durationOf(phase.started_at, phase.finished_at);
    for (const a of phase.actions) {
      if (a.attempts.length === 0 && a.status !== 'completed') continue;
      const failed = a.status !== 'completed';
      const entry: ExecutionSummary['actions'][number] = {
        contractor: phase.contractor,
        action: a.action,
        status: a.status,
        duration_seconds: a.duration_seconds ?? durationOf(a.started_at, a.finished_at),
      };
      if (failed && a.error) {
        entry.error_code = a.error.code;
        entry.error_message = a.error.message.slice(0, 300);
        c.errors++;
        errors.push({ error: a.error.code, contractor: phase.contractor, message: a.error.message.slice(0, 300) });
      }
      actions.push(entry);
    }
  }
  for (const c of Object.values(contractors)) c.duration_seconds = Math.round(c.duration_seconds * 100) / 100;
  const handoffs: ExecutionSummary['handoffs'] = [];
  rec.phases.forEach((p, i) => {
    if (!p.handoff_out) return;
    const receiver = rec.phases.slice(i + 1).find((q) => q.handoff_in === p.handoff_out);
    handoffs.push({
      from: p.contractor,
      to: receiver?.contractor ?? 'unknown',
      status: receiver ? (receiver.status === 'completed' ? 'completed' : 'failed') : 'failed',
      latency_seconds: receiver?.started_at && p.finished_at ? durationOf(p.finished_at, receiver.started_at) : null,
    });
  });
  return {
    execution_id: rec.execution_id,
    workflow_id: rec.workflow_id,
    workflow_name: rec.workflow_name,
    status: rec.status,
    started_at: rec.started_at,
    finished_at: finished,
    duration_seconds: rec.duration_seconds ?? durationOf(rec.started_at, finished),
    contractors,
    actions,
    errors,
    handoffs,
  };
}
