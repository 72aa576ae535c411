import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFileSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, cleanEnv, cortex, listFiles, readJson, removeRoot, tempRoot } from './helpers.js';
import { checkRootFiles } from './schema-check.js';
import { childProcesses, isRunning } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const roots: string[] = [];
function root(files: Record<string, string>): string {
  const r = tempRoot(files);
  roots.push(r);
  return r;
}
afterAll(() => roots.forEach(removeRoot));

function wf(id: string, body: string): Record<string, string> {
  return { [`workflows/${id}.yaml`]: `workflow_id: ${id}\nworkflow_name: ${id}\nversion: 1.0.0\n${body}` };
}

const simple = (id: string) =>
  wf(
    id,
    `parameters:
  n: { type: integer, default: 2 }
phases:
  - phase_id: prepare
    contractor: infrastructure-contractor
    actions:
      - { action_id: make, action: execute_command, parameters: { command: [sh, -c, "echo made-\${parameters.n}"] }, timeout: 10 }
    handoff_to: talos-contractor
    handoff_data: { made: "\${make.output.stdout}", n: "\${parameters.n}" }
  - phase_id: use
    contractor: talos-contractor
    actions:
      - { action_id: consume, action: execute_command, parameters: { command: [echo, "\${prepare.handoff_data.made}"] }, timeout: 10 }
      - { action_id: soft, action: execute_command, parameters: { command: ["false"] }, on_error: alert_only }
`,
  );

describe('cortex run: files and exit codes', () => {
  it('completes, writes the documented files, and every file validates against its schema', async () => {
    const r = root(simple('simple'));
    const res = await cortex(['run', 'simple'], { root: r });
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/completed with 1 error simple-\d{8}T\d{6}Z-[0-9a-f]{4}/);
    const files = listFiles(r);
    expect(files.filter((f) => f.startsWith('workflows/history/'))).toHaveLength(1);
    expect(files.filter((f) => f.startsWith('workflows/active/'))).toHaveLength(0);
    expect(files).toContain('workflows/metrics/workflow-stats.json');
    expect(files).toContain('workflows/metrics/contractor-performance.json');
    expect(files.some((f) => /^masters\/talos\/handoffs\/simple-.*-prepare-to-talos\.json$/.test(f))).toBe(true);
    expect(files).toContain('masters/infrastructure/logs/contractor.log');
    expect(checkRootFiles(r)).toEqual([]);
    const stats = readJson<{ workflows: Array<{ workflow_id: string; executions: { total: number; successful: number } }> }>(join(r, 'workflows/metrics/workflow-stats.json'));
    expect(stats.workflows[0]).toMatchObject({ workflow_id: 'simple', executions: { total: 1, successful: 1 } });
    const log = readFileSync(join(r, 'masters/talos/logs/contractor.log'), 'utf8').trim().split('\n');
    expect(log.every((l) => /^\S+Z execution=simple-\S+ phase=use action=\S+ event=\S+/.test(l))).toBe(true);
    expect(log.some((l) => /action=soft event=end status=failed on_error=alert_only/.test(l))).toBe(true);
  });

  it('status, history and logs read the execution back, also as JSON', async () => {
    const r = root(simple('again'));
    await cortex(['run', 'again'], { root: r });
    const hist = await cortex(['history', '--json'], { root: r });
    const id = (JSON.parse(hist.stdout) as { executions: Array<{ execution_id: string; status: string }> }).executions[0];
    expect(id?.status).toBe('completed');
    const st = await cortex(['status', id!.execution_id, '--json'], { root: r });
    expect(st.exitCode).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ execution_id: id!.execution_id, location: 'history', status: 'completed' });
    const text = await cortex(['status', id!.execution_id], { root: r });
    expect(text.stdout).toMatch(/consume execute_command: completed/);
    const logs = await cortex(['logs', id!.execution_id, '--contractor', 'talos-contractor'], { root: r });
    expect(logs.stdout).toMatch(/action=consume event=end status=completed/);
    expect(logs.stdout).not.toMatch(/phase=prepare/);
    const empty = await cortex(['status'], { root: r });
    expect(empty.stdout).toMatch(/no active executions/);
  });

  it('exits 1 when the workflow fails, with the failing action named', async () => {
    const r = root(
      wf(
        'failing',
        `phases:
  - phase_id: only
    contractor: infrastructure-contractor
    actions:
      - { action_id: boom, action: execute_command, parameters: { command: [sh, -c, "echo kaput >&2; exit 3"] } }
`,
      ),
    );
    const res = await cortex(['run', 'failing'], { root: r });
    expect(res.exitCode).toBe(1);
    expect(res.stdout).toMatch(/failed failing-/);
    expect(res.stdout).toMatch(/action "boom" \(execute_command\) in phase "only" failed: sh failed \(exit 3\): kaput/);
    expect(checkRootFiles(r)).toEqual([]);
  });

  it('--dry-run prints the commands with parameters resolved and writes nothing', async () => {
    const r = root(simple('dry'));
    const before = listFiles(r);
    const res = await cortex(['run', 'dry', '--dry-run', '-p', 'n=7'], { root: r });
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/\$ sh -c 'echo made-7'/);
    expect(res.stdout).toMatch(/\$ echo <prepare\.handoff_data\.made>/);
    expect(listFiles(r)).toEqual(before);
  });
});

describe('cortex run: processes', () => {
  it('a timed-out action whose grandchild ignores SIGTERM leaves no process behind', async () => {
    const r = root({});
    const script = join(r, 'spawner.sh');
    const pidFile = join(r, 'grandchild.pid');
    writeFileSync(script, `#!/bin/sh\nsh -c 'trap "" TERM; echo $$ > ${pidFile}; while :; do sleep 1; done' &\nwait\n`);
    chmodSync(script, 0o755);
    Object.assign(roots, roots);
    writeFileSync(
      join(r, 'workflows', 'hang.yaml'),
      `workflow_id: hang\nworkflow_name: hang\nversion: 1.0.0\nphases:\n  - phase_id: p\n    contractor: infrastructure-contractor\n    actions:\n      - { action_id: stuck, action: execute_command, parameters: { command: [${script}] }, timeout: 1 }\n`,
    );
    writeFileSync(join(r, 'config.yaml'), 'defaults:\n  kill_grace_seconds: 1\n');
    const res = await cortex(['run', 'hang'], { root: r });
    expect(res.exitCode).toBe(1);
    expect(res.stdout).toMatch(/timed out after 1s/);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await waitFor(() => !isRunning(pid), { what: `the grandchild ${pid}, which ignores SIGTERM, to be gone`, timeoutMs: 3000 });
  });

  it('a 100 KB line of tool output is bounded in the record', async () => {
    const r = root(
      wf(
        'loud',
        `phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: shout, action: execute_command, parameters: { command: [node, -e, "process.stdout.write('x'.repeat(102400))"] } }
`,
      ),
    );
    const res = await cortex(['run', 'loud'], { root: r });
    expect(res.exitCode, res.stderr).toBe(0);
    const [hist] = listFiles(join(r, 'workflows', 'history'));
    const text = readFileSync(join(r, 'workflows', 'history', hist!), 'utf8');
    expect(text.length).toBeLessThan(90_000);
    const rec = JSON.parse(text);
    const inv = rec.phases[0].actions[0].attempts[0].invocations[0];
    expect(inv.stdout_tail.length).toBeLessThanOrEqual(8192);
    expect(checkRootFiles(r)).toEqual([]);
  });

  it('Ctrl-C stops the children, records paused with the reason, and exits 130', async () => {
    const r = root(
      wf(
        'slow',
        `phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: nap, action: execute_command, parameters: { command: [sleep, "30"] }, timeout: 60 }
      - { action_id: after, action: execute_command, parameters: { command: ["true"] } }
`,
      ),
    );
    const child = execa('node', [CLI, '--root', r, 'run', 'slow'], { env: cleanEnv(), extendEnv: false, reject: false });
    const log = join(r, 'masters/infrastructure/logs/contractor.log');
    await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('action=nap event=start'), { what: 'the action nap to start', timeoutMs: 15_000 });
    await waitFor(() => childProcesses(child.pid!).some((p) => p.argv.join(' ') === 'sleep 30'), { what: 'its tool `sleep 30` to run under cortex', timeoutMs: 15_000 });
    child.kill('SIGINT');
    const res = await child;
    expect(res.exitCode).toBe(130);
    const [active] = listFiles(join(r, 'workflows', 'active'));
    const rec = readJson<{ status: string; status_reason: string; phases: Array<{ actions: Array<{ status: string }> }> }>(join(r, 'workflows', 'active', active!));
    expect(rec.status).toBe('paused');
    expect(rec.status_reason).toBe('interrupted by SIGINT');
    expect(rec.phases[0]?.actions.map((a) => a.status)).toEqual(['interrupted', 'pending']);
    expect(checkRootFiles(r)).toEqual([]);
  });
});

describe('cortex run: concurrency and secrets', () => {
  it('two runs of one workflow: the second exits 3 naming the running execution', async () => {
    const r = root(
      wf(
        'once',
        `phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: nap, action: execute_command, parameters: { command: [sleep, "3"] } }
`,
      ),
    );
    const first = execa('node', [CLI, '--root', r, 'run', 'once'], { env: cleanEnv(), extendEnv: false, reject: false });
    await waitFor(() => existsSync(join(r, 'workflows', 'active')) && listFiles(join(r, 'workflows', 'active')).length, { what: 'the first run to write its record in workflows/active', timeoutMs: 15_000 });
    const second = await cortex(['run', 'once'], { root: r });
    expect(second.exitCode).toBe(3);
    expect(second.stderr).toMatch(/workflow "once" is already in progress: execution once-\d{8}T\d{6}Z-[0-9a-f]{4} is running \(pid \d+/);
    expect((await first).exitCode).toBe(0);
  });

  it('20 concurrent runs of different workflows leave the metrics counts exact', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) Object.assign(files, wf(`w${i}`, `phases:\n  - phase_id: p\n    contractor: n8n-contractor\n    actions:\n      - { action_id: a, action: execute_command, parameters: { command: ["${i % 4 === 0 ? 'false' : 'true'}"] } }\n`));
    const r = root(files);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => cortex(['run', `w${i}`], { root: r })));
    expect(results.map((x) => x.exitCode).sort()).toEqual([...Array(15).fill(0), ...Array(5).fill(1)]);
    const stats = readJson<{ workflows: Array<{ executions: { total: number; successful: number; failed: number } }>; summary: { total_workflow_executions: number; total_failed: number } }>(join(r, 'workflows/metrics/workflow-stats.json'));
    expect(stats.workflows).toHaveLength(20);
    expect(stats.summary.total_workflow_executions).toBe(20);
    expect(stats.summary.total_failed).toBe(5);
    const perf = readJson<{ contractors: Array<{ contractor_id: string; statistics: { total_actions_executed: number; failed_actions: number } }> }>(join(r, 'workflows/metrics/contractor-performance.json'));
    expect(perf.contractors.find((c) => c.contractor_id === 'n8n-contractor')?.statistics).toMatchObject({ total_actions_executed: 20, failed_actions: 5 });
    expect(readFileSync(join(r, 'workflows/metrics/executions.jsonl'), 'utf8').trim().split('\n')).toHaveLength(20);
    expect(checkRootFiles(r)).toEqual([]);
  }, 60_000);

  it('a secret passed in the environment appears in no file under the root and in no output', async () => {
    const SECRET = 'hunter2-very-secret-value';
    const r = root(
      wf(
        'secretive',
        `phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: echoes, action: execute_command, parameters: { command: [sh, -c, "echo token=$0; echo $0 >&2; exit 1", "\${secrets.API_TOKEN}"] }, on_error: alert_only }
    handoff_to: n8n-contractor
    handoff_data: { tok: "\${secrets.API_TOKEN}" }
  - phase_id: q
    contractor: n8n-contractor
    actions:
      - { action_id: again, action: execute_command, parameters: { command: [echo, "\${p.handoff_data.tok}"] } }
`,
      ),
    );
    writeFileSync(join(r, 'masters-debug-marker'), '');
    const env = { CORTEX_SECRET_API_TOKEN: SECRET };
    const run = await cortex(['run', 'secretive', '--debug'], { root: r, env });
    expect(run.exitCode, run.stderr).toBe(0);
    const [hist] = listFiles(join(r, 'workflows', 'history'));
    const id = hist!.replace(/^workflow-|\.json$/g, '');
    const outputs = [run.stdout, run.stderr];
    for (const args of [['status', id], ['status', id, '--json'], ['logs', id, '--debug'], ['history', '--json']]) {
      const res = await cortex(args, { root: r, env });
      outputs.push(res.stdout, res.stderr);
    }
    for (const rel of listFiles(r)) expect(readFileSync(join(r, rel), 'utf8'), rel).not.toContain(SECRET);
    for (const o of outputs) expect(o).not.toContain(SECRET);
    expect(readFileSync(join(r, 'workflows', 'history', hist!), 'utf8')).toContain('token=***');
    expect(existsSync(join(r, 'masters/infrastructure/logs/debug.log'))).toBe(true);
  });
});

describe('a reference to a skipped action', () => {
  it('is reported once per execution, however many actions and attempts resolve it', async () => {
    const r = tempRoot();
    roots.push(r);
    const readers = Array.from({ length: 4 }, (_, i) => `      - { action_id: b${i}, action: execute_command, parameters: { command: [echo, "v=\${a0.output.stdout} \${a0.output.stdout}"] } }`).join('\n');
    writeFileSync(
      join(r, 'workflows', 'nulls.yaml'),
      `workflow_id: nulls
workflow_name: nulls
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: a0, action: execute_command, condition: "false", parameters: { command: ["true"] } }
      - { action_id: a1, action: execute_command, on_error: continue_phase, retry: { max_attempts: 3, delay_seconds: 0 }, parameters: { command: [sh, -c, 'exit 1', "\${a0.output.stdout}"] } }
${readers}
`,
    );
    const res = await cortex(['run', 'nulls'], { root: r, timeoutMs: 60_000 });
    expect(res.exitCode, res.stderr).toBe(0);
    const warnings = res.stdout.split('\n').filter((l) => /warn {2}\$\{a0\.output\.stdout\} is null/.test(l));
    expect(warnings, res.stdout).toHaveLength(1);
    const json = await cortex(['run', 'nulls', '--json'], { root: r, timeoutMs: 60_000 });
    expect(json.stderr.split('\n').filter((l) => /^warning: \$\{a0\.output\.stdout\} is null/.test(l))).toHaveLength(1);
  }, 90_000);
});
