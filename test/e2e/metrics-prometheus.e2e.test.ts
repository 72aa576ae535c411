import { execa } from 'execa';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, cleanEnv, cortex, removeRoot, tempRoot } from './helpers.js';

// The help's own example, `cortex metrics --prometheus | promtool check metrics`, with the real
// promtool (Debian's prometheus package; .ci/run installs it). Not skipped when promtool is
// missing: then this fails, as CI must.

const roots: string[] = [];
afterAll(() => roots.forEach(removeRoot));

const WF = (id: string, fail: boolean) => `workflow_id: ${id}
workflow_name: ${id}
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: a, action: execute_command, parameters: { command: ["${fail ? 'false' : 'true'}"] } }
`;

async function rootWithRuns(): Promise<string> {
  const r = tempRoot({ 'workflows/ok.yaml': WF('ok', false), 'workflows/bad.yaml': WF('bad', true) });
  roots.push(r);
  for (const wf of ['ok', 'ok', 'bad']) await cortex(['run', wf], { root: r });
  return r;
}

describe('cortex metrics --prometheus', () => {
  it('passes promtool check metrics (the --help example, through a pipe)', async () => {
    const r = await rootWithRuns();
    const res = await execa('sh', ['-c', `node ${CLI} --root "$R" metrics --prometheus | promtool check metrics`], { env: cleanEnv({ R: r }), extendEnv: false, reject: false });
    expect(res.exitCode, res.stdout + res.stderr).toBe(0);
    expect(res.stdout + res.stderr).toBe('');
    const text = (await cortex(['metrics', '--prometheus'], { root: r })).stdout;
    expect(text).toMatch(/^cortex_workflow_executions_total\{workflow="ok",status="completed"\} 2$/m);
    expect(text).toMatch(/^cortex_workflow_executions_total\{workflow="bad",status="failed"\} 1$/m);
    expect(text).toMatch(/^cortex_workflow_duration_seconds_count\{workflow="ok"\} 2$/m);
    // One workflow only: still valid.
    const one = await execa('sh', ['-c', `node ${CLI} --root "$R" metrics ok --prometheus | promtool check metrics`], { env: cleanEnv({ R: r }), extendEnv: false, reject: false });
    expect(one.exitCode, one.stdout + one.stderr).toBe(0);
  }, 120_000);

  it('--textfile writes the same text atomically for node_exporter (mode 644, *.prom only, existing directory only)', async () => {
    const r = await rootWithRuns();
    const dir = join(r, 'node-exporter');
    mkdirSync(dir);
    const file = join(dir, 'cortex.prom');
    const res = await cortex(['metrics', '--textfile', file], { root: r });
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stdout).toBe('');
    // (execa strips the last newline of stdout)
    expect(readFileSync(file, 'utf8')).toBe(`${(await cortex(['metrics', '--prometheus'], { root: r })).stdout}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o644);
    const check = await execa('promtool', ['check', 'metrics'], { input: readFileSync(file), reject: false });
    expect(check.exitCode, check.stdout + check.stderr).toBe(0);

    const wrongName = await cortex(['metrics', '--textfile', join(dir, 'cortex.txt')], { root: r });
    expect(wrongName.exitCode).toBe(2);
    expect(wrongName.stderr).toMatch(/only \*\.prom files/);
    const noDir = await cortex(['metrics', '--textfile', join(dir, 'nope', 'cortex.prom')], { root: r });
    expect(noDir.exitCode).toBe(2);
    expect(noDir.stderr).toMatch(/does not exist/);
  }, 120_000);
});
