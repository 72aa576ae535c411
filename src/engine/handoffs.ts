import { masterDir } from '../model/catalogue.js';
import type { PhaseDef, WorkflowDefinition } from '../definitions/types.js';
import type { ExecutionRecord, HandoffRecord, PhaseRecord } from '../model/records.js';

export function handoffId(executionId: string, fromPhase: string, toContractor: string): string {
  return `${executionId}-${fromPhase}-to-${masterDir(toContractor)}`;
}

/** The phase that receives a handoff to `contractor` from phase index `from`: the next phase it owns. */
export function receivingPhase(def: WorkflowDefinition, from: number, contractor: string): PhaseDef | undefined {
  return def.phases.slice(from + 1).find((p) => p.contractor === contractor);
}

/** List-form handoff_data: each key from the newest completed action of the phase that output it. */
export function collectListHandoff(keys: string[], phase: PhaseRecord): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const key of keys) {
    data[key] = null;
    for (const a of phase.actions) {
      if (a.status === 'completed' && a.outputs && Object.prototype.hasOwnProperty.call(a.outputs, key)) data[key] = a.outputs[key];
    }
  }
  return data;
}

export function newHandoff(
  record: ExecutionRecord,
  from: PhaseDef,
  to: string,
  toPhase: string | null,
  data: Record<string, unknown>,
  now: string,
  decision?: { expression: string; value: boolean },
): HandoffRecord {
  return {
    handoff_id: handoffId(record.execution_id, from.phase_id, to),
    from_contractor: from.contractor,
    to_contractor: to,
    task_id: record.execution_id,
    data,
    status: 'pending',
    execution_id: record.execution_id,
    workflow_id: record.workflow_id,
    from_phase: from.phase_id,
    to_phase: toPhase,
    ...(decision ? { decision } : {}),
    created_at: now,
    updated_at: now,
    picked_up_at: null,
    completed_at: null,
  };
}
