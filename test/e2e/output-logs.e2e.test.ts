import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cortex, readJson, removeRoot, tempRoot } from './helpers.js';

// An action's output: trimmed as $(…) does, shown by status, and by logs --debug whole
// (debug.log entries span lines).

const roots: string[] = [];
afterAll(() => roots.forEach(removeRoot));

const WF = `workflow_id: out
workflow_name: out
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: hostname, action: execute_command, parameters: { command: [printf, 'vm\\nsecond line\\n\\n'] } }
      - { action_id: exact, action: execute_command, parameters: { command: [test, "\${hostname.output.stdout}", "=", "vm\\nsecond line"] } }
      - { action_id: fails, action: execute_command, parameters: { command: [sh, -c, 'echo oops; exit 3'], success_exit_codes: [3] } }
`;

interface Rec {
  execution_id: string;
  status: string;
  phases: Array<{ actions: Array<{ action_id: string; outputs: Record<string, unknown> }> }>;
}

describe('execute_command output', () => {
  it('loses its trailing newlines (as $(…)) and keeps the raw exit code; status shows it; logs --debug shows the stdout lines', async () => {
    const r = tempRoot({ 'workflows/out.yaml': WF });
    roots.push(r);
    const run = await cortex(['run', 'out', '--debug', '--json'], { root: r });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const id = (JSON.parse(run.stdout) as { execution_id: string }).execution_id;
    const rec = readJson<Rec>(join(r, 'workflows', 'history', `workflow-${id}.json`));
    expect(rec.status).toBe('completed');
    const outputs = Object.fromEntries(rec.phases[0]!.actions.map((a) => [a.action_id, a.outputs]));
    expect(outputs.hostname).toMatchObject({ exit_code: 0, stdout: 'vm\nsecond line' });
    expect(outputs.fails).toMatchObject({ exit_code: 3, stdout: 'oops' });

    const st = await cortex(['status', id], { root: r });
    expect(st.stdout).toContain('outputs: {"exit_code":0,"stdout":"vm\\nsecond line"');

    const logs = await cortex(['logs', id, '--debug'], { root: r });
    expect(logs.exitCode).toBe(0);
    const lines = logs.stdout.split('\n');
    const at = lines.findIndex((l) => / p\/hostname#1 .*stdout: vm$/.test(l));
    expect(at, logs.stdout).toBeGreaterThan(-1);
    expect(lines[at + 1]).toMatch(new RegExp(`^infrastructure +\\S+ ${id} p/hostname#1 \\| second line$`));
    // Without --debug: contractor.log only.
    expect((await cortex(['logs', id], { root: r })).stdout).not.toMatch(/stdout:/);
    // Every line of debug.log names the execution, so grep finds whole entries.
    const json = JSON.parse((await cortex(['logs', id, '--debug', '--json'], { root: r })).stdout) as { lines: Array<{ line: string }> };
    expect(json.lines.map((l) => l.line)).toContainEqual(expect.stringMatching(/\| second line$/));
  });

  it('logs --debug keeps the continuation lines of a debug.log written before each line carried the id', async () => {
    const r = tempRoot({ 'workflows/out.yaml': WF });
    roots.push(r);
    const run = await cortex(['run', 'out', '--json'], { root: r });
    const id = (JSON.parse(run.stdout) as { execution_id: string }).execution_id;
    const dir = join(r, 'masters', 'infrastructure', 'logs');
    mkdirSync(dir, { recursive: true });
    appendFileSync(join(dir, 'debug.log'), `2026-01-01T00:00:00.000Z other-20260101T000000Z-0000 p/x#1 exit 0\nstdout: not this one\n2026-01-01T00:00:01.000Z ${id} p/host#1 exit 0 in 5 ms\nstdout: vm\nsecond line\n`);
    const logs = await cortex(['logs', id, '--debug'], { root: r });
    expect(logs.stdout).toMatch(/p\/host#1 exit 0 in 5 ms\ninfrastructure +stdout: vm\ninfrastructure +second line/);
    expect(logs.stdout).not.toMatch(/not this one/);
  });
});
