/**
 * Honest summaries (issue 13): a run whose actions failed under a tolerant on_error does not
 * print a clean "completed"; the summary, the final line and --json name what failed or was skipped.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cortex, removeRoot, tempRoot } from './helpers.js';

const roots: string[] = [];
afterAll(() => roots.forEach(removeRoot));

const WORKFLOW = `workflow_id: tolerant
workflow_name: tolerant
version: 1.0.0
phases:
  - phase_id: checks
    contractor: infrastructure-contractor
    actions:
      - { action_id: probe-a, action: execute_command, on_error: continue_phase, parameters: { command: ["false"] } }
      - { action_id: probe-b, action: execute_command, on_error: alert_only, parameters: { command: [sh, -c, "echo no route >&2; exit 3"] } }
      - { action_id: optional, action: execute_command, on_error: skip_action, parameters: { command: ["false"] } }
  - phase_id: fine
    contractor: infrastructure-contractor
    actions:
      - { action_id: ok, action: execute_command, parameters: { command: ["true"] } }
`;

describe('summaries that hide nothing', () => {
  it('names each failed or skipped action, says "completed with N errors", and --json carries outcome and errors (exit 0)', async () => {
    const r = tempRoot({ 'workflows/tolerant.yaml': WORKFLOW });
    roots.push(r);
    const res = await cortex(['run', 'tolerant'], { root: r });
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toMatch(/checks\s+completed, 2 failed/);
    expect(res.stdout).toMatch(/failed checks\/probe-a \(execute_command\) on_error continue_phase: false failed \(exit 1\)/);
    expect(res.stdout).toMatch(/failed checks\/probe-b \(execute_command\) on_error alert_only: sh failed \(exit 3\): no route/);
    expect(res.stdout).toMatch(/skipped checks\/optional \(execute_command\) on_error skip_action/);
    expect(res.stdout).toMatch(/^completed with 3 errors tolerant-/m);
    const json = await cortex(['run', 'tolerant', '--json'], { root: r });
    expect(json.exitCode).toBe(0);
    const body = JSON.parse(json.stdout) as { status: string; outcome: string; errors: Array<{ action_id: string; status: string; on_error: string }> };
    expect(body.status).toBe('completed');
    expect(body.outcome).toBe('completed with 3 errors');
    expect(body.errors.map((e) => [e.action_id, e.status, e.on_error])).toEqual([
      ['probe-a', 'failed', 'continue_phase'],
      ['probe-b', 'failed', 'alert_only'],
      ['optional', 'skipped', 'skip_action'],
    ]);
  });
});
