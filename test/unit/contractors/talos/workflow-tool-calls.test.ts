/**
 * Every kubectl, helm and talosctl call in the `run --dry-run` plan of every built-in workflow and
 * template is one the real tool accepts, and no plan holds an error. Plans are made in process
 * (planExecution, as `run --dry-run --json` does), once with the shipped config (Helm 3 command
 * lines) and once with tools.helm_major: 4.
 * - kubectl: the real kubectl parses each call against a kubeconfig whose server refuses
 *   connections, so a valid call fails only on the connection (never on a flag or an argument);
 * - helm and talosctl: each flag against the flags the projects' cobra-generated CLI references
 *   list for a release (test/fixtures/cli-flags.json, made by scripts/cli-flag-facts.mjs; helm
 *   3.7.0, 3.16.0 and 4.2.3 from helm/helm-www, talosctl 1.6.2 and 1.11.6 from siderolabs/talos,
 *   commits noted there): known for that command, given a value when it takes one, a valid
 *   duration, number or choice.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareWorkflow } from '../../../../src/app/prepare.js';
import type { PlannedStep } from '../../../../src/contractors/action-impl.js';
import { planExecution, type PlannedPhase } from '../../../../src/engine/plan.js';
import { newExecutionRecord } from '../../../../src/engine/run-workflow.js';
import { resolveRoot } from '../../../../src/root.js';

const PROJECT = join(import.meta.dirname, '../../../..');
const KUBECTL = '/usr/bin/kubectl';

/** Each built-in workflow and template, with the parameters it needs. */
const CASES: Array<{ workflow: string; params: string[] }> = [
  { workflow: 'deploy-monitoring-stack', params: [] },
  { workflow: 'build-k8s-cluster', params: [] },
  { workflow: 'disaster-recovery-failover', params: [] },
  { workflow: 'app-deployment', params: ['environment=production'] },
  {
    workflow: 'security-incident-response',
    params: [
      'incident_type=node_compromise',
      'severity=critical',
      'affected_resource={"type":"node","identifier":"k8s-worker-02","ip_address":"10.10.1.21","cluster":"prod-k8s-01"}',
      'initial_indicators={"source":"falco","rule_triggered":"Drop and execute new binary in container"}',
    ],
  },
  { workflow: 'security-incident-response', params: ['incident_type=malware_detection', 'severity=high', 'affected_resource={"type":"pod","identifier":"kube-prometheus-stack-prometheus-node-exporter-x8z2k","namespace":"monitoring","cluster":"prod-k8s-01"}', 'initial_indicators={"source":"falco"}'] },
  { workflow: 'deployment-template', params: ['cluster=prod-k8s-01', 'release=web-api', 'chart=charts/web-api', 'chart_version=1.4.2', 'deployment=web-api'] },
  { workflow: 'incident-response-template', params: ['cluster=prod-k8s-01', 'node=k8s-worker-02', 'summary=suspicious process'] },
  { workflow: 'maintenance-template', params: ['cluster=prod-k8s-01', 'node=k8s-worker-02', 'node_ip=10.10.1.21'] },
];

interface Flag {
  short?: string;
  type: string;
  values?: string[];
  noOptValue?: string;
}
interface CommandFacts {
  usage: string;
  flags: Record<string, Flag>;
  inherited: Record<string, Flag>;
}
interface ToolFacts {
  source: Record<string, string>;
  commands: Record<string, CommandFacts>;
}
const FACTS = JSON.parse(readFileSync(join(PROJECT, 'test/fixtures/cli-flags.json'), 'utf8')) as { helm: Record<string, ToolFacts>; talosctl: Record<string, ToolFacts> };

interface Call {
  where: string;
  tool: string;
  args: string[];
  stdin?: string;
}

function commandsOf(plan: PlannedPhase[], where: string): { calls: Call[]; errors: string[] } {
  const calls: Call[] = [];
  const errors: string[] = [];
  for (const phase of plan) {
    for (const a of phase.actions) {
      const at = `${where} ${phase.phase_id}/${a.action_id} (${a.action})`;
      if (a.error) errors.push(`${at}: ${a.error}`);
      for (const s of a.steps as PlannedStep[]) if (s.kind === 'command') calls.push({ where: at, tool: s.tool, args: s.args, ...(s.stdin ? { stdin: s.stdin } : {}) });
    }
  }
  return { calls, errors };
}

async function planAll(helmMajor?: 3 | 4): Promise<{ calls: Call[]; errors: string[] }> {
  const root = mkdtempSync(join(tmpdir(), 'cortex-plans-'));
  cpSync(join(PROJECT, 'coordination', 'workflows'), join(root, 'workflows'), { recursive: true, filter: (src) => !/\/(active|history|metrics|locks)(\/|$)/.test(src) });
  cpSync(join(PROJECT, 'coordination', 'config.yaml'), join(root, 'config.yaml'));
  const ctx = { root: resolveRoot({ flag: root, env: {}, cwd: root, home: root }), env: {}, cwd: root };
  const calls: Call[] = [];
  const errors: string[] = [];
  for (const c of CASES) {
    const prep = await prepareWorkflow(ctx, c.workflow, { assignments: c.params });
    const def = prep.loaded.definition;
    const config = helmMajor ? { ...prep.config, helmMajor } : prep.config;
    const now = '2026-11-25T12:00:00.000Z';
    const record = newExecutionRecord({ executionId: `${def.workflow_id}-dry-run`, loaded: prep.loaded, parameters: prep.maskedParams, trigger: { type: 'manual' }, now });
    const plan = await planExecution({
      loaded: prep.loaded,
      record,
      params: prep.params,
      env: {},
      catalogue: prep.catalogue,
      impls: prep.impls,
      config,
      builtins: { workflow_id: def.workflow_id, workflow_name: def.workflow_name, execution_id: '<execution_id>', status: 'running', date: '20261125', time: '120000', timestamp: now, sequence: '<sequence>', user: 'tester', host: 'test-host' },
    });
    const got = commandsOf(plan, `${c.workflow}${helmMajor ? ` (helm ${helmMajor})` : ''}`);
    calls.push(...got.calls);
    errors.push(...got.errors);
  }
  return { calls, errors };
}

const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

/** What is wrong with one helm or talosctl argv by a release's CLI reference ([] when nothing). */
export function cobraProblems(tool: string, facts: ToolFacts, argv: readonly string[]): string[] {
  const names = Object.keys(facts.commands);
  const globals: Record<string, Flag> = Object.assign({}, ...Object.values(facts.commands).map((c) => c.inherited));
  const problems: string[] = [];
  const words: string[] = [];
  let command: CommandFacts | undefined;
  let done = false;
  const flagsNow = (): Record<string, Flag> => (command ? { ...command.inherited, ...command.flags } : globals);
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i] as string;
    if (t.startsWith('-') && t !== '-') {
      const long = t.startsWith('--');
      const body = long ? t.slice(2) : t.slice(1);
      const eq = body.indexOf('=');
      const key = eq >= 0 ? body.slice(0, eq) : body;
      const known = flagsNow();
      const entry = long ? ([key, known[key]] as const) : Object.entries(known).find(([, f]) => f.short === key);
      const [name, flag] = entry ?? [key, undefined];
      if (!flag) {
        problems.push(`unknown flag ${t}${command ? ` for "${tool} ${words.join(' ')}"` : ''}`);
        continue;
      }
      let value: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
      if (value === undefined && flag.type !== 'bool' && flag.noOptValue === undefined) {
        value = argv[++i];
        if (value === undefined) problems.push(`--${name} needs a value`);
      }
      if (value === undefined) continue;
      if (flag.type === 'bool' && !/^(true|false)$/.test(value)) problems.push(`--${name}=${value}: not a boolean`);
      if (flag.type === 'duration' && !GO_DURATION.test(value)) problems.push(`--${name} ${value}: not a Go duration`);
      if (/^(u?int|int\d+)$/.test(flag.type) && !/^-?\d+$/.test(value)) problems.push(`--${name} ${value}: not a number`);
      if (flag.type === 'enum' && !flag.values?.includes(value)) problems.push(`--${name} ${value}: not one of ${flag.values?.join(', ')}`);
      continue;
    }
    if (done) continue;
    const next = [...words, t].join(' ');
    if (names.some((n) => n === next || n.startsWith(`${next} `))) {
      words.push(t);
      command = facts.commands[next];
    } else done = true;
  }
  if (!command) problems.push(`no ${tool} command in: ${argv.join(' ')}`);
  return problems;
}

/** A TCP port nothing listens on (taken and released). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function run(args: string[], env: NodeJS.ProcessEnv, stdin?: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(KUBECTL, args, { env, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

describe('the tool calls of every built-in workflow and template plan', () => {
  let v3: { calls: Call[]; errors: string[] };
  let v4: { calls: Call[]; errors: string[] };
  beforeAll(async () => {
    v3 = await planAll();
    v4 = await planAll(4);
  });

  it('no plan holds an error, and every workflow plans kubectl, helm or talosctl calls', () => {
    expect([...v3.errors, ...v4.errors]).toEqual([]);
    expect(new Set(v3.calls.map((c) => c.where.split(' ')[0]))).toEqual(new Set(CASES.map((c) => c.workflow)));
  });

  it('the flag checker catches what cobra would refuse (the check works)', () => {
    const helm = FACTS.helm['3.12.0'] ?? FACTS.helm['3.7.0']!;
    expect(cobraProblems('helm', helm, ['--kubeconfig', 'k', 'uninstall', 'web', '--namespace', 'm', '--ignore-not-found'])).toEqual(['unknown flag --ignore-not-found for "helm uninstall"']);
    expect(cobraProblems('helm', FACTS.helm['3.16.0']!, ['--kubeconfig', 'k', 'uninstall', 'web', '--namespace', 'm', '--ignore-not-found'])).toEqual([]);
    expect(cobraProblems('helm', FACTS.helm['3.16.0']!, ['upgrade', '--install', 'a', 'b', '--timeout', '600', '--rollback-on-failure'])).toEqual(['--timeout 600: not a Go duration', 'unknown flag --rollback-on-failure for "helm upgrade"']);
    expect(cobraProblems('helm', FACTS.helm['4.2.3']!, ['upgrade', '--install', 'a', 'b', '--wait', '--rollback-on-failure'])).toEqual([]);
    const talos = FACTS.talosctl['1.6.2']!;
    expect(cobraProblems('talosctl', talos, ['--talosconfig', 't', 'etcd', 'snapshot', '/b/x.db', '-n', '10.0.0.1', '-e', '10.0.0.1'])).toEqual([]);
    expect(cobraProblems('talosctl', talos, ['apply-config', '--insecure', '-n', 'x', '--mode', 'sometimes'])).toEqual(['--mode sometimes: not one of auto, interactive, no-reboot, reboot, staged, try']);
    expect(cobraProblems('talosctl', talos, ['health', '--wait-timeout'])).toEqual(['--wait-timeout needs a value']);
  });

  it.each(Object.keys(FACTS.talosctl))('talosctl calls use flags talosctl %s has', (version) => {
    const calls = [...v3.calls, ...v4.calls].filter((c) => c.tool === 'talosctl');
    expect(calls.length).toBeGreaterThan(10);
    const problems = calls.flatMap((c) => cobraProblems('talosctl', FACTS.talosctl[version]!, c.args).map((p) => `${c.where}: talosctl ${c.args.join(' ')}: ${p}`));
    expect(problems).toEqual([]);
  });

  it.each(Object.keys(FACTS.helm))('helm calls use flags helm %s has (Helm 3 command lines for 3.x, Helm 4 ones for 4.x)', (version) => {
    const calls = (version.startsWith('4.') ? v4 : v3).calls.filter((c) => c.tool === 'helm');
    expect(calls.length).toBeGreaterThan(5);
    const problems = calls.flatMap((c) => cobraProblems('helm', FACTS.helm[version]!, c.args).map((p) => `${c.where}: helm ${c.args.join(' ')}: ${p}`));
    expect(problems).toEqual([]);
  });

  it.skipIf(!existsSync(KUBECTL))('the real kubectl takes every kubectl call: it fails only on the refused connection', async () => {
    const port = await closedPort();
    const home = mkdtempSync(join(tmpdir(), 'kubectl-plans-'));
    const kubeconfig = join(home, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "http://127.0.0.1:${port}"}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: t}\n`,
    );
    const env = { PATH: process.env.PATH ?? '/usr/bin', HOME: home, KUBECACHEDIR: join(home, 'cache') };
    // one run per distinct command line; --kubeconfig (a placeholder in plans) points at the refusing server
    const unique = new Map<string, Call>();
    for (const c of [...v3.calls, ...v4.calls].filter((x) => x.tool === 'kubectl')) {
      const args = c.args.map((a, i) => (c.args[i - 1] === '--kubeconfig' ? kubeconfig : a)).filter((a, i, all) => !(a === '--context' || all[i - 1] === '--context'));
      unique.set(`${args.join('\u0000')}\u0001${c.stdin ?? ''}`, { ...c, args });
    }
    expect(unique.size).toBeGreaterThan(40);
    const refused = new RegExp(`127\\.0\\.0\\.1:${port}(: connect: connection refused| was refused)`);
    const problems: string[] = [];
    const queue = [...unique.values()];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let c = queue.shift(); c; c = queue.shift()) {
          const r = await run(c.args, env, c.stdin);
          const lines = r.stderr.split('\n').filter((l) => l.trim());
          const other = lines.filter((l) => !refused.test(l));
          if (r.code !== 1 || lines.length === 0 || other.length > 0) problems.push(`${c.where}: kubectl ${c.args.join(' ')} -> exit ${r.code}: ${other.join(' | ') || r.stderr.trim()}`);
        }
      }),
    );
    expect(problems).toEqual([]);
  }, 120_000);
});
