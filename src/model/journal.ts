import type { ActionRecord, ExecutionRecord, PhaseRecord } from './records.js';

/**
 * The execution journal (`state/journal/workflow-<id>.journal`, schemas/execution-journal.schema.json):
 * line 1 names the SHA-256 of the record file's bytes it continues from; each further line is
 * what one step changed. Pure: building and applying entries; the files are the adapters'.
 */

/** Line 1 of a journal. */
export interface JournalBase {
  base: string;
}

/** What one step changed: every top-level field but `phases`, and the phases and actions it touched, by index. */
export interface JournalEntry {
  record: Omit<ExecutionRecord, 'phases'>;
  phases: Array<{ index: number; phase: Omit<PhaseRecord, 'actions'>; actions: Array<{ index: number; action: ActionRecord }> }>;
}

/** Where an action record sits in its execution record. */
export interface ActionPosition {
  phase: number;
  action: number;
}

/** The journal entry of a step that changed the top-level fields and the actions at `changed` (and their phases' heads). */
export function journalEntry(record: ExecutionRecord, changed: readonly ActionPosition[]): JournalEntry {
  const { phases, ...top } = record;
  const byPhase = new Map<number, Set<number>>();
  for (const c of changed) {
    let set = byPhase.get(c.phase);
    if (!set) byPhase.set(c.phase, (set = new Set()));
    set.add(c.action);
  }
  return {
    record: top,
    phases: [...byPhase].sort(([a], [b]) => a - b).map(([index, actions]) => {
      const { actions: all, ...head } = phases[index] as PhaseRecord;
      return { index, phase: head, actions: [...actions].sort((a, b) => a - b).map((j) => ({ index: j, action: all[j] as ActionRecord })) };
    }),
  };
}

/** Copies `from`'s keys into a new object, with `key: value` where `after` was (or at the end). */
function withKeyAfter<T extends object>(from: object, after: string, key: string, value: unknown): T {
  const out: Record<string, unknown> = {};
  let placed = false;
  for (const [k, v] of Object.entries(from)) {
    if (k === key) continue;
    out[k] = v;
    if (k === after) {
      out[key] = value;
      placed = true;
    }
  }
  if (!placed) out[key] = value;
  return out as T;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndex = (v: unknown, length: number): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) < length;

/**
 * The record after one journal entry: its top-level fields replaced by the entry's, the touched
 * phase heads and action records replaced. Returns undefined (nothing applied) when the value is
 * not an entry that fits this record (a damaged line).
 */
export function applyJournalEntry(record: ExecutionRecord, value: unknown): ExecutionRecord | undefined {
  if (!isObject(value) || !isObject(value.record) || 'phases' in value.record || !Array.isArray(value.phases)) return undefined;
  const phases = [...record.phases];
  for (const p of value.phases as unknown[]) {
    if (!isObject(p) || !isIndex(p.index, phases.length) || !isObject(p.phase) || 'actions' in p.phase || !Array.isArray(p.actions)) return undefined;
    const old = phases[p.index] as PhaseRecord;
    const actions = [...old.actions];
    for (const a of p.actions as unknown[]) {
      if (!isObject(a) || !isIndex(a.index, actions.length) || !isObject(a.action)) return undefined;
      actions[a.index] = a.action as unknown as ActionRecord;
    }
    phases[p.index] = withKeyAfter<PhaseRecord>(p.phase, 'status', 'actions', actions);
  }
  // `phases` where a record written by cortex has it (after current_action).
  return withKeyAfter<ExecutionRecord>(value.record, 'current_action', 'phases', phases);
}
