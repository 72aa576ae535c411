import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { FsStateStore } from '../../../src/adapters/fs-state-store.js';
import { ProperLockManager } from '../../../src/adapters/proper-lock-manager.js';
import { Masker } from '../../../src/model/masker.js';
import type { ExecutionRecord, ExecutionSummary, HandoffRecord } from '../../../src/model/records.js';
import { DefinitionInvalidError, UsageError } from '../../../src/errors.js';
import { layout } from '../../../src/layout.js';
import type { Clock } from '../../../src/ports/clock.js';

const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
(((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv2020) => void)(ajv);
const schema = (name: string): object =>
  JSON.parse(readFileSync(new URL(`../../../schemas/${name}.schema.json`, import.meta.url), 'utf8')) as object;
const validateStats = ajv.compile(schema('workflow-stats'));
const validatePerf = ajv.compile(schema('contractor-performance'));

const SECRET = 'hunter2-super-secret-token';
const NOW = new Date('2025-12-09T10:00:00.000Z');
const clock: Clock = { now: () => NOW, sleep: async () => undefined, timer: async () => undefined };

function record(id: string, overrides: Partial<ExecutionRecord> = {}): ExecutionRecord {
  return {
    schema_version: 1,
    execution_id: id,
    workflow_id: 'deploy-monitoring-stack',
    workflow_name: 'Deploy Monitoring Stack',
    definition: { version: '1.0.0', hash: `sha256:${'0'.repeat(64)}`, path: 'workflows/deploy-monitoring-stack.json' },
    status: 'running',
    trigger: { type: 'manual', user: 'op' },
    parameters: { cluster: 'prod' },
    started_at: '2025-12-09T09:00:00.000Z',
    updated_at: '2025-12-09T09:00:00.000Z',
    phases: [],
    ...overrides,
  };
}

function execSummary(id: string, overrides: Partial<ExecutionSummary> = {}): ExecutionSummary {
  return {
    execution_id: id,
    workflow_id: 'deploy-monitoring-stack',
    workflow_name: 'Deploy Monitoring Stack',
    status: 'completed',
    started_at: '2025-12-09T09:00:00.000Z',
    finished_at: '2025-12-09T09:10:00.000Z',
    duration_seconds: 600,
    contractors: { 'talos-contractor': { duration_seconds: 600, errors: 0 } },
    actions: [{ contractor: 'talos-contractor', action: 'install_helm_chart', status: 'completed', duration_seconds: 590 }],
    errors: [],
    handoffs: [],
    ...overrides,
  };
}

async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await allFiles(path)));
    else out.push(path);
  }
  return out;
}

describe('FsStateStore', () => {
  let root: string;
  let masker: Masker;
  let store: FsStateStore;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'cortex-store-'));
    masker = new Masker();
    masker.add(SECRET);
    store = new FsStateStore(root, masker, new ProperLockManager(root), clock);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes, reads, lists and archives executions', async () => {
    const paths = layout(root);
    const a = record('deploy-monitoring-stack-20251209T090000Z-aaaa');
    const b = record('deploy-monitoring-stack-20251209T091000Z-bbbb');
    await store.writeExecution(a);
    await store.writeExecution(b);
    expect(await store.readExecution(a.execution_id)).toEqual({ record: a, location: 'active' });
    expect((await store.listActive()).map((r) => r.execution_id)).toEqual([a.execution_id, b.execution_id]);

    const done = { ...a, status: 'completed' as const, finished_at: '2025-12-09T09:30:00.000Z' };
    await store.archiveExecution(done);
    expect(await store.readExecution(a.execution_id)).toEqual({ record: done, location: 'history' });
    expect((await store.listActive()).map((r) => r.execution_id)).toEqual([b.execution_id]);
    expect(await readdir(paths.active)).toEqual([`workflow-${b.execution_id}.json`]);
    expect(await store.readExecution('deploy-monitoring-stack-20251209T000000Z-ffff')).toBeUndefined();
    // Files are pretty JSON with a final newline, readable with cat and jq.
    expect(await readFile(paths.historyRecord(a.execution_id), 'utf8')).toBe(`${JSON.stringify(done, null, 2)}\n`);
  });

  it('listActive never reads history/, skips temp files and reports unreadable files', async () => {
    const paths = layout(root);
    await store.writeExecution(record('wf-20251209T090000Z-aaaa'));
    await mkdir(paths.history, { recursive: true });
    await writeFile(join(paths.history, 'workflow-wf-20251209T080000Z-cccc.json'), 'not json at all');
    await writeFile(join(paths.active, '.workflow-x.json.123.abc.tmp'), '{');
    await writeFile(join(paths.active, 'workflow-broken-20251209T090000Z-dddd.json'), '{"half":');
    await writeFile(join(paths.active, 'notes.txt'), 'hello');
    const problems: string[] = [];
    const list = await store.listActive((file) => problems.push(relative(root, file)));
    expect(list.map((r) => r.execution_id)).toEqual(['wf-20251209T090000Z-aaaa']);
    expect(problems).toEqual([join('workflows', 'active', 'workflow-broken-20251209T090000Z-dddd.json')]);
  });

  it('returns an empty list when active/ does not exist', async () => {
    expect(await store.listActive()).toEqual([]);
  });

  it('throws a named error for a corrupt record and refuses path-like ids', async () => {
    const paths = layout(root);
    await mkdir(paths.active, { recursive: true });
    await writeFile(paths.activeRecord('bad-20251209T090000Z-aaaa'), '{"x":');
    await expect(store.readExecution('bad-20251209T090000Z-aaaa')).rejects.toThrow(DefinitionInvalidError);
    await expect(store.readExecution('../../etc/passwd')).rejects.toThrow(UsageError);
    await expect(store.writeExecution(record('../escape'))).rejects.toThrow(UsageError);
    await expect(store.readHandoff('talos-contractor', '../x')).rejects.toThrow(UsageError);
    await expect(store.appendContractorLog('../../tmp', 'x')).rejects.toThrow(UsageError);
  });

  it('writes and reads handoffs under the receiving contractor', async () => {
    const handoff: HandoffRecord = {
      handoff_id: 'mon-001-infra-to-talos',
      from_contractor: 'infrastructure-contractor',
      to_contractor: 'talos-contractor',
      task_id: 'task-1',
      data: { vm_ips: ['10.0.0.1'] },
      status: 'pending',
      execution_id: 'wf-20251209T090000Z-aaaa',
      workflow_id: 'wf',
      from_phase: 'phase-1',
      created_at: NOW.toISOString(),
      updated_at: NOW.toISOString(),
    };
    await store.writeHandoff('talos-contractor', handoff);
    expect(await store.readHandoff('talos-contractor', handoff.handoff_id)).toEqual(handoff);
    expect(await readdir(layout(root).master('talos-contractor').handoffs)).toEqual(['mon-001-infra-to-talos.json']);
    expect(await store.readHandoff('talos-contractor', 'nope')).toBeUndefined();
  });

  it('appends log lines, one event per line', async () => {
    await store.appendContractorLog('n8n-contractor', 'first');
    await store.appendContractorLog('n8n-contractor', 'multi\nline\n');
    expect(await readFile(layout(root).master('n8n-contractor').contractorLog, 'utf8')).toBe('first\nmulti\\nline\n');
    await store.appendDebugLog('n8n-contractor', 'debug text');
    expect(await readFile(layout(root).master('n8n-contractor').debugLog, 'utf8')).toBe('debug text\n');
  });

  it('reads the debug flag', async () => {
    const flag = layout(root).master('infrastructure-contractor').debugFlag;
    expect(await store.isDebug('infrastructure-contractor')).toBe(false);
    await mkdir(join(flag, '..'), { recursive: true });
    await writeFile(flag, '{"debug_mode": true}\n');
    expect(await store.isDebug('infrastructure-contractor')).toBe(true);
    await writeFile(flag, '{"debug_mode": "yes"}');
    expect(await store.isDebug('infrastructure-contractor')).toBe(false);
    await writeFile(flag, 'garbage');
    expect(await store.isDebug('infrastructure-contractor')).toBe(false);
  });

  it('never lets a secret reach the disk', async () => {
    const id = 'wf-20251209T090000Z-aaaa';
    const b64 = Buffer.from(SECRET).toString('base64');
    await store.writeExecution(record(id, { parameters: { token: SECRET, url: `https://x/?t=${encodeURIComponent(SECRET)}` } }));
    await store.archiveExecution(record(id, { status: 'failed', error: { code: 'X', message: `auth ${SECRET} rejected` } }));
    await store.writeHandoff('talos-contractor', {
      handoff_id: 'h1',
      from_contractor: 'infrastructure-contractor',
      to_contractor: 'talos-contractor',
      task_id: 't',
      data: { password: SECRET, nested: { b64 } },
      status: 'pending',
      execution_id: id,
      workflow_id: 'wf',
      from_phase: 'p1',
      created_at: NOW.toISOString(),
      updated_at: NOW.toISOString(),
    });
    await store.appendContractorLog('talos-contractor', `helm install --set password=${SECRET}`);
    await store.appendDebugLog('talos-contractor', `env TOKEN=${SECRET}\nbase64 ${b64}`);
    await store.recordMetrics(
      execSummary(id, {
        status: 'failed',
        parameters: { token: SECRET },
        actions: [{ contractor: 'talos-contractor', action: 'x', status: 'failed', duration_seconds: 1, error_code: 'e', error_message: `bad ${SECRET}` }],
        errors: [{ error: 'e', contractor: 'talos-contractor', message: SECRET }],
      }),
    );
    const files = await allFiles(root);
    expect(files.length).toBeGreaterThanOrEqual(7);
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      expect(text, file).not.toContain(SECRET);
      expect(text, file).not.toContain(b64.replace(/=+$/, ''));
    }
    const perf = JSON.parse(await readFile(layout(root).contractorPerformance, 'utf8'));
    expect(perf.contractors[0].common_errors[0].description).toBe('bad ***');
  });

  it('records metrics once per execution id and writes schema-valid files', async () => {
    const paths = layout(root);
    const s = execSummary('wf-20251209T090000Z-aaaa');
    await store.recordMetrics(s);
    await store.recordMetrics(s);
    await store.recordMetrics(execSummary('wf-20251209T091000Z-bbbb', { status: 'rolled_back', duration_seconds: 1200 }));
    const ledger = (await readFile(paths.ledger, 'utf8')).trim().split('\n');
    expect(ledger).toHaveLength(2);
    const stats = JSON.parse(await readFile(paths.workflowStats, 'utf8'));
    expect(validateStats(stats), JSON.stringify(validateStats.errors)).toBe(true);
    expect(stats.last_updated).toBe(NOW.toISOString());
    expect(stats.workflows[0].executions).toEqual({ total: 2, successful: 1, failed: 1, rolled_back: 1, cancelled: 0, success_rate: 0.5 });
    expect(stats.workflows[0].performance.p50_duration).toBe('600s');
    const perf = JSON.parse(await readFile(paths.contractorPerformance, 'utf8'));
    expect(validatePerf(perf), JSON.stringify(validatePerf.errors)).toBe(true);
    expect(await readdir(paths.locks)).toEqual([]);
  });

  it('recomputes the metrics after a crash between ledger append and metrics write', async () => {
    const paths = layout(root);
    const s = execSummary('wf-20251209T090000Z-aaaa');
    await mkdir(paths.metrics, { recursive: true });
    await writeFile(paths.ledger, `${JSON.stringify(s)}\n`);
    await store.recordMetrics(s);
    expect((await readFile(paths.ledger, 'utf8')).trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(await readFile(paths.workflowStats, 'utf8')).summary.total_workflow_executions).toBe(1);
  });

  it('skips a torn last ledger line and does not glue the next line to it', async () => {
    const paths = layout(root);
    await mkdir(paths.metrics, { recursive: true });
    const first = JSON.stringify(execSummary('wf-20251209T090000Z-aaaa'));
    await writeFile(paths.ledger, `${first}\n{"execution_id":"wf-2025120`);
    await store.recordMetrics(execSummary('wf-20251209T091000Z-bbbb'));
    const lines = (await readFile(paths.ledger, 'utf8')).split('\n');
    expect(lines).toEqual([first, '{"execution_id":"wf-2025120', expect.stringContaining('"wf-20251209T091000Z-bbbb"'), '']);
    expect(JSON.parse(await readFile(paths.workflowStats, 'utf8')).summary.total_workflow_executions).toBe(2);
  });

  it('garbled ledger lines are not counted but said so, and kept in executions.jsonl.damaged (once each, 0600)', async () => {
    const paths = layout(root);
    await mkdir(paths.metrics, { recursive: true });
    const first = JSON.stringify(execSummary('wf-20251209T090000Z-aaaa'));
    await writeFile(paths.ledger, `${first}\n\u0000\u0000garbled\n[1,2]\n`);
    const r = await store.recordMetrics(execSummary('wf-20251209T091000Z-bbbb'));
    const aside = `${paths.ledger}.damaged`;
    expect(r.warnings).toEqual([expect.stringContaining(`2 line(s) of ${paths.ledger} cannot be read and are not counted in the metrics (kept in ${aside})`)]);
    expect(await readFile(aside, 'utf8')).toBe('\u0000\u0000garbled\n[1,2]\n');
    expect((await stat(aside)).mode & 0o777).toBe(0o600);
    // The ledger itself is never rewritten; the lines are not kept twice.
    expect((await readFile(paths.ledger, 'utf8')).split('\n')).toHaveLength(5);
    expect((await store.recordMetrics(execSummary('wf-20251209T092000Z-cccc'))).warnings).toHaveLength(1);
    expect(await readFile(aside, 'utf8')).toBe('\u0000\u0000garbled\n[1,2]\n');
    expect(JSON.parse(await readFile(paths.workflowStats, 'utf8')).summary.total_workflow_executions).toBe(3);
    // A clean ledger warns of nothing.
    await writeFile(paths.ledger, `${first}\n`);
    expect((await store.recordMetrics(execSummary('wf-20251209T093000Z-dddd'))).warnings).toEqual([]);
  });

  it('20 concurrent recordMetrics through separate stores and lock managers lose no count', async () => {
    const paths = layout(root);
    const ids = Array.from({ length: 20 }, (_, i) => `wf-20251209T09${String(i).padStart(2, '0')}00Z-${(0xa000 + i).toString(16)}`);
    await Promise.all(
      ids.map((id, i) =>
        new FsStateStore(root, masker, new ProperLockManager(root), clock).recordMetrics(
          execSummary(id, { status: i % 5 === 0 ? 'failed' : 'completed', duration_seconds: 100 + i }),
        ),
      ),
    );
    const ledger = (await readFile(paths.ledger, 'utf8')).trim().split('\n').map((l) => JSON.parse(l).execution_id);
    expect(ledger.sort()).toEqual([...ids].sort());
    const stats = JSON.parse(await readFile(paths.workflowStats, 'utf8'));
    expect(stats.workflows[0].executions).toMatchObject({ total: 20, successful: 16, failed: 4, success_rate: 0.8 });
    expect(stats.workflows[0].performance).toMatchObject({ min_duration_seconds: 100, max_duration_seconds: 119, p50_duration_seconds: 109 });
    const perf = JSON.parse(await readFile(paths.contractorPerformance, 'utf8'));
    expect(perf.summary.total_workflow_executions).toBe(20);
    expect(await readdir(paths.locks)).toEqual([]);
  });
});
