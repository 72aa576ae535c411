import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FsTriggerStateStore, triggerStatePath } from '../../../src/adapters/fs-trigger-state-store.js';
import { ProperLockManager } from '../../../src/adapters/proper-lock-manager.js';
import type { TriggerDef } from '../../../src/definitions/types.js';
import { StateConflictError } from '../../../src/errors.js';
import type { LockManager } from '../../../src/ports/state-store.js';
import { DedupStore } from '../../../src/triggers/dedup.js';
import { dispatchEvent } from '../../../src/triggers/dispatch.js';
import type { IncomingEvent } from '../../../src/triggers/match.js';
import { entry, fakeStarter, fixture, fixtureJson, removeDir, tempDir, workflow } from './helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

const wfA = workflow('scale-up', { instance: { type: 'string', required: true } });
const wfB = workflow('page-oncall', { summary: { type: 'string', required: true }, n: { type: 'integer', default: 1 } });
const entries = [
  entry(wfA, { type: 'prometheus_alert', id: 'mem', alert_name: 'HighMemoryUsage', parameters: { instance: '${event.labels.instance}' } } as TriggerDef),
  entry(wfB, { type: 'prometheus_alert', id: 'page', alert_name: 'HighMemoryUsage', parameters: { summary: '${event.annotations.summary}' } } as TriggerDef),
  entry(wfB, { type: 'prometheus_alert', id: 'broken', alert_name: 'HighMemoryUsage', parameters: { summary: 'x', n: '${event.labels.instance}' } } as TriggerDef),
];
const firing = (): IncomingEvent => ({ source: 'alertmanager', payload: fixtureJson('alertmanager/firing.json'), rawBody: fixture('alertmanager/firing.json'), receivedAt: new Date() });

describe('dispatchEvent', () => {
  it('starts every matching trigger once per event, reports what cannot start, deduplicates a re-send', async () => {
    const root = tempDir();
    dirs.push(root);
    const dedup = new DedupStore(new FsTriggerStateStore(root), new ProperLockManager(root));
    const starter = fakeStarter();
    const first = await dispatchEvent(entries, firing(), { env: {}, starter, dedup });
    expect(first.matched).toBe(3);
    expect(first.runs.map((r) => [r.trigger, r.status])).toEqual([
      ['scale-up/mem', 'started'],
      ['page-oncall/page', 'started'],
      ['page-oncall/broken', 'invalid_parameters'],
    ]);
    expect(first.runs[2]?.message).toMatch(/n.*expected integer/s);
    expect(first.executions).toHaveLength(2);
    expect(starter.calls.map((c) => c.triggerInfo)).toEqual([
      { type: 'event', source: 'alertmanager', trigger_id: 'mem', event_id: 'alertmanager:2d350d5cd5dd3c2f:2026-11-25T18:52:27Z:firing' },
      { type: 'event', source: 'alertmanager', trigger_id: 'page', event_id: 'alertmanager:2d350d5cd5dd3c2f:2026-11-25T18:52:27Z:firing' },
    ]);
    const saved = JSON.parse(readFileSync(triggerStatePath(root, 'dedup'), 'utf8')) as { entries: Record<string, { workflows: string[] }> };
    expect(saved.entries['alertmanager:2d350d5cd5dd3c2f:2026-11-25T18:52:27Z:firing']?.workflows).toEqual(['scale-up', 'page-oncall']);

    const again = await dispatchEvent(entries, firing(), { env: {}, starter, dedup });
    expect(again.runs.map((r) => r.status)).toEqual(['duplicate', 'duplicate', 'invalid_parameters']);
    expect(starter.calls).toHaveLength(2);

    const forced = await dispatchEvent(entries.slice(0, 1), firing(), { env: {}, starter, dedup, force: true });
    expect(forced.runs.map((r) => r.status)).toEqual(['started']);
  });

  it('an alert listed twice in one notification starts its runs once', async () => {
    const root = tempDir();
    dirs.push(root);
    const dedup = new DedupStore(new FsTriggerStateStore(root), new ProperLockManager(root));
    const starter = fakeStarter();
    const ev = firing();
    const payload = ev.payload as { alerts: unknown[] };
    payload.alerts = [payload.alerts[0], payload.alerts[0]];
    const r = await dispatchEvent(entries.slice(0, 1), ev, { env: {}, starter, dedup });
    expect(r.runs.map((x) => x.status)).toEqual(['started', 'duplicate']);
    expect(r.runs[1]?.message).toBe('event alertmanager:2d350d5cd5dd3c2f:2026-11-25T18:52:27Z:firing appears more than once in this delivery: its run starts once');
    expect(starter.calls).toHaveLength(1);
    expect(r.executions).toHaveLength(1);
  });

  it('the dedup lock held past its wait: nothing deduplicated starts, refused for now (busy overloaded: serve answers 503), not thrown', async () => {
    const root = tempDir();
    dirs.push(root);
    const held = new StateConflictError('lock "trigger-dedup" is held by another cortex process (owner unknown)', { hint: 'if no cortex process is running, remove it' });
    const locks = { acquire: async () => Promise.reject(held) } as unknown as LockManager;
    const starter = fakeStarter();
    const r = await dispatchEvent(entries.slice(0, 1), firing(), { env: {}, starter, dedup: new DedupStore(new FsTriggerStateStore(root), locks) });
    expect(r.runs.map((x) => [x.status, x.busy, x.message])).toEqual([['busy', 'overloaded', 'lock "trigger-dedup" is held by another cortex process (owner unknown): send it again later']]);
    expect(starter.calls).toEqual([]);
  });

  it('--dry-run renders the parameters and starts and records nothing', async () => {
    const root = tempDir();
    dirs.push(root);
    const starter = fakeStarter();
    const dedup = new DedupStore(new FsTriggerStateStore(root), new ProperLockManager(root));
    const r = await dispatchEvent(entries.slice(0, 2), firing(), { env: {}, starter, dedup, dryRun: true });
    expect(r.runs.map((x) => [x.status, x.parameters])).toEqual([
      ['would_start', { instance: 'node-1' }],
      ['would_start', { summary: 'Memory usage above 90% on node-1' }],
    ]);
    expect(starter.calls).toEqual([]);
    expect(await dedup.lookup('alertmanager:2d350d5cd5dd3c2f:2026-11-25T18:52:27Z:firing', new Date())).toBeUndefined();
  });

  it('dedup entries expire', async () => {
    const root = tempDir();
    dirs.push(root);
    const dedup = new DedupStore(new FsTriggerStateStore(root), new ProperLockManager(root), 1000);
    const t0 = new Date('2026-11-25T12:00:00Z');
    expect((await dedup.claim([{ key: 'k', workflows: ['w'] }], t0)).fresh.has('k')).toBe(true);
    expect((await dedup.claim([{ key: 'k', workflows: ['w'] }], new Date(t0.getTime() + 500))).seen.has('k')).toBe(true);
    expect((await dedup.claim([{ key: 'k', workflows: ['w'] }], new Date(t0.getTime() + 1500))).fresh.has('k')).toBe(true);
  });

  it('a failed start is reported with the run\'s exit code', async () => {
    const root = tempDir();
    dirs.push(root);
    const starter = fakeStarter({ fail: () => ({ ok: false, pid: 7, exitCode: 3, message: 'cortex run exited with code 3' }) });
    const r = await dispatchEvent(entries.slice(0, 1), firing(), { env: {}, starter, dedup: new DedupStore(new FsTriggerStateStore(root), new ProperLockManager(root)) });
    expect(r.runs[0]).toMatchObject({ status: 'failed', exit_code: 3, execution_id: null });
    expect(r.executions).toEqual([]);
  });

  it('a damaged dedup.json is kept, copied aside once and said so; nothing deduplicated starts until it is repaired', async () => {
    const root = tempDir();
    dirs.push(root);
    const dedup = new DedupStore(new FsTriggerStateStore(root), new ProperLockManager(root));
    const starter = fakeStarter();
    expect((await dispatchEvent(entries.slice(0, 1), firing(), { env: {}, starter, dedup })).runs[0]?.status).toBe('started');
    // A crash or a full disk cut the file: the event seen above must not start a run again.
    const path = triggerStatePath(root, 'dedup');
    const torn = readFileSync(path, 'utf8').slice(0, 40);
    writeFileSync(path, torn);
    for (let i = 0; i < 2; i++) {
      const r = await dispatchEvent(entries.slice(0, 1), firing(), { env: {}, starter, dedup });
      expect(r.runs[0]).toMatchObject({ status: 'busy', busy: 'unavailable', exit_code: 4, message: expect.stringContaining(`${path} is damaged`) });
      expect(r.executions).toEqual([]);
    }
    expect(starter.calls).toHaveLength(1);
    expect(readFileSync(path, 'utf8')).toBe(torn);
    const copies = readdirSync(join(root, 'state')).filter((n) => n.startsWith('dedup.json.damaged-'));
    expect(copies).toHaveLength(1);
    expect(readFileSync(join(root, 'state', copies[0] as string), 'utf8')).toBe(torn);
    expect(statSync(join(root, 'state', copies[0] as string)).mode & 0o777).toBe(0o600);
    // --force does not replace it either: the hint says to repair or remove it.
    expect((await dispatchEvent(entries.slice(0, 1), firing(), { env: {}, starter, dedup, force: true })).runs[0]?.status).toBe('busy');
    // Removed by the operator: events start again.
    writeFileSync(path, '{"version": 1, "entries": {}}');
    expect((await dispatchEvent(entries.slice(0, 1), firing(), { env: {}, starter, dedup })).runs[0]?.status).toBe('started');
  });

  it('a dedup.json of the wrong shape is damaged too', async () => {
    const root = tempDir({ 'state/dedup.json': '{"version": 1, "entries": []}' });
    dirs.push(root);
    const starter = fakeStarter();
    const r = await dispatchEvent(entries.slice(0, 1), firing(), { env: {}, starter, dedup: new DedupStore(new FsTriggerStateStore(root), new ProperLockManager(root)) });
    expect(r.runs[0]).toMatchObject({ status: 'busy', busy: 'unavailable', message: expect.stringMatching(/does not hold/) });
    expect(starter.calls).toEqual([]);
  });
});
