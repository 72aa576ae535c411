import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsStateStore } from '../../../src/adapters/fs-state-store.js';
import { Masker } from '../../../src/model/masker.js';
import { layout } from '../../../src/layout.js';
import type { ActionRecord, ExecutionRecord } from '../../../src/model/records.js';
import type { Clock } from '../../../src/ports/clock.js';
import type { LockManager } from '../../../src/ports/state-store.js';

// Every fsync of the process while these tests run, by the path of the file it was made on
// (fs.fsyncSync wrapped, and put back after; syncBuiltinESMExports carries it to `import`s).
const fs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');
const realFsync = fs.fsyncSync;
const fsynced: string[] = [];
beforeAll(() => {
  fs.fsyncSync = (fd: number) => {
    fsynced.push(fs.readlinkSync(`/proc/self/fd/${fd}`));
    realFsync(fd);
  };
  syncBuiltinESMExports();
});
afterAll(() => {
  fs.fsyncSync = realFsync;
  syncBuiltinESMExports();
});

const clock: Clock = { now: () => new Date('2026-12-03T10:00:00.000Z'), sleep: async () => undefined, timer: async () => undefined };

function action(id: string): ActionRecord {
  return { action_id: id, action: 'execute_command', contractor: 'infrastructure-contractor', status: 'pending', on_error: 'fail_workflow', attempts: [] };
}

function newRecord(id: string): ExecutionRecord {
  return {
    schema_version: 1,
    execution_id: id,
    workflow_id: 'wf',
    workflow_name: 'wf',
    definition: { version: '1.0.0', hash: `sha256:${'0'.repeat(64)}`, path: 'workflows/wf.yaml' },
    status: 'running',
    trigger: { type: 'manual', user: 'op' },
    parameters: {},
    started_at: '2026-12-03T10:00:00.000Z',
    updated_at: '2026-12-03T10:00:00.000Z',
    finished_at: null,
    duration_seconds: null,
    current_phase: 'p1',
    current_action: null,
    phases: [{ phase_id: 'p1', contractor: 'infrastructure-contractor', status: 'running', actions: [action('a1'), action('a2')] }],
    handoffs: [],
    notifications: [],
    approvals: [],
  };
}

const A = 'wf-20261203T100000Z-aaaa';
const B = 'wf-20261203T100000Z-bbbb';

describe('FsStateStore: journal lines written without an fsync (an action end)', () => {
  let root: string;
  let store: FsStateStore;
  let journal: (id: string) => string;
  const lines = (id: string) => readFileSync(journal(id), 'utf8').trim().split('\n').length - 1;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'cortex-journal-sync-'));
    store = new FsStateStore(root, new Masker(), {} as LockManager, clock);
    journal = (id) => layout(root).journal(id);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function started(rec: ExecutionRecord, at: number): Promise<void> {
    const a = rec.phases[0]!.actions[at]!;
    a.status = 'running';
    expect(await store.journalExecution(rec, [{ phase: 0, action: at }])).toBe(true);
  }
  async function ended(rec: ExecutionRecord, at: number): Promise<void> {
    rec.phases[0]!.actions[at]!.status = 'completed';
    expect(await store.journalExecution(rec, [{ phase: 0, action: at }], { sync: false })).toBe(true);
  }

  it('is written at once (readers see it) and fsynced by the next line of the same journal, not on its own', async () => {
    const rec = newRecord(A);
    await store.writeExecution(rec);
    await started(rec, 0);
    fsynced.length = 0;
    await ended(rec, 0);
    expect(fsynced).toEqual([]);
    expect(lines(A)).toBe(2);
    expect((await store.readExecution(A))?.record.phases[0]!.actions[0]!.status).toBe('completed');
    // The next start line: one fsync of the journal, which covers the end line written before it.
    await started(rec, 1);
    expect(fsynced).toEqual([journal(A)]);
  });

  it('a second end line in a row is fsynced (at most one line of a journal waits)', async () => {
    const rec = newRecord(A);
    await store.writeExecution(rec);
    await started(rec, 0);
    await started(rec, 1);
    fsynced.length = 0;
    await ended(rec, 0);
    expect(fsynced).toEqual([]);
    await ended(rec, 1);
    expect(fsynced).toEqual([journal(A)]);
    // Nothing waits any more: the next durable write syncs nothing else.
    fsynced.length = 0;
    await store.appendAudit({ time: 't', user: 'u', host: 'h', command: 'c', result: 'ok' });
    expect(fsynced).not.toContain(journal(A));
  });

  it('is made durable before any other durable write of the store: another run, a handoff, the audit trail', async () => {
    const a = newRecord(A);
    const b = newRecord(B);
    await store.writeExecution(a);
    await store.writeExecution(b);
    await started(a, 0);
    await ended(a, 0);
    fsynced.length = 0;
    // Another execution's start line: A's end line is fsynced first.
    await started(b, 0);
    expect(fsynced).toEqual([journal(A), journal(B)]);

    await ended(b, 0);
    fsynced.length = 0;
    await store.writeHandoff('k8s-contractor', {
      handoff_id: `${B}-p1-to-k8s-contractor`,
      from_contractor: 'infrastructure-contractor',
      to_contractor: 'k8s-contractor',
      task_id: B,
      data: {},
      status: 'pending',
      execution_id: B,
      workflow_id: 'wf',
      from_phase: 'p1',
      created_at: 't',
      updated_at: 't',
    });
    expect(fsynced[0]).toBe(journal(B));

    await started(a, 1);
    await ended(a, 1);
    fsynced.length = 0;
    await store.appendAudit({ time: 't', user: 'u', host: 'h', command: 'c', result: 'ok' });
    expect(fsynced[0]).toBe(journal(A));
  });

  it("a whole write of the same execution supersedes its unsynced line (no fsync of the old journal); another's is fsynced first", async () => {
    const a = newRecord(A);
    const b = newRecord(B);
    await store.writeExecution(a);
    await store.writeExecution(b);
    await started(a, 0);
    await ended(a, 0);
    await started(b, 0);
    await ended(b, 0);
    fsynced.length = 0;
    await store.writeExecution(a);
    // The record and the new journal are written to temporary files, fsynced, renamed: the old journal is never fsynced.
    expect(fsynced).not.toContain(journal(A));
    expect(fsynced[0]).toBe(journal(B));
    expect(JSON.parse(readFileSync(layout(root).activeRecord(A), 'utf8')).phases[0].actions[0].status).toBe('completed');
  });
});
