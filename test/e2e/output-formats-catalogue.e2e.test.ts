import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { cortex, removeRoot, tempRoot } from './helpers.js';

// -o table|json|yaml|wide|name on `cortex actions` and `cortex schedule list`; -o json is --json.

let r: string;
const env = { CORTEX_CRONTAB: '/nonexistent/crontab' };
beforeAll(() => {
  r = tempRoot({
    'contractors/ops.yaml': `contractor: infrastructure-contractor
actions:
  - name: drain_backend
    summary: Take a backend out of the pool
    argv: [echo, drain, "\${params.backend}"]
    parameters:
      type: object
      additionalProperties: false
      properties: { backend: { type: string }, note: { type: string } }
      required: [backend]
    idempotent: true
`,
    'workflows/nightly.yaml': `workflow_id: nightly
workflow_name: Nightly
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: a, action: execute_command, parameters: { command: [echo, hi] } }
triggers:
  - { type: schedule, id: night, cron: "30 2 * * *", timezone: Europe/Berlin }
  - { type: schedule, id: noon, cron: "0 12 * * *", enabled: false }
`,
  });
});
afterAll(() => removeRoot(r));

describe('cortex actions -o', () => {
  it('name: contractor/action per line, or only the action names of the contractor given', async () => {
    const all = await cortex(['actions', '-o', 'name'], { root: r });
    expect(all.exitCode, all.stderr).toBe(0);
    const lines = all.stdout.split('\n');
    expect(lines).toContain('infrastructure-contractor/provision_vm');
    expect(lines).toContain('infrastructure-contractor/drain_backend');
    expect(lines.filter((l) => l.endsWith('/execute_command'))).toEqual(['*/execute_command']);
    expect(new Set(lines).size).toBe(lines.length);
    const json = JSON.parse((await cortex(['actions', '--json'], { root: r })).stdout) as { actions: Array<{ contractor: string; action: string }> };
    expect(lines).toEqual(json.actions.map((a) => `${a.contractor}/${a.action}`));

    const sm = await cortex(['actions', 'security-master', '-o', 'name'], { root: r });
    expect(sm.stdout.split('\n')).toEqual(['execute_command', 'execute_remediation_plan', 'http_request', 'review_investigation_findings', 'verify_remediation_complete', 'wait']);
    expect((await cortex(['actions', 'talos-contractor', 'drain_node', '-o', 'name'], { root: r })).stdout).toBe('drain_node');
  });

  it('json is --json; yaml parses to the same data, for the list and for one action', async () => {
    const json = await cortex(['actions', 'n8n-contractor', '--json'], { root: r });
    expect((await cortex(['actions', 'n8n-contractor', '-o', 'json'], { root: r })).stdout).toBe(json.stdout);
    expect(parse((await cortex(['actions', 'n8n-contractor', '-o', 'yaml'], { root: r })).stdout)).toEqual(JSON.parse(json.stdout));
    const one = JSON.parse((await cortex(['actions', 'talos-contractor', 'install_helm_chart', '-o', 'json'], { root: r })).stdout) as Record<string, unknown>;
    expect(one).toMatchObject({ contractor: 'talos-contractor', action: 'install_helm_chart', idempotent: true });
    expect(parse((await cortex(['actions', 'talos-contractor', 'install_helm_chart', '-o', 'yaml'], { root: r })).stdout)).toEqual(one);
  });

  it('wide adds the tools, the parameters (required marked *) and whether it is built in; table is the default', async () => {
    const wide = (await cortex(['actions', 'infrastructure-contractor', '-o', 'wide'], { root: r })).stdout.split('\n');
    expect(wide[0]).toMatch(/^CONTRACTOR\s+ACTION\s+KIND\s+IDEMPOTENT\s+UNDO\s+OUTPUTS\s+USES\s+PARAMETERS\s+SOURCE$/);
    expect(wide.find((l) => /\sdrain_backend\s/.test(l))).toMatch(/\sbackend\*,note\s+operator-defined$/);
    expect(wide.find((l) => /\sprovision_vm\s/.test(l))).toMatch(/\spvesh\s.*\sbuilt-in$/);
    const table = await cortex(['actions', 'infrastructure-contractor', '-o', 'table'], { root: r });
    expect(table.stdout).toBe((await cortex(['actions', 'infrastructure-contractor'], { root: r })).stdout);
    expect(table.stdout).not.toContain('PARAMETERS');
  });

  it('an unknown format, or --json beside another -o, is a usage error (exit 2)', async () => {
    const bad = await cortex(['actions', '-o', 'xml'], { root: r });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/xml/);
    const both = await cortex(['actions', '-o', 'yaml', '--json'], { root: r });
    expect(both.exitCode).toBe(2);
    expect(JSON.parse(both.stderr)).toMatchObject({ error: { code: 'CORTEX_USAGE', message: '--json and -o yaml ask for two formats: give one' } });
  });
});

describe('cortex schedule list -o', () => {
  const at = ['--now', '2026-03-28T12:00:00Z'];

  it('name prints the schedule keys; json is --json; yaml parses to the same data', async () => {
    const name = await cortex(['schedule', 'list', '-o', 'name', ...at], { root: r, env });
    expect(name.exitCode, name.stderr).toBe(0);
    expect(name.stdout).toBe('nightly/night\nnightly/noon');
    const json = await cortex(['schedule', 'list', '--json', ...at], { root: r, env });
    expect((await cortex(['schedule', 'list', '-o', 'json', ...at], { root: r, env })).stdout).toBe(json.stdout);
    const data = JSON.parse(json.stdout) as { schedules: Array<{ schedule: string; next_runs: Array<{ utc: string }> }> };
    // 02:30 falls in the spring-forward gap of 2026-03-29: it runs once right after the change, at 03:00.
    expect(data.schedules[0]?.next_runs.map((n) => n.utc)).toEqual(['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z', '2026-03-31T00:30:00.000Z']);
    expect(parse((await cortex(['schedule', 'list', '-o', 'yaml', ...at], { root: r, env })).stdout)).toEqual(data);
  });

  it('wide adds the workflow, where it is defined and the last run; -o on install is a usage error', async () => {
    const wide = (await cortex(['schedule', 'list', '-o', 'wide', ...at], { root: r, env })).stdout.split('\n');
    expect(wide[0]).toMatch(/^SCHEDULE\s+CRON\s+TIMEZONE\s+STATE\s+CATCH_UP\s+NEXT RUNS \(LOCAL \/ UTC\)\s+WORKFLOW\s+DEFINED IN\s+LAST RUN$/);
    expect(wide[1]).toMatch(/^nightly\/night\s+30 2 \* \* \*\s+Europe\/Berlin\s+enabled\s.*\snightly\s+workflows\/nightly\.yaml \/triggers\/0\s+-$/);
    expect(wide[2]).toMatch(/^nightly\/noon\s.*\sdisabled\s/);
    const install = await cortex(['schedule', 'install', '-o', 'name'], { root: r, env });
    expect(install.exitCode).toBe(2);
    expect(install.stderr).toContain('-o applies to "cortex schedule list" only');
  });
});
