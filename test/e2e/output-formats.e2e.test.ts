import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { cortex, removeRoot, tempRoot } from './helpers.js';

// -o table|json|yaml|wide|name on the listing commands (list, status, history); -o json is --json.

let r: string;
const ids: string[] = [];
beforeAll(async () => {
  const wf = (id: string, command: string) => `workflow_id: ${id}
workflow_name: ${id} workflow
version: 1.0.0
parameters:
  target: { type: string, required: true }
  replicas: { type: integer, default: 1 }
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: a, action: execute_command, parameters: { command: [${command}] } }
`;
  r = tempRoot({ 'workflows/good.yaml': wf('good', '"true"'), 'workflows/bad.yaml': wf('bad', '"false"') });
  for (const id of ['good', 'bad']) {
    const res = await cortex(['run', id, '-p', 'target=x', '--json'], { root: r });
    expect(res.exitCode, res.stderr).toBe(id === 'good' ? 0 : 1);
    ids.push((JSON.parse(res.stdout) as { execution_id: string }).execution_id);
  }
}, 120_000);
afterAll(() => removeRoot(r));

describe('-o on list, status and history', () => {
  it('list: -o name prints ids, -o json is --json, -o yaml the same data, -o wide adds parameters and file', async () => {
    const name = await cortex(['list', '-o', 'name'], { root: r });
    expect(name.stdout).toBe('bad\ngood');
    const json = await cortex(['list', '--json'], { root: r });
    expect((await cortex(['list', '-o', 'json'], { root: r })).stdout).toBe(json.stdout);
    expect(parse((await cortex(['list', '-o', 'yaml'], { root: r })).stdout)).toEqual(JSON.parse(json.stdout));
    const wide = (await cortex(['list', '-o', 'wide'], { root: r })).stdout.split('\n');
    expect(wide[0]).toMatch(/^WORKFLOW\s+NAME\s+VERSION\s+PHASES\s+CONTRACTORS\s+DURATION\s+PARAMETERS\s+FILE$/);
    expect(wide[1]).toMatch(/^bad\s.*\starget\*,replicas\s+workflows\/bad\.yaml$/);
    const table = await cortex(['list', '-o', 'table'], { root: r });
    expect(table.stdout).toBe((await cortex(['list'], { root: r })).stdout);
    expect(table.stdout).not.toContain('PARAMETERS');
  });

  it('history: name, yaml and wide (workflow, finish time, the error message)', async () => {
    expect((await cortex(['history', '-o', 'name'], { root: r })).stdout).toBe(`${ids[1]}\n${ids[0]}`);
    const json = JSON.parse((await cortex(['history', '--json'], { root: r })).stdout) as { executions: Array<{ status: string }> };
    expect(json.executions.map((e) => e.status)).toEqual(['failed', 'completed']);
    expect(parse((await cortex(['history', '-o', 'yaml'], { root: r })).stdout)).toEqual(json);
    const wide = (await cortex(['history', '-o', 'wide'], { root: r })).stdout.split('\n');
    expect(wide[0]).toMatch(/^EXECUTION\s+STATUS\s+STARTED\s+DURATION\s+TRIGGER\s+ERROR\s+WORKFLOW\s+FINISHED\s+REASON$/);
    expect(wide[1]).toMatch(new RegExp(`^${ids[1]}\\s+failed\\s.*\\smanual \\S+\\s+command_failed: action "a" \\(execute_command\\) in phase "p" failed: false failed \\(exit 1\\)\\s+bad\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+-$`));
  });

  it('status: one execution as yaml or its id; the empty active list as name prints nothing', async () => {
    const json = JSON.parse((await cortex(['status', ids[0]!, '--json'], { root: r })).stdout) as Record<string, unknown>;
    expect(json.status).toBe('completed');
    expect(parse((await cortex(['status', ids[0]!, '-o', 'yaml'], { root: r })).stdout)).toEqual(json);
    expect((await cortex(['status', ids[0]!, '-o', 'name'], { root: r })).stdout).toBe(ids[0]);
    const empty = await cortex(['status', '-o', 'name'], { root: r });
    expect([empty.exitCode, empty.stdout]).toEqual([0, '']);
  });

  it('an unknown format, or --json with another -o, is refused (exit 2)', async () => {
    const bogus = await cortex(['history', '-o', 'xml'], { root: r });
    expect(bogus.exitCode).toBe(2);
    expect(bogus.stderr).toMatch(/'xml' is invalid.*table, json, yaml, wide, name/s);
    const both = await cortex(['list', '--json', '-o', 'yaml'], { root: r });
    expect(both.exitCode).toBe(2);
    expect(JSON.parse(both.stderr)).toMatchObject({ error: { code: 'CORTEX_USAGE', message: '--json and -o yaml ask for two formats: give one' } });
  });
});
