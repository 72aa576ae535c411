import { describe, expect, it } from 'vitest';
import type { App } from '../../../src/app/context.js';
import { InProcessRuns, pendingRunsToPickUp } from '../../../src/app/serve-runs.js';
import type { ExecutionRecord } from '../../../src/model/records.js';
import { waitFor } from '../../helpers/wait.js';

/** A fake drive per execution that ends when the test says so. */
function gatedDrives() {
  const started: string[] = [];
  const gates = new Map<string, () => void>();
  const drive = (id: string) =>
    new Promise<void>((resolve) => {
      started.push(id);
      gates.set(id, resolve);
    });
  const end = (id: string) => {
    const g = gates.get(id);
    if (!g) throw new Error(`${id} is not being driven`);
    g();
  };
  return { started, drive, end };
}

function runsWith(options: { maxRunning: number; maxQueued: number; maxDeferMs?: number }, drive: (id: string) => Promise<void>, signal = new AbortController().signal) {
  return new InProcessRuns(() => ({}) as App, signal, { ...options, log: () => undefined, drive });
}

describe('serve drives its runs in process (InProcessRuns)', () => {
  it('drives at most maxRunning at once, the others wait and start in launch order as slots free', async () => {
    const d = gatedDrives();
    const runs = runsWith({ maxRunning: 2, maxQueued: 10 }, d.drive);
    for (const id of ['a', 'b', 'c', 'd']) expect((await runs.launch(id)).ok).toBe(true);
    expect(d.started).toEqual(['a', 'b']);
    expect(runs.counts).toEqual({ running: 2, waiting: 2 });
    d.end('b');
    await waitFor(() => d.started.length === 3, { what: 'c to start once b ended' });
    expect(d.started).toEqual(['a', 'b', 'c']);
    d.end('a');
    d.end('c');
    await waitFor(() => d.started.length === 4, { what: 'd to start' });
    d.end('d');
    await runs.settled();
    expect(runs.counts).toEqual({ running: 0, waiting: 0 });
  });

  it('stopStarting (serve told to stop): a slot freed starts no waiting run, a run launched after waits too; stop() hands both back', async () => {
    const d = gatedDrives();
    const runs = runsWith({ maxRunning: 1, maxQueued: 10 }, d.drive);
    await runs.launch('a');
    await runs.launch('b');
    expect(d.started).toEqual(['a']);
    runs.stopStarting();
    d.end('a');
    await waitFor(() => runs.counts.running === 0, { what: 'a to end' });
    // A request still being answered creates one more (or a queued pass launches one).
    expect((await runs.launch('c')).ok).toBe(true);
    expect(d.started).toEqual(['a']);
    expect(runs.stop()).toEqual(['b', 'c']);
    await runs.settled();
    expect(d.started).toEqual(['a']);
  });

  it('reserve: room for maxRunning + maxQueued runs (reserved, driven or waiting); none beyond until one is given back or ends', async () => {
    const d = gatedDrives();
    const runs = runsWith({ maxRunning: 1, maxQueued: 2 }, d.drive);
    const first = runs.reserve();
    const second = runs.reserve();
    const third = runs.reserve();
    expect([first, second, third].every(Boolean)).toBe(true);
    expect(runs.reserve()).toBeUndefined();
    second?.release();
    second?.release(); // twice gives back one
    const again = runs.reserve();
    expect(again).toBeDefined();
    expect(runs.reserve()).toBeUndefined();
    // Launched runs keep their room until they end.
    await runs.launch('a');
    first?.release();
    expect(runs.reserve()).toBeUndefined();
    d.end('a');
    await waitFor(() => runs.counts.running === 0, { what: 'a to end' });
    expect(runs.reserve()).toBeDefined();
  });

  it('while a request is being answered no new drive starts (at most maxDeferMs); it starts when the answers are done', async () => {
    const d = gatedDrives();
    const runs = runsWith({ maxRunning: 4, maxQueued: 10, maxDeferMs: 60_000 }, d.drive);
    let finishAnswer!: () => void;
    const answering = runs.whileAnswering(async () => {
      await runs.launch('a');
      await new Promise<void>((resolve) => (finishAnswer = resolve));
    });
    await waitFor(() => finishAnswer !== undefined, { what: 'the answer to be under way' });
    expect(d.started).toEqual([]);
    finishAnswer();
    await answering;
    // Not in the same turn: a quiet moment first (quietMs), in case the next request comes.
    expect(d.started).toEqual([]);
    await waitFor(() => d.started.length === 1, { what: 'a to start once the answers are done' });
    expect(d.started).toEqual(['a']);
    d.end('a');
  });

  it('a request within quietMs of the last answer keeps new drives waiting (a burst between two answers); maxDeferMs counts the spell whole', async () => {
    const d = gatedDrives();
    const runs = new InProcessRuns(() => ({}) as App, new AbortController().signal, { maxRunning: 4, maxQueued: 10, maxDeferMs: 60_000, quietMs: 300, log: () => undefined, drive: d.drive });
    await runs.whileAnswering(async () => {
      await runs.launch('a');
    });
    let finishSecond!: () => void;
    const second = runs.whileAnswering(() => new Promise<void>((resolve) => (finishSecond = resolve)));
    // Past the first answer's quiet moment, with the second still under way: a waits.
    await new Promise((r) => setTimeout(r, 400));
    expect(d.started).toEqual([]);
    finishSecond();
    await second;
    await waitFor(() => d.started.length === 1, { what: 'a to start once the burst is over' });
    d.end('a');
    // A spell of answers with gaps shorter than quietMs is deferred at most maxDeferMs in all.
    const e = gatedDrives();
    const short = new InProcessRuns(() => ({}) as App, new AbortController().signal, { maxRunning: 4, maxQueued: 10, maxDeferMs: 200, quietMs: 100, log: () => undefined, drive: e.drive });
    await short.launch('b');
    let keepAnswering = true;
    const spell = (async () => {
      while (keepAnswering) {
        await short.whileAnswering(() => new Promise((r) => setTimeout(r, 30)));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await waitFor(() => e.started.length === 1, { what: 'b to start after maxDeferMs although answers keep coming' });
    keepAnswering = false;
    await spell;
    e.end('b');
  });

  it('requests that keep coming defer new drives for maxDeferMs only', async () => {
    const d = gatedDrives();
    const runs = runsWith({ maxRunning: 4, maxQueued: 10, maxDeferMs: 50 }, d.drive);
    let finishAnswer!: () => void;
    const answering = runs.whileAnswering(async () => {
      await runs.launch('a');
      await new Promise<void>((resolve) => (finishAnswer = resolve));
    });
    await waitFor(() => d.started.length === 1, { what: 'a to start although the answer is still under way' });
    finishAnswer();
    await answering;
    d.end('a');
  });

  it('stop: the waiting runs are handed back (they stay pending), nothing more is taken; settled waits for the ones being driven', async () => {
    const d = gatedDrives();
    const runs = runsWith({ maxRunning: 1, maxQueued: 10 }, d.drive);
    await runs.launch('a');
    await runs.launch('b');
    expect(runs.stop()).toEqual(['b']);
    expect((await runs.launch('c')).ok).toBe(false);
    expect(runs.reserve()).toBeUndefined();
    let settled = false;
    const s = runs.settled().then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    d.end('a');
    await s;
    expect(d.started).toEqual(['a']);
  });

  it('a drive that fails does not stop the others', async () => {
    const started: string[] = [];
    const runs = runsWith({ maxRunning: 1, maxQueued: 10 }, async (id) => {
      started.push(id);
      if (id === 'a') throw new Error('boom');
    });
    await runs.launch('a');
    await runs.launch('b');
    await waitFor(() => started.length === 2, { what: 'b to be driven after a failed' });
    await runs.settled();
  });
});

describe('pendingRunsToPickUp', () => {
  const rec = (id: string, over: Partial<ExecutionRecord>): ExecutionRecord =>
    ({ execution_id: id, workflow_id: 'wf', status: 'pending', started_at: `2026-01-01T00:00:0${id.length}Z`, trigger: { type: 'event', source: 'alertmanager', user: 'u', host: 'h' }, phases: [], ...over }) as unknown as ExecutionRecord;

  it('takes event and webhook runs nothing drove yet, oldest first; not manual or scheduled ones, queued ones, ones a process took, or ones under way', () => {
    const records = [
      rec('bbb', { trigger: { type: 'webhook', source: 'github', user: 'u', host: 'h' } as ExecutionRecord['trigger'] }),
      rec('a', {}),
      rec('manual', { trigger: { type: 'manual', user: 'u', host: 'h' } as ExecutionRecord['trigger'] }),
      rec('sched', { trigger: { type: 'schedule', source: 'cron', user: 'u', host: 'h' } as ExecutionRecord['trigger'] }),
      rec('queued', { queued: { behind: ['x'], concurrency: 1, since: '2026-01-01T00:00:00Z' } } as Partial<ExecutionRecord>),
      rec('taken', { process: { pid: 1, host: 'h' } } as Partial<ExecutionRecord>),
      rec('running', { status: 'running' }),
    ];
    expect(pendingRunsToPickUp(records)).toEqual(['a', 'bbb']);
  });
});
