/**
 * Nothing outside the coordination directory is touched, and the lab never wipes what is not a
 * lab (issue 12, cases 5 and 6).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { spawnSync } from 'node:child_process';
import { CLI, PROJECT, archiveBlockedWorkflow, cleanEnv, cortex, removeRoot, tempRoot } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeRoot));

const NOOP = `workflow_id: noop
workflow_name: noop
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: say, action: execute_command, parameters: { command: [echo, hi] } }
`;

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'cortex-outside-'));
  dirs.push(d);
  return d;
}

/** Writes files (relative path -> text) under dir and returns a function that reads them all back. */
function plant(dir: string, files: Record<string, string>): () => Record<string, string | undefined> {
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return () => Object.fromEntries(Object.keys(files).map((p) => [p, existsSync(join(dir, p)) ? readFileSync(join(dir, p), 'utf8') : undefined]));
}

/** exit 2, one CORTEX_USAGE line (and a hint), no stack trace. */
function expectRefused(res: { exitCode?: number; stderr: string }, why: RegExp): void {
  expect(res.exitCode, res.stderr).toBe(2);
  const lines = res.stderr.trim().split('\n');
  expect(lines[0]).toMatch(why);
  expect(lines.filter((l) => !l.startsWith('hint: '))).toHaveLength(1);
  expect(res.stderr).not.toMatch(/^\s+at /m);
}

describe('the lab only seeds or resets an empty directory or a lab', () => {
  it('--lab on a directory that is not a lab: run --simulate and lab reset refuse it and delete nothing', async () => {
    const r = tempRoot({ 'workflows/noop.yaml': NOOP });
    dirs.push(r);
    const other = scratch();
    const read = plant(other, { 'state/keep': 'state', 'files/keep': 'files', 'requests.jsonl': 'request line\n' });
    const before = read();
    expectRefused(await cortex(['run', 'noop', '--simulate', '--lab', other], { root: r }), /^CORTEX_USAGE: refusing to use .* as the lab: it is not empty and is not a lab/);
    expectRefused(await cortex(['lab', 'reset', '--lab', other], { root: r }), /it is not empty and is not a lab/);
    expect(read()).toEqual(before);
  });

  it('lab reset refuses the coordination root, its ancestors, its own folders and a file (/: test/unit/lab/lab-guard.test.ts)', async () => {
    const parent = scratch();
    const r = join(parent, 'coordination');
    mkdirSync(join(r, 'workflows'), { recursive: true });
    const read = plant(r, { 'state/dedup.json': '{"version":1,"events":{}}\n', 'state/tick.json': '{}\n', 'state/runs.log': 'x\n', 'state/serve.log': 'y\n' });
    const before = read();
    expectRefused(await cortex(['lab', 'reset', '--lab', r], { root: r }), /it is the coordination directory/);
    expectRefused(await cortex(['lab', 'reset', '--lab', parent], { root: r }), /it contains the coordination directory/);
    expectRefused(await cortex(['lab', 'reset', '--lab', join(r, 'state')], { root: r }), /inside the coordination directory's state\//);
    writeFileSync(join(parent, 'a-file'), 'x');
    expectRefused(await cortex(['lab', 'reset', '--lab', join(parent, 'a-file')], { root: r }), /it is not a directory/);
    expect(read()).toEqual(before);
    const show = await cortex(['lab', 'show', '--lab', r], { root: r });
    expect(show.stdout).toMatch(/^no lab at /);
  });

  it('an empty or new directory becomes a lab (it gets the marker) and can be reset again', async () => {
    const r = tempRoot({ 'workflows/noop.yaml': NOOP });
    dirs.push(r);
    const empty = scratch();
    expect((await cortex(['lab', 'reset', '--lab', empty], { root: r })).exitCode).toBe(0);
    expect(existsSync(join(empty, '.cortex-lab'))).toBe(true);
    writeFileSync(join(empty, 'requests.jsonl'), 'old\n');
    const again = await cortex(['lab', 'reset', '--lab', empty], { root: r });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(existsSync(join(empty, 'requests.jsonl'))).toBe(false);
    const fresh = join(scratch(), 'new', 'lab');
    expect((await cortex(['lab', 'reset', '--lab', fresh], { root: r })).exitCode).toBe(0);
    expect(existsSync(join(fresh, '.cortex-lab'))).toBe(true);
  });
});

const BOTH = `workflow_id: both
workflow_name: both
version: 1.0.0
phases:
  - phase_id: infra
    contractor: infrastructure-contractor
    actions:
      - { action_id: say, action: execute_command, parameters: { command: [echo, hi] } }
    handoff_to: n8n-contractor
    handoff_data: { greeting: hi }
  - phase_id: notify
    contractor: n8n-contractor
    actions:
      - { action_id: say-too, action: execute_command, parameters: { command: [echo, hi] } }
`;

describe('symbolic links planted in the coordination directory are never followed', () => {
  // Each: a path in the root made a link to a file or folder outside, and what a command must not do through it.
  const CASES: Array<{ at: string; kind: 'file' | 'dir'; command: string[] }> = [
    { at: 'masters/n8n/logs/contractor.log', kind: 'file', command: ['run', 'both'] },
    { at: 'masters/infrastructure/logs/debug.log', kind: 'file', command: ['run', 'both', '--debug'] },
    { at: 'audit/audit.jsonl', kind: 'file', command: ['run', 'both'] },
    { at: 'workflows/metrics/executions.jsonl', kind: 'file', command: ['run', 'both'] },
    { at: 'workflows/history', kind: 'dir', command: ['run', 'both'] },
    { at: 'workflows/active', kind: 'dir', command: ['run', 'both'] },
    { at: 'workflows/locks', kind: 'dir', command: ['run', 'both'] },
    { at: 'masters/n8n/handoffs', kind: 'dir', command: ['run', 'both'] },
    { at: 'state', kind: 'dir', command: ['run', 'both'] },
    { at: 'state/runs.log', kind: 'file', command: ['trigger', '--source', 'generic', '--path', 'both', '--event', '-'] },
    { at: 'state', kind: 'dir', command: ['tick'] },
  ];
  for (const c of CASES) {
    it(`${c.at} as a link to a ${c.kind} outside: cortex ${c.command[0]} refuses (exit 4) and writes nothing there`, async () => {
      const r = tempRoot({ 'workflows/both.yaml': `${BOTH}triggers:\n  - { type: webhook, id: hook, path: both, auth: { type: none } }\n` });
      dirs.push(r);
      const outside = scratch();
      const target = c.kind === 'file' ? join(outside, 'victim') : outside;
      if (c.kind === 'file') writeFileSync(target, 'before\n');
      mkdirSync(join(r, c.at, '..'), { recursive: true });
      symlinkSync(target, join(r, c.at));
      const res = await cortex(c.command, { root: r, input: '{}' });
      expect(res.exitCode, res.stderr).toBe(4);
      expect(res.stderr.split('\n')[0]).toBe(
        `CORTEX_UNSAFE_PATH: refusing to write through ${join(r, c.at)}: it is a symbolic link (inside ${r}, where cortex follows no link)`,
      );
      expect(res.stderr).not.toMatch(/^\s+at /m);
      if (c.kind === 'file') expect(readFileSync(target, 'utf8')).toBe('before\n');
      else expect(readdirSync(outside)).toEqual([]);
    });
  }

  it('a link planted while the run goes on (by one of its own actions) is refused at the write: nothing lands outside', async () => {
    const outside = scratch();
    const r = tempRoot({
      'workflows/plant.yaml': `workflow_id: plant
workflow_name: plant
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: plant, action: execute_command, parameters: { command: [sh, -c, 'mkdir -p "$0/workflows" && ln -s "$1" "$0/workflows/history" && ln -s "$1/victim.log" "$0/masters/infrastructure/logs/contractor.log.new" && mv -T "$0/masters/infrastructure/logs/contractor.log.new" "$0/masters/infrastructure/logs/contractor.log"', "\${env.ROOT}", "\${env.OUTSIDE}"] } }
      - { action_id: after, action: execute_command, parameters: { command: [echo, after] } }
`,
    });
    dirs.push(r);
    writeFileSync(join(outside, 'victim.log'), 'before\n');
    const res = await cortex(['run', 'plant'], { root: r, env: { ROOT: r, OUTSIDE: outside } });
    expect(res.stderr).toMatch(new RegExp(`^CORTEX_UNSAFE_PATH: refusing to write through ${join(r, 'workflows', 'history')}: it is a symbolic link`, 'm'));
    expect(res.exitCode).toBe(4);
    expect(res.stderr).not.toMatch(/^\s+at /m);
    expect(readdirSync(outside)).toEqual(['victim.log']);
    expect(readFileSync(join(outside, 'victim.log'), 'utf8')).toBe('before\n');
  });

  it('a FIFO at a log (contractor.log) is refused (exit 4) at once, not waited on nor written to', async () => {
    const r = tempRoot({ 'workflows/noop.yaml': NOOP });
    dirs.push(r);
    mkdirSync(join(r, 'masters', 'infrastructure', 'logs'), { recursive: true });
    const log = join(r, 'masters', 'infrastructure', 'logs', 'contractor.log');
    expect(spawnSync('mkfifo', [log]).status).toBe(0);
    const res = await cortex(['run', 'noop'], { root: r, timeoutMs: 20_000 });
    expect(res.exitCode, res.stderr).toBe(4);
    expect(res.stderr.split('\n')[0]).toBe(`CORTEX_UNSAFE_PATH: refusing to write through ${log}: it is not a regular file (inside ${r}, where cortex follows no link)`);
    expect(res.stderr).not.toMatch(/^\s+at /m);
  });

  it('a log that becomes unwritable mid-run: the run goes on and the operator is told, without --verbose (stdout), and under --json (stderr)', async () => {
    const r = tempRoot();
    dirs.push(r);
    const log = join(r, 'masters', 'infrastructure', 'logs', 'contractor.log');
    // The first action puts a folder where the contractor log is: the second's lines cannot go there.
    writeFileSync(
      join(r, 'workflows', 'spoil.yaml'),
      `workflow_id: spoil
workflow_name: spoil
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: spoil, action: execute_command, parameters: { command: [sh, -c, 'rm -f "$0" && mkdir "$0"', '${log}'] } }
      - { action_id: after, action: execute_command, parameters: { command: [echo, hi] } }
`,
    );
    const plain = await cortex(['run', 'spoil'], { root: r, timeoutMs: 30_000 });
    expect(plain.exitCode, plain.stderr).toBe(0);
    const warned = plain.stdout.split('\n').filter((l) => /warn {2}cannot write the log of infrastructure-contractor: /.test(l));
    // Once per run, not once per line.
    expect(warned, plain.stdout).toHaveLength(1);
    expect(plain.stdout).toMatch(/ok {4}after execute_command completed/);

    rmSync(log, { recursive: true, force: true });
    const json = await cortex(['run', 'spoil', '--json'], { root: r, timeoutMs: 30_000 });
    expect(json.exitCode, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as { status: string }).status).toBe('completed');
    expect(json.stderr).toMatch(/^warning: cannot write the log of infrastructure-contractor: /m);
  });

  it('a folder where a metrics file belongs: the run completes, says so once, and is archived; the file is rewritten once the folder is gone', async () => {
    const r = tempRoot();
    dirs.push(r);
    writeFileSync(join(r, 'workflows', 'noop.yaml'), NOOP);
    const stats = join(r, 'workflows', 'metrics', 'workflow-stats.json');
    mkdirSync(stats, { recursive: true });
    const res = await cortex(['run', 'noop'], { root: r, timeoutMs: 30_000 });
    // Before: exit 70, EISDIR with a stack trace and "This is a bug in cortex", the record left in active/.
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stderr).not.toMatch(/^\s+at /m);
    const warned = res.stdout.split('\n').filter((l) => l.includes(`warn  cannot write ${stats} (`));
    expect(warned, res.stdout).toHaveLength(1);
    expect(readdirSync(join(r, 'workflows', 'active')).filter((f) => f.endsWith('.json'))).toEqual([]);
    expect(readFileSync(join(r, 'workflows', 'metrics', 'executions.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
    rmSync(stats, { recursive: true });
    const again = await cortex(['run', 'noop'], { root: r, timeoutMs: 30_000 });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).not.toMatch(/warn {2}cannot write/);
    expect((JSON.parse(readFileSync(stats, 'utf8')) as { summary: { total_workflow_executions: number } }).summary.total_workflow_executions).toBe(2);
  });

  it('a folder where the record is moved to at the end: exit 4, one line naming both paths and what is wrong, no stack trace', async () => {
    const r = tempRoot();
    dirs.push(r);
    // The ledger and the folders are refused as unsafe paths before this; a file renamed onto a
    // folder is this error.
    writeFileSync(join(r, 'workflows', 'spoil.yaml'), archiveBlockedWorkflow(r));
    const res = await cortex(['run', 'spoil'], { root: r, timeoutMs: 30_000 });
    // Before: exit 70, EISDIR with a stack trace and "This is a bug in cortex".
    expect(res.exitCode, res.stderr).toBe(4);
    const lines = res.stderr.trim().split('\n');
    const history = join(r, 'workflows', 'history');
    expect(lines[0]).toMatch(new RegExp(`^CORTEX_ENVIRONMENT: cannot rename \\S+/workflow-spoil-\\S+\\.json -> ${history.replace(/[.]/g, '\\.')}/workflow-spoil-\\S+\\.json: EISDIR \\(a folder is where a file belongs\\)$`));
    expect(lines.filter((l) => !l.startsWith('hint: '))).toHaveLength(1);
    expect(res.stderr).not.toMatch(/^\s+at /m);
    expect(res.stderr).not.toContain('This is a bug in cortex');
  });

  it('cortex serve: a run whose record cannot be archived (a folder in the way) is logged as exit 4 with the paths, not as an internal error', async () => {
    const r = tempRoot();
    dirs.push(r);
    const history = join(r, 'workflows', 'history');
    writeFileSync(join(r, 'workflows', 'spoil.yaml'), archiveBlockedWorkflow(r, 'triggers:\n  - { type: webhook, id: hook, path: spoil, auth: { type: none } }\n'));
    const child = execa('node', [CLI, '--root', r, 'serve', '--listen', '127.0.0.1:0'], { env: cleanEnv(), extendEnv: false, reject: false, cwd: PROJECT });
    try {
      let out = '';
      let err = '';
      child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      const url = await waitFor(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], { what: 'cortex serve to listen', timeoutMs: 20_000, detail: () => out + err });
      const res = await fetch(`${url}/webhook/spoil`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(res.status).toBe(202);
      // Before: "failed <id>: internal error: Error: EISDIR ... at renameSync ...".
      const log = (): string => (existsSync(join(r, 'state', 'runs.log')) ? readFileSync(join(r, 'state', 'runs.log'), 'utf8') : '');
      const line = await waitFor(() => log().split('\n').find((l) => /failed spoil-\S+/.test(l)), { what: 'serve to log the failed run', timeoutMs: 30_000, detail: () => log() + out + err });
      expect(line).toMatch(new RegExp(`failed spoil-\\S+ \\(exit 4\\): cannot rename \\S+ -> ${history.replace(/[.]/g, '\\.')}/workflow-spoil-\\S+\\.json: EISDIR \\(a folder is where a file belongs\\)`));
      expect(log() + out + err).not.toContain('internal error');
    } finally {
      child.kill('SIGTERM');
      await child;
    }
  });

  it('cortex serve: the state folder moved out of the root and linked back while it serves: its log lines (problems of the definitions, too) are not written through the link', async () => {
    const outside = scratch();
    const r = tempRoot({ 'workflows/both.yaml': `${BOTH}triggers:\n  - { type: webhook, id: hook, path: both, auth: { type: none } }\n` });
    dirs.push(r);
    const child = execa('node', [CLI, '--root', r, 'serve', '--listen', '127.0.0.1:0'], { env: cleanEnv(), extendEnv: false, reject: false, cwd: PROJECT });
    try {
      let out = '';
      let err = '';
      child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      const url = await waitFor(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], { what: 'cortex serve to listen', timeoutMs: 20_000, detail: () => out + err });
      mkdirSync(join(r, 'state'), { recursive: true });
      renameSync(join(r, 'state'), join(outside, 'state'));
      symlinkSync(join(outside, 'state'), join(r, 'state'));
      // A definition gone bad: the next request reloads them, and serve logs the problem.
      writeFileSync(join(r, 'workflows', 'broken.json'), '{"workflow_id": 3');
      const health = (await (await fetch(`${url}/healthz`)).json()) as { status: string };
      expect(health.status).toBe('degraded');
      await waitFor(() => /broken\.json: invalid definition/.test(err), { what: 'serve to report the broken definition', detail: () => err });
      expect(existsSync(join(outside, 'state', 'serve.log'))).toBe(false);
    } finally {
      child.kill('SIGTERM');
      await child;
    }
  });
});
