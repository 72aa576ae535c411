import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { labPaths, readJsonLines, writeState } from '../../../../src/lab/lab-dir.js';
import { runHelm } from '../../../../src/lab/helm/helm.js';
import { helmModule } from '../../../../src/lab/helm/module.js';
import { emptyHelmState, HELM_STATE, readHelm } from '../../../../src/lab/helm/state.js';
import { startFakeKube, type FakeKube } from '../talos/fake-kube.js';
import { newLab } from '../talos/lab-helper.js';

let kube: FakeKube;
beforeEach(async () => {
  kube = await startFakeKube();
});
afterEach(async () => {
  await kube.close();
});

function setup(o: { v4?: boolean; version?: string; faults?: Array<{ action_id: string; attempts: number | null }> } = {}) {
  const l = newLab({ kubeUrl: kube.url, ...(o.faults ? { faults: o.faults } : {}) });
  if (o.v4 || o.version) writeState(l.lab, HELM_STATE, { ...emptyHelmState(), version: o.version ?? 'v4.0.0+g1c4a3b2' });
  const kc = join(l.lab, 'kubeconfig');
  writeFileSync(kc, 'apiVersion: v1\nkind: Config\n');
  const helm = (args: string[], action = 'act-1', stdin = '', attempt = 1) => runHelm(['--kubeconfig', kc, ...args], l.env(action, attempt), { stdin: () => stdin });
  return { ...l, kc, helm };
}

const KPS = ['upgrade', '--install', 'kube-prometheus-stack', 'kube-prometheus-stack', '--namespace', 'monitoring', '--repo', 'https://prometheus-community.github.io/helm-charts', '--version', '55.5.0', '-f', '-', '--wait', '--timeout', '10m0s', '--atomic', '-o', 'json'];

describe('helm stand-in: arguments', () => {
  it('rejects unknown flags and commands like helm (one Error: line, exit 1)', async () => {
    const { helm } = setup();
    expect(await helm(['upgrade', '--install', 'x', 'repo/x', '--rollback-on-failure'])).toEqual({ exitCode: 1, stdout: '', stderr: 'Error: unknown flag: --rollback-on-failure\n' });
    expect((await helm(['list', '-z'])).stderr).toBe("Error: unknown shorthand flag: 'z' in -z\n");
    expect((await helm(['frob'])).stderr).toBe('Error: unknown command "frob" for "helm"\nRun \'helm --help\' for usage.\n');
    expect((await helm(['upgrade', 'x'])).stderr).toBe('Error: "helm upgrade" requires 2 arguments\n\nUsage:  helm upgrade [RELEASE] [CHART] [flags]\n');
    expect((await helm(['upgrade', '--install', 'x', 'repo/x', '--timeout', '600'])).stderr).toBe('Error: invalid argument "600" for "--timeout" flag: time: missing unit in duration "600"\n');
    expect((await helm(['upgrade', '--install', 'x', 'nginx'])).stderr).toBe('Error: non-absolute URLs should be in form of repo_name/path_to_chart, got: nginx\n');
  });

  it('version --short; v4 warns about --atomic and accepts --rollback-on-failure', async () => {
    expect((await setup().helm(['version', '--short'])).stdout).toBe('v3.16.2+g13654a5\n');
    const { helm } = setup({ v4: true });
    expect((await helm(['version', '--short'])).stdout).toBe('v4.0.0+g1c4a3b2\n');
    const r = await helm(['upgrade', '--install', 'web', 'repo/web', '-n', 'default', '--atomic', '--wait', '-o', 'json']);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe('Flag --atomic has been deprecated, use --rollback-on-failure instead\n');
    expect(JSON.parse(r.stdout)).toMatchObject({ version: 1, apply_method: 'ssa' });
    expect((await helm(['upgrade', '--install', 'web', 'repo/web', '-n', 'default', '--rollback-on-failure', '--wait=watcher', '-o', 'json'])).exitCode).toBe(0);
  });
});

describe('helm stand-in: releases', () => {
  it('upgrade --install creates the chart objects through the API server and records revisions', async () => {
    const { lab, helm } = setup();
    const r = await helm(KPS, 'install-kps', 'grafana:\n  replicas: 2\nprometheus:\n  prometheusSpec:\n    nodeSelector:\n      cortex.dev/role: monitoring\n');
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe('');
    const rel = JSON.parse(r.stdout);
    expect(rel).toMatchObject({ name: 'kube-prometheus-stack', namespace: 'monitoring', version: 1, info: { status: 'deployed', description: 'Install complete' }, chart: { metadata: { name: 'kube-prometheus-stack', version: '55.5.0', appVersion: 'v0.70.0' } }, config: { grafana: { replicas: 2 } } });
    const created = kube.requests.filter((q) => q.method === 'POST').map((q) => `${q.path}/${(q.body as { metadata: { name: string } }).metadata.name}`);
    expect(created.filter((p) => /deployments|statefulsets/.test(p))).toEqual([
      '/apis/apps/v1/namespaces/monitoring/deployments/kube-prometheus-stack-grafana',
      '/apis/apps/v1/namespaces/monitoring/deployments/kube-prometheus-stack-operator',
      '/apis/apps/v1/namespaces/monitoring/deployments/kube-prometheus-stack-kube-state-metrics',
      '/apis/apps/v1/namespaces/monitoring/statefulsets/prometheus-kube-prometheus-stack-prometheus',
      '/apis/apps/v1/namespaces/monitoring/statefulsets/alertmanager-kube-prometheus-stack-alertmanager',
    ]);
    const grafana = kube.objects.get('/apis/apps/v1/namespaces/monitoring/deployments/kube-prometheus-stack-grafana') as { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: { replicas: number } };
    expect(grafana.metadata.labels).toMatchObject({ 'app.kubernetes.io/instance': 'kube-prometheus-stack', 'app.kubernetes.io/managed-by': 'Helm' });
    expect(grafana.metadata.annotations).toEqual({ 'meta.helm.sh/release-name': 'kube-prometheus-stack', 'meta.helm.sh/release-namespace': 'monitoring' });
    expect(grafana.spec.replicas).toBe(2);
    const prom = kube.objects.get('/apis/apps/v1/namespaces/monitoring/statefulsets/prometheus-kube-prometheus-stack-prometheus') as { spec: { template: { spec: { nodeSelector: unknown } } } };
    expect(prom.spec.template.spec.nodeSelector).toEqual({ 'cortex.dev/role': 'monitoring' });
    expect(kube.requests.some((q) => q.method === 'GET' && q.path.endsWith('/statefulsets/prometheus-kube-prometheus-stack-prometheus'))).toBe(true);
    expect(kube.requests.every((q) => q.authorization === 'Bearer lab.install-kps.1.exec-1')).toBe(true);

    const up = await helm(KPS.filter((a) => a !== '-f' && a !== '-'), 'upgrade-kps');
    expect(JSON.parse(up.stdout)).toMatchObject({ version: 2, info: { status: 'deployed', description: 'Upgrade complete' } });
    // helm list prints the revision as a STRING, history and status as an int.
    const list = JSON.parse((await helm(['list', '-n', 'monitoring', '-o', 'json'])).stdout);
    expect(list).toEqual([{ name: 'kube-prometheus-stack', namespace: 'monitoring', revision: '2', updated: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC$/), status: 'deployed', chart: 'kube-prometheus-stack-55.5.0', app_version: 'v0.70.0' }]);
    const history = JSON.parse((await helm(['history', 'kube-prometheus-stack', '-n', 'monitoring', '-o', 'json'])).stdout);
    expect(history.map((h: { revision: number; status: string }) => [h.revision, h.status])).toEqual([[1, 'superseded'], [2, 'deployed']]);
    expect(JSON.parse((await helm(['status', 'kube-prometheus-stack', '-n', 'monitoring', '-o', 'json'])).stdout).version).toBe(2);
    expect((await helm(['list', '-n', 'monitoring', '-o', 'json', '--filter', '^nothing$'])).stdout).toBe('[]\n');
    expect(helmModule.describe?.(lab)).toEqual({ version: 'v3.16.2+g13654a5', releases: { 'monitoring/kube-prometheus-stack': 'kube-prometheus-stack-55.5.0 revision 2 deployed' } });
    expect(readJsonLines(labPaths(lab).invocations).length).toBe(6);
  });

  it('charts: cilium, ingress-nginx as a DaemonSet with nodePorts, generic charts', async () => {
    const { helm } = setup();
    expect((await helm(['upgrade', '--install', 'cilium', 'cilium', '--repo', 'https://helm.cilium.io/', '--namespace', 'kube-system', '--version', '1.14.5', '--wait', '--atomic', '-o', 'json'])).exitCode).toBe(0);
    expect(kube.objects.has('/apis/apps/v1/namespaces/kube-system/daemonsets/cilium')).toBe(true);
    expect(kube.objects.has('/apis/apps/v1/namespaces/kube-system/deployments/cilium-operator')).toBe(true);
    await helm(['upgrade', '--install', 'ingress-nginx', 'ingress-nginx', '--repo', 'https://kubernetes.github.io/ingress-nginx', '-n', 'ingress-nginx', '--create-namespace', '-f', '-', '--wait'], 'a', 'controller:\n  kind: DaemonSet\n  service:\n    type: NodePort\n    nodePorts: {http: 30080, https: 30443}\n');
    expect(kube.objects.has('/apis/apps/v1/namespaces/ingress-nginx/daemonsets/ingress-nginx-controller')).toBe(true);
    const svc = kube.objects.get('/api/v1/namespaces/ingress-nginx/services/ingress-nginx-controller') as { spec: { type: string; ports: Array<{ nodePort: number }> } };
    expect([svc.spec.type, svc.spec.ports.map((p) => p.nodePort)]).toEqual(['NodePort', [30080, 30443]]);
    await helm(['upgrade', '--install', 'web-api', 'bitnami/nginx', '-n', 'default', '--set', 'replicaCount=3,image.repository=harbor.cortex.local/web-api', '--set-string', 'image.tag=1.0'], 'b');
    expect(kube.objects.get('/apis/apps/v1/namespaces/default/deployments/web-api')).toMatchObject({ spec: { replicas: 3, template: { spec: { containers: [{ image: 'harbor.cortex.local/web-api:1.0' }] } } } });
  });

  it('without --create-namespace a missing namespace fails and records nothing', async () => {
    const { lab, helm } = setup();
    const r = await helm(['upgrade', '--install', 'x', 'repo/x', '-n', 'nowhere', '-o', 'json']);
    expect(r).toEqual({ exitCode: 1, stdout: '', stderr: 'Error: INSTALLATION FAILED: create: failed to create: namespaces "nowhere" not found\n' });
    expect(readHelm(lab).releases.nowhere).toBeUndefined();
  });

  it('uninstall deletes the objects; --ignore-not-found; rollback restores a revision', async () => {
    const { lab, helm } = setup();
    await helm(['upgrade', '--install', 'web', 'repo/web', '-n', 'default', '--set', 'replicaCount=1']);
    await helm(['upgrade', '--install', 'web', 'repo/web', '-n', 'default', '--set', 'replicaCount=4']);
    const path = '/apis/apps/v1/namespaces/default/deployments/web';
    expect((kube.objects.get(path) as { spec: { replicas: number } }).spec.replicas).toBe(4);
    expect(await helm(['rollback', 'web', '1', '-n', 'default', '--wait'])).toEqual({ exitCode: 0, stdout: 'Rollback was a success! Happy Helming!\n', stderr: '' });
    expect((kube.objects.get(path) as { spec: { replicas: number } }).spec.replicas).toBe(1);
    const hist = JSON.parse((await helm(['history', 'web', '-n', 'default', '-o', 'json'])).stdout);
    expect(hist.map((h: { revision: number; status: string; description: string }) => `${h.revision} ${h.status} ${h.description}`)).toEqual(['1 superseded Install complete', '2 superseded Upgrade complete', '3 deployed Rollback to 1']);
    expect(await helm(['uninstall', 'web', '-n', 'default', '--wait', '--timeout', '5m0s', '--ignore-not-found'])).toEqual({ exitCode: 0, stdout: 'release "web" uninstalled\n', stderr: '' });
    expect(kube.objects.has(path)).toBe(false);
    expect(kube.requests.some((q) => q.method === 'DELETE' && q.path === path)).toBe(true);
    expect(readHelm(lab).releases.default?.web).toBeUndefined();
    // helm prints "uninstalled" for a release that did not exist (v3.13.0 cmd/helm/uninstall.go): the text proves nothing
    expect(await helm(['uninstall', 'web', '-n', 'default', '--ignore-not-found'])).toEqual({ exitCode: 0, stdout: 'release "web" uninstalled\n', stderr: '' });
    expect((await helm(['uninstall', 'web', '-n', 'default'])).stderr).toBe('Error: uninstall: Release not loaded: web: release: not found\n');
    expect((await helm(['history', 'web', '-n', 'default', '-o', 'json'])).stderr).toBe('Error: release: not found\n');
    expect((await helm(['status', 'web', '-n', 'default'])).stderr).toBe('Error: release: not found\n');
  });

  it('--ignore-not-found arrived in Helm 3.13: 3.12 refuses the flag as cobra does', async () => {
    const { helm } = setup({ version: 'v3.12.3+g3a31588' });
    expect((await helm(['version', '--short'])).stdout).toBe('v3.12.3+g3a31588\n');
    expect(await helm(['uninstall', 'web', '-n', 'default', '--wait', '--ignore-not-found'])).toEqual({ exitCode: 1, stdout: '', stderr: 'Error: unknown flag: --ignore-not-found\n' });
    expect((await helm(['uninstall', 'web', '-n', 'default'])).stderr).toBe('Error: uninstall: Release not loaded: web: release: not found\n');
    expect((await setup({ version: 'v3.13.0+g825e86f' }).helm(['uninstall', 'web', '-n', 'default', '--ignore-not-found'])).exitCode).toBe(0);
  });

  it('an uninstalled release kept with --keep-history: status says uninstalled; uninstall purges it, --keep-history again is refused', async () => {
    const { lab, helm } = setup();
    await helm(['upgrade', '--install', 'web', 'repo/web', '-n', 'default']);
    expect((await helm(['uninstall', 'web', '-n', 'default', '--keep-history'])).stdout).toBe('release "web" uninstalled\n');
    expect(JSON.parse((await helm(['status', 'web', '-n', 'default', '-o', 'json'])).stdout).info.status).toBe('uninstalled');
    expect(await helm(['uninstall', 'web', '-n', 'default', '--keep-history'])).toEqual({ exitCode: 1, stdout: '', stderr: 'Error: the release named "web" is already deleted\n' });
    expect(await helm(['uninstall', 'web', '-n', 'default'])).toEqual({ exitCode: 0, stdout: 'release "web" uninstalled\n', stderr: '' });
    expect(readHelm(lab).releases.default?.web).toBeUndefined();
  });
});

describe('helm stand-in: failures', () => {
  it('injected failure with --atomic: a fresh install is uninstalled, an upgrade rolled back', async () => {
    const { lab, helm } = setup({ faults: [{ action_id: 'boom', attempts: null }] });
    const install = await helm(['upgrade', '--install', 'web', 'repo/web', '-n', 'default', '--wait', '--atomic', '-o', 'json'], 'boom');
    expect(install).toEqual({ exitCode: 1, stdout: '', stderr: 'Error: INSTALLATION FAILED: release web failed, and has been uninstalled due to atomic being set: context deadline exceeded\n' });
    expect(readHelm(lab).releases.default?.web).toBeUndefined();
    await helm(['upgrade', '--install', 'web', 'repo/web', '-n', 'default'], 'ok');
    const up = await helm(['upgrade', '--install', 'web', 'repo/web', '-n', 'default', '--wait', '--atomic'], 'boom');
    expect(up.stderr).toBe('Error: UPGRADE FAILED: release web failed, and has been rolled back due to atomic being set: context deadline exceeded\n');
    const hist = JSON.parse((await helm(['history', 'web', '-n', 'default', '-o', 'json'])).stdout);
    expect(hist.map((h: { revision: number; status: string; description: string }) => `${h.revision} ${h.status} ${h.description}`)).toEqual([
      '1 superseded Install complete',
      '2 failed Upgrade "web" failed: context deadline exceeded',
      '3 deployed Rollback to 1',
    ]);
    const debug = await helm(['upgrade', '--install', 'web', 'repo/web', '-n', 'default', '--atomic', '--debug'], 'boom');
    expect(debug.stderr.split('\n')[0]).toBe('upgrade.go:526: [debug] Upgrade failed and atomic is set, rolling back to last successful release');
    const plain = await helm(['upgrade', '--install', 'web', 'repo/web', '-n', 'default'], 'boom');
    expect(plain.stderr).toBe('Error: UPGRADE FAILED: context deadline exceeded\n');
    expect((await helm(['history', 'web', '-n', 'default', '-o', 'json'])).stdout).toContain('"revision":6,');
    expect((await helm(['uninstall', 'web', '-n', 'default'], 'boom')).stderr).toBe('Error: uninstallation completed with 1 error(s): context deadline exceeded\n');
    expect((await helm(['list', '-n', 'default', '-o', 'json'], 'boom')).exitCode).toBe(0);
  });

  it('v4: rollback-on-failure texts and the WARN line', async () => {
    const { helm } = setup({ v4: true, faults: [{ action_id: 'boom', attempts: 1 }] });
    const r = await helm(['upgrade', '--install', 'cilium', 'cilium/cilium', '-n', 'kube-system', '--wait', '--rollback-on-failure', '-o', 'json'], 'boom');
    expect(r.stderr).toBe('level=WARN msg="install failed" name=cilium error="context deadline exceeded"\nError: INSTALLATION FAILED: release cilium failed, and has been uninstalled due to rollback-on-failure being set: context deadline exceeded\n');
    expect((await helm(['upgrade', '--install', 'cilium', 'cilium/cilium', '-n', 'kube-system', '--wait', '--rollback-on-failure', '-o', 'json'], 'boom', '', 2)).exitCode).toBe(0);
  });

  it('--wait times out when the workloads never become ready (bounded by --timeout)', async () => {
    const { helm } = setup();
    kube.ready = false;
    const started = Date.now();
    const r = await helm(['upgrade', '--install', 'web', 'repo/web', '-n', 'default', '--wait', '--timeout', '300ms', '--atomic']);
    expect(r.stderr).toBe('Error: INSTALLATION FAILED: release web failed, and has been uninstalled due to atomic being set: context deadline exceeded\n');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(kube.objects.has('/apis/apps/v1/namespaces/default/deployments/web')).toBe(false);
  });
});
