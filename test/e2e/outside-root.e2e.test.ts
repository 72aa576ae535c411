/**
 * Nothing outside the coordination directory is touched, and the lab never wipes what is not a
 * lab (issue 12, cases 5 and 6).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cortex, removeRoot, tempRoot } from './helpers.js';

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
