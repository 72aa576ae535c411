import type { EngineDeps } from '../engine/deps.js';
import type { AuditEntry } from '../ports/state-store.js';

/** One line in coordination/audit/audit.jsonl for an operator act (never fails the command). */
export async function audit(deps: EngineDeps, entry: Omit<AuditEntry, 'time' | 'user' | 'host'>): Promise<void> {
  try {
    await deps.store.appendAudit({ time: deps.clock.now().toISOString(), user: deps.identity.user, host: deps.identity.host, ...entry });
  } catch (e) {
    deps.emit({ kind: 'warning', message: `could not write the audit trail: ${(e as Error).message}` });
  }
}
