import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { chmodSync, existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { copyEmbeddedRoot, cortex, removeRoot, tempRoot } from './helpers.js';

const roots: string[] = [];
afterAll(() => roots.forEach(removeRoot));

/** Stand-ins that answer the version commands the way the real tools do. */
const STAND_INS: Record<string, string> = {
  pvesh: `#!/bin/sh
[ "$1 $2 $3 $4" = "get /version --output-format json" ] || { echo "unexpected: $*" >&2; exit 2; }
echo '{"release":"8.2","repoid":"faa83925c9641325","version":"8.2.4"}'
`,
  kubectl: `#!/bin/sh
[ "$*" = "version --client -o json" ] || { echo "unexpected: $*" >&2; exit 2; }
printf '{\\n  "clientVersion": {\\n    "major": "1",\\n    "minor": "31",\\n    "gitVersion": "v1.31.2"\\n  },\\n  "kustomizeVersion": "v5.4.2"\\n}\\n'
`,
  helm: `#!/bin/sh
[ "$*" = "version --short" ] || { echo "unexpected: $*" >&2; exit 2; }
echo 'v3.16.2+g13654a5'
`,
  talosctl: `#!/bin/sh
[ "$*" = "version --client --short" ] || { echo "unexpected: $*" >&2; exit 2; }
printf 'Client:\\n\\tTalos v1.9.1\\n'
`,
};

function standIns(root: string): Record<string, string> {
  const bin = join(root, 'bin');
  mkdirSync(bin, { recursive: true });
  const env: Record<string, string> = {};
  for (const [tool, text] of Object.entries(STAND_INS)) {
    writeFileSync(join(bin, tool), text);
    chmodSync(join(bin, tool), 0o755);
    env[`CORTEX_${tool.toUpperCase()}`] = join(bin, tool);
  }
  return env;
}

/** A root with the built-in workflows (which need all four tools) and stand-in tools. */
function healthyRoot(): { root: string; env: Record<string, string> } {
  const root = copyEmbeddedRoot();
  roots.push(root);
  return { root, env: standIns(root) };
}

interface Report {
  ok: boolean;
  problems: number;
  warnings: number;
  checks: Array<{ check: string; name: string; status: string; message: string; fix?: string; details?: string[] }>;
}

async function doctorJson(root: string, env: Record<string, string>): Promise<{ exitCode: number | undefined; report: Report; stderr: string }> {
  const res = await cortex(['doctor', '--json'], { root, env });
  return { exitCode: res.exitCode, report: JSON.parse(res.stdout) as Report, stderr: res.stderr };
}

const problems = (r: Report) => r.checks.filter((c) => c.status === 'problem');

async function deadPid(): Promise<number> {
  const child = execa('node', ['-e', '']);
  const pid = child.pid as number;
  await child;
  return pid;
}

describe('cortex doctor', () => {
  it('a healthy root exits 0 and reports each tool with its version', async () => {
    const { root, env } = healthyRoot();
    const { exitCode, report, stderr } = await doctorJson(root, env);
    expect(problems(report), stderr).toEqual([]);
    expect(exitCode).toBe(0);
    expect(report.ok).toBe(true);
    const tools = Object.fromEntries(report.checks.filter((c) => c.check === 'tool').map((c) => [c.name, c.message]));
    expect(tools).toEqual({
      pvesh: `pve-manager 8.2.4 (${env.CORTEX_PVESH})`,
      talosctl: `v1.9.1 (${env.CORTEX_TALOSCTL})`,
      kubectl: `v1.31.2 (${env.CORTEX_KUBECTL})`,
      helm: `v3.16.2+g13654a5 (${env.CORTEX_HELM})`,
    });
    expect(report.checks).toContainEqual(expect.objectContaining({ check: 'workflows', status: 'ok' }));
    expect(report.checks).toContainEqual(expect.objectContaining({ check: 'writable', status: 'ok' }));
    // The write check leaves nothing behind.
    expect(existsSync(join(root, 'state'))).toBe(false);

    const text = await cortex(['doctor'], { root, env });
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/^ok\s+tool\s+helm: v3\.16\.2\+g13654a5/m);
    expect(text.stdout).toMatch(/no problems/);
  });

  it('a missing tool is a problem (exit 4) with what to do', async () => {
    const { root, env } = healthyRoot();
    const { exitCode, report } = await doctorJson(root, { ...env, CORTEX_PVESH: '/nonexistent/pvesh' });
    expect(exitCode).toBe(4);
    expect(report.ok).toBe(false);
    expect(problems(report)).toEqual([
      expect.objectContaining({
        check: 'tool',
        name: 'pvesh',
        message: expect.stringMatching(/^\/nonexistent\/pvesh not found \(used by .*build-k8s-cluster/),
        fix: 'install pvesh, or set its command line: tools.pvesh in config.yaml or CORTEX_PVESH',
      }),
    ]);
    const text = await cortex(['doctor'], { root, env: { ...env, CORTEX_PVESH: '/nonexistent/pvesh' } });
    expect(text.exitCode).toBe(4);
    expect(text.stdout).toMatch(/^PROBLEM\s+tool\s+pvesh: \/nonexistent\/pvesh not found/m);
    expect(text.stdout).toMatch(/what to do: install pvesh/);
    expect(text.stdout).toMatch(/1 problem\(s\)/);
  });

  it('a tool no workflow uses is only a warning', async () => {
    const root = tempRoot({
      'workflows/hello.yaml': 'workflow_id: hello\nworkflow_name: hello\nversion: 1.0.0\nphases:\n  - phase_id: p\n    contractor: talos-contractor\n    actions:\n      - { action_id: a, action: execute_command, parameters: { command: [echo, hi] } }\n',
    });
    roots.push(root);
    const env = { ...standIns(root), CORTEX_PVESH: '/nonexistent/pvesh' };
    const { exitCode, report } = await doctorJson(root, env);
    expect(exitCode).toBe(0);
    expect(report.checks).toContainEqual(expect.objectContaining({ check: 'tool', name: 'pvesh', status: 'warning', message: '/nonexistent/pvesh not found (no workflow in this root uses it)' }));
  });

  it('a helm older than the oldest cortex works with is a problem; an older 3.x without --ignore-not-found is fine', async () => {
    const { root, env } = healthyRoot();
    const helmAt = (version: string) => {
      const path = join(root, 'bin', `helm-${version}`);
      writeFileSync(path, `#!/bin/sh\n[ "$*" = "version --short" ] || exit 2\necho '${version}'\n`);
      chmodSync(path, 0o755);
      return path;
    };
    const old = await doctorJson(root, { ...env, CORTEX_HELM: helmAt('v3.6.3+gd506314') });
    expect(old.exitCode).toBe(4);
    expect(problems(old.report)).toEqual([
      expect.objectContaining({
        name: 'helm',
        message: expect.stringMatching(/^helm v3\.6\.3 is older than v3\.7\.0, the oldest Helm cortex's command lines work with \(helm uninstall --wait\) \(used by /),
        fix: 'install Helm v3.7.0 or newer (or set tools.helm to one)',
      }),
    ]);
    const fine = await doctorJson(root, { ...env, CORTEX_HELM: helmAt('v3.12.3+g3a31588') });
    expect([fine.exitCode, problems(fine.report)]).toEqual([0, []]);
  });

  it('a tool that fails its version check is a problem', async () => {
    const { root, env } = healthyRoot();
    const broken = join(root, 'bin', 'broken-pvesh');
    writeFileSync(broken, '#!/bin/sh\necho "ssh: connect to host pve01 port 22: Connection refused" >&2\nexit 255\n');
    chmodSync(broken, 0o755);
    const { exitCode, report } = await doctorJson(root, { ...env, CORTEX_PVESH: `${broken} --via pve01` });
    expect(exitCode).toBe(4);
    expect(problems(report)).toEqual([
      expect.objectContaining({
        name: 'pvesh',
        message: expect.stringMatching(/^`.*broken-pvesh --via pve01 get \/version --output-format json` exited 255: ssh: connect to host pve01 port 22: Connection refused/),
      }),
    ]);
  });

  it('a broken config.yaml is reported with file:line:column (exit 4)', async () => {
    const { root, env } = healthyRoot();
    writeFileSync(join(root, 'config.yaml'), 'tools:\n  kubectl: kubectl --context prod\ndefaults:\n  max_parallel: 0\n');
    const { exitCode, report } = await doctorJson(root, env);
    expect(exitCode).toBe(4);
    const [config] = problems(report);
    expect(config).toMatchObject({ check: 'config', name: 'config.yaml' });
    expect([...(config?.details ?? [])].sort()).toEqual(['config.yaml:2:12: /tools/kubectl: expected array', 'config.yaml:4:17: /defaults/max_parallel: must be >= 1']);
    // The other checks still run (tools from the environment overrides).
    expect(report.checks.filter((c) => c.check === 'tool').map((c) => c.status)).toEqual(['ok', 'ok', 'ok', 'ok']);

    writeFileSync(join(root, 'config.yaml'), 'tools: [\n');
    const malformed = await doctorJson(root, env);
    expect(malformed.exitCode).toBe(4);
    expect(problems(malformed.report)[0]?.details?.[0]).toMatch(/^config\.yaml:\d+:\d+: malformed YAML/);
  });

  it('a stale lock (its owner pid is dead on this host) is reported (exit 4)', async () => {
    const { root, env } = healthyRoot();
    const locks = join(root, 'workflows', 'locks');
    mkdirSync(join(locks, 'workflow-deploy-monitoring-stack.lock'), { recursive: true });
    const pid = await deadPid();
    writeFileSync(
      join(locks, 'workflow-deploy-monitoring-stack.owner.json'),
      JSON.stringify({ pid, host: hostname(), acquired_at: new Date().toISOString(), execution_id: 'deploy-monitoring-stack-20261125T120000Z-abcd' }),
    );
    // One more, alive owner but not refreshed for minutes (a holder on another host that died).
    mkdirSync(join(locks, 'metrics.lock'));
    writeFileSync(join(locks, 'metrics.owner.json'), JSON.stringify({ pid: 1, host: 'other-host', acquired_at: '2026-01-01T00:00:00Z' }));
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(join(locks, 'metrics.lock'), old, old);

    const { exitCode, report } = await doctorJson(root, env);
    expect(exitCode).toBe(4);
    expect(problems(report)).toEqual([
      expect.objectContaining({
        check: 'lock',
        name: 'metrics',
        message: expect.stringMatching(/^stale lock held by pid 1 on other-host: not refreshed for \d+s$/),
      }),
      expect.objectContaining({
        check: 'lock',
        name: 'workflow-deploy-monitoring-stack',
        message: `stale lock held by pid ${pid} on ${hostname()} (execution deploy-monitoring-stack-20261125T120000Z-abcd): that process is gone`,
        fix: expect.stringContaining(`rm -r ${join(locks, 'workflow-deploy-monitoring-stack.lock')}`),
      }),
    ]);
  });

  it('interrupted executions and approvals past their approval_timeout are reported with the command to run', async () => {
    const { root, env } = healthyRoot();
    const active = join(root, 'workflows', 'active');
    mkdirSync(active, { recursive: true });
    const pid = await deadPid();
    const base = { workflow_name: 'x', definition: { version: '1', hash: 'sha256:0', path: 'x' }, trigger: { type: 'manual' }, parameters: {}, started_at: '2026-11-25T12:00:00Z', updated_at: '2026-11-25T12:00:00Z' };
    writeFileSync(
      join(active, 'workflow-app-deployment-20261125T120000Z-0001.json'),
      JSON.stringify({ ...base, execution_id: 'app-deployment-20261125T120000Z-0001', workflow_id: 'app-deployment', status: 'running', process: { pid, host: hostname() }, phases: [] }),
    );
    writeFileSync(
      join(active, 'workflow-app-deployment-20261125T120000Z-0002.json'),
      JSON.stringify({
        ...base,
        execution_id: 'app-deployment-20261125T120000Z-0002',
        workflow_id: 'app-deployment',
        status: 'awaiting_approval',
        phases: [{ phase_id: 'deploy', contractor: 'talos-contractor', status: 'awaiting_approval', approval: { required: true, requested_at: '2026-01-01T00:00:00Z', expires_at: '2026-01-01T01:00:00Z' }, actions: [] }],
      }),
    );
    const { exitCode, report } = await doctorJson(root, env);
    expect(exitCode).toBe(4);
    expect(problems(report)).toEqual([
      expect.objectContaining({
        check: 'execution',
        name: 'app-deployment-20261125T120000Z-0001',
        message: expect.stringMatching(/^interrupted: app-deployment was running and its process/),
        fix: 'cortex resume app-deployment-20261125T120000Z-0001 or cortex rollback app-deployment-20261125T120000Z-0001',
      }),
      expect.objectContaining({
        check: 'approval',
        name: 'app-deployment-20261125T120000Z-0002',
        message: 'phase deploy has waited for approval past its approval_timeout (expired at 2026-01-01T01:00:00Z)',
      }),
    ]);
  });

  it('secrets named by config endpoints that are not set (names only, never values)', async () => {
    const { root, env } = healthyRoot();
    writeFileSync(join(root, 'config.yaml'), 'endpoints:\n  slack: { url_secret: SLACK_WEBHOOK_URL }\n  n8n: { url: "https://n8n.example.com", secret: N8N_API_KEY }\n');
    const { exitCode, report } = await doctorJson(root, { ...env, CORTEX_SECRET_N8N_API_KEY: 'n8n-key-value-1234' });
    expect(exitCode).toBe(4);
    expect(problems(report)).toEqual([
      expect.objectContaining({ check: 'secret', name: 'secret SLACK_WEBHOOK_URL', message: 'not set (endpoints.slack.url_secret)', fix: expect.stringContaining('CORTEX_SECRET_SLACK_WEBHOOK_URL') }),
    ]);
    expect(report.checks).toContainEqual(expect.objectContaining({ name: 'secret N8N_API_KEY', status: 'ok' }));
    expect(JSON.stringify(report)).not.toContain('n8n-key-value-1234');
  });
});
