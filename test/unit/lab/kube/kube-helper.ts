/**
 * Runs the lab Kubernetes API server against a temp lab dir and the REAL kubectl against it
 * (`/usr/bin/kubectl --kubeconfig <file>` over TLS with a bearer token user, a private cache dir).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJsonLines, writeLabConfig, writeState, type LabFault } from '../../../../src/lab/lab-dir.js';
import { seedKubeState } from '../../../../src/lab/kube/seed.js';
import { startKubeServer, type KubeServer } from '../../../../src/lab/kube/server.js';

export const KUBECTL = '/usr/bin/kubectl';
export const HAS_KUBECTL = existsSync(KUBECTL);

interface FixtureResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const FIXTURES = JSON.parse(readFileSync(new URL('./fixtures/kubectl-results.json', import.meta.url), 'utf8')) as { results: Record<string, FixtureResult> };

/** A recorded real-kubectl result, with the names of the capture replaced by ours. */
export function fixture(tag: string, replace: Record<string, string> = {}): FixtureResult {
  const r = FIXTURES.results[tag];
  if (!r) throw new Error(`no fixture ${tag}`);
  const sub = (s: string) => Object.entries(replace).reduce((acc, [from, to]) => acc.split(from).join(to), s);
  return { exitCode: r.exitCode, stdout: sub(r.stdout), stderr: sub(r.stderr) };
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface LabKube {
  lab: string;
  server: KubeServer;
  /** Runs kubectl as `action` (attempt) with its own cache dir. */
  kubectl(args: string[], opts?: { action?: string; attempt?: number; stdin?: string; cache?: string }): Promise<KubectlResult>;
  /** A fresh cache dir (one per test). */
  cache(): string;
  /** The kubeconfig file kubectl gets for `action` (its token names the action, as the lab's exec plugin does). */
  kubeconfigFor(action?: string, attempt?: number): string;
  /** Environment for a kubectl the test does not start itself (cortex's process runner). */
  env(): NodeJS.ProcessEnv;
  requests(): Record<string, unknown>[];
  stop(): Promise<void>;
}

export async function startLabKube(options: { faults?: LabFault[]; stepMs?: number; terminateMs?: number } = {}): Promise<LabKube> {
  const lab = mkdtempSync(join(tmpdir(), 'cortex-kube-lab-'));
  writeState(lab, 'kube', seedKubeState());
  writeLabConfig(lab, { latency: 1, faults: options.faults ?? [] });
  const server = await startKubeServer(lab, { stepMs: options.stepMs ?? 50, terminateMs: options.terminateMs ?? 400 });
  const ca = join(lab, 'kube-ca.crt');
  writeFileSync(ca, server.certificate!.cert);
  let caches = 0;
  const configs = new Map<string, string>();
  const kubeconfig = (token: string) => {
    let path = configs.get(token);
    if (path) return path;
    path = join(lab, `kubeconfig-${configs.size}`);
    writeFileSync(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: lab',
        '  cluster:',
        `    server: ${server.httpsUrl}`,
        `    certificate-authority: ${ca}`,
        'contexts:',
        '- name: lab',
        '  context: {cluster: lab, user: lab}',
        'current-context: lab',
        'users:',
        '- name: lab',
        '  user:',
        `    token: ${token}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    configs.set(token, path);
    return path;
  };
  const cache = () => {
    const dir = join(lab, `cache-${caches++}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const home = join(lab, 'home');
  mkdirSync(home, { recursive: true });
  return {
    lab,
    server,
    cache,
    kubeconfigFor: (action = 'none', attempt = 1) => kubeconfig(`lab.${action}.${attempt}.exec-test`),
    env: () => ({ KUBECACHEDIR: cache(), HOME: home, PATH: process.env.PATH ?? '' }),
    kubectl(args, opts = {}) {
      const token = `lab.${opts.action ?? 'none'}.${opts.attempt ?? 1}.exec-test`;
      return run([KUBECTL, '--kubeconfig', kubeconfig(token), ...args], { KUBECACHEDIR: opts.cache ?? cache(), HOME: home, PATH: process.env.PATH ?? '' }, opts.stdin);
    },
    requests: () => readJsonLines<Record<string, unknown>>(join(lab, 'requests.jsonl')),
    async stop() {
      await server.stop();
      rmSync(lab, { recursive: true, force: true });
    },
  };
}

export function run(argv: string[], env: NodeJS.ProcessEnv, stdin?: string): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

// The lab controller works asynchronously: tests wait for its effects with the shared waitFor.
export { waitFor } from '../../../helpers/wait.js';

export function deploymentYaml(name: string, ns: string, image: string, replicas = 2, extraSpec = ''): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: ${ns}
  labels: {app: ${name}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
${extraSpec}      containers:
      - name: ${name}
        image: ${image}
        ports: [{containerPort: 80}]
`;
}
