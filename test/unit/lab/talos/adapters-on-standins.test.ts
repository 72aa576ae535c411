/**
 * The talos-contractor adapters run against the lab stand-ins (in process): what the adapters
 * send, the stand-ins accept, and what the stand-ins print, the adapters parse. kubectl is
 * answered from the fake API server's objects (the real kubectl is another module's concern).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../../../src/config/config.js';
import { resetHelmMajorCache } from '../../../../src/contractors/talos/helm.js';
import { IMPLEMENTATIONS } from '../../../../src/contractors/talos/index.js';
import { TALOS_SPECS } from '../../../../src/contractors/talos/specs.js';
import { labPaths, writeState } from '../../../../src/lab/lab-dir.js';
import { runHelm } from '../../../../src/lab/helm/helm.js';
import { emptyHelmState, HELM_STATE, readHelm } from '../../../../src/lab/helm/state.js';
import { labClusterNodes, readTalos } from '../../../../src/lab/talos/state.js';
import { runTalosctl } from '../../../../src/lab/talos/talosctl.js';
import type { ProcessResult, ProcessRunner, RunOptions } from '../../../../src/ports/process-runner.js';
import { fakeDeps } from '../../../fakes/fakes.js';
import { fsFilePorts, makeRuntime } from '../../contractors/runtime-helper.js';
import { startFakeKube, type FakeKube } from './fake-kube.js';
import { newLab } from './lab-helper.js';

class StandInRunner implements ProcessRunner {
  readonly calls: string[][] = [];
  constructor(
    private readonly baseEnv: NodeJS.ProcessEnv,
    private readonly kube: FakeKube,
  ) {}
  async run(command: string, args: readonly string[], o: RunOptions = {}): Promise<ProcessResult> {
    this.calls.push([command, ...args]);
    const env = { ...this.baseEnv, ...(o.env ?? {}) };
    const done = (r: { stdout: string; stderr: string; exitCode: number }): ProcessResult => ({ ...r, signal: null, durationMs: 1, timedOut: false, aborted: false, truncated: false });
    if (command === 'talosctl') return done(await runTalosctl(args, env));
    if (command === 'helm') return done(await runHelm(args, env, { stdin: () => o.input ?? '' }));
    if (command === 'kubectl' && args.includes('nodes')) {
      const items = [...this.kube.objects].filter(([k]) => k.startsWith('/api/v1/nodes/')).map(([, v]) => v);
      return done({ exitCode: 0, stderr: '', stdout: JSON.stringify({ apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } }) });
    }
    if (command === 'kubectl' && args.includes('label')) return done({ exitCode: 0, stderr: '', stdout: '' });
    return done({ exitCode: 127, stderr: `no stand-in for ${command}`, stdout: '' });
  }
  newCookie(): string {
    return 'standin-cookie';
  }
  async survivors(): Promise<number[]> {
    return [];
  }
  async kill(): Promise<number[]> {
    return [];
  }
}

let kube: FakeKube;
beforeEach(async () => {
  kube = await startFakeKube(['default', 'kube-system']);
  resetHelmMajorCache();
});
afterEach(async () => kube.close());

describe('adapters x stand-ins: helm uninstall on the Helm versions in the field', () => {
  for (const version of ['v3.12.3+g3a31588', 'v3.16.2+g13654a5', 'v4.0.0+g99cd196']) {
    it(`${version}: uninstall decides from helm status; a missing release is not "uninstalled"`, async () => {
      const { lab } = newLab({ kubeUrl: kube.url });
      writeState(lab, HELM_STATE, { ...emptyHelmState(), version });
      const P = labPaths(lab);
      writeFileSync(P.kubeconfig, 'apiVersion: v1\nkind: Config\n');
      const config: ConfigFile = { clusters: { default: { kubeconfig: P.kubeconfig, talosconfig: P.talosconfig, context: 'lab' } } };
      const runner = new StandInRunner({ CORTEX_LAB_DIR: lab, TALOSCONFIG: P.talosconfig, PATH: process.env.PATH ?? '' }, kube);
      const act = async (name: string, params: Record<string, unknown>) => {
        const spec = TALOS_SPECS.find((s) => s.name === name);
        const impl = await (IMPLEMENTATIONS[name] as () => Promise<{ run: (rt: unknown) => Promise<Record<string, unknown>> }>)();
        const deps = fakeDeps({ runner: runner as never, ...fsFilePorts(join(lab, 'root')) });
        return impl.run(makeRuntime(params, { spec, deps, config, actionId: `${name}-1` }).rt);
      };
      await act('install_helm_chart', { cluster: 'prod-k8s-01', release: 'web', chart: 'web', repo_url: 'https://charts.example.com/', namespace: 'default', timeout_seconds: 60 });
      expect(await act('uninstall_helm_release', { cluster: 'prod-k8s-01', release: 'web', namespace: 'default' })).toEqual({ release: 'web', uninstalled: true, deleted_pvcs: [] });
      expect(readHelm(lab).releases.default?.web).toBeUndefined();
      expect(await act('uninstall_helm_release', { cluster: 'prod-k8s-01', release: 'web', namespace: 'default' })).toEqual({ release: 'web', uninstalled: false, deleted_pvcs: [] });
      expect(await act('rollback_helm_release', { cluster: 'prod-k8s-01', release: 'web', namespace: 'default', revision: 0 })).toEqual({ release: 'web', revision: 0, uninstalled: false });
      expect(runner.calls.filter((c) => c[0] === 'helm').every((c) => !c.includes('--ignore-not-found'))).toBe(true);
    });
  }
});

describe('adapters x stand-ins', () => {
  it('builds prod-k8s-02, installs cilium, snapshots etcd, and rolls the install back', async () => {
    const { lab } = newLab({ kubeUrl: kube.url });
    const P = labPaths(lab);
    writeFileSync(P.kubeconfig, 'apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster: {server: "http://127.0.0.1:1"}\ncontexts:\n- name: lab\n  context: {cluster: lab, user: lab}\ncurrent-context: lab\nusers:\n- name: lab\n  user: {token: x}\n');
    // What start-lab's configFor gives every cluster name.
    const config: ConfigFile = { clusters: { default: { kubeconfig: P.kubeconfig, talosconfig: P.talosconfig, context: 'lab' } } };
    const runner = new StandInRunner({ CORTEX_LAB_DIR: lab, TALOSCONFIG: P.talosconfig, PATH: process.env.PATH ?? '' }, kube);
    let n = 0;
    const act = async (name: string, params: Record<string, unknown>) => {
      const spec = TALOS_SPECS.find((s) => s.name === name);
      const impl = await (IMPLEMENTATIONS[name] as () => Promise<{ run: (rt: unknown) => Promise<Record<string, unknown>> }>)();
      const deps = fakeDeps({ runner: runner as never, ...fsFilePorts(join(lab, 'root')) });
      const { rt } = makeRuntime(params, { spec, deps, config, actionId: `${name}-${++n}` });
      return impl.run(rt);
    };
    const cps = ['10.10.1.10', '10.10.1.11', '10.10.1.12'];
    const gen = await act('generate_talos_config', { cluster: 'prod-k8s-02', endpoint: 'https://10.10.1.100:6443', talos_version: 'v1.6.1', kubernetes_version: 'v1.29.1', install_disk: '/dev/sda', additional_sans: ['10.10.1.100'], config_patches: [{ cluster: { network: { cni: { name: 'none' } } } }] });
    expect(gen.config_dir).toBe(join(lab, 'clusters', 'prod-k8s-02'));
    await act('apply_talos_config', { cluster: 'prod-k8s-02', nodes: cps, config_file: gen.controlplane_config, insecure: true });
    // Re-running the insecure apply (resume after a crash) goes through the authenticated API.
    await act('apply_talos_config', { cluster: 'prod-k8s-02', nodes: cps.slice(0, 1), config_file: gen.controlplane_config, insecure: true });
    expect(await act('bootstrap_talos_cluster', { cluster: 'prod-k8s-02', node: cps[0] })).toEqual({ node: '10.10.1.10', bootstrapped: true, already_bootstrapped: false });
    expect(await act('bootstrap_talos_cluster', { cluster: 'prod-k8s-02', node: cps[0] })).toEqual({ node: '10.10.1.10', bootstrapped: false, already_bootstrapped: true });
    await act('apply_talos_config', { cluster: 'prod-k8s-02', nodes: ['10.10.1.20'], config_file: gen.worker_config, insecure: true });
    const kc = await act('get_kubeconfig', { cluster: 'prod-k8s-02', node: cps[0] });
    expect(kc).toEqual({ path: join(lab, 'clusters', 'prod-k8s-02', 'kubeconfig'), context: 'admin@prod-k8s-02', nodes: 4 });
    const health = await act('talos_health', { cluster: 'prod-k8s-02', node: cps[0], control_plane_nodes: cps, worker_nodes: ['10.10.1.20'], wait_timeout_seconds: 60 });
    expect(health.checks).toContain('waiting for all k8s nodes to report ready: OK');
    const snap = await act('etcd_snapshot', { cluster: 'prod-k8s-02', node: cps[0] });
    expect(snap.path).toMatch(new RegExp(`^${lab}/backups/prod-k8s-02/etcd-\\d{8}T\\d{6}Z\\.db$`));
    expect(snap.bytes).toBeGreaterThan(0);
    expect(readTalos(lab).clusters['prod-k8s-02']?.nodes.map((x) => x.hostname)).toEqual(['prod-k8s-02-cp-01', 'prod-k8s-02-cp-02', 'prod-k8s-02-cp-03', 'prod-k8s-02-worker-01']);
    // The generated talosconfig is now the one used for prod-k8s-02; prod-k8s-01 keeps its own.
    expect(runner.calls.find((c) => c[0] === 'talosctl' && c.includes('bootstrap'))?.slice(1, 3)).toEqual(['--talosconfig', join(lab, 'clusters', 'prod-k8s-02', 'talosconfig')]);

    const installed = await act('install_helm_chart', { cluster: 'prod-k8s-02', release: 'cilium', chart: 'cilium', repo_url: 'https://helm.cilium.io/', version: '1.14.5', namespace: 'kube-system', create_namespace: false, values: { ipam: { mode: 'kubernetes' } }, timeout_seconds: 60 });
    expect(installed).toEqual({ release: 'cilium', namespace: 'kube-system', revision: 1, previous_revision: 0, status: 'deployed', chart_version: '1.14.5', app_version: '1.14.5' });
    expect(readHelm(lab).releases['kube-system']?.cilium?.[0]?.values).toEqual({ ipam: { mode: 'kubernetes' } });
    expect(kube.objects.has('/apis/apps/v1/namespaces/kube-system/daemonsets/cilium')).toBe(true);
    expect(await act('rollback_helm_release', { cluster: 'prod-k8s-02', release: 'cilium', namespace: 'kube-system', revision: installed.previous_revision })).toEqual({ release: 'cilium', revision: 0, uninstalled: true });
    expect(kube.objects.has('/apis/apps/v1/namespaces/kube-system/daemonsets/cilium')).toBe(false);

    // there is no cilium release any more: the rollback finds none, and says so
    expect(await act('rollback_helm_release', { cluster: 'prod-k8s-02', release: 'cilium', namespace: 'kube-system', revision: 0 })).toEqual({ release: 'cilium', revision: 0, uninstalled: false });

    // a cluster given without node: -n/-e from its configured control planes (never the talosconfig context)
    const cfgDr: ConfigFile = { clusters: { ...labClusterNodes(lab), ...config.clusters } };
    const dr = async (name: string, extra: Record<string, unknown> = {}) => {
      const spec = TALOS_SPECS.find((s) => s.name === name);
      const impl = await (IMPLEMENTATIONS[name] as () => Promise<{ run: (rt: unknown) => Promise<Record<string, unknown>> }>)();
      const deps = fakeDeps({ runner: runner as never, ...fsFilePorts(join(lab, 'root')) });
      return impl.run(makeRuntime({ cluster: 'dr-k8s-01', ...extra }, { spec, deps, config: cfgDr, actionId: `${name}-dr` }).rt);
    };
    expect((await dr('talos_health', { wait_timeout_seconds: 60 })).healthy).toBe(true);
    expect(runner.calls.filter((c) => c.includes('health')).at(-1)).toEqual(expect.arrayContaining(['-n', '10.20.1.10', '-e', '10.20.1.10']));
    await dr('etcd_snapshot');
    expect(readTalos(lab).clusters['dr-k8s-01']?.snapshots.map((x) => x.node)).toEqual(['10.20.1.10']);

    const joined = await act('join_nodes', { cluster: 'prod-k8s-01', nodes: ['10.10.20.11'], labels: { 'cortex.dev/role': 'monitoring' } });
    expect(joined).toEqual({ nodes: ['k8s-worker-04'], ips: ['10.10.20.11'], ready: 1 });
    expect(runner.calls.find((c) => c.includes('10.10.20.11'))).toEqual(['talosctl', 'apply-config', '--insecure', '-n', '10.10.20.11', '--file', join(lab, 'clusters', 'prod-k8s-01', 'worker.yaml'), '--mode', 'auto']);
  });
});
