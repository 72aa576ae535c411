import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT, cortex, readJson, removeRoot, tempRoot } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

// A second push while the first deploy waits for approval: on_conflict decides.

const PUSH = readFileSync(join(PROJECT, 'test', 'unit', 'triggers', 'fixtures', 'github', 'push.json'), 'utf8');
const roots: string[] = [];
afterAll(() => roots.forEach(removeRoot));

function deployRoot(onConflict: string): string {
  const r = tempRoot({
    'workflows/deploy.yaml': `workflow_id: deploy
workflow_name: Deploy on push
version: 1.0.0
${onConflict}parameters:
  commit: { type: string, required: true }
phases:
  - phase_id: build
    contractor: infrastructure-contractor
    actions:
      - { action_id: compile, action: execute_command, parameters: { command: [echo, "\${parameters.commit}"] } }
  - phase_id: release
    contractor: talos-contractor
    requires_approval: true
    actions:
      - { action_id: ship, action: execute_command, parameters: { command: ["true"] } }
triggers:
  - { type: github_webhook, id: push-to-main, events: [push], branches: [main], parameters: { commit: "\${event.after}" } }
`,
  });
  roots.push(r);
  return r;
}

interface Rec {
  execution_id: string;
  status: string;
  status_reason?: string;
  queued?: { behind: string[]; concurrency: number };
}

function record(r: string, id: string): Rec | undefined {
  for (const dir of ['active', 'history']) {
    try {
      return readJson<Rec>(join(r, 'workflows', dir, `workflow-${id}.json`));
    } catch {
      // not there
    }
  }
  return undefined;
}

/** Sends a push of `commit` (delivery `delivery`) with cortex trigger; returns its JSON answer. */
async function push(r: string, commit: string, delivery: string) {
  const file = join(r, `push-${delivery}.json`);
  writeFileSync(file, PUSH.replace(/eb7b85e677927673e3291ac9f0487f7d4d2fb22e/g, commit));
  const res = await cortex(['trigger', '--source', 'github', '--github-event', 'push', '--delivery', delivery, '--event', file, '--json'], { root: r });
  return { res, body: JSON.parse(res.stdout || '{}') as { executions: string[]; runs: Array<{ status: string; cancelled?: string[]; execution_id?: string | null }> } };
}

async function awaitingApproval(r: string, id: string): Promise<void> {
  await waitFor(() => record(r, id)?.status === 'awaiting_approval', { what: `${id} to wait for approval`, timeoutMs: 30_000, detail: () => JSON.stringify(record(r, id)) });
}

describe('on_conflict', () => {
  it('cancel_older: the second push cancels the run waiting for approval (its reason names the event) and starts', async () => {
    const r = deployRoot('on_conflict: cancel_older\n');
    const first = await push(r, 'a'.repeat(40), 'd-1');
    expect(first.res.exitCode, first.res.stderr).toBe(0);
    const [older] = first.body.executions;
    await awaitingApproval(r, older!);

    const second = await push(r, 'b'.repeat(40), 'd-2');
    expect(second.res.exitCode, second.res.stdout + second.res.stderr).toBe(0);
    expect(second.body.runs[0]).toMatchObject({ status: 'started', cancelled: [older] });
    const [newer] = second.body.executions;
    expect(newer).not.toBe(older);
    const old = record(r, older!);
    expect(old?.status).toBe('cancelled');
    expect(old?.status_reason).toMatch(/superseded by a newer github event \(.*d-2.*\).*on_conflict cancel_older/);
    await awaitingApproval(r, newer!);
  }, 90_000);

  it('queue: the second push is queued (pending, not driven); once the first ends, tick starts it; status shows it queued', async () => {
    const r = deployRoot('on_conflict: queue\n');
    const first = await push(r, 'a'.repeat(40), 'd-1');
    const [older] = first.body.executions;
    await awaitingApproval(r, older!);

    const second = await push(r, 'b'.repeat(40), 'd-2');
    expect(second.res.exitCode, second.res.stdout + second.res.stderr).toBe(0);
    expect(second.body.runs[0]).toMatchObject({ status: 'queued' });
    const [queued] = second.body.executions;
    expect(record(r, queued!)).toMatchObject({ status: 'pending', queued: { behind: [older], concurrency: 1 } });
    const st = await cortex(['status'], { root: r });
    expect(st.stdout).toMatch(new RegExp(`^${queued}\\s+deploy\\s+queued\\s`, 'm'));
    expect(st.stdout).toContain(`queued behind ${older}`);

    // A tick while the first is still waiting starts nothing.
    const early = JSON.parse((await cortex(['tick', '--json'], { root: r })).stdout) as { dequeued: unknown[] };
    expect(early.dequeued).toEqual([]);
    expect(record(r, queued!)?.status).toBe('pending');

    const approved = await cortex(['approve', older!], { root: r });
    expect(approved.exitCode, approved.stderr).toBe(0);
    expect(record(r, older!)?.status).toBe('completed');
    const tick = JSON.parse((await cortex(['tick', '--json'], { root: r })).stdout) as { dequeued: Array<{ execution_id: string }> };
    expect(tick.dequeued.map((d) => d.execution_id)).toEqual([queued]);
    await awaitingApproval(r, queued!);
    expect(record(r, queued!)).not.toHaveProperty('queued');
  }, 90_000);

  it('refuse (the default): the second push is refused for now (busy) and the first run is left alone', async () => {
    const r = deployRoot('');
    const first = await push(r, 'a'.repeat(40), 'd-1');
    const [older] = first.body.executions;
    await awaitingApproval(r, older!);
    const second = await push(r, 'b'.repeat(40), 'd-2');
    expect(second.body.runs[0]).toMatchObject({ status: 'busy' });
    expect(second.body.runs[0]).not.toHaveProperty('cancelled');
    expect(record(r, older!)?.status).toBe('awaiting_approval');
  }, 90_000);
});
