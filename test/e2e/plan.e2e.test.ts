/**
 * Saved plans (issue 13): `cortex plan WF -o FILE` and `cortex run --plan FILE`, which runs exactly
 * that workflow with those parameters and refuses (exit 3, naming what changed) when the
 * definition, parameters, configuration or commands changed since.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cortex, listFiles, readJson, removeRoot, tempRoot } from './helpers.js';
import { validator } from './schema-check.js';
import { INCIDENT_PARAMS, labRoot } from './lab-helpers.js';

const roots: string[] = [];
afterAll(() => roots.forEach(removeRoot));

const SECRET = 'Plan-Secret-4711-xyz';

const DEFINITION = `workflow_id: sec
workflow_name: sec
version: 1.0.0
parameters:
  token: { type: string, secret: true, required: true }
  n: { type: integer, default: 2 }
  who: { type: string, default: nobody }
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: a, action: execute_command, parameters: { command: [sh, -c, "echo n=\${parameters.n} \${parameters.who} \${parameters.token} \${env.PLAN_TEST_DIR}"] }, timeout: 20 }
`;

function root(): string {
  const r = tempRoot({ 'workflows/sec.yaml': DEFINITION });
  roots.push(r);
  return r;
}

interface PlanFile {
  workflow: { workflow_id: string; hash: string; path: string };
  parameters: Record<string, unknown>;
  secret_parameters: Record<string, string>;
  config: { digest: string; path: string | null };
  phases: Array<{ phase_id: string; actions: Array<{ action_id: string; steps: unknown[] }> }>;
}

/** The executions recorded under a root (active and history). */
function executions(r: string): string[] {
  return listFiles(r).filter((f) => /^workflows\/(active|history)\/workflow-/.test(f));
}

async function makePlan(r: string, extra: string[] = [], env: Record<string, string> = {}): Promise<string> {
  const file = join(r, 'plan.json');
  const res = await cortex(['plan', 'sec', '-p', `token=${SECRET}`, '-p', 'who=ops', ...extra, '-o', file], { root: r, env: { PLAN_TEST_DIR: '/srv/a', ...env } });
  expect(res.exitCode, res.stderr).toBe(0);
  expect(res.stdout).toContain(`cortex run --plan ${file}`);
  return file;
}

describe('cortex plan', { timeout: 60_000 }, () => {
  it('writes the plan 0600, valid against schemas/plan.schema.json, with the commands of run --dry-run --json and no secret', async () => {
    const r = root();
    const file = await makePlan(r);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(SECRET);
    const plan = JSON.parse(text) as PlanFile;
    const valid = validator('plan');
    expect(valid(plan), JSON.stringify(valid.errors)).toBe(true);
    expect(plan.workflow).toMatchObject({ workflow_id: 'sec', path: 'workflows/sec.yaml' });
    expect(plan.workflow.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(plan.parameters).toEqual({ token: '***', n: 2, who: 'ops' });
    expect(Object.keys(plan.secret_parameters)).toEqual(['/token']);
    const dry = await cortex(['run', 'sec', '-p', `token=${SECRET}`, '-p', 'who=ops', '--dry-run', '--json'], { root: r, env: { PLAN_TEST_DIR: '/srv/a' } });
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(plan.phases).toEqual((JSON.parse(dry.stdout) as { phases: unknown }).phases);
    expect(JSON.stringify(plan.phases)).toContain('echo n=2 ops *** /srv/a');
    // Nothing ran, nothing was recorded.
    expect(executions(r)).toEqual([]);
  });

  it('--json prints the plan document; without -o nothing is written', async () => {
    const r = root();
    const before = listFiles(r);
    const res = await cortex(['plan', 'sec', '-p', `token=${SECRET}`, '--json'], { root: r, cwd: r });
    expect(res.exitCode, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ plan_format: 1, workflow: { workflow_id: 'sec' }, parameters: { token: '***', n: 2 } });
    expect(res.stdout).not.toContain(SECRET);
    expect(listFiles(r)).toEqual(before);
  });
});

describe('cortex run --plan', { timeout: 60_000 }, () => {
  it('runs the plan with its parameters once the secret is given again, and records the plan in the audit trail', async () => {
    const r = root();
    const file = await makePlan(r);
    const res = await cortex(['run', '--plan', file, '-p', `token=${SECRET}`], { root: r, env: { PLAN_TEST_DIR: '/srv/a' } });
    expect(res.exitCode, res.stderr).toBe(0);
    const [rec] = readdirSync(join(r, 'workflows', 'history')).map((n) => readJson<{ parameters: unknown; phases: Array<{ actions: Array<{ outputs?: { stdout?: string } }> }> }>(join(r, 'workflows', 'history', n)));
    expect(rec?.parameters).toEqual({ token: '***', n: 2, who: 'ops' });
    // The secret reached the command (masked in the record), with the plan's other values.
    expect(rec?.phases[0]?.actions[0]?.outputs?.stdout).toMatch(/^n=2 ops \*\*\* \/srv\/a/);
    const audit = readFileSync(join(r, 'audit', 'audit.jsonl'), 'utf8');
    expect(audit).toContain(`"plan":"${file}"`);
  });

  it('a secret not given again is exit 2 naming it; another value is exit 3; nothing starts', async () => {
    const r = root();
    const file = await makePlan(r);
    const missing = await cortex(['run', '--plan', file], { root: r, env: { PLAN_TEST_DIR: '/srv/a' } });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/secret parameter\(s\) token.*give them again/);
    expect(missing.stderr).toContain(`-p token=...`);
    const wrong = await cortex(['run', '--plan', file, '-p', 'token=another-value'], { root: r, env: { PLAN_TEST_DIR: '/srv/a' } });
    expect(wrong.exitCode).toBe(3);
    expect(wrong.stderr).toMatch(/CORTEX_PLAN_CHANGED: .*plan\.json no longer matches/);
    expect(wrong.stderr).toContain('secret parameter /token: not the value the plan was made with');
    expect(wrong.stderr).not.toContain('another-value');
    expect(executions(r)).toEqual([]);
  });

  it('refuses (exit 3) a changed definition, configuration, parameter or command, naming each, and starts nothing', async () => {
    const r = root();
    const file = await makePlan(r);
    const run = (args: string[] = [], env: Record<string, string> = { PLAN_TEST_DIR: '/srv/a' }) => cortex(['run', '--plan', file, '-p', `token=${SECRET}`, ...args], { root: r, env });

    const param = await run(['-p', 'n=3']);
    expect(param.exitCode).toBe(3);
    expect(param.stderr).toContain('parameter /n: 2 in the plan, 3 now');

    // The same value as the plan's is no change.
    const same = await run(['-p', 'who=ops', '--dry-run']);
    expect(same.exitCode, same.stderr).toBe(0);

    const env = await run([], { PLAN_TEST_DIR: '/srv/b' });
    expect(env.exitCode).toBe(3);
    expect(env.stderr).toMatch(/the commands of p\/a: \/parameters\/command\/2: "echo n=2 ops \*\*\* \/srv\/a" in the plan, "echo n=2 ops \*\*\* \/srv\/b" now/);

    const tools = await run([], { PLAN_TEST_DIR: '/srv/a', CORTEX_KUBECTL: 'ssh admin@bastion kubectl' });
    expect(tools.exitCode).toBe(3);
    expect(tools.stderr).toContain('the configuration changed');

    writeFileSync(join(r, 'config.yaml'), 'defaults:\n  action_timeout_seconds: 30\n');
    const config = await run();
    expect(config.exitCode).toBe(3);
    expect(config.stderr).toContain('the configuration changed');

    writeFileSync(join(r, 'workflows', 'sec.yaml'), DEFINITION.replace('default: 2', 'default: 4'));
    const def = await run();
    expect(def.exitCode).toBe(3);
    expect(def.stderr).toMatch(/workflows\/sec\.yaml changed \([0-9a-f]{12} in the plan, [0-9a-f]{12} now\)/);
    expect(def.stderr).toContain('the configuration changed');
    expect(def.stderr).toContain('hint: make a new plan: cortex plan sec -o');

    expect(executions(r)).toEqual([]);
  }, 90_000);

  it('a malformed or invalid plan file is exit 2 with file:line:column and what is wrong', async () => {
    const r = root();
    const bad = join(r, 'bad.json');
    writeFileSync(bad, '{\n  "plan_format": 1,\n  "phases": [ { "phase_id": 3 } ]\n}\n');
    const res = await cortex(['run', '--plan', 'bad.json'], { root: r, cwd: r });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain('CORTEX_PLAN_INVALID: bad.json is not a valid cortex plan:');
    expect(res.stderr).toContain('bad.json:1:1: /: missing required property "workflow"');
    expect(res.stderr).toMatch(/bad\.json:3:\d+: \/phases\/0\/phase_id: /);
    writeFileSync(bad, '{ "plan_format": 1,');
    const torn = await cortex(['run', '--plan', 'bad.json'], { root: r, cwd: r });
    expect(torn.exitCode).toBe(2);
    expect(torn.stderr).toMatch(/^CORTEX_PLAN_INVALID: bad\.json:1:\d+: malformed JSON/);
    const none = await cortex(['run', '--plan', 'none.json'], { root: r, cwd: r });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('plan file none.json does not exist');
    expect(none.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a plan for another workflow than the one named, and --params-file beside --plan (exit 2)', async () => {
    const r = root();
    const file = await makePlan(r);
    const other = await cortex(['run', 'app-deployment', '--plan', file, '-p', `token=${SECRET}`], { root: r });
    expect(other.exitCode).toBe(2);
    expect(other.stderr).toContain('the plan is for workflow sec, not app-deployment');
    writeFileSync(join(r, 'p.yaml'), `token: ${SECRET}\n`);
    const pf = await cortex(['run', '--plan', file, '--params-file', join(r, 'p.yaml')], { root: r });
    expect(pf.exitCode).toBe(2);
    expect(pf.stderr).toContain('give its secret parameters again with -p');
  });
});

describe('plans of the built-in workflows', { timeout: 60_000 }, () => {
  const lab = labRoot();
  roots.push(lab.root);
  const CASES: Array<{ workflow: string; params?: string[] }> = [
    { workflow: 'deploy-monitoring-stack' },
    { workflow: 'build-k8s-cluster' },
    { workflow: 'disaster-recovery-failover' },
    { workflow: 'app-deployment', params: ['-p', 'environment=staging'] },
    { workflow: 'security-incident-response', params: INCIDENT_PARAMS },
  ];
  for (const c of CASES) {
    it(`${c.workflow}: a plan made in one process still matches in another (run --plan --dry-run)`, async () => {
      const file = join(lab.root, `${c.workflow}.plan.json`);
      const made = await cortex(['plan', c.workflow, ...(c.params ?? []), '-o', file], { root: lab.root });
      expect(made.exitCode, made.stderr).toBe(0);
      const checked = await cortex(['run', '--plan', file, '--dry-run'], { root: lab.root });
      expect(checked.exitCode, checked.stderr).toBe(0);
      expect(checked.stdout).toContain(`dry run of ${c.workflow}`);
    });
  }

  it('deploy-monitoring-stack: runs from its plan in the lab', async () => {
    const file = join(lab.root, 'run-in-lab.plan.json');
    expect((await cortex(['plan', 'deploy-monitoring-stack', '-o', file], { root: lab.root })).exitCode).toBe(0);
    const res = await cortex(['run', '--plan', file, '--simulate'], { root: lab.root, timeoutMs: 120_000 });
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/completed deploy-monitoring-stack-/);
  }, 150_000);
});
