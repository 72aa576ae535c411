import { describe, expect, it } from 'vitest';
import { isPausedForLeftovers, LEFTOVER_WAIT_MS, PROCESSES_STILL_RUNNING, stopLeftovers } from '../../../src/engine/leftovers.js';
import { liveStatus } from '../../../src/engine/live-status.js';
import { actionRec, cmd, harness, phase, workflow } from './engine-helper.js';
import { fakeDeps } from '../../fakes/fakes.js';

describe('engine: the process that works on an execution', () => {
  it('records its pid with its start time and boot id, which the liveness check is given', async () => {
    const deps = fakeDeps({ identity: { pid: 4242, host: 'test-host', user: 'tester', startTime: 98765, bootId: 'boot-1' } });
    deps.runner.on('ok', [], { exitCode: 0 });
    const rec = await harness(workflow([phase('p', [cmd('a', ['ok'])])]), { deps }).run();
    const running = deps.store.writes.find((w) => w.status === 'running');
    expect(running?.process).toEqual({ pid: 4242, host: 'test-host', started_at: expect.any(String), start_time: 98765, boot_id: 'boot-1' });
    expect(rec.process).toMatchObject({ start_time: 98765, boot_id: 'boot-1' });
    const seen: unknown[] = [];
    expect(liveStatus(running!, { isProcessAlive: (p) => (seen.push(p), false) })).toBe('interrupted');
    expect(seen).toEqual([running!.process]);
  });
});

describe('engine: tools that outlive the cortex that started them', () => {
  const def = workflow([phase('p', [cmd('a1', ['ok']), cmd('a2', ['ok', 'second'])])]);

  /** A record as a cortex killed (kill -9) while a2's attempt ran leaves it. */
  async function crashedDuringA2(deps: ReturnType<typeof fakeDeps>) {
    const rec = JSON.parse(JSON.stringify(await harness(def, { deps }).run()));
    rec.status = 'running';
    rec.finished_at = null;
    rec.metrics_recorded = false;
    rec.phases[0].status = 'running';
    const a2 = actionRec(rec, 'a2');
    a2.status = 'running';
    a2.attempts = [{ attempt: 1, status: 'running', started_at: rec.started_at, process_cookie: 'cookie-old' }];
    delete a2.outputs;
    return rec;
  }

  it('gives every attempt its own cookie, written to the record before its tools start, and passes it to them', async () => {
    const deps = fakeDeps();
    const seen: Array<{ cookie?: string; recorded?: string }> = [];
    deps.runner.on('ok', [], (_args, opts) => {
      const written = deps.store.writes.at(-1)!;
      const a = written.phases[0]!.actions.find((x) => x.status === 'running')!;
      seen.push({ cookie: opts?.cookie, recorded: a.attempts.at(-1)?.process_cookie });
      return { exitCode: 0 };
    });
    const rec = await harness(def, { deps }).run();
    expect(seen).toEqual([
      { cookie: 'cookie-1', recorded: 'cookie-1' },
      { cookie: 'cookie-2', recorded: 'cookie-2' },
    ]);
    expect(actionRec(rec, 'a2').attempts[0]?.process_cookie).toBe('cookie-2');
  });

  it('on resume, waits for the processes an interrupted attempt left running, then runs the action again', async () => {
    const deps = fakeDeps();
    deps.runner.on('ok', [], { exitCode: 0 });
    const rec = await crashedDuringA2(deps);
    deps.runner.leftovers.set('cookie-old', [[111], [111], []]);
    const calls = deps.runner.calls.length;
    const t0 = deps.clock.now().getTime();
    const done = await harness(def, { deps, record: rec, resume: { retryAction: 'a2' } }).run();
    expect(done.status).toBe('completed');
    expect(deps.runner.calls.length).toBe(calls + 1);
    expect(deps.runner.survivorChecks).toEqual(['cookie-old', 'cookie-old', 'cookie-old']);
    expect(deps.clock.now().getTime() - t0).toBeGreaterThan(0);
    expect(deps.events).toContainEqual({ kind: 'warning', message: expect.stringContaining('pids 111') });
    expect(actionRec(done, 'a2').attempts.map((a) => a.status)).toEqual(['interrupted', 'succeeded']);
  });

  it('pauses, naming the pids, when they still run after the wait; the action does not run again', async () => {
    const deps = fakeDeps();
    deps.runner.on('ok', [], { exitCode: 0 });
    const rec = await crashedDuringA2(deps);
    deps.runner.leftovers.set('cookie-old', [[111, 222]]);
    const calls = deps.runner.calls.length;
    const t0 = deps.clock.now().getTime();
    // Asked to retry a2: the leftovers still come first.
    const paused = await harness(def, { deps, record: rec, resume: { retryAction: 'a2' } }).run();
    expect(paused.status).toBe('paused');
    expect(paused.status_reason).toMatch(/processes it started are still running \(pids 111, 222\)/);
    expect(paused.status_reason).toContain('kill 111 222');
    expect(paused.status_reason).toContain(`cortex resume ${paused.execution_id}`);
    expect(paused.error?.code).toBe(PROCESSES_STILL_RUNNING);
    expect(isPausedForLeftovers(paused)).toBe(true);
    expect(deps.runner.calls.length).toBe(calls);
    expect(deps.clock.now().getTime() - t0).toBeGreaterThanOrEqual(LEFTOVER_WAIT_MS);
    expect(actionRec(paused, 'a2').status).toBe('running');
    // Once they are gone, resume goes on.
    deps.runner.leftovers.delete('cookie-old');
    const done = await harness(def, { deps, record: paused, resume: { retryAction: 'a2' } }).run();
    expect(done.status).toBe('completed');
    expect(isPausedForLeftovers(done)).toBe(false);
  });

  it('cancel stops what the unfinished attempts left running', async () => {
    const deps = fakeDeps();
    deps.runner.on('ok', [], { exitCode: 0 });
    const rec = await crashedDuringA2(deps);
    deps.runner.leftovers.set('cookie-old', [[333]]);
    expect(await stopLeftovers(deps, rec)).toEqual([333]);
    expect(deps.runner.kills).toEqual(['cookie-old']);
  });
});
