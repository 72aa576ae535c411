/**
 * Re-runs of an action after an interruption (issue 10): what the first attempt observed is kept
 * (rt.remember), an interrupted action is named with what it may have left, and a rollback
 * compensates it when its compensation needs nothing the action did not record.
 */
import { describe, expect, it } from 'vitest';
import type { ActionImpl, ImplementationRegistry } from '../../../src/contractors/action-impl.js';
import { createImplementationRegistry } from '../../../src/contractors/registry.js';
import type { ActionSpec } from '../../../src/model/catalogue.js';
import { runRollback } from '../../../src/engine/rollback.js';
import { Execution } from '../../../src/engine/run-workflow.js';
import { actionRec, cmd, harness, phase, workflow } from './engine-helper.js';
import { fakeDeps } from '../../fakes/fakes.js';

/** execute_command replaced by `impl`; every other action as registered. */
function withImpl(impl: ActionImpl): ImplementationRegistry {
  const real = createImplementationRegistry();
  return { has: (s: ActionSpec) => real.has(s), get: async (s: ActionSpec) => (s.name === 'execute_command' ? impl : real.get(s)) };
}

describe('a re-run keeps what the first attempt observed', () => {
  it('rt.remember returns the first attempt\'s value after an interruption and a resume', async () => {
    // The "world": a release whose revision the action bumps; it records the revision it found.
    let revision = 0;
    const stop = new AbortController();
    const impl: ActionImpl = {
      plan: () => [],
      async run(rt) {
        const previous = await rt.remember('previous_revision', async () => revision);
        revision++;
        if (!stop.signal.aborted) {
          // Killed after its change took effect, before it could report.
          stop.abort(new Error('SIGKILL'));
          await rt.sleep(60_000);
        }
        return { previous_revision: previous, revision };
      },
    };
    const def = workflow([phase('p', [cmd('install', ['x'])])]);
    const deps = fakeDeps();
    const first = harness(def, { deps, signal: stop.signal });
    first.ctx.impls = withImpl(impl);
    const rec = await first.run();
    expect(rec.status).toBe('paused');
    expect(actionRec(rec, 'install').status).toBe('interrupted');
    expect(actionRec(rec, 'install').observed).toEqual({ previous_revision: 0 });
    expect(revision).toBe(1);
    // Resume in a new process: the record as written, a fresh Execution.
    const saved = (await deps.store.readExecution(rec.execution_id))?.record;
    expect(saved?.phases[0]?.actions[0]?.observed).toEqual({ previous_revision: 0 });
    const second = harness(def, { deps, record: saved, resume: { retryAction: 'install' } });
    second.ctx.impls = withImpl(impl);
    const done = await second.run();
    expect(done.status).toBe('completed');
    expect(actionRec(done, 'install').outputs).toEqual({ previous_revision: 0, revision: 2 });
  });

  it('the observation is on disk before the action changes anything', async () => {
    const deps = fakeDeps();
    let seenOnDisk: unknown;
    const impl: ActionImpl = {
      plan: () => [],
      async run(rt) {
        await rt.remember('existed', async () => false);
        seenOnDisk = deps.store.writes.at(-1)?.phases[0]?.actions[0]?.observed;
        return {};
      },
    };
    const h = harness(workflow([phase('p', [cmd('create', ['x'])])]), { deps });
    h.ctx.impls = withImpl(impl);
    await h.run();
    expect(seenOnDisk).toEqual({ existed: false });
  });
});

describe('an action stopped mid-run', () => {
  it('is named in the record with what it may have left, and a rollback runs its compensation when it needs no outputs', async () => {
    const stop = new AbortController();
    const deps = fakeDeps();
    deps.runner.on('ok', [], { exitCode: 0 });
    deps.runner.on('undo', [], { exitCode: 0 });
    deps.runner.on('slow', [], async (_args, opts) => {
      stop.abort(new Error('cancelled'));
      return { exitCode: null, signal: 'SIGTERM', aborted: Boolean(opts?.signal?.aborted) };
    });
    const def = workflow([
      phase('p', [
        cmd('first', ['ok'], { compensation: { action: 'execute_command', parameters: { command: ['undo', 'first'] } } }),
        cmd('half', ['slow'], { compensation: { action: 'execute_command', parameters: { command: ['undo', 'half'] } } }),
      ]),
    ]);
    const h = harness(def, { deps, signal: stop.signal });
    const rec = await h.run();
    expect(actionRec(rec, 'half').status).toBe('interrupted');
    expect(rec.interrupted_actions).toEqual([expect.objectContaining({ action_id: 'half', action: 'execute_command', note: expect.stringMatching(/stopped mid-run and may have left part of its change \(what execute_command undoes\)/) })]);
    expect(actionRec(rec, 'half').interrupted_note).toMatch(/cortex rollback/);

    const again = new Execution(deps, { ...h.ctx, signal: new AbortController().signal }, rec);
    await runRollback(again, 'workflow', 'operator');
    expect(rec.rollback?.steps.map((s) => [s.step_id, s.status])).toEqual([
      ['undo-half', 'completed'],
      ['undo-first', 'completed'],
    ]);
    expect(deps.runner.calls.filter((c) => c.command === 'undo').map((c) => c.args[0])).toEqual(['half', 'first']);
  });

  it('a stopped action whose compensation needs its outputs is named as not undone', async () => {
    const stop = new AbortController();
    const deps = fakeDeps();
    deps.runner.on('slow', [], async () => {
      stop.abort(new Error('cancelled'));
      return { exitCode: null, signal: 'SIGTERM', aborted: true };
    });
    const def = workflow([phase('p', [cmd('half', ['slow'], { compensation: { action: 'execute_command', parameters: { command: ['undo', '${output.stdout}'] } } })])]);
    const h = harness(def, { deps, signal: stop.signal });
    const rec = await h.run();
    const again = new Execution(deps, { ...h.ctx, signal: new AbortController().signal }, rec);
    await runRollback(again, 'workflow', 'operator');
    expect(rec.rollback?.steps).toEqual([]);
    expect(rec.rollback?.not_undone).toEqual([expect.stringMatching(/^half \(execute_command\) was stopped mid-run before it recorded what execute_command needs/)]);
  });
});
