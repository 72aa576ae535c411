import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import fc from 'fast-check';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { FsStateStore, parseLedger } from '../../../src/adapters/fs-state-store.js';
import { MetricsLedger } from '../../../src/adapters/metrics-ledger.js';
import { ProperLockManager } from '../../../src/adapters/proper-lock-manager.js';
import { Masker } from '../../../src/model/masker.js';
import { computeContractorPerformance, computeWorkflowStats } from '../../../src/model/metrics.js';
import type { ExecutionSummary } from '../../../src/model/records.js';
import { layout } from '../../../src/layout.js';
import type { Clock } from '../../../src/ports/clock.js';
import { BASE_MS, finishStep, makeSummary, summaryBody, type SummaryBody } from '../model/summary-arbitrary.js';

const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
const validateIndex = ajv.compile(JSON.parse(readFileSync(new URL('../../../schemas/metrics-index.schema.json', import.meta.url), 'utf8')) as object);

const text = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

let root: string;
let paths: ReturnType<typeof layout>;
let nowMs = BASE_MS;
const clock: Clock = { now: () => new Date(nowMs), sleep: async () => undefined, timer: async () => undefined };

function store(): FsStateStore {
  return new FsStateStore(root, new Masker(), new ProperLockManager(root), clock);
}

/** The files recordMetrics wrote equal what the reference computes over the ledger as it is now. */
function expectReference(): void {
  const { summaries } = parseLedger(readFileSync(paths.ledger, 'utf8'));
  const now = new Date(nowMs);
  expect(readFileSync(paths.workflowStats, 'utf8')).toBe(text(computeWorkflowStats(summaries, now)));
  expect(readFileSync(paths.contractorPerformance, 'utf8')).toBe(text(computeContractorPerformance(summaries, now)));
}

function expectValidIndex(): void {
  const index = JSON.parse(readFileSync(paths.ledgerIndex, 'utf8')) as unknown;
  expect(validateIndex(index), ajv.errorsText(validateIndex.errors)).toBe(true);
  expect(statSync(paths.ledgerIndex).mode & 0o777).toBe(0o600);
}

async function loadMode(): Promise<MetricsLedger['mode']> {
  const ledger = new MetricsLedger(paths.ledger, paths.ledgerIndex, parseLedger);
  await ledger.load();
  return ledger.mode;
}

const BODY = { workflow_id: 'wf-a', status: 'completed', duration_seconds: 1.5, contractors: {}, actions: [], errors: [], handoffs: [] } as unknown as SummaryBody;
let serial = 0;
function next(body: SummaryBody = BODY, finishedMs = (nowMs += 60_000)): ExecutionSummary {
  return makeSummary(body, `${body.workflow_id}-${(serial++).toString().padStart(5, '0')}`, finishedMs);
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'cortex-metrics-index-'));
  paths = layout(root);
  nowMs = BASE_MS;
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('recordMetrics with the ledger index', () => {
  it('writes a valid 0600 index and then reads only what was appended since', async () => {
    const s = store();
    await s.recordMetrics(next());
    expectValidIndex();
    expect(await loadMode()).toBe('index');
    await s.recordMetrics(next());
    expectReference();
    const index = JSON.parse(readFileSync(paths.ledgerIndex, 'utf8')) as { ledger: { offset: number } };
    expect(index.ledger.offset).toBe(statSync(paths.ledger).size);
  });

  // Each: what is done to the ledger or the index between two runs, and how the next run reads it.
  const TRIGGERS: Array<{ name: string; mode: MetricsLedger['mode']; act: () => void }> = [
    { name: 'index deleted', mode: 'rebuilt', act: () => unlinkSync(paths.ledgerIndex) },
    { name: 'index not JSON', mode: 'rebuilt', act: () => writeFileSync(paths.ledgerIndex, '{"version":1,') },
    {
      name: 'index of another version',
      mode: 'rebuilt',
      act: () => writeFileSync(paths.ledgerIndex, readFileSync(paths.ledgerIndex, 'utf8').replace('"version":1', '"version":2')),
    },
    {
      name: 'index with a state it cannot have written',
      mode: 'rebuilt',
      act: () => writeFileSync(paths.ledgerIndex, readFileSync(paths.ledgerIndex, 'utf8').replace(/"durations":"[^"]*"/, '"durations":"AAA="')),
    },
    {
      name: 'index damaged but still parseable (a count changed)',
      mode: 'rebuilt',
      act: () => writeFileSync(paths.ledgerIndex, readFileSync(paths.ledgerIndex, 'utf8').replace('"total":2', '"total":3')),
    },
    {
      name: 'index damaged but still parseable (a column emptied, the runs negative)',
      mode: 'rebuilt',
      act: () => writeFileSync(paths.ledgerIndex, readFileSync(paths.ledgerIndex, 'utf8').replace(/"durations":"[^"]*"/, '"durations":""').replace('"runs":2', '"runs":-5')),
    },
    { name: 'ledger shorter than the offset (truncated)', mode: 'rebuilt', act: () => truncateSync(paths.ledger, statSync(paths.ledger).size - 10) },
    {
      name: 'ledger replaced by another file (same content, new inode)',
      mode: 'rebuilt',
      act: () => {
        const content = readFileSync(paths.ledger);
        rmSync(paths.ledger);
        writeFileSync(paths.ledger, content, { mode: 0o600 });
      },
    },
    {
      name: 'ledger edited before the offset, same size, same file',
      mode: 'rebuilt',
      act: () => writeFileSync(paths.ledger, readFileSync(paths.ledger, 'utf8').replace('"duration_seconds":1.5', '"duration_seconds":9.5')),
    },
    {
      name: 'ledger edited before the offset and grown',
      mode: 'rebuilt',
      act: () => writeFileSync(paths.ledger, readFileSync(paths.ledger, 'utf8').replace('"duration_seconds":1.5', '"duration_seconds":1234.5')),
    },
    { name: 'a line appended by hand (a crash after the append: the index is stale)', mode: 'index', act: () => appendFileSync(paths.ledger, `${JSON.stringify(next())}\n`) },
    { name: 'an unreadable line appended', mode: 'index', act: () => appendFileSync(paths.ledger, 'not json\n') },
    { name: 'a torn line (no newline)', mode: 'index', act: () => appendFileSync(paths.ledger, '{"execution_id":"torn-1","stat') },
  ];
  for (const t of TRIGGERS) {
    it(`${t.name}: the next run reads ${t.mode === 'index' ? 'only the new bytes' : 'the whole ledger again'}, and the files equal the reference`, async () => {
      const s = store();
      await s.recordMetrics(next());
      await s.recordMetrics(next());
      t.act();
      expect(await loadMode()).toBe(t.mode);
      await s.recordMetrics(next());
      expectReference();
      expectValidIndex();
      expect(await loadMode()).toBe('index');
    });
  }

  it('a directory where the index goes: the run records its metrics and warns, no stack trace', async () => {
    const s = store();
    await s.recordMetrics(next());
    unlinkSync(paths.ledgerIndex);
    mkdirSync(paths.ledgerIndex);
    const { warnings } = await s.recordMetrics(next());
    expectReference();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(paths.ledgerIndex);
    expect(warnings[0]).not.toMatch(/\n\s+at /);
    rmSync(paths.ledgerIndex, { recursive: true });
    expect((await s.recordMetrics(next())).warnings).toEqual([]);
    expectReference();
    expectValidIndex();
  });

  it('keeps no index when a line not written under the lock landed between the read and the append', async () => {
    await store().recordMetrics(next());
    const ledger = new MetricsLedger(paths.ledger, paths.ledgerIndex, parseLedger);
    await ledger.load();
    appendFileSync(paths.ledger, `${JSON.stringify(next())}\n`);
    const ours = Buffer.from(`${JSON.stringify(next())}\n`);
    appendFileSync(paths.ledger, ours);
    await ledger.appended(JSON.parse(ours.toString()) as ExecutionSummary, ours);
    expect((await ledger.result(new Date(nowMs))).index).toBeUndefined();
  });

  it("removes an index temp file a killed writer left (1.6 MB at 20,000 lines), not another file's", async () => {
    await store().recordMetrics(next());
    const left = join(paths.metrics, '..executions-index.json.123.abc.tmp');
    const other = join(paths.metrics, '.workflow-stats.json.123.abc.tmp');
    writeFileSync(left, '{');
    writeFileSync(other, '{');
    await store().recordMetrics(next());
    expect(existsSync(left)).toBe(false);
    expect(existsSync(other)).toBe(true);
  });

  it('many lines since the index (a cortex without one wrote them): folded from the index, a repeated id still caught', async () => {
    const s = store();
    const first = next();
    await s.recordMetrics(first);
    appendFileSync(paths.ledger, Array.from({ length: 30 }, () => `${JSON.stringify(next())}\n`).join(''));
    expect(await loadMode()).toBe('index');
    await s.recordMetrics(next());
    expectReference();
    appendFileSync(paths.ledger, `${Array.from({ length: 20 }, () => JSON.stringify(next())).join('\n')}\n${JSON.stringify(first)}\n`);
    expect(await loadMode()).toBe('reference');
    await s.recordMetrics(next());
    expectReference();
  });

  it('a run recorded out of order (finished before the last one counted) refolds the whole ledger, in order', async () => {
    const s = store();
    await s.recordMetrics(next(BODY, BASE_MS + 3_600_000));
    await s.recordMetrics(next(BODY, BASE_MS + 60_000));
    expectReference();
    expectValidIndex();
    const index = JSON.parse(readFileSync(paths.ledgerIndex, 'utf8')) as { state: { last_key: [string, string] } };
    expect(index.state.last_key[0]).toBe(new Date(BASE_MS + 3_600_000).toISOString());
  });

  it('a repeated execution id in the ledger: the reference over every line, and no index', async () => {
    const s = store();
    const first = next();
    await s.recordMetrics(first);
    appendFileSync(paths.ledger, `${JSON.stringify({ ...first, duration_seconds: 99 })}\n`);
    await s.recordMetrics(next());
    expectReference();
    expect(existsSync(paths.ledgerIndex)).toBe(false);
    expect(await loadMode()).toBe('reference');
  });

  // Found by a hostile review: such a line made the reference throw a TypeError (titleCase of an
  // absent contractor, a null contractor entry) at the end of this run and of every later one.
  it.each([
    ['an action without its contractor', (s: ExecutionSummary) => ({ ...s, actions: [{ action_id: 'a', action: 'x', status: 'completed', duration_seconds: 1 }] })],
    ['a null contractor entry', (s: ExecutionSummary) => ({ ...s, contractors: { q: null } })],
    ['errors of another type', (s: ExecutionSummary) => ({ ...s, contractors: { c: { duration_seconds: 1, errors: '2' } } })],
    ['an error without its text', (s: ExecutionSummary) => ({ ...s, errors: [{ contractor: 'c' }] })],
  ])('a ledger line with %s is unreadable: warned about, kept aside, not counted; the run ends and the index is kept', async (_name, damage) => {
    const s = store();
    await s.recordMetrics(next());
    const damaged = JSON.stringify(damage(next()));
    appendFileSync(paths.ledger, `${damaged}\n`);
    expect(parseLedger(readFileSync(paths.ledger, 'utf8')).unreadable).toEqual([damaged]);
    const { warnings } = await s.recordMetrics(next());
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('1 line(s) of');
    expectReference();
    expectValidIndex();
    const stats = JSON.parse(readFileSync(paths.workflowStats, 'utf8')) as { summary: { total_workflow_executions: number } };
    expect(stats.summary.total_workflow_executions).toBe(2);
    // Later runs fold from the index and still warn about it, as the full read did.
    expect(await loadMode()).toBe('index');
    expect((await s.recordMetrics(next())).warnings).toHaveLength(1);
    expectReference();
  });

  it('a ledger edited in place more than 64 KiB before the offset, same size, same file: rebuilt, the files equal the reference', async () => {
    const s = store();
    const big = { ...BODY, workflow_name: 'x'.repeat(8_000) } as SummaryBody;
    for (let i = 0; i < 10; i++) await s.recordMetrics(next(big));
    expect(statSync(paths.ledger).size).toBeGreaterThan(80_000);
    expect(await loadMode()).toBe('index');
    // As `dd conv=notrunc` or an editor writing in place would: the first line's duration changed.
    const at = readFileSync(paths.ledger).indexOf('"duration_seconds":1.5');
    expect(at).toBeGreaterThan(-1);
    expect(at).toBeLessThan(1_000);
    const fd = openSync(paths.ledger, 'r+');
    writeSync(fd, '"duration_seconds":9.5', at);
    closeSync(fd);
    expect(await loadMode()).toBe('rebuilt');
    await s.recordMetrics(next(big));
    expectReference();
    expectValidIndex();
    expect(await loadMode()).toBe('index');
  });

  it('an execution already counted (in the index or on the torn-free last line) is not appended again', async () => {
    const s = store();
    const a = next();
    await s.recordMetrics(a);
    await s.recordMetrics(a);
    const b = next();
    appendFileSync(paths.ledger, JSON.stringify(b));
    await s.recordMetrics(b);
    expect(parseLedger(readFileSync(paths.ledger, 'utf8')).summaries.map((x) => x.execution_id)).toEqual([a.execution_id, b.execution_id]);
    expectReference();
    await s.recordMetrics(next());
    expectReference();
    expect(await loadMode()).toBe('index');
  });

  it('unreadable lines before the offset are still warned about at every run', async () => {
    const s = store();
    await s.recordMetrics(next());
    appendFileSync(paths.ledger, 'garbage one\n');
    expect((await s.recordMetrics(next())).warnings).toHaveLength(1);
    expect(await loadMode()).toBe('index');
    const r = await s.recordMetrics(next());
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/^1 line\(s\) of /);
    expect(readFileSync(`${paths.ledger}.damaged`, 'utf8')).toBe('garbage one\n');
  });
});

type Op =
  | { kind: 'record'; body: SummaryBody; step: number }
  | { kind: 'again'; pick: number }
  | { kind: 'torn'; pick: number; cut: number }
  | { kind: 'garbage' }
  | { kind: 'delete-index' }
  | { kind: 'corrupt-index'; cut: number }
  | { kind: 'stale-index'; pick: number }
  | { kind: 'truncate'; cut: number }
  | { kind: 'rewrite'; drop: number }
  | { kind: 'clock'; hours: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('record' as const), body: summaryBody, step: finishStep }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('again' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('torn' as const), pick: fc.nat(), cut: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('garbage' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete-index' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('corrupt-index' as const), cut: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('stale-index' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), cut: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rewrite' as const), drop: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clock' as const), hours: fc.integer({ min: -24 * 40, max: 24 * 40 }) }) },
);

describe('recordMetrics through the index (oracle: the reference over the ledger as it is)', () => {
  it('writes what the full recomputation writes, byte for byte, whatever happens to the ledger and the index between runs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        rmSync(paths.metrics, { recursive: true, force: true });
        mkdirSync(paths.metrics, { recursive: true, mode: 0o700 });
        nowMs = BASE_MS;
        let finish = BASE_MS;
        const recorded: ExecutionSummary[] = [];
        const savedIndexes: string[] = [];
        const s = store();
        const record = async (summary: ExecutionSummary): Promise<void> => {
          await s.recordMetrics(summary);
          expectReference();
          if (existsSync(paths.ledgerIndex)) {
            expectValidIndex();
            savedIndexes.push(readFileSync(paths.ledgerIndex, 'utf8'));
          }
        };
        for (const o of ops) {
          const ledger = existsSync(paths.ledger) ? readFileSync(paths.ledger, 'utf8') : '';
          switch (o.kind) {
            case 'record': {
              finish += o.step * 60_000;
              nowMs = Math.max(nowMs, finish);
              const summary = makeSummary(o.body, `${o.body.workflow_id}-${(serial++).toString().padStart(6, '0')}`, finish);
              recorded.push(summary);
              await record(summary);
              break;
            }
            case 'again':
              if (recorded.length > 0) await record(recorded[o.pick % recorded.length] as ExecutionSummary);
              break;
            case 'torn': {
              // A crash mid-append: part of a line (or all of it but the newline), then often that
              // execution recorded again, or another one.
              const summary = recorded.length > 0 && o.pick % 2 === 0 ? (recorded[o.pick % recorded.length] as ExecutionSummary) : makeSummary(BODY, `torn-${serial++}`, finish);
              const line = JSON.stringify(summary);
              appendFileSync(paths.ledger, o.cut % 4 === 0 ? line : line.slice(0, 1 + (o.cut % line.length)), { mode: 0o600 });
              if (o.pick % 3 === 1) await record(summary);
              if (o.pick % 3 === 2) await record(makeSummary(BODY, `after-torn-${serial++}`, (finish += 60_000)));
              break;
            }
            case 'garbage':
              appendFileSync(paths.ledger, `{"broken": ${serial++}\n`, { mode: 0o600 });
              break;
            case 'delete-index':
              rmSync(paths.ledgerIndex, { force: true });
              break;
            case 'corrupt-index':
              if (existsSync(paths.ledgerIndex)) {
                const t = readFileSync(paths.ledgerIndex, 'utf8');
                writeFileSync(paths.ledgerIndex, t.slice(0, o.cut % t.length));
              }
              break;
            case 'stale-index':
              if (savedIndexes.length > 0) writeFileSync(paths.ledgerIndex, savedIndexes[o.pick % savedIndexes.length] as string);
              break;
            case 'truncate':
              if (ledger.length > 0) truncateSync(paths.ledger, o.cut % ledger.length);
              break;
            case 'rewrite': {
              // By hand, in place: a line dropped (or, when none, the whole text kept).
              const lines = ledger.split('\n');
              if (lines.length > 1) lines.splice(o.drop % (lines.length - 1), 1);
              writeFileSync(paths.ledger, lines.join('\n'));
              break;
            }
            case 'clock':
              nowMs += o.hours * 3_600_000;
              break;
          }
        }
        await record(makeSummary(BODY, `final-${serial++}`, finish));
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});
