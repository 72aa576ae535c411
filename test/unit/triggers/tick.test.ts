import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FsTriggerStateStore, triggerStatePath } from '../../../src/adapters/fs-trigger-state-store.js';
import { ProperLockManager } from '../../../src/adapters/proper-lock-manager.js';
import { planTick, readTickState, runTick, type TickState } from '../../../src/triggers/tick.js';
import type { TriggerEntry } from '../../../src/triggers/load.js';
import { entry, fakeStarter, removeDir, scheduleEntry, tempDir, workflow } from './helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));
function root(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

const MIN = 60_000;

/** Ticks every minute (at second 2, as cron starts a little late) from `from` to `to`; returns the scheduled times started. */
function simulate(entries: TriggerEntry[], from: string, to: string): Array<{ key: string; at: string }> {
  let state: TickState = { version: 1, schedules: {} };
  const started: Array<{ key: string; at: string }> = [];
  for (let t = Date.parse(from) + 2000; t <= Date.parse(to); t += MIN) {
    const plan = planTick(entries, state, new Date(t));
    for (const r of plan.runs) started.push({ key: r.entry.key, at: r.scheduledFor.toISOString() });
    state = plan.state;
  }
  return started;
}

describe('planTick across the 2026 DST changes (a tick every minute)', () => {
  for (const [tz, day, from, to] of [
    ['America/New_York', 'spring-forward 2026-03-08', '2026-03-08T04:00:00Z', '2026-03-09T04:00:00Z'],
    ['America/New_York', 'fall-back 2026-11-01', '2026-11-01T04:00:00Z', '2026-11-02T05:00:00Z'],
    ['Europe/Berlin', 'spring-forward 2026-03-29', '2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z'],
    ['Europe/Berlin', 'fall-back 2026-10-25', '2026-10-24T22:00:00Z', '2026-10-25T23:00:00Z'],
  ] as const) {
    it(`${tz} ${day}: 30 2 * * * starts exactly one run; */30 * * * * follows the wall clock`, () => {
      const fixed = scheduleEntry('fixed', '30 2 * * *', tz);
      const interval = scheduleEntry('interval', '*/30 * * * *', tz);
      const started = simulate([fixed, interval], from, to);
      const fixedRuns = started.filter((s) => s.key === fixed.key);
      expect(fixedRuns).toHaveLength(1);
      // The local day is 23 h (spring) or 25 h (fall): the interval job runs twice per wall-clock hour.
      const hours = (Date.parse(to) - Date.parse(from)) / 3_600_000;
      expect(started.filter((s) => s.key === interval.key)).toHaveLength(hours * 2);
      expect(new Set(started.map((s) => `${s.key}@${s.at}`)).size).toBe(started.length);
    });
  }

  it('the fixed-time run is at 03:00 after a spring-forward and at the first 02:30 in Berlin\'s fall-back', () => {
    const berlin = scheduleEntry('b', '30 2 * * *', 'Europe/Berlin');
    expect(simulate([berlin], '2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z')).toEqual([{ key: berlin.key, at: '2026-03-29T01:00:00.000Z' }]);
    expect(simulate([berlin], '2026-10-24T22:00:00Z', '2026-10-25T23:00:00Z')).toEqual([{ key: berlin.key, at: '2026-10-25T00:30:00.000Z' }]);
  });
});

describe('planTick windows', () => {
  const state = (key: string, lastChecked: string): TickState => ({ version: 1, schedules: { [key]: { last_checked: lastChecked } } });

  it('after a missed day, catch_up skip starts nothing and reports what it skipped', () => {
    const e = scheduleEntry('daily', '0 6 * * *', 'UTC');
    const plan = planTick([e], state(e.key, '2026-05-01T12:00:00Z'), new Date('2026-05-03T12:00:02Z'));
    expect(plan.runs).toEqual([]);
    expect(plan.skips).toHaveLength(1);
    expect(plan.skips[0]).toMatchObject({ missed: 2, latest: new Date('2026-05-03T06:00:00Z') });
    expect(plan.state.schedules[e.key]?.last_checked).toBe('2026-05-03T12:00:02.000Z');
  });

  it('after a missed day, catch_up run_once starts one run for the most recent missed time (no burst)', () => {
    const e = scheduleEntry('hourly', '0 * * * *', 'Europe/Berlin', { catch_up: 'run_once' });
    const plan = planTick([e], state(e.key, '2026-05-01T12:00:00Z'), new Date('2026-05-02T12:30:02Z'));
    expect(plan.runs).toHaveLength(1);
    expect(plan.runs[0]).toMatchObject({ kind: 'catch_up', scheduledFor: new Date('2026-05-02T12:00:00Z'), missed: 24 });
    expect(plan.skips).toEqual([]);
  });

  it('an on-time run wins over a catch-up: one run, the missed ones are reported', () => {
    const e = scheduleEntry('hourly', '0 * * * *', 'UTC', { catch_up: 'run_once' });
    const plan = planTick([e], state(e.key, '2026-05-01T12:00:00Z'), new Date('2026-05-02T12:00:02Z'));
    expect(plan.runs.map((r) => [r.kind, r.scheduledFor.toISOString()])).toEqual([['due', '2026-05-02T12:00:00.000Z']]);
    expect(plan.skips[0]?.missed).toBe(23);
  });

  it('a tick that came a few minutes late starts one run for the latest due time', () => {
    const e = scheduleEntry('minutely', '* * * * *', 'UTC');
    const plan = planTick([e], state(e.key, '2026-05-01T12:00:01Z'), new Date('2026-05-01T12:03:01Z'));
    expect(plan.runs).toHaveLength(1);
    expect(plan.runs[0]).toMatchObject({ kind: 'due', coalesced: 2, scheduledFor: new Date('2026-05-01T12:03:00Z') });
  });

  it('a new schedule counts from one minute before the tick; a disabled one is advanced but never started', () => {
    const e = scheduleEntry('new', '0 12 * * *', 'UTC');
    const off = scheduleEntry('off', '* * * * *', 'UTC', { enabled: false });
    const plan = planTick([e, off], { version: 1, schedules: {} }, new Date('2026-05-01T12:00:40Z'));
    expect(plan.runs.map((r) => r.entry.key)).toEqual([e.key]);
    expect(plan.state.schedules[off.key]?.last_checked).toBe('2026-05-01T12:00:40.000Z');
    // Re-enabled a day later: nothing counts as missed while it was disabled.
    const again = planTick([scheduleEntry('off', '* * * * *', 'UTC')], plan.state, new Date('2026-05-01T12:01:40Z'));
    expect(again.skips).toEqual([]);
  });

  it('the same --now twice starts nothing the second time; schedules that disappeared leave the state', () => {
    const e = scheduleEntry('x', '*/5 * * * *', 'UTC');
    const first = planTick([e], { version: 1, schedules: { 'gone/old': { last_checked: '2026-01-01T00:00:00Z' } } }, new Date('2026-05-01T12:05:00Z'));
    expect(first.runs).toHaveLength(1);
    expect(Object.keys(first.state.schedules)).toEqual([e.key]);
    expect(planTick([e], first.state, new Date('2026-05-01T12:05:00Z')).runs).toEqual([]);
  });

  it('a clock that went back a lot is taken as corrected', () => {
    const e = scheduleEntry('x', '* * * * *', 'UTC');
    const plan = planTick([e], state(e.key, '2026-05-01T14:00:00Z'), new Date('2026-05-01T12:00:30Z'));
    expect(plan.runs).toEqual([]);
    expect(plan.notes[0]).toMatch(/clock went back/);
    expect(plan.state.schedules[e.key]?.last_checked).toBe('2026-05-01T12:00:30.000Z');
  });
});

describe('runTick', () => {
  const base = { env: {} as Record<string, string | undefined> };

  it('starts due runs with the trigger info and rendered parameters, and writes tick.json', async () => {
    const r = root();
    const def = workflow('nightly', { slot: { type: 'string', required: true }, n: { type: 'integer', default: 1 } });
    const e = entry(def, { type: 'schedule', id: 'night', cron: '30 2 * * *', timezone: 'Europe/Berlin', parameters: { slot: '${event.scheduled_local}', n: 7 } });
    const starter = fakeStarter();
    const res = await runTick({ ...base, state: new FsTriggerStateStore(r), now: new Date('2026-03-29T01:00:02Z'), entries: [e], locks: new ProperLockManager(r), starter });
    expect(starter.calls).toEqual([
      {
        workflowId: 'nightly',
        assignments: ['slot=2026-03-29T03:00:00+02:00', 'n=7'],
        triggerInfo: { type: 'schedule', source: 'cron', trigger_id: 'night', event_id: 'schedule:nightly/night@2026-03-29T01:00:00.000Z', scheduled_for: '2026-03-29T01:00:00.000Z' },
      },
    ]);
    expect(res.runs[0]).toMatchObject({ status: 'started', execution_id: 'nightly-20260101T000000Z-0001', scheduled_local: '2026-03-29T03:00:00+02:00' });
    const saved = JSON.parse(readFileSync(triggerStatePath(r, 'tick'), 'utf8')) as TickState;
    expect(saved.schedules['nightly/night']).toMatchObject({ last_checked: '2026-03-29T01:00:02.000Z', last_execution: 'nightly-20260101T000000Z-0001', last_result: 'started' });
    // No temp files left behind.
    expect((await readTickState(new FsTriggerStateStore(r))).schedules['nightly/night']?.last_scheduled_for).toBe('2026-03-29T01:00:00.000Z');
  });

  it('two ticks at once start the run once', async () => {
    const r = root();
    const e = scheduleEntry('both', '*/5 * * * *', 'UTC');
    const starter = fakeStarter({ delayMs: 150 });
    const now = new Date('2026-05-01T12:05:01Z');
    const [a, b] = await Promise.all([
      runTick({ ...base, state: new FsTriggerStateStore(r), now, entries: [e], locks: new ProperLockManager(r), starter, lockWaitMs: 3000 }),
      runTick({ ...base, state: new FsTriggerStateStore(r), now, entries: [e], locks: new ProperLockManager(r), starter, lockWaitMs: 3000 }),
    ]);
    expect(starter.calls).toHaveLength(1);
    expect([...a.runs, ...b.runs].filter((x) => x.status === 'started')).toHaveLength(1);
  });

  it('a tick that cannot get the lock in time reports the other tick and does nothing', async () => {
    const r = root();
    const locks = new ProperLockManager(r);
    const held = await locks.acquire('tick', { pid: process.pid, host: (await import('node:os')).hostname(), command: 'tick' });
    try {
      const starter = fakeStarter();
      const res = await runTick({ ...base, state: new FsTriggerStateStore(r), now: new Date('2026-05-01T12:05:01Z'), entries: [scheduleEntry('x', '*/5 * * * *', 'UTC')], locks: new ProperLockManager(r), starter, lockWaitMs: 100 });
      expect(res.busy?.holder?.pid).toBe(process.pid);
      expect(starter.calls).toEqual([]);
      expect(existsSync(triggerStatePath(r, 'tick'))).toBe(false);
    } finally {
      await held.release();
    }
  });

  it('parameters that do not fit the workflow are reported and nothing starts; --dry-run writes nothing', async () => {
    const r = root();
    const def = workflow('typed', { n: { type: 'integer', required: true } });
    const bad = entry(def, { type: 'schedule', id: 'bad', cron: '* * * * *', parameters: { n: 'not-a-number' } });
    const starter = fakeStarter();
    const dry = await runTick({ ...base, state: new FsTriggerStateStore(r), now: new Date('2026-05-01T12:05:01Z'), entries: [bad], locks: new ProperLockManager(r), starter, dryRun: true });
    expect(dry.runs[0]?.status).toBe('invalid_parameters');
    expect(existsSync(triggerStatePath(r, 'tick'))).toBe(false);
    const res = await runTick({ ...base, state: new FsTriggerStateStore(r), now: new Date('2026-05-01T12:05:01Z'), entries: [bad], locks: new ProperLockManager(r), starter });
    expect(res.runs[0]).toMatchObject({ status: 'invalid_parameters', message: expect.stringMatching(/expected integer/) });
    expect(starter.calls).toEqual([]);
    expect((await readTickState(new FsTriggerStateStore(r))).schedules['typed/bad']?.last_result).toBe('invalid_parameters');
  });

  it('a damaged tick.json is kept aside (once), then replaced, and said so with where the copy is', async () => {
    const r = tempDir({ 'state/tick.json': '{not json' });
    dirs.push(r);
    const res = await runTick({ ...base, state: new FsTriggerStateStore(r), now: new Date('2026-05-01T12:05:01Z'), entries: [scheduleEntry('x', '*/5 * * * *', 'UTC')], locks: new ProperLockManager(r), starter: fakeStarter() });
    const copies = readdirSync(join(r, 'state')).filter((n) => n.startsWith('tick.json.damaged-'));
    expect(copies).toHaveLength(1);
    const copy = join(r, 'state', copies[0] as string);
    expect(readFileSync(copy, 'utf8')).toBe('{not json');
    expect(statSync(copy).mode & 0o777).toBe(0o600);
    expect(res.notes.join()).toContain(`starting afresh (the damaged file is kept at ${copy})`);
    expect((await readTickState(new FsTriggerStateStore(r))).schedules['wf-x/x']).toBeDefined();
    // Damaged the same way again: no second copy of the same content.
    writeFileSync(triggerStatePath(r, 'tick'), '{not json');
    await readTickState(new FsTriggerStateStore(r));
    expect(readdirSync(join(r, 'state')).filter((n) => n.startsWith('tick.json.damaged-'))).toEqual(copies);
  });

});
