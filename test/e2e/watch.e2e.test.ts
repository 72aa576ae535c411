import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, cleanEnv, cortex, listFiles, readJson, removeRoot, tempRoot } from './helpers.js';
import { Terminal } from './tmux.js';
import { waitFor } from '../helpers/wait.js';

// cortex logs -f and cortex status -w: following an execution another process runs, under a pipe
// and in a real terminal (Ctrl-C, redrawing in place).

const roots: string[] = [];
const terminals: Terminal[] = [];
const children: ResultPromise[] = [];
afterEach(async () => {
  await Promise.all(terminals.splice(0).map((t) => t.close()));
  for (const c of children.splice(0)) c.kill('SIGKILL');
});
afterAll(() => roots.forEach(removeRoot));

interface Rec {
  execution_id: string;
  status: string;
}

/** A workflow whose first action waits for the file `go` in the root, then exits `exitCode`. */
function slowRoot(exitCode = 0): string {
  const r = tempRoot();
  roots.push(r);
  writeFileSync(
    join(r, 'workflows', 'slow.yaml'),
    `workflow_id: slow
workflow_name: slow
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: nap, action: execute_command, parameters: { command: [sh, -c, 'while [ ! -e "$0" ]; do sleep 0.1; done; exit ${exitCode}', '${join(r, 'go')}'] }, timeout: 600 }
      - { action_id: after, action: execute_command, parameters: { command: ["true"] } }
`,
  );
  return r;
}

/** The one execution record, in active/ or history/. */
function onlyRecord(r: string): (Rec & { location: string }) | undefined {
  for (const dir of ['active', 'history']) {
    const p = join(r, 'workflows', dir);
    const names = existsSync(p) ? listFiles(p).filter((n) => n.endsWith('.json')) : [];
    if (names.length) return { ...readJson<Rec>(join(p, names[0]!)), location: dir };
  }
  return undefined;
}

const napLog = (r: string) => join(r, 'masters/infrastructure/logs/contractor.log');

/** Starts `cortex run slow` in the background; resolves with its execution id once nap runs. */
async function startSlow(r: string): Promise<{ id: string; run: ResultPromise }> {
  const run = execa('node', [CLI, '--root', r, 'run', 'slow'], { env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore' });
  children.push(run);
  await waitFor(() => existsSync(napLog(r)) && readFileSync(napLog(r), 'utf8').includes('action=nap event=start'), { what: 'action nap to start', timeoutMs: 30_000 });
  return { id: onlyRecord(r)!.execution_id, run };
}

/** A cortex process whose output is read while it runs. */
function spawnCortex(r: string, args: string[]): { proc: ResultPromise; out: () => string; err: () => string } {
  const proc = execa('node', [CLI, '--root', r, ...args], { env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore', buffer: false });
  children.push(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { proc, out: () => out, err: () => err };
}

async function openTerminal(): Promise<Terminal> {
  const t = await Terminal.open({ NO_COLOR: '1' });
  terminals.push(t);
  return t;
}

describe('cortex logs -f', () => {
  it('prints the lines so far, then new ones as they are written, and ends with the execution (exit 0)', async () => {
    const r = slowRoot();
    const { id, run } = await startSlow(r);
    const f = spawnCortex(r, ['logs', '-f', id]);
    await waitFor(() => f.out().includes('action=nap event=start'), { what: 'the line written before -f started', timeoutMs: 30_000, detail: f.out });
    // Still following: the run has not ended, so neither has the follower.
    expect(f.out()).not.toContain('action=nap event=end');
    expect(f.proc.exitCode).toBeNull();

    writeFileSync(join(r, 'go'), '');
    const res = await f.proc;
    expect((await run).exitCode).toBe(0);
    expect(res.exitCode, f.err()).toBe(0);
    const lines = f.out().trimEnd().split('\n');
    expect(lines.map((l) => / action=(\w+) event=(\w+)/.exec(l)?.slice(1).join(' '))).toEqual(['nap start', 'nap end', 'after start', 'after end']);
    expect(lines.every((l) => l.startsWith('infrastructure ') && l.includes(`execution=${id} `))).toBe(true);
    expect(f.err()).toBe(`${id} ended: completed; exit 0\n`);
  }, 120_000);

  it('ends with exit 1 when the execution it follows fails, naming how it ended', async () => {
    const r = slowRoot(3);
    const { id, run } = await startSlow(r);
    const f = spawnCortex(r, ['logs', '-f', id]);
    await waitFor(() => f.out().includes('action=nap event=start'), { what: 'the first line', timeoutMs: 30_000, detail: f.out });
    writeFileSync(join(r, 'go'), '');
    const res = await f.proc;
    expect((await run).exitCode).toBe(1);
    const rec = onlyRecord(r)!;
    expect(rec.location).toBe('history');
    expect(res.exitCode).toBe(1);
    expect(f.out()).toMatch(/action=nap event=end status=failed/);
    expect(f.err()).toMatch(new RegExp(`^${id} ended: ${rec.status}( \\(.*\\))?; exit 1\\n$`));
  }, 120_000);

  it('on an execution that has ended prints its lines and exits at once with its code; -f --json prints one object per line', async () => {
    const r = slowRoot();
    writeFileSync(join(r, 'go'), '');
    expect((await cortex(['run', 'slow'], { root: r })).exitCode).toBe(0);
    const id = onlyRecord(r)!.execution_id;
    const res = await cortex(['logs', '-f', id, '--json'], { root: r });
    expect(res.exitCode, res.stderr).toBe(0);
    const objects = res.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { contractor: string; line: string });
    expect(objects).toHaveLength(4);
    expect(objects.every((o) => o.contractor === 'infrastructure-contractor')).toBe(true);
    expect(JSON.parse(res.stderr)).toEqual({ followed: { execution_id: id, status: 'completed', exit_code: 0 } });
  }, 60_000);

  it('refuses an unknown execution id (exit 2)', async () => {
    const r = slowRoot();
    const res = await cortex(['logs', '-f', 'nosuch-20260101T000000Z-0000'], { root: r });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(/^CORTEX_NOT_FOUND: no execution nosuch-20260101T000000Z-0000/);
  });

  it('in a terminal, Ctrl-C stops following (exit 130) and leaves the execution running', async () => {
    const r = slowRoot();
    const { id, run } = await startSlow(r);
    const t = await openTerminal();
    await t.type(`node ${CLI} --root ${r} logs -f ${id}; echo "EXIT=$?"`);
    await waitFor(async () => (await t.screen()).includes('action=nap event=start'), { what: 'the followed line on the screen', timeoutMs: 30_000, intervalMs: 100, detail: () => t.screen() });
    await t.press('C-c');
    const exit = await waitFor(async () => /EXIT=(\d+)/.exec(await t.screen())?.[1], { what: 'logs -f to exit after Ctrl-C', timeoutMs: 30_000, intervalMs: 100, detail: () => t.screen() });
    expect(exit).toBe('130');
    const screen = await t.screen();
    expect(screen).not.toMatch(/Error|\n\s+at /);
    // Nothing after the ^C but the exit code and the next prompt.
    expect(screen).toMatch(/event=start[^\n]*\n\^CEXIT=130\ntty>\s*$/);
    // The execution followed goes on, and ends normally when its action does.
    const rec = onlyRecord(r)!;
    expect([rec.location, rec.status]).toEqual(['active', 'running']);
    writeFileSync(join(r, 'go'), '');
    expect((await run).exitCode).toBe(0);
    expect(onlyRecord(r)!.status).toBe('completed');
  }, 120_000);
});

describe('cortex status -w', () => {
  it('under a pipe prints the tree once, then one timestamped line per change, and ends with the execution', async () => {
    const r = slowRoot();
    const { id, run } = await startSlow(r);
    const w = spawnCortex(r, ['status', '-w', id]);
    await waitFor(() => w.out().includes('nap execute_command: running'), { what: 'the first tree', timeoutMs: 30_000, detail: w.out });
    writeFileSync(join(r, 'go'), '');
    const res = await w.proc;
    expect((await run).exitCode).toBe(0);
    expect(res.exitCode, w.err()).toBe(0);
    const changes = w.out().split('\n').filter((l) => /^\d\d:\d\d:\d\d /.test(l)).map((l) => l.slice(9).replace(/ in [\d.]+s$/, ''));
    // Each change is printed once, whichever polls it fell between.
    expect(changes.filter((c) => c.startsWith(id))).toEqual([`${id} completed`]);
    expect(changes).toEqual(expect.arrayContaining(['phase p completed', '  nap completed', '  after completed']));
    expect(new Set(changes).size).toBe(changes.length);
    expect(w.out().match(/status: running/g)).toHaveLength(1);
    expect(w.err()).toBe(`${id} ended: completed; exit 0\n`);
  }, 120_000);

  it('-w -o json prints one record per line at each change; -w -o yaml is refused (exit 2)', async () => {
    const r = slowRoot(3);
    const { id, run } = await startSlow(r);
    const w = spawnCortex(r, ['status', '-w', id, '-o', 'json']);
    await waitFor(() => w.out().includes('\n'), { what: 'the first JSON line', timeoutMs: 30_000, detail: w.out });
    writeFileSync(join(r, 'go'), '');
    const res = await w.proc;
    expect((await run).exitCode).toBe(1);
    expect(res.exitCode).toBe(1);
    const docs = w.out().trimEnd().split('\n').map((l) => JSON.parse(l) as Rec & { display_status: string });
    expect(docs[0]!.display_status).toBe('running');
    expect(docs.at(-1)!.status).toBe(onlyRecord(r)!.status);
    expect(docs.every((d) => d.execution_id === id)).toBe(true);
    expect(w.err()).toBe('');

    const yaml = await cortex(['status', '-w', id, '-o', 'yaml'], { root: r });
    expect(yaml.exitCode).toBe(2);
    expect(yaml.stderr).toMatch(/^CORTEX_USAGE: -w prints a table, -o wide or -o json/);
  }, 120_000);

  it('in a terminal redraws the tree in place until the execution ends (exit 0); without an id, Ctrl-C ends it (exit 130)', async () => {
    const r = slowRoot();
    const { id, run } = await startSlow(r);
    const t = await openTerminal();
    await t.type(`node ${CLI} --root ${r} status -w ${id}; echo "EXIT=$?"`);
    await waitFor(async () => (await t.screen()).includes('nap execute_command: running'), { what: 'the tree', timeoutMs: 30_000, intervalMs: 100, detail: () => t.screen() });
    writeFileSync(join(r, 'go'), '');
    const exit = await waitFor(async () => /EXIT=(\d+)/.exec(await t.screen())?.[1], { what: 'status -w to end with the execution', timeoutMs: 30_000, intervalMs: 100, detail: () => t.screen() });
    expect(exit).toBe('0');
    expect((await run).exitCode).toBe(0);
    const screen = await t.screen();
    // Drawn in place: one header and one tree on the screen, the last one drawn.
    expect(screen.match(/^every 1s, /gm)).toHaveLength(1);
    expect(screen.match(/^status: /gm)).toEqual(['status: ']);
    expect(screen).toMatch(/^status: completed/m);
    expect(screen).toContain('after execute_command: completed');
    expect(screen).toContain(`${id} ended: completed; exit 0`);

    await t.type('clear');
    await t.type(`node ${CLI} --root ${r} status -w; echo "EXIT=$?"`);
    await waitFor(async () => (await t.screen()).includes('no active executions'), { what: 'the empty list', timeoutMs: 30_000, intervalMs: 100, detail: () => t.screen() });
    await t.press('C-c');
    const exit2 = await waitFor(async () => /EXIT=(\d+)/.exec(await t.screen())?.[1], { what: 'status -w to exit after Ctrl-C', timeoutMs: 30_000, intervalMs: 100, detail: () => t.screen() });
    expect(exit2).toBe('130');
    expect(await t.screen()).not.toMatch(/Error|\n\s+at /);
  }, 120_000);
});
