import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cortex, removeRoot, tempRoot } from './helpers.js';

// cortex history --workflow --status --since --limit: the filters apply before the limit.

let r: string;
const runs: Array<{ id: string; started_at: string; finished_at: string }> = [];
beforeAll(async () => {
  const wf = (id: string, command: string) => `workflow_id: ${id}
workflow_name: ${id}
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: a, action: execute_command, parameters: { command: [${command}] } }
`;
  r = tempRoot({ 'workflows/good.yaml': wf('good', '"true"'), 'workflows/bad.yaml': wf('bad', '"false"') });
  for (const id of ['good', 'bad', 'good']) {
    const res = await cortex(['run', id, '--json'], { root: r });
    expect(res.exitCode, res.stderr).toBe(id === 'good' ? 0 : 1);
    const { execution_id } = JSON.parse(res.stdout) as { execution_id: string };
    const rec = JSON.parse((await cortex(['status', execution_id, '--json'], { root: r })).stdout) as { started_at: string; finished_at: string };
    runs.push({ id: execution_id, started_at: rec.started_at, finished_at: rec.finished_at });
  }
}, 120_000);
afterAll(() => removeRoot(r));

const names = async (...args: string[]) => {
  const res = await cortex(['history', '-o', 'name', ...args], { root: r });
  expect(res.exitCode, res.stderr).toBe(0);
  return res.stdout === '' ? [] : res.stdout.split('\n');
};

describe('cortex history filters', () => {
  it('--workflow (as the argument), --status (several, comma-separated), and the limit after them', async () => {
    const [g1, b, g2] = runs.map((x) => x.id);
    expect(await names()).toEqual([g2, b, g1]);
    expect(await names('--workflow', 'good')).toEqual([g2, g1]);
    expect(await names('good')).toEqual([g2, g1]);
    expect(await names('--status', 'failed')).toEqual([b]);
    expect(await names('--status', 'failed,completed')).toEqual([g2, b, g1]);
    expect(await names('--status', 'rolled_back')).toEqual([]);
    // The limit counts matches: the newest failed one, not nothing because the newest one completed.
    expect(await names('--status', 'failed', '--limit', '1')).toEqual([b]);
    expect(await names('--limit', '2')).toEqual([g2, b]);
    expect(await names('--workflow', 'bad', '--status', 'completed')).toEqual([]);
    const none = await cortex(['history', '--workflow', 'bad', '--status', 'completed'], { root: r });
    expect(none.stdout).toBe('no finished executions of bad matching the filters');
  });

  it('--since a duration or a time: executions started since then', async () => {
    expect(await names('--since', '1h')).toEqual(runs.map((x) => x.id).reverse());
    // Since just after the first run ended: the two after it.
    const afterFirst = new Date(Date.parse(runs[0]!.finished_at) + 1).toISOString();
    expect(await names('--since', afterFirst)).toEqual([runs[2]!.id, runs[1]!.id]);
    expect(await names('--since', runs[2]!.started_at, '--status', 'completed')).toEqual([runs[2]!.id]);
    const json = JSON.parse((await cortex(['history', '--since', afterFirst, '--status', 'failed', '--json'], { root: r })).stdout) as { executions: Array<{ execution_id: string }> };
    expect(json.executions.map((e) => e.execution_id)).toEqual([runs[1]!.id]);
  });

  it('refuses an unknown status, a bad --since, and two different workflows (exit 2)', async () => {
    const st = await cortex(['history', '--status', 'completed,running'], { root: r });
    expect(st.exitCode).toBe(2);
    expect(st.stderr).toMatch(/^CORTEX_USAGE: --status "completed,running": history holds executions that ended completed, failed, rolled_back, rollback_failed, cancelled/);
    const since = await cortex(['history', '--since', 'yesterday'], { root: r });
    expect(since.exitCode).toBe(2);
    expect(since.stderr).toMatch(/^CORTEX_USAGE: --since "yesterday": give a duration/);
    const two = await cortex(['history', 'good', '--workflow', 'bad'], { root: r });
    expect(two.exitCode).toBe(2);
    expect(two.stderr).toMatch(/^CORTEX_USAGE: two workflows asked for: good and --workflow bad/);
    expect((await cortex(['history', 'good', '--workflow', 'good', '-o', 'name'], { root: r })).exitCode).toBe(0);
  });
});
