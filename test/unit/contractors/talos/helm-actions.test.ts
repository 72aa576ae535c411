import { beforeEach, describe, expect, it } from 'vitest';
import { resetHelmMajorCache } from '../../../../src/contractors/talos/helm.js';
import { ActionFailedError } from '../../../../src/errors.js';
import { baseConfig, fixture, harness, KC, kubectlResult, router } from './helpers.js';

async function failure(p: Promise<unknown>): Promise<ActionFailedError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ActionFailedError) return e;
    throw e;
  }
  throw new Error('expected the action to fail');
}

const H = ['helm', '--kubeconfig', KC];

const kps = {
  cluster: 'prod-k8s-01',
  release: 'kube-prometheus-stack',
  chart: 'kube-prometheus-stack',
  repo_url: 'https://prometheus-community.github.io/helm-charts',
  version: '55.5.0',
  namespace: 'monitoring',
  create_namespace: false,
  values: { grafana: { enabled: true }, prometheus: { prometheusSpec: { retention: '30d' } } },
  timeout_seconds: 900,
};

beforeEach(() => resetHelmMajorCache());

describe('install_helm_chart', () => {
  it('helm 3: history first (fresh install = 0), --atomic, values YAML on stdin, -o json', async () => {
    const h = await harness('install_helm_chart', kps);
    h.deps.runner.on('helm', [], router([
      ['version --short', { stdout: fixture('helm/version-v3.txt') }],
      [' history ', { exitCode: 1, stderr: fixture('helm/release-not-found.stderr') }],
      ['upgrade --install', { stdout: fixture('helm/upgrade-v3.json') }],
    ]));
    expect(await h.impl.run(h.rt)).toEqual({ release: 'kube-prometheus-stack', namespace: 'monitoring', revision: 1, previous_revision: 0, status: 'deployed', chart_version: '55.5.0', app_version: 'v0.70.0' });
    expect(h.calls()).toEqual([
      ['helm', 'version', '--short'],
      [...H, 'history', 'kube-prometheus-stack', '--namespace', 'monitoring', '-o', 'json'],
      [...H, 'upgrade', '--install', 'kube-prometheus-stack', 'kube-prometheus-stack', '--namespace', 'monitoring', '--repo', 'https://prometheus-community.github.io/helm-charts', '--version', '55.5.0', '-f', '-', '--wait', '--timeout', '15m0s', '--atomic', '-o', 'json'],
    ]);
    expect(h.inputs()[2]).toBe('grafana:\n  enabled: true\nprometheus:\n  prometheusSpec:\n    retention: 30d\n');
    expect(h.deps.runner.calls[2]?.options?.timeoutMs).toBe(600_000);
  });

  it('helm 4 (detected once per process): --rollback-on-failure; previous revision = last deployed', async () => {
    const params = { cluster: 'prod-k8s-01', release: 'cilium', chart: 'cilium/cilium', namespace: 'kube-system', values_files: ['/etc/cortex/cilium-base.yaml'] };
    for (let i = 0; i < 2; i++) {
      const h = await harness('install_helm_chart', params);
      h.deps.runner.on('helm', [], router([
        ['version --short', { stdout: fixture('helm/version-v4.txt') }],
        [' history ', { stdout: fixture('helm/history.json') }],
        ['upgrade --install', { stdout: fixture('helm/upgrade-v4.json'), stderr: '' }],
      ]));
      expect(await h.impl.run(h.rt)).toMatchObject({ revision: 3, previous_revision: 2, status: 'deployed', chart_version: '1.14.5' });
      const calls = h.calls();
      expect(calls.filter((c) => c[1] === 'version').length).toBe(i === 0 ? 1 : 0);
      expect(calls[calls.length - 1]).toEqual([...H, 'upgrade', '--install', 'cilium', 'cilium/cilium', '--namespace', 'kube-system', '--create-namespace', '-f', '/etc/cortex/cilium-base.yaml', '--wait', '--timeout', '10m0s', '--rollback-on-failure', '-o', 'json']);
    }
  });

  it('config tools.helm_major skips detection; UPGRADE FAILED is helm_install_failed', async () => {
    const h = await harness('install_helm_chart', { ...kps, atomic: true }, { config: { ...baseConfig(), tools: { helm_major: 3 } } });
    h.deps.runner.on('helm', [], router([[' history ', { stdout: '[]' }], ['upgrade --install', { exitCode: 1, stderr: fixture('helm/upgrade-failed-atomic-v3.stderr') }]]));
    const e = await failure(h.impl.run(h.rt));
    expect([e.errorCode, e.retryable]).toEqual(['helm_install_failed', true]);
    expect(e.message).toContain('has been rolled back due to atomic being set: context deadline exceeded');
    expect(h.calls()[0]?.[3]).toBe('history');
  });

  it('a v4 deprecation warning on stderr does not break success', async () => {
    const h = await harness('install_helm_chart', { ...kps }, { config: { ...baseConfig(), tools: { helm_major: 4 } } });
    h.deps.runner.on('helm', [], router([[' history ', { stdout: '[]' }], ['upgrade --install', { stdout: fixture('helm/upgrade-v4.json'), stderr: fixture('helm/v4-atomic-deprecated.stderr') }]]));
    expect((await h.impl.run(h.rt)).revision).toBe(3);
  });
});

describe('install_helm_chart argv', () => {
  it('an oci:// repo_url becomes the chart reference', async () => {
    const { upgradeInstallArgs } = await import('../../../../src/contractors/talos/install-helm-chart.js');
    expect(upgradeInstallArgs({ cluster: 'c', release: 'app', chart: 'app', namespace: 'apps', repo_url: 'oci://registry.cortex.local/charts/', create_namespace: false, atomic: false, wait: false }, 3)).toEqual([
      'upgrade', '--install', 'app', 'oci://registry.cortex.local/charts/app', '--namespace', 'apps', '--timeout', '10m0s', '-o', 'json',
    ]);
  });
});

describe('rollback_helm_release / uninstall_helm_release', () => {
  it('revision 0 uninstalls the release helm status finds (no --ignore-not-found: Helm < 3.13 lacks it)', async () => {
    const h = await harness('rollback_helm_release', { cluster: 'prod-k8s-01', release: 'kube-prometheus-stack', namespace: 'monitoring', revision: 0 });
    h.deps.runner.on('helm', [], router([['status', { stdout: fixture('helm/status.json') }], ['uninstall', { stdout: 'release "kube-prometheus-stack" uninstalled\n' }]]));
    expect(await h.impl.run(h.rt)).toEqual({ release: 'kube-prometheus-stack', revision: 0, uninstalled: true });
    expect(h.calls()).toEqual([
      [...H, 'status', 'kube-prometheus-stack', '--namespace', 'monitoring', '-o', 'json'],
      [...H, 'uninstall', 'kube-prometheus-stack', '--namespace', 'monitoring', '--wait', '--timeout', '10m0s'],
    ]);
  });
  it('a release helm status does not find is not uninstalled, whatever an uninstall would print', async () => {
    const h = await harness('rollback_helm_release', { cluster: 'prod-k8s-01', release: 'kube-prometheus-stack', namespace: 'monitoring', revision: 0 });
    h.deps.runner.on('helm', [], router([['status', { exitCode: 1, stderr: fixture('helm/release-not-found.stderr') }], ['uninstall', { stdout: 'release "kube-prometheus-stack" uninstalled\n' }]]));
    expect(await h.impl.run(h.rt)).toEqual({ release: 'kube-prometheus-stack', revision: 0, uninstalled: false });
    expect(h.calls().map((c) => c[3])).toEqual(['status']);
    // gone between status and uninstall: still "not uninstalled", not a failure
    const race = await harness('uninstall_helm_release', { cluster: 'prod-k8s-01', release: 'cilium', namespace: 'kube-system' });
    race.deps.runner.on('helm', [], router([['status', { stdout: fixture('helm/status.json') }], ['uninstall', { exitCode: 1, stderr: 'Error: uninstall: Release not loaded: cilium: release: not found\n' }], [' list ', { stdout: '[]' }]]));
    expect(await race.impl.run(race.rt)).toEqual({ release: 'cilium', uninstalled: false, deleted_pvcs: [] });
    // kept history (status uninstalled): purged without --keep-history, left alone with it
    const kept = (keep: boolean) => harness('uninstall_helm_release', { cluster: 'prod-k8s-01', release: 'cilium', namespace: 'kube-system', keep_history: keep });
    const status = JSON.stringify({ ...JSON.parse(fixture('helm/status.json')), info: { status: 'uninstalled' } });
    for (const keep of [false, true]) {
      const k = await kept(keep);
      k.deps.runner.on('helm', [], router([['status', { stdout: status }], ['uninstall', { stdout: 'release "cilium" uninstalled\n' }], [' list ', { stdout: '[]' }]]));
      expect(await k.impl.run(k.rt)).toEqual({ release: 'cilium', uninstalled: false, deleted_pvcs: [] });
      expect(k.calls().some((c) => c[3] === 'uninstall')).toBe(!keep);
    }
  });
  it('a helm older than 3.7 is refused before it is used (uninstall --wait); 3.7.0 and v4 are fine', async () => {
    const run = async (version: string) => {
      resetHelmMajorCache();
      const h = await harness('install_helm_chart', { ...kps, create_namespace: true });
      h.deps.runner.on('helm', [], router([['version --short', { stdout: `${version}\n` }], [' history ', { stdout: '[]' }], ['upgrade --install', { stdout: fixture('helm/upgrade-v3.json') }]]));
      return h.impl.run(h.rt).then(() => h.calls().length, (e: ActionFailedError) => e);
    };
    const e = (await run('v3.6.3+gd506314')) as ActionFailedError;
    expect([e.errorCode, e.retryable, e.message]).toEqual(['tool_not_working', false, "helm v3.6.3 is older than v3.7.0, the oldest Helm cortex's command lines work with (helm uninstall --wait)"]);
    expect(await run('v3.7.0+geeac838')).toBe(3);
    expect(await run('v4.0.0+g99cd196')).toBe(3);
  });
  it('rolls back to N and reads the new revision from helm status', async () => {
    const h = await harness('rollback_helm_release', { cluster: 'prod-k8s-01', release: 'cilium', namespace: 'kube-system', revision: 2, timeout_seconds: 120 });
    h.deps.runner.on('helm', [], router([['rollback', { stdout: 'Rollback was a success! Happy Helming!\n' }], ['status', { stdout: fixture('helm/status.json') }]]));
    expect(await h.impl.run(h.rt)).toEqual({ release: 'cilium', revision: 4, uninstalled: false });
    expect(h.calls()).toEqual([
      [...H, 'rollback', 'cilium', '2', '--namespace', 'kube-system', '--wait', '--timeout', '2m0s'],
      [...H, 'status', 'cilium', '--namespace', 'kube-system', '-o', 'json'],
    ]);
  });
  it('"previous" omits the revision; a missing release is helm_release_not_found', async () => {
    const h = await harness('rollback_helm_release', { cluster: 'prod-k8s-01', release: 'x', namespace: 'apps', revision: 'previous', wait: false });
    h.deps.runner.on('helm', [], { exitCode: 1, stderr: fixture('helm/release-not-found.stderr') });
    expect((await failure(h.impl.run(h.rt))).errorCode).toBe('helm_release_not_found');
    expect(h.calls()[0]).toEqual([...H, 'rollback', 'x', '--namespace', 'apps', '--timeout', '10m0s']);
  });
  it('uninstall checks helm list (revision is a string there) and can delete the PVCs', async () => {
    const h = await harness('uninstall_helm_release', { cluster: 'prod-k8s-01', release: 'cilium', namespace: 'kube-system', preserve_pvcs: false, keep_history: true });
    h.deps.runner.on('helm', [], router([['status', { stdout: fixture('helm/status.json') }], ['uninstall', { stdout: 'release "cilium" uninstalled\n' }], [' list ', { stdout: '[]' }]]));
    h.deps.runner.on('kubectl', [], { stdout: 'persistentvolumeclaim/data-0\n' });
    expect(await h.impl.run(h.rt)).toEqual({ release: 'cilium', uninstalled: true, deleted_pvcs: ['data-0'] });
    expect(h.calls()).toEqual([
      [...H, 'status', 'cilium', '--namespace', 'kube-system', '-o', 'json'],
      [...H, 'uninstall', 'cilium', '--namespace', 'kube-system', '--wait', '--timeout', '5m0s', '--keep-history'],
      [...H, 'list', '--namespace', 'kube-system', '--filter', '^cilium$', '-o', 'json'],
      ['kubectl', '--kubeconfig', KC, 'delete', 'pvc', '-n', 'kube-system', '-l', 'app.kubernetes.io/instance=cilium', '--ignore-not-found', '-o', 'name'],
    ]);
    const still = await harness('uninstall_helm_release', { cluster: 'prod-k8s-01', release: 'cilium', namespace: 'kube-system' });
    still.deps.runner.on('helm', [], router([['status', { stdout: fixture('helm/status.json') }], ['uninstall', {}], [' list ', { stdout: fixture('helm/list.json') }]]));
    expect((await failure(still.impl.run(still.rt))).message).toBe('release cilium is still listed after helm uninstall (status deployed)');
    expect(kubectlResult('10-get-ns-missing').exitCode).toBe(0);
  });
});
