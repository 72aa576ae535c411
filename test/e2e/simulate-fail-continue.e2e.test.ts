import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cortex, readJson, removeRoot, tempRoot } from './helpers.js';
import { HAS_REDIS, REDIS_NOTE, startRedis, type RedisServer } from '../helpers/redis.js';

// --simulate-fail on the commands that continue a run in the lab (approve, resume): an id that
// names no action of the execution is a usage error (exit 2) naming the valid ones, as for run,
// and changes nothing; a valid one makes that action fail. On the commands that run a rollback
// (reject, rollback, cancel --rollback) the ids name rollback steps, checked the same way.

const GATE = `workflow_id: gate
workflow_name: Gate
version: 1.0.0
phases:
  - phase_id: first
    contractor: n8n-contractor
    actions:
      - action_id: one
        action: execute_command
        parameters: { command: [echo, one] }
        compensation: { action: http_request, parameters: { method: GET, url: "http://web.example/healthz" } }
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

interface Step {
  step_id: string;
  status: string;
  attempts: Array<{ status: string }>;
}
interface Rec {
  status: string;
  approvals?: unknown[];
  rollback?: { steps: Step[] };
}

describe('--simulate-fail on reject, rollback and cancel --rollback names rollback steps', () => {
  let r2: string;
  const ids: string[] = [];
  // The record, in active/ or (ended) in history/.
  const rec = (eid: string): Rec => {
    const active = join(r2, 'workflows', 'active', `workflow-${eid}.json`);
    return readJson<Rec>(existsSync(active) ? active : join(r2, 'workflows', 'history', `workflow-${eid}.json`));
  };
  const step = (eid: string) => rec(eid).rollback?.steps.find((s) => s.step_id === 'undo-one');
  let redis: RedisServer | undefined;

  beforeAll(async () => {
    r2 = tempRoot({ 'workflows/gate.yaml': GATE.replace('version: 1.0.0\n', 'version: 1.0.0\nconcurrency: 2\n') });
    for (let i = 0; i < 2; i++) {
      const run = await cortex(['run', 'gate', '--simulate', '--json'], { root: r2 });
      expect(run.exitCode, run.stderr).toBe(0);
      ids.push((JSON.parse(run.stdout) as { execution_id: string }).execution_id);
    }
    if (HAS_REDIS) redis = await startRedis();
  }, 120_000);
  afterAll(async () => {
    await redis?.dispose();
    removeRoot(r2);
  });

  it.skipIf(!HAS_REDIS)(`queue mode: each refuses an unknown id before anything is recorded or queued${REDIS_NOTE}`, async () => {
    const [a, b] = ids as [string, string];
    const env = { CORTEX_QUEUE_URL: (redis as RedisServer).url };
    for (const [eid, named, args] of [
      [a, 'nosuch', ['reject', a, '--simulate-fail', 'nosuch']],
      [a, 'nosuch', ['rollback', a, '--simulate-fail', 'nosuch:1']],
      [b, 'one', ['cancel', b, '--rollback', '--simulate-fail', 'one']],
    ] as const) {
      const bad = await cortex([...args], { root: r2, env });
      expect(bad.exitCode, `${args.join(' ')}: ${bad.stderr}`).toBe(2);
      expect(bad.stderr).toContain(`--simulate-fail names no rollback step of ${eid}: "${named}"`);
      expect(bad.stderr).toContain(`hint: the steps its rollback runs: undo-one (cortex rollback ${eid} --dry-run lists them)`);
      expect(bad.stderr).not.toContain('no cortex worker');
    }
    for (const eid of ids) {
      expect(rec(eid).status).toBe('awaiting_approval');
      expect(rec(eid).approvals ?? []).toEqual([]);
    }
  });

  it('reject: an unknown id (an action id too) is exit 2 naming the steps, and nothing is recorded; a step id makes that step fail', async () => {
    const a = ids[0] as string;
    for (const fault of ['nosuch', 'one:1']) {
      const bad = await cortex(['reject', a, '--simulate-fail', fault], { root: r2 });
      expect(bad.exitCode).toBe(2);
      expect(bad.stderr).toContain(`CORTEX_USAGE: --simulate-fail names no rollback step of ${a}: "${fault.split(':')[0]}"`);
      expect(bad.stderr).toContain(`hint: the steps its rollback runs: undo-one (cortex rollback ${a} --dry-run lists them)`);
      expect(rec(a).status).toBe('awaiting_approval');
      expect(rec(a).approvals ?? []).toEqual([]);
    }
    const ok = await cortex(['reject', a, '--simulate-fail', 'undo-one'], { root: r2 });
    expect(ok.exitCode, ok.stderr).not.toBe(2);
    expect(step(a)?.status).toBe('failed');
  });

  it('rollback: an unknown id is exit 2 and runs nothing; undo-one fails that step again; without it the rollback completes', async () => {
    const a = ids[0] as string;
    const attempts = step(a)?.attempts.length ?? 0;
    expect(attempts).toBeGreaterThan(0);
    const bad = await cortex(['rollback', a, '--simulate-fail', 'undo-on'], { root: r2 });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(`--simulate-fail names no rollback step of ${a}: "undo-on"`);
    expect(bad.stderr).toContain('hint: the steps its rollback runs: undo-one');
    expect(step(a)?.attempts.length).toBe(attempts);
    expect(step(a)?.status).toBe('failed');

    const again = await cortex(['rollback', a, '--simulate-fail', 'undo-one'], { root: r2 });
    expect(again.exitCode, again.stderr).toBe(1);
    const fresh = step(a)?.attempts.slice(attempts) ?? [];
    expect(fresh.length).toBeGreaterThan(0);
    expect(fresh.every((t) => t.status === 'failed')).toBe(true);

    const ok = await cortex(['rollback', a], { root: r2 });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(rec(a).status).toBe('rolled_back');
    expect(step(a)?.attempts.at(-1)?.status).toBe('succeeded');
  });

  it('cancel --rollback: an unknown id is exit 2 and the execution is not cancelled; a step id makes that step fail', async () => {
    const b = ids[1] as string;
    const bad = await cortex(['cancel', b, '--rollback', '--simulate-fail', 'nosuch'], { root: r2 });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(`--simulate-fail names no rollback step of ${b}: "nosuch"`);
    expect(rec(b).status).toBe('awaiting_approval');
    const ok = await cortex(['cancel', b, '--rollback', '--simulate-fail', 'undo-one'], { root: r2 });
    expect(ok.exitCode, ok.stderr).not.toBe(2);
    expect(step(b)?.status).toBe('failed');
  });
});
