import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { cortex, readJson, removeRoot, tempRoot } from './helpers.js';
import { checkRootFiles } from './schema-check.js';

const roots: string[] = [];
afterAll(() => roots.forEach(removeRoot));

/** A stand-in `lbctl`: records its argv (one JSON line per call), answers `status` with JSON. */
const LBCTL = `#!/usr/bin/env node
const fs = require('node:fs');
const args = process.argv.slice(2);
fs.appendFileSync(process.env.LBCTL_LOG, JSON.stringify(args) + '\\n');
if (args[0] === 'status') process.stdout.write(JSON.stringify({ state: process.env.LBCTL_STATE || 'running', backends: [{ name: args[2] }] }) + '\\n');
else process.stdout.write('ok\\n');
`;

const CONTRACTOR = `contractor: lb-contractor
actions:
  - name: enable_backend
    summary: Put a backend into the load-balancer pool
    argv: [lbctl, enable, "\${params.host}", "\${params.backend}"]
    parameters:
      type: object
      additionalProperties: false
      properties:
        host: { type: string, description: Load-balancer host }
        backend: { type: string }
      required: [host, backend]
    idempotent: true
    timeout_seconds: 30
    compensation: { action: disable_backend, parameters: { host: "\${input.host}", backend: "\${input.backend}" } }
  - name: disable_backend
    summary: Take a backend out of the pool
    argv: [lbctl, disable, "\${params.host}", "\${params.backend}"]
    parameters:
      type: object
      additionalProperties: false
      properties: { host: { type: string }, backend: { type: string } }
      required: [host, backend]
    idempotent: true
  - name: pool_status
    summary: Read the pool state
    argv: [lbctl, status, "\${params.host}", "\${params.backend}"]
    parameters:
      type: object
      additionalProperties: false
      properties: { host: { type: string }, backend: { type: string } }
      required: [host, backend]
    output: { format: json, map: { state: state, first_backend: "backends[0].name" } }
    success: { condition: "\${output.state} == 'running'" }
    failure: { error_code: lb_pool_unhealthy }
`;

const WORKFLOW = `workflow_id: lb-rotate
workflow_name: Rotate a backend
version: 1.0.0
parameters:
  host: { type: string, default: "lb-01; rm -rf /" }
phases:
  - phase_id: enable
    contractor: lb-contractor
    actions:
      - { action_id: enable-web, action: enable_backend, parameters: { host: "\${parameters.host}", backend: web-1 }, timeout: 20 }
      - { action_id: check, action: pool_status, parameters: { host: "\${parameters.host}", backend: web-1 } }
    handoff_to: infrastructure-contractor
    handoff_data: { backend: "\${check.output.first_backend}" }
  - phase_id: report
    contractor: infrastructure-contractor
    actions:
      - { action_id: say, action: execute_command, parameters: { command: [echo, "\${enable.handoff_data.backend}"] } }
`;

function setup(): { root: string; env: Record<string, string>; calls: () => string[][] } {
  const root = tempRoot({ 'contractors/lb-contractor.yaml': CONTRACTOR, 'workflows/lb-rotate.yaml': WORKFLOW });
  roots.push(root);
  const bin = join(root, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'lbctl'), LBCTL);
  chmodSync(join(bin, 'lbctl'), 0o755);
  const log = join(root, 'lbctl.log');
  writeFileSync(log, '');
  const env = { PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`, LBCTL_LOG: log };
  const calls = () =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as string[]);
  return { root, env, calls };
}

describe('operator-defined actions end to end', () => {
  it('are listed, validated, planned, run through the engine, and compensated by cortex rollback', async () => {
    const { root, env, calls } = setup();

    const actions = await cortex(['actions', 'lb-contractor', '--json'], { root, env });
    expect(actions.exitCode, actions.stderr).toBe(0);
    const listed = (JSON.parse(actions.stdout) as { actions: Array<{ action: string; operator_defined: boolean }> }).actions;
    expect(listed.filter((a) => a.operator_defined).map((a) => a.action)).toEqual(['disable_backend', 'enable_backend', 'pool_status']);

    const valid = await cortex(['validate', 'lb-rotate'], { root, env });
    expect(valid.exitCode, valid.stderr).toBe(0);

    const dry = await cortex(['run', 'lb-rotate', '--dry-run'], { root, env });
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("$ lbctl enable 'lb-01; rm -rf /' web-1");
    expect(calls()).toEqual([]);

    const run = await cortex(['run', 'lb-rotate', '--json'], { root, env });
    expect(run.exitCode, run.stderr).toBe(0);
    const id = (JSON.parse(run.stdout) as { execution_id: string }).execution_id;
    // The injection attempt reached lbctl as one argument.
    expect(calls()).toEqual([
      ['enable', 'lb-01; rm -rf /', 'web-1'],
      ['status', 'lb-01; rm -rf /', 'web-1'],
    ]);
    const record = readJson<{ status: string; phases: Array<{ actions: Array<{ action_id: string; outputs: unknown; attempts: Array<{ invocations: Array<{ command: string[] }> }> }> }> }>(
      join(root, 'workflows', 'history', `workflow-${id}.json`),
    );
    expect(record.status).toBe('completed');
    const [enable, check] = record.phases[0]!.actions;
    expect(enable?.outputs).toEqual({ exit_code: 0, stdout: 'ok' });
    expect(enable?.attempts[0]?.invocations[0]?.command).toEqual(['lbctl', 'enable', 'lb-01; rm -rf /', 'web-1']);
    expect(check?.outputs).toEqual({ exit_code: 0, state: 'running', first_backend: 'web-1' });
    expect(record.phases[1]!.actions[0]?.outputs).toMatchObject({ stdout: 'web-1' }); // trailing newline trimmed, as $(…) does
    // A new contractor gets its own masters/ folder (log lines).
    expect(readFileSync(join(root, 'masters', 'lb', 'logs', 'contractor.log'), 'utf8')).toMatch(/action=enable-web event=end status=completed/);
    expect(checkRootFiles(root)).toEqual([]);

    const rb = await cortex(['rollback', id, '--json'], { root, env });
    expect(rb.exitCode, rb.stderr).toBe(0);
    expect(calls().at(-1)).toEqual(['disable', 'lb-01; rm -rf /', 'web-1']);
    const after = readJson<{ status: string; rollback: { steps: Array<{ step_id: string; action: string; status: string; parameters: unknown }> } }>(
      join(root, 'workflows', 'history', `workflow-${id}.json`),
    );
    expect(after.status).toBe('rolled_back');
    expect(after.rollback.steps).toEqual([
      expect.objectContaining({ step_id: 'undo-enable-web', action: 'disable_backend', status: 'completed', parameters: { host: 'lb-01; rm -rf /', backend: 'web-1' } }),
    ]);
  });

  it('a false success condition fails the action with the configured error code', async () => {
    const { root, env } = setup();
    const run = await cortex(['run', 'lb-rotate'], { root, env: { ...env, LBCTL_STATE: 'draining' } });
    expect(run.exitCode).toBe(1);
    const [file] = readdirSync(join(root, 'workflows', 'history'));
    const rec = readJson<{ phases: Array<{ actions: Array<{ action_id: string; status: string; error?: { code: string; message: string } }> }> }>(join(root, 'workflows', 'history', file!));
    const check = rec.phases[0]!.actions.find((a) => a.action_id === 'check');
    expect(check?.status).toBe('failed');
    expect(check?.error?.code).toBe('lb_pool_unhealthy');
    expect(check?.error?.message).toContain(`success condition \${output.state} == 'running' is false (output.state = "draining")`);
  });

  it('an invalid contractor file stops every command with file:line:column (exit 2)', async () => {
    const root = tempRoot({ 'contractors/lb.yaml': 'contractor: lb-contractor\nactions:\n  - name: x\n    summary: s\n    argv: lbctl status\n' });
    roots.push(root);
    const res = await cortex(['validate'], { root });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain('contractors/lb.yaml:5:11: /actions/0/argv: expected array');
  });
});
