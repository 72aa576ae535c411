/**
 * Issue 10, defect 3: kill -9 while install_helm_chart's `helm upgrade --install` runs, after helm
 * made revision 1; `cortex resume` re-runs the (idempotent) action; `cortex rollback` must then
 * uninstall the release, because the resumed attempt reports what the FIRST attempt saw
 * (previous_revision 0), not the revision the killed attempt made.
 *
 * A scripted helm (not the lab) holds the window open: in the lab the Kubernetes API server lives
 * in the killed process, so the killed attempt's helm cannot finish, and revision 1 only exists
 * in the milliseconds between helm's exit and cortex's record write. This helm records the
 * revision and then blocks until the test kills it, exactly as a crash leaves it.
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { activeIds, afterAllCleanup, CLI, cleanEnv, cortex, killPid, pidInFile, readJson, tempRoot } from './helpers.js';
import { checkRootFiles } from './schema-check.js';
import { waitFor } from '../helpers/wait.js';

const { roots, orphans } = afterAllCleanup();

/**
 * helm as far as install_helm_chart and rollback_helm_release use it, over <root>/helm-state.json.
 * The first `upgrade --install` records its revision, writes <root>/helm-blocked.pid and blocks.
 */
const FAKE_HELM = `import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const root = process.env.FAKE_HELM_ROOT;
const args = process.argv.slice(2);
appendFileSync(join(root, 'helm.log'), JSON.stringify({ args, attempt: process.env.CORTEX_ATTEMPT }) + '\\n');
const file = join(root, 'helm-state.json');
const revs = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : [];
const save = () => writeFileSync(file, JSON.stringify(revs));
const rel = (r) => ({ name: 'kube-prometheus-stack', namespace: 'monitoring', version: r.revision, info: { status: r.status, description: r.description }, chart: { metadata: { name: 'kube-prometheus-stack', version: '55.5.0', appVersion: 'v0.70.0' } } });
const deploy = (description) => {
  for (const r of revs) if (r.status === 'deployed') r.status = 'superseded';
  const r = { revision: (revs.at(-1)?.revision ?? 0) + 1, status: 'deployed', description };
  revs.push(r);
  save();
  return r;
};
const cmd = args.find((a) => ['history', 'upgrade', 'rollback', 'uninstall', 'status'].includes(a));
if (cmd === 'history' || cmd === 'status') {
  if (revs.length === 0) {
    process.stderr.write('Error: release: not found\\n');
    process.exit(1);
  }
  process.stdout.write(JSON.stringify(cmd === 'history' ? revs : rel(revs.at(-1))) + '\\n');
} else if (cmd === 'upgrade') {
  const r = deploy(revs.length ? 'Upgrade complete' : 'Install complete');
  const blocked = join(root, 'helm-blocked.pid');
  if (!existsSync(blocked)) {
    writeFileSync(blocked, process.pid + '\\n');
    setInterval(() => undefined, 1000);
  } else {
    process.stdout.write(JSON.stringify(rel(r)) + '\\n');
  }
} else if (cmd === 'rollback') {
  const to = revs.find((r) => String(r.revision) === args[args.indexOf('rollback') + 2]);
  if (!to) {
    process.stderr.write('Error: release has no ' + args[args.indexOf('rollback') + 2] + ' version\\n');
    process.exit(1);
  }
  deploy('Rollback to ' + to.revision);
  process.stdout.write('Rollback was a success! Happy Helming!\\n');
} else if (cmd === 'uninstall') {
  revs.length = 0;
  save();
  process.stdout.write('release "kube-prometheus-stack" uninstalled\\n');
} else {
  process.stderr.write('fake helm: unexpected ' + args.join(' ') + '\\n');
  process.exit(64);
}
`;

function setUp(): string {
  const r = tempRoot({});
  roots.push(r);
  writeFileSync(join(r, 'fake-helm.mjs'), FAKE_HELM);
  writeFileSync(join(r, 'kubeconfig'), 'apiVersion: v1\nkind: Config\n');
  writeFileSync(
    join(r, 'config.yaml'),
    `tools:\n  helm: [${JSON.stringify(process.execPath)}, ${JSON.stringify(join(r, 'fake-helm.mjs'))}]\n  helm_major: 3\nclusters:\n  default:\n    kubeconfig: ${JSON.stringify(join(r, 'kubeconfig'))}\n`,
  );
  writeFileSync(
    join(r, 'workflows', 'monitoring.yaml'),
    `workflow_id: monitoring
workflow_name: Monitoring stack
version: 1.0.0
phases:
  - phase_id: k8s-deploy
    contractor: talos-contractor
    actions:
      - action_id: install-kube-prometheus-stack
        action: install_helm_chart
        parameters: { cluster: prod-k8s-01, release: kube-prometheus-stack, chart: kube-prometheus-stack, version: 55.5.0, namespace: monitoring }
        timeout: 600
        on_error: rollback
`,
  );
  return r;
}

interface ActionRec {
  action_id: string;
  status: string;
  outputs?: Record<string, unknown>;
}

function record(r: string, id: string): { status: string; phases: Array<{ actions: ActionRec[] }> } {
  for (const dir of ['active', 'history']) {
    const p = join(r, 'workflows', dir, `workflow-${id}.json`);
    if (existsSync(p)) return readJson(p);
  }
  throw new Error(`no record of ${id}`);
}

describe('resume after kill -9 during install_helm_chart, then rollback', () => {
  it('the resumed attempt keeps previous_revision 0, so rollback uninstalls the release the killed attempt installed', async () => {
    const r = setUp();
    const env = { FAKE_HELM_ROOT: r };
    const child = execa('node', [CLI, '--root', r, 'run', 'monitoring'], { env: cleanEnv(env), extendEnv: false, reject: false, stdin: 'ignore' });
    const blocked = join(r, 'helm-blocked.pid');
    // The pid whole: a file read between its creation and its write is empty, and Number('') is 0,
    // which process.kill takes as this process group (it killed the whole CI run once).
    await waitFor(() => pidInFile(blocked) !== undefined || child.exitCode !== null, { what: 'helm upgrade --install to record revision 1', timeoutMs: 60_000, detail: () => `${child.exitCode ?? 'running'}` });
    const helmPid = pidInFile(blocked);
    expect(helmPid, 'cortex ended before helm ran').toBeDefined();
    orphans.push(helmPid as number);
    child.kill('SIGKILL');
    const killed = await child;
    expect(killed.signal).toBe('SIGKILL');
    // The helm the killed process started runs on after a crash; it made revision 1 and is ended here.
    killPid(helmPid as number);
    expect(JSON.parse(readFileSync(join(r, 'helm-state.json'), 'utf8'))).toEqual([{ revision: 1, status: 'deployed', description: 'Install complete' }]);

    const id = activeIds(r)[0] as string;
    // What the kill left, as cortex reads it (the record file and its journal): the action was running.
    const shown = await cortex(['status', id, '--json'], { root: r });
    expect(shown.exitCode, shown.stderr).toBe(0);
    const left = JSON.parse(shown.stdout) as ReturnType<typeof record> & { location: string; display_status: string };
    expect(left.location).toBe('active');
    expect(left.display_status).toBe('interrupted');
    expect(left.phases[0]?.actions[0]?.status).toBe('running');
    expect(checkRootFiles(r)).toEqual([]);

    const resumed = await cortex(['resume', id], { root: r, env });
    expect(resumed.exitCode, resumed.stdout + resumed.stderr).toBe(0);
    const action = record(r, id).phases[0]?.actions[0] as ActionRec;
    expect(action.status).toBe('completed');
    expect(action.outputs).toMatchObject({ release: 'kube-prometheus-stack', revision: 2, previous_revision: 0 });

    const rb = await cortex(['rollback', id], { root: r, env });
    expect(rb.exitCode, rb.stdout + rb.stderr).toBe(0);
    expect(record(r, id).status).toBe('rolled_back');
    // No release is left: the rollback uninstalled it instead of "rolling back" to revision 1.
    expect(JSON.parse(readFileSync(join(r, 'helm-state.json'), 'utf8'))).toEqual([]);
    const calls = readFileSync(join(r, 'helm.log'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { args: string[] }).args);
    expect(calls.filter((a) => a.includes('uninstall'))).toHaveLength(1);
    expect(calls.filter((a) => a.includes('rollback'))).toEqual([]);
    expect(checkRootFiles(r)).toEqual([]);
  }, 120_000);
});
