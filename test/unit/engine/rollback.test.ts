import { describe, expect, it } from 'vitest';
import { runRollback } from '../../../src/engine/rollback.js';
import { Execution } from '../../../src/engine/run-workflow.js';
import { cmd, harness, phase, workflow } from './engine-helper.js';
import { fakeDeps } from '../../fakes/fakes.js';

/** An execute_command action whose compensation runs `undo <id> <its stdout>`. */
const undoable = (id: string, argv: string[], extra: Record<string, unknown> = {}) =>
  cmd(id, argv, { compensation: { action: 'execute_command', parameters: { command: ['undo', id, '${output.exit_code}'] } }, ...extra });

function deps() {
  const d = fakeDeps();
  d.runner.on('ok', [], { exitCode: 0, stdout: 'fine' });
  d.runner.on('bad', [], { exitCode: 1, stderr: 'broken' });
  d.runner.on('undo', [], { exitCode: 0 });
  return d;
}

const undoCalls = (d: ReturnType<typeof deps>) => d.runner.calls.filter((c) => c.command === 'undo').map((c) => c.args[0]);
const rollback = { rollback: (exec: Execution, scope: 'workflow' | 'phase', reason: string, phaseId?: string) => runRollback(exec, scope, reason, phaseId) };

describe('rollback', () => {
  it('on_error rollback undoes exactly the completed actions, newest first, and ends rolled_back', async () => {
    const d = deps();
    const def = workflow([phase('p1', [undoable('a1', ['ok']), undoable('a2', ['ok'])]), phase('p2', [undoable('a3', ['ok']), undoable('a4', ['bad'], { on_error: 'rollback' }), undoable('a5', ['ok'])])]);
    const rec = await harness(def, { deps: d, ...rollback }).run();
    expect(undoCalls(d)).toEqual(['a3', 'a2', 'a1']);
    expect(rec.status).toBe('rolled_back');
    expect(rec.rollback).toMatchObject({ status: 'completed', scope: 'workflow' });
    expect(rec.rollback?.steps.map((s) => [s.step_id, s.status])).toEqual([
      ['undo-a3', 'completed'],
      ['undo-a2', 'completed'],
      ['undo-a1', 'completed'],
    ]);
    expect(rec.rollback?.steps[0]?.parameters).toMatchObject({ command: ['undo', 'a3', 0] });
    expect(d.store.history.has(rec.execution_id)).toBe(true);
  });

  it('rollback_deployment undoes only the current phase and leaves the execution failed', async () => {
    const d = deps();
    const def = workflow([phase('p1', [undoable('a1', ['ok'])]), phase('p2', [undoable('a2', ['ok']), undoable('a3', ['bad'], { on_error: 'rollback_deployment' })])]);
    const rec = await harness(def, { deps: d, ...rollback }).run();
    expect(undoCalls(d)).toEqual(['a2']);
    expect(rec.status).toBe('failed');
    expect(rec.rollback).toMatchObject({ scope: 'phase', status: 'completed' });
    expect(rec.rollback_required).toBe(true);
  });

  it('a failed compensation does not stop the others; the record lists it and how to retry; a second run retries only it', async () => {
    const d = deps();
    d.runner.on('undo', ['a2'], { exitCode: 1, stderr: 'cannot undo' });
    const def = workflow([phase('p1', [undoable('a1', ['ok']), undoable('a2', ['ok']), undoable('a3', ['ok']), cmd('boom', ['bad'], { on_error: 'rollback_workflow' })])]);
    const rec = await harness(def, { deps: d, ...rollback }).run();
    expect(rec.status).toBe('rollback_failed');
    expect(rec.rollback?.steps.map((s) => s.status)).toEqual(['completed', 'failed', 'completed']);
    expect(rec.rollback?.steps[1]?.attempts).toHaveLength(3);
    expect(rec.rollback?.steps[1]?.retry_command).toBe(`cortex rollback ${rec.execution_id}`);
    expect(rec.rollback?.not_undone?.[0]).toMatch(/undo-a2/);
    // The cause is fixed; rollback again: only a2 is undone this time.
    d.runner.on('undo', ['a2'], { exitCode: 0 });
    const before = undoCalls(d).length;
    const h = harness(def, { deps: d, record: JSON.parse(JSON.stringify(rec)), ...rollback });
    await runRollback(h.exec, 'workflow', 'operator asked');
    await h.exec.finalize();
    expect(undoCalls(d).slice(before)).toEqual(['a2']);
    expect(h.record.status).toBe('rolled_back');
  });

  it('runs the rollback procedure in the order given, then the remaining compensations', async () => {
    const d = deps();
    d.runner.on('notify', [], { exitCode: 0 });
    const def = workflow(
      [phase('p1', [undoable('a1', ['ok'])]), { ...phase('p2', [undoable('a2', ['ok']), cmd('b', ['bad'], { on_error: 'rollback' })]), contractor: 'talos-contractor' }],
      {
        rollback_procedure: {
          phases: ['p1-rollback', { phase_id: 'tell', contractor: 'n8n-contractor', action: 'execute_command', parameters: { command: ['notify', '${workflow_id}'] } }, { phase_id: 'tell-talos', contractor: 'talos-contractor', action: 'execute_command', parameters: { command: ['notify', 'talos'] } }],
        },
      },
    );
    const rec = await harness(def, { deps: d, ...rollback }).run();
    expect(rec.rollback?.steps.map((s) => s.step_id)).toEqual(['undo-a1', 'procedure-tell-talos', 'undo-a2']);
    expect(d.runner.calls.filter((c) => c.command === 'notify').map((c) => c.args[0])).toEqual(['talos']);
    expect(rec.status).toBe('rolled_back');
  });

  it('compensation: false and read-only actions are not undone', async () => {
    const d = deps();
    const def = workflow([phase('p', [cmd('read', ['ok']), undoable('keep', ['ok'], { compensation: false }), undoable('x', ['ok']), cmd('boom', ['bad'], { on_error: 'rollback' })])]);
    const rec = await harness(def, { deps: d, ...rollback }).run();
    expect(undoCalls(d)).toEqual(['x']);
    expect(rec.status).toBe('rolled_back');
  });

  it('a rejected approval rolls back what completed', async () => {
    const d = deps();
    const def = workflow([phase('p1', [undoable('a1', ['ok'])]), phase('p2', [undoable('a2', ['ok'])], { requires_approval: true })]);
    let rec = await harness(def, { deps: d, ...rollback }).run();
    expect(rec.status).toBe('awaiting_approval');
    rec.phases[1]!.approval!.decision = 'rejected';
    rec = await harness(def, { deps: d, record: rec, ...rollback }).run();
    expect(rec.status).toBe('rolled_back');
    expect(undoCalls(d)).toEqual(['a1']);
  });
});
