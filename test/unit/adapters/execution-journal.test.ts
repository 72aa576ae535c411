import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { FsStateStore } from '../../../src/adapters/fs-state-store.js';
import { listActiveRecords, readActiveRecord } from '../../../src/adapters/record-files.js';
import { writeFileAtomic } from '../../../src/adapters/atomic-file.js';
import { Masker } from '../../../src/model/masker.js';
import { layout } from '../../../src/layout.js';
import type { ActionRecord, ExecutionRecord } from '../../../src/model/records.js';
import type { Clock } from '../../../src/ports/clock.js';
import type { LockManager } from '../../../src/ports/state-store.js';

const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
(((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv2020) => void)(ajv);
const schema = (name: string): object => JSON.parse(readFileSync(new URL(`../../../schemas/${name}.schema.json`, import.meta.url), 'utf8')) as object;
const validateRecord = ajv.compile(schema('execution'));
const validateLine = ajv.compile(schema('execution-journal'));

const clock: Clock = { now: () => new Date('2026-12-03T10:00:00.000Z'), sleep: async () => undefined, timer: async () => undefined };
const noLocks = {} as LockManager;
const ID = 'wf-20261203T100000Z-abcd';
const SECRET = 'hunter2-journal-secret';

function action(id: string): ActionRecord {
  return { action_id: id, action: 'execute_command', contractor: 'infrastructure-contractor', status: 'pending', on_error: 'fail_workflow', attempts: [] };
}

function newRecord(): ExecutionRecord {
  return {
    schema_version: 1,
    execution_id: ID,
    workflow_id: 'wf',
    workflow_name: 'wf',
    definition: { version: '1.0.0', hash: `sha256:${'0'.repeat(64)}`, path: 'workflows/wf.yaml' },
    status: 'running',
    status_reason: 'started',
    trigger: { type: 'manual', user: 'op' },
    parameters: {},
    started_at: '2026-12-03T10:00:00.000Z',
    updated_at: '2026-12-03T10:00:00.000Z',
    finished_at: null,
    duration_seconds: null,
    current_phase: 'p1',
    current_action: null,
    phases: [
      { phase_id: 'p1', contractor: 'infrastructure-contractor', status: 'running', actions: [action('a1'), action('a2')] },
      { phase_id: 'p2', contractor: 'infrastructure-contractor', status: 'pending', actions: [action('a3')] },
    ],
    handoffs: [],
    notifications: [],
    approvals: [],
  };
}

/** One step of an action, as the engine makes it: running (with its attempt), then completed. */
function start(rec: ExecutionRecord, p: number, a: number, at: string): void {
  const ar = rec.phases[p]!.actions[a]!;
  ar.status = 'running';
  ar.started_at = at;
  ar.attempts.push({ attempt: 1, status: 'running', started_at: at, process_cookie: `cookie-${p}-${a}` });
  rec.current_action = ar.action_id;
  rec.updated_at = at;
}
function complete(rec: ExecutionRecord, p: number, a: number, at: string): void {
  const ar = rec.phases[p]!.actions[a]!;
  ar.status = 'completed';
  ar.finished_at = at;
  ar.outputs = { stdout: 'ok' };
  Object.assign(ar.attempts.at(-1)!, { status: 'succeeded', finished_at: at, duration_seconds: 1 });
  rec.updated_at = at;
}

let root: string;
let store: FsStateStore;
const copy = (r: ExecutionRecord): ExecutionRecord => structuredClone(r);
const paths = () => layout(root);
const journalText = () => readFileSync(paths().journal(ID), 'utf8');
const fileRecord = () => JSON.parse(readFileSync(paths().activeRecord(ID), 'utf8')) as ExecutionRecord;
const digest = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'cortex-journal-'));
  store = new FsStateStore(root, new Masker(), noLocks, clock);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('execution journal', () => {
  it('a whole write starts the journal: line 1 names the SHA-256 of the record file bytes; the files are 0600 in a 0700 folder', async () => {
    await store.writeExecution(newRecord());
    expect(journalText()).toBe(`{"base":"${digest(paths().activeRecord(ID))}"}\n`);
    expect(statSync(paths().journal(ID)).mode & 0o777).toBe(0o600);
    expect(statSync(paths().journals).mode & 0o777).toBe(0o700);
    for (const line of journalText().split('\n').filter(Boolean)) expect(validateLine(JSON.parse(line)), ajv.errorsText(validateLine.errors)).toBe(true);
  });

  it('replay applies the lines in order: readers see every step while the file keeps the whole write', async () => {
    const rec = newRecord();
    await store.writeExecution(rec);
    const written = copy(rec);
    start(rec, 0, 0, '2026-12-03T10:00:01.000Z');
    expect(await store.journalExecution(rec, [{ phase: 0, action: 0 }])).toBe(true);
    complete(rec, 0, 0, '2026-12-03T10:00:02.000Z');
    expect(await store.journalExecution(rec, [{ phase: 0, action: 0 }])).toBe(true);
    // A removed top-level field and a phase head change go with the next step.
    delete rec.status_reason;
    rec.phases[0]!.status = 'completed';
    rec.phases[1]!.status = 'running';
    rec.current_phase = 'p2';
    start(rec, 1, 0, '2026-12-03T10:00:03.000Z');
    expect(await store.journalExecution(rec, [{ phase: 1, action: 0 }, { phase: 0, action: 1 }])).toBe(true);

    const lines = journalText().trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(validateLine(JSON.parse(line)), ajv.errorsText(validateLine.errors)).toBe(true);
    expect(fileRecord()).toEqual(written);

    const expected = copy(rec);
    expect((await store.readExecution(ID))?.record).toEqual(expected);
    expect(validateRecord((await store.readExecution(ID))?.record), ajv.errorsText(validateRecord.errors)).toBe(true);
    expect(readActiveRecord(root, ID)).toEqual({ record: expected, applied: 3 });
    expect(listActiveRecords(root)).toEqual([expected]);
    expect(await store.listActive()).toEqual([expected]);
    expect(await store.readBothCopies(ID)).toEqual({ active: expected, activeLags: true });
    // Key order as in a record file: phases after current_action.
    expect(Object.keys((await store.readExecution(ID))!.record)).toEqual(Object.keys(rec).filter((k) => k !== 'status_reason'));
  });

  it('a torn last line (a kill mid-append) is ignored; the lines before it apply', async () => {
    const rec = newRecord();
    await store.writeExecution(rec);
    start(rec, 0, 0, '2026-12-03T10:00:01.000Z');
    await store.journalExecution(rec, [{ phase: 0, action: 0 }]);
    const afterFirst = copy(rec);
    complete(rec, 0, 0, '2026-12-03T10:00:02.000Z');
    await store.journalExecution(rec, [{ phase: 0, action: 0 }]);
    const whole = journalText();
    const lastLine = whole.trimEnd().split('\n').at(-1)!;
    // The same journal with its last line cut short, as a kill in the middle of its write leaves it.
    writeFileSync(paths().journal(ID), whole.slice(0, whole.length - 1 - Math.floor(lastLine.length / 2)));
    expect((await store.readExecution(ID))?.record).toEqual(afterFirst);
    expect(readActiveRecord(root, ID)?.applied).toBe(1);
  });

  it('a stale journal (a kill between the record rename and the journal reset) never rolls the record back', async () => {
    const rec = newRecord();
    await store.writeExecution(rec);
    start(rec, 0, 0, '2026-12-03T10:00:01.000Z');
    await store.journalExecution(rec, [{ phase: 0, action: 0 }]);
    complete(rec, 0, 0, '2026-12-03T10:00:02.000Z');
    rec.phases[0]!.status = 'completed';
    // The first half of a whole write: the new record file is renamed into place, the journal is
    // not reset yet. Its lines (a1 running) would take a1 back if they were applied.
    const bytes = `${JSON.stringify(rec, null, 2)}\n`;
    await writeFileAtomic(paths().activeRecord(ID), bytes, 0o600, { root });
    expect(journalText().split('\n').filter(Boolean)).toHaveLength(2);
    expect((await store.readExecution(ID))?.record).toEqual(rec);
    expect(readActiveRecord(root, ID)?.applied).toBe(0);
    expect(await store.readBothCopies(ID)).toEqual({ active: rec });
  });

  it('a whole write resets the journal to one base line naming the new file', async () => {
    const rec = newRecord();
    await store.writeExecution(rec);
    start(rec, 0, 0, '2026-12-03T10:00:01.000Z');
    await store.journalExecution(rec, [{ phase: 0, action: 0 }]);
    complete(rec, 0, 0, '2026-12-03T10:00:02.000Z');
    await store.writeExecution(rec);
    expect(journalText()).toBe(`{"base":"${digest(paths().activeRecord(ID))}"}\n`);
    expect(fileRecord()).toEqual(rec);
    expect(readActiveRecord(root, ID)).toEqual({ record: rec, applied: 0 });
  });

  it('appends only continue a whole write of the same store, to the journal that write started', async () => {
    const rec = newRecord();
    await store.writeExecution(rec);
    // Another store (another process) never wrote this record: it has no journal to continue.
    const other = new FsStateStore(root, new Masker(), noLocks, clock);
    start(rec, 0, 0, '2026-12-03T10:00:01.000Z');
    expect(await other.journalExecution(rec, [{ phase: 0, action: 0 }])).toBe(false);
    expect(journalText().split('\n').filter(Boolean)).toHaveLength(1);
    // It writes the record whole: the first store's journal is replaced, its appends are refused.
    await other.writeExecution(rec);
    const before = journalText();
    complete(rec, 0, 0, '2026-12-03T10:00:02.000Z');
    expect(await store.journalExecution(rec, [{ phase: 0, action: 0 }])).toBe(false);
    expect(journalText()).toBe(before);
    // A missing journal: nothing to continue either, and nothing is created.
    unlinkSync(paths().journal(ID));
    expect(await other.journalExecution(rec, [{ phase: 0, action: 0 }])).toBe(false);
    expect(() => statSync(paths().journal(ID))).toThrow(/ENOENT/);
  });

  it('a new record another store drives (journal: false) starts no journal; the driver starts its own with its first whole write', async () => {
    const rec = newRecord();
    await store.writeExecution(rec, { journal: false });
    expect(() => statSync(paths().journal(ID))).toThrow(/ENOENT/);
    expect(readActiveRecord(root, ID)?.record).toEqual(rec);
    // The creator cannot append (it started no journal): a step would be a whole write.
    start(rec, 0, 0, '2026-12-03T10:00:01.000Z');
    expect(await store.journalExecution(rec, [{ phase: 0, action: 0 }])).toBe(false);
    const driver = new FsStateStore(root, new Masker(), noLocks, clock);
    await driver.writeExecution(rec);
    complete(rec, 0, 0, '2026-12-03T10:00:02.000Z');
    expect(await driver.journalExecution(rec, [{ phase: 0, action: 0 }])).toBe(true);
    expect(readActiveRecord(root, ID)?.record).toEqual(rec);
  });

  it('archiving writes the record whole into history/ and removes the journal', async () => {
    const rec = newRecord();
    await store.writeExecution(rec);
    start(rec, 0, 0, '2026-12-03T10:00:01.000Z');
    await store.journalExecution(rec, [{ phase: 0, action: 0 }]);
    complete(rec, 0, 0, '2026-12-03T10:00:02.000Z');
    rec.status = 'completed';
    await store.archiveExecution(rec);
    expect(() => statSync(paths().journal(ID))).toThrow(/ENOENT/);
    expect(JSON.parse(readFileSync(paths().historyRecord(ID), 'utf8'))).toEqual(rec);
    expect(await store.readExecution(ID)).toEqual({ record: rec, location: 'history' });
  });

  it('journal lines are masked like the record', async () => {
    const masker = new Masker();
    masker.add(SECRET);
    const s = new FsStateStore(root, masker, noLocks, clock);
    const rec = newRecord();
    await s.writeExecution(rec);
    start(rec, 0, 0, '2026-12-03T10:00:01.000Z');
    rec.phases[0]!.actions[0]!.parameters = { command: ['echo', SECRET] };
    expect(await s.journalExecution(rec, [{ phase: 0, action: 0 }])).toBe(true);
    expect(journalText()).not.toContain(SECRET);
    expect((await s.readExecution(ID))?.record.phases[0]?.actions[0]?.parameters).toEqual({ command: ['echo', '***'] });
  });

  it('a line that does not fit the record (an index out of range) ends the replay', async () => {
    const rec = newRecord();
    await store.writeExecution(rec);
    start(rec, 0, 0, '2026-12-03T10:00:01.000Z');
    await store.journalExecution(rec, [{ phase: 0, action: 0 }]);
    const good = copy(rec);
    appendFileSync(paths().journal(ID), `${JSON.stringify({ record: { ...good, phases: undefined }, phases: [{ index: 7, phase: {}, actions: [] }] })}\n`);
    expect(readActiveRecord(root, ID)).toEqual({ record: good, applied: 1 });
  });
});
