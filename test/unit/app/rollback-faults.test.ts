import { describe, expect, it } from 'vitest';
import { afterRejection, assertFaultsNameSteps } from '../../../src/app/rollback-faults.js';
import type { ExecutionRecord } from '../../../src/model/records.js';

const rec = { phases: [{ phase_id: 'review', actions: [{ action_id: 'task' }] }] } as unknown as ExecutionRecord;

describe('--simulate-fail after a rejection', () => {
  it('of the waiting phase: the workflow\'s rollback; of a person\'s task: what its on_error does', () => {
    expect(afterRejection(rec, undefined, undefined)).toEqual({ kind: 'rollback', scope: 'workflow' });
    expect(afterRejection(rec, 'rollback', 'task')).toEqual({ kind: 'rollback', scope: 'workflow' });
    expect(afterRejection(rec, 'rollback_workflow', 'task')).toEqual({ kind: 'rollback', scope: 'workflow' });
    expect(afterRejection(rec, 'rollback_deployment', 'task')).toEqual({ kind: 'rollback', scope: 'phase', phaseId: 'review' });
    for (const goesOn of ['skip_action', 'continue_phase', 'alert_only', 'skip_phase']) expect(afterRejection(rec, goesOn, 'task')).toEqual({ kind: 'run' });
    expect(afterRejection(rec, 'pause', 'task')).toMatchObject({ kind: 'nothing', why: expect.stringContaining('on_error pause') });
    expect(afterRejection(rec, undefined, 'task')).toMatchObject({ kind: 'nothing', why: expect.stringContaining('on_error fail_workflow') });
  });

  it('an id must name a step the rollback runs; one an earlier rollback did is named as such', () => {
    const steps = { toRun: ['undo-b', 'procedure-p'], done: ['undo-a'] };
    expect(() => assertFaultsNameSteps('x-1', steps, ['undo-b', 'procedure-p:2', 'undo-b/step'])).not.toThrow();
    expect(() => assertFaultsNameSteps('x-1', steps, ['b'])).toThrow('--simulate-fail names no rollback step of x-1: "b"');
    expect(() => assertFaultsNameSteps('x-1', steps, ['undo-a'])).toThrow(/that an earlier rollback did/);
    let error: unknown;
    try {
      assertFaultsNameSteps('x-1', { toRun: [], done: [] }, ['undo-a']);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'CORTEX_USAGE', exitCode: 2, hint: 'its rollback runs no step (cortex rollback x-1 --dry-run lists them)' });
  });
});
