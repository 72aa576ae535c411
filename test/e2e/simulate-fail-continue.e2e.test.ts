import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cortex, readJson, removeRoot, tempRoot } from './helpers.js';

// --simulate-fail on the commands that continue a run in the lab (approve, resume): an id that
// names no action of the execution is a usage error (exit 2) naming the valid ones, as for run,
// and changes nothing; a valid one makes that action fail.

const GATE = `workflow_id: gate
workflow_name: Gate
version: 1.0.0
phases:
  - phase_id: first
    contractor: n8n-contractor
    actions:
      - { action_id: one, action: execute_command, parameters: { command: [echo, one] } }
  - phase_id: second
    contractor: n8n-contractor
    requires_approval: true
    actions:
      - { action_id: check, action: http_request, parameters: { method: GET, url: "http://web.example/healthz" }, on_error: pause }
`;

let r: string;
let id: string;
const record = () => readJson<{ status: string; phases: Array<{ actions: Array<{ action_id: string; status: string; attempts: unknown[] }> }> }>(join(r, 'workflows', 'active', `workflow-${id}.json`));
const check = () => record().phases[1]?.actions[0];

beforeAll(async () => {
  r = tempRoot({ 'workflows/gate.yaml': GATE });
  const run = await cortex(['run', 'gate', '--simulate', '--json'], { root: r });
  expect(run.exitCode, run.stderr).toBe(0);
  id = (JSON.parse(run.stdout) as { execution_id: string }).execution_id;
  expect(record().status).toBe('awaiting_approval');
}, 120_000);
afterAll(() => removeRoot(r));

describe('--simulate-fail on approve and resume', () => {
  it('approve: an unknown id is exit 2 naming the valid ones, and the approval is not recorded', async () => {
    const bad = await cortex(['approve', id, '--simulate-fail', 'nosuch:1'], { root: r });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('CORTEX_USAGE: --simulate-fail names no action of gate: "nosuch"');
    expect(bad.stderr).toContain('hint: its actions: one, check');
    expect(record().status).toBe('awaiting_approval');
    expect(check()?.status).toBe('pending');
    const json = await cortex(['approve', id, '--simulate-fail', 'nosuch', '--json'], { root: r });
    expect(json.exitCode).toBe(2);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'CORTEX_USAGE', exit_code: 2 } });
  });

  it('approve with a valid id makes that action fail (on_error pause: exit 1); resume refuses an unknown id, then fails it again on request', async () => {
    const approve = await cortex(['approve', id, '--simulate-fail', 'check'], { root: r });
    expect(approve.exitCode, approve.stderr).toBe(1);
    expect(record().status).toBe('paused');
    expect(check()?.status).toBe('failed');
    const attempts = check()?.attempts.length ?? 0;

    const bad = await cortex(['resume', id, '--simulate-fail', 'chek'], { root: r });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--simulate-fail names no action of gate: "chek"');
    expect(bad.stderr).toContain('hint: its actions: one, check');
    expect(record().status).toBe('paused');
    expect(check()?.attempts.length).toBe(attempts);

    const again = await cortex(['resume', id, '--simulate-fail', 'check'], { root: r });
    expect(again.exitCode, again.stderr).toBe(1);
    expect(check()?.attempts.length).toBeGreaterThan(attempts);

    const ok = await cortex(['resume', id], { root: r });
    expect(ok.exitCode, ok.stderr).toBe(0);
  });
});
