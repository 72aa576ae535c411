import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cortex, readJson, removeRoot, tempRoot, waitPastApprovalDeadline } from './helpers.js';

// What the operator reads after reject, cancel, an expired approval, and logs of a contractor by
// the short name the output prints.

const roots: string[] = [];
afterAll(() => roots.forEach(removeRoot));

function gatedRoot(extra = ''): string {
  const r = tempRoot({
    'workflows/gated.yaml': `workflow_id: gated
workflow_name: gated
version: 1.0.0
phases:
  - phase_id: prepare
    contractor: infrastructure-contractor
    actions:
      - { action_id: make-a, action: execute_command, parameters: { command: ["true"] } }
  - phase_id: deploy
    contractor: talos-contractor
    requires_approval: true
${extra}    actions:
      - { action_id: make-b, action: execute_command, parameters: { command: ["true"] } }
`,
  });
  roots.push(r);
  return r;
}

async function waiting(r: string): Promise<string> {
  const run = await cortex(['run', 'gated', '--json'], { root: r });
  expect(run.exitCode, run.stderr).toBe(0);
  return (JSON.parse(run.stdout) as { execution_id: string }).execution_id;
}

describe('operator texts', () => {
  it('reject and cancel say what they do, not "resuming"', async () => {
    const r = gatedRoot();
    const id = await waiting(r);
    const rejected = await cortex(['reject', id], { root: r });
    expect(rejected.exitCode, rejected.stderr).toBe(0);
    expect(rejected.stdout).toMatch(new RegExp(`rejected, ending ${id}`));
    expect(rejected.stdout).not.toMatch(/resuming/);

    const id2 = await waiting(r);
    const cancelled = await cortex(['cancel', id2], { root: r });
    expect(cancelled.exitCode, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toMatch(new RegExp(`cancelling ${id2}`));
    expect(cancelled.stdout).not.toMatch(/resuming/);
  });

  it('status ID of an expired approval says what happens to it, not "cortex approve"', async () => {
    const r = gatedRoot('    approval_timeout: 1\n');
    const id = await waiting(r);
    await waitPastApprovalDeadline(r, id);
    const after = await cortex(['status', id], { root: r });
    expect(after.stdout).not.toContain('cortex approve');
    expect(after.stdout).toMatch(/approval: expired at \S+/);
    expect(after.stdout).toContain(`the next cortex tick rejects it and rolls back what completed (or now: cortex resume ${id})`);
  });

  it('logs --contractor accepts the short name the output prints (talos for talos-contractor)', async () => {
    const r = gatedRoot();
    const id = await waiting(r);
    await cortex(['approve', id], { root: r });
    const short = await cortex(['logs', id, '--contractor', 'talos'], { root: r });
    expect(short.exitCode, short.stderr).toBe(0);
    const full = await cortex(['logs', id, '--contractor', 'talos-contractor'], { root: r });
    expect(short.stdout).toBe(full.stdout);
    expect(short.stdout).toMatch(/^talos +.*action=make-b/m);
    expect(short.stdout).not.toMatch(/make-a/);
    expect(readJson<{ status: string }>(join(r, 'workflows', 'history', `workflow-${id}.json`)).status).toBe('completed');
  });
});
