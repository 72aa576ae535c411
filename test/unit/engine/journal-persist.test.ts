import { describe, expect, it } from 'vitest';
import { actionRec, cmd, harness, phase, workflow } from './engine-helper.js';
import { fakeDeps } from '../../fakes/fakes.js';
import { REWRITE_AFTER_MS } from '../../../src/engine/run-workflow.js';

describe('engine: what goes to the journal and what is written whole', () => {
  it('each action start and end is one journal line; the run start, phase boundaries and the end are whole writes', async () => {
    const deps = fakeDeps();
    deps.runner.on('ok', [], { exitCode: 0, stdout: 'fine' });
    const h = harness(workflow([phase('p1', [cmd('a1', ['ok', '1']), cmd('a2', ['ok', '2'])]), phase('p2', [cmd('a3', ['ok', '3'])])]), { deps });
    await h.run();
    const { writes, writeKinds } = deps.store;
    const steps = writes.map((w, i) => `${writeKinds[i]} ${w.status} ${w.phases.map((p) => `${p.status}[${p.actions.map((a) => a.status).join(',')}]`).join(' ')}`);
    expect(steps).toEqual([
      'whole running pending[pending,pending] pending[pending]',
      'whole running running[pending,pending] pending[pending]',
      'journal running running[running,pending] pending[pending]',
      'journal running running[completed,pending] pending[pending]',
      'journal running running[completed,running] pending[pending]',
      'journal running running[completed,completed] pending[pending]',
      'whole running completed[completed,completed] pending[pending]',
      'whole running completed[completed,completed] running[pending]',
      'journal running completed[completed,completed] running[running]',
      'journal running completed[completed,completed] running[completed]',
      'whole running completed[completed,completed] completed[completed]',
      'whole completed completed[completed,completed] completed[completed]',
    ]);
    // The attempt (with its process cookie) is in the line written before the tool started.
    expect(actionRec(writes[2]!, 'a1').attempts).toEqual([expect.objectContaining({ status: 'running', process_cookie: 'cookie-1' })]);
    expect(deps.store.history.get(h.record.execution_id)?.status).toBe('completed');
  });

  it('rewrites the record whole at most REWRITE_AFTER_MS after the first journal line, while the action still runs', async () => {
    const deps = fakeDeps();
    let started!: () => void;
    const isStarted = new Promise<void>((r) => (started = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    deps.runner.on('slow', [], async () => {
      started();
      await released;
      return { exitCode: 0 };
    });
    const h = harness(workflow([phase('p1', [cmd('a1', ['slow'])])]), { deps });
    const run = h.run();
    await isStarted;
    const kinds = deps.store.writeKinds;
    expect(kinds.at(-1)).toBe('journal');
    const before = kinds.length;
    deps.clock.advance(REWRITE_AFTER_MS - 1);
    deps.clock.fireTimers();
    await new Promise((r) => setImmediate(r));
    expect(kinds.length).toBe(before);
    deps.clock.advance(1);
    deps.clock.fireTimers();
    await new Promise((r) => setImmediate(r));
    expect(kinds.slice(before)).toEqual(['whole']);
    expect(actionRec(deps.store.writes.at(-1)!, 'a1').status).toBe('running');
    release();
    await run;
    expect(deps.store.history.get(h.record.execution_id)?.status).toBe('completed');
  });

  it('flush() leaves the record file whole when journal lines are ahead of it', async () => {
    const deps = fakeDeps();
    deps.runner.on('ok', [], { exitCode: 0 });
    const h = harness(workflow([phase('p1', [cmd('a1', ['ok'])])]), { deps });
    await h.exec.persist();
    actionRec(h.record, 'a1').status = 'running';
    await h.exec.persist(actionRec(h.record, 'a1'));
    expect(deps.store.writeKinds).toEqual(['whole', 'journal']);
    await h.exec.flush();
    expect(deps.store.writeKinds).toEqual(['whole', 'journal', 'whole']);
    expect(actionRec(deps.store.writes.at(-1)!, 'a1').status).toBe('running');
    // Nothing ahead any more: flush writes nothing, and the timer of that line is gone.
    await h.exec.flush();
    deps.clock.advance(REWRITE_AFTER_MS);
    deps.clock.fireTimers();
    await new Promise((r) => setImmediate(r));
    expect(deps.store.writeKinds).toHaveLength(3);
  });

  it('a persist naming something that is not an action of the record (a rollback step) is a whole write', async () => {
    const deps = fakeDeps();
    const h = harness(workflow([phase('p1', [cmd('a1', ['ok'])])]), { deps });
    await h.exec.persist();
    await h.exec.persist({ attempts: [] });
    expect(deps.store.writeKinds).toEqual(['whole', 'whole']);
  });
});
