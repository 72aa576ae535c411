import type { ExecutionRecord } from '../model/records.js';

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

/** True when an approval of this (active) record has passed its approval_timeout. */
export function hasExpiredApproval(record: ExecutionRecord, now: Date): boolean {
  return record.status === 'awaiting_approval' && record.phases.some((p) => p.status === 'awaiting_approval' && !p.approval?.decision && p.approval?.expires_at && Date.parse(p.approval.expires_at) <= now.getTime());
}
