import { describe, expect, it } from 'vitest';
import { actionRec, cmd, harness, phase, workflow } from './engine-helper.js';
import { fakeDeps } from '../../fakes/fakes.js';
import { REWRITE_AFTER_MS } from '../../../src/engine/run-workflow.js';
import type { ExecutionRecord } from '../../../src/model/records.js';

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

describe('engine: which journal lines are fsynced', () => {
  const statuses = (r: ExecutionRecord | undefined) => r?.phases.flatMap((p) => p.actions.map((a) => `${a.action_id}:${a.status}`)).join(' ');

  it("an action's start line is fsynced before its tool starts; its end line is not, and is durable before the next tool starts", async () => {
    const deps = fakeDeps();
    const id = 'wf-20261125T120000Z-abcd';
    // What a power loss at the moment each tool starts would leave.
    const atToolStart: Array<string | undefined> = [];
    deps.runner.on('ok', [], async () => {
      atToolStart.push(statuses(deps.store.durable.get(id)));
      return { exitCode: 0 };
    });
    const h = harness(workflow([phase('p1', [cmd('a1', ['ok']), cmd('a2', ['ok']), cmd('a3', ['ok'])])]), { deps });
    await h.run();
    const { writes, writeKinds, synced } = deps.store;
    const lines = writes.map((w, i) => `${writeKinds[i]}${synced[i] ? ' fsynced' : ''} ${statuses(w)}`);
    expect(lines).toEqual([
      'whole fsynced a1:pending a2:pending a3:pending',
      'whole fsynced a1:pending a2:pending a3:pending',
      'journal fsynced a1:running a2:pending a3:pending',
      'journal a1:completed a2:pending a3:pending',
      'journal fsynced a1:completed a2:running a3:pending',
      'journal a1:completed a2:completed a3:pending',
      'journal fsynced a1:completed a2:completed a3:running',
      'journal a1:completed a2:completed a3:completed',
      'whole fsynced a1:completed a2:completed a3:completed',
      'whole fsynced a1:completed a2:completed a3:completed',
    ]);
    // Each tool starts only once its own attempt (with the cookie) and every earlier end are durable.
    expect(atToolStart).toEqual(['a1:running a2:pending a3:pending', 'a1:completed a2:running a3:pending', 'a1:completed a2:completed a3:running']);
    expect(deps.store.durable.get(id)?.status).toBe('completed');
  });

  it('flush() makes an end line that nothing followed durable', async () => {
    const deps = fakeDeps();
    const h = harness(workflow([phase('p1', [cmd('a1', ['ok'])])]), { deps });
    const id = h.record.execution_id;
    await h.exec.persist();
    const a1 = actionRec(h.record, 'a1');
    a1.status = 'running';
    await h.exec.persist(a1);
    a1.status = 'completed';
    await h.exec.persist(a1, { sync: false });
    // Written (a reader, and a kill of the process, see it) but not durable yet.
    expect(actionRec(deps.store.active.get(id)!, 'a1').status).toBe('completed');
    expect(actionRec(deps.store.durable.get(id)!, 'a1').status).toBe('running');
    await h.exec.flush();
    expect(actionRec(deps.store.durable.get(id)!, 'a1').status).toBe('completed');
  });

  it('an end line merged with a change that must be durable is fsynced', async () => {
    const deps = fakeDeps();
    const h = harness(workflow([phase('p1', [cmd('a1', ['ok']), cmd('a2', ['ok'])])]), { deps });
    await h.exec.persist();
    const [a1, a2] = [actionRec(h.record, 'a1'), actionRec(h.record, 'a2')];
    a1.status = 'running';
    a2.status = 'running';
    await Promise.all([h.exec.persist(a1), h.exec.persist(a2)]);
    a1.status = 'completed';
    const end = h.exec.persist(a1, { sync: false });
    a2.status = 'completed';
    // Made while the end line is in flight: written together by the next line, which must be durable.
    const other = h.exec.persist(a2);
    await Promise.all([end, other]);
    expect(deps.store.synced.at(-1)).toBe(true);
    expect(statuses(deps.store.durable.get(h.record.execution_id))).toBe('a1:completed a2:completed');
  });
});
