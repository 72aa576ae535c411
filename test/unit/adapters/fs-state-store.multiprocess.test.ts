import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { layout } from '../../../src/layout.js';

const PROJECT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const ENTRIES = ['src/adapters/fs-state-store.ts', 'src/adapters/proper-lock-manager.ts', 'src/model/masker.ts'];

/**
 * Transpiles the store and everything it imports into `out` (no type check: tsc does that), so
 * that real separate node processes can run it without a build of the whole project.
 */
async function transpileClosure(out: string): Promise<void> {
  const seen = new Set<string>();
  const queue = ENTRIES.map((e) => join(PROJECT, e));
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = await readFile(file, 'utf8');
    for (const m of source.matchAll(/(?:from |import\()'(\.{1,2}\/[^']+)\.js'/g)) queue.push(resolve(dirname(file), `${m[1]}.ts`));
    const js = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText;
    const target = join(out, relative(PROJECT, file)).replace(/\.ts$/, '.js');
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, js);
  }
  await writeFile(join(out, 'package.json'), '{"type":"module"}\n');
  await symlink(join(PROJECT, 'node_modules'), join(out, 'node_modules'), 'dir');
}

const WORKER = `
import { hostname } from 'node:os';
const [build, root, id, index] = process.argv.slice(2);
const { FsStateStore } = await import(build + '/src/adapters/fs-state-store.js');
const { ProperLockManager } = await import(build + '/src/adapters/proper-lock-manager.js');
const { Masker } = await import(build + '/src/model/masker.js');
const clock = { now: () => new Date('2025-12-09T10:00:00.000Z'), sleep: async () => {} };
const store = new FsStateStore(root, new Masker(), new ProperLockManager(root), clock);
const i = Number(index);
await store.recordMetrics({
  execution_id: id, workflow_id: 'wf', workflow_name: 'WF', status: i % 4 === 0 ? 'failed' : 'completed',
  started_at: '2025-12-09T09:00:00.000Z', finished_at: '2025-12-09T09:00:' + String(i).padStart(2, '0') + '.000Z',
  duration_seconds: 10 + i, contractors: {}, actions: [], errors: [], handoffs: [],
});
`;

function runNode(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code, stderr }));
  });
}

describe('FsStateStore.recordMetrics across processes', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cortex-mp-'));
    await transpileClosure(join(dir, 'build'));
    await writeFile(join(dir, 'worker.mjs'), WORKER);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('20 concurrent processes: 20 ledger lines and exact totals', async () => {
    const root = join(dir, 'coordination');
    const ids = Array.from({ length: 20 }, (_, i) => `wf-20251209T0900${String(i).padStart(2, '0')}Z-${(0xb000 + i).toString(16)}`);
    const results = await Promise.all(ids.map((id, i) => runNode([join(dir, 'worker.mjs'), join(dir, 'build'), root, id, String(i)])));
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 });

    const paths = layout(root);
    const ledger = (await readFile(paths.ledger, 'utf8')).trim().split('\n').map((l) => JSON.parse(l).execution_id as string);
    expect(ledger.sort()).toEqual([...ids].sort());
    const stats = JSON.parse(await readFile(paths.workflowStats, 'utf8'));
    expect(stats.workflows[0].executions).toMatchObject({ total: 20, successful: 15, failed: 5, success_rate: 0.75 });
    expect(stats.workflows[0].performance).toMatchObject({ min_duration_seconds: 10, max_duration_seconds: 29, p95_duration_seconds: 28 });
    expect(stats.workflows[0].last_execution.execution_id).toBe(ids[19]);
    expect(await readdir(paths.locks)).toEqual([]);
  });
});
