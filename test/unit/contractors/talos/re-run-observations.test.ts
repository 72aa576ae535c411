/**
 * A re-run of an action (a retry, or `cortex resume` after kill -9) must report what the FIRST
 * attempt saw before it changed anything: the compensation undoes to that state. Each test runs an
 * action whose first attempt is killed at its change (the fake tool's world has changed by then),
 * then a second attempt with the observations the record held at the kill.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { resetHelmMajorCache } from '../../../../src/contractors/talos/helm.js';
import { TALOS_SPECS } from '../../../../src/contractors/talos/specs.js';
import type { Reply } from '../../../fakes/fakes.js';
import { compensationFor, killPoint, observationStore, type ObservationStore } from '../runtime-helper.js';
import { fixture, harness, KC, kubectlResult, router, TC } from './helpers.js';

const H = ['helm', '--kubeconfig', KC];
const K = ['kubectl', '--kubeconfig', KC];

beforeEach(() => resetHelmMajorCache());

/** Runs `action` once with `observed`; the fake tool is `tool` answered by `handler`. */
async function attempt(action: string, params: Record<string, unknown>, observed: ObservationStore, tool: string, handler: Reply) {
  const h = await harness(action, params, { observed });
  h.deps.runner.on(tool, [], handler);
  try {
    return { outputs: await h.impl.run(h.rt), calls: h.calls() };
  } finally {
    h.dispose();
  }
}

/** First attempt killed at `mark`, then the resumed attempt with the record read back; returns the second's result. */
async function crashAndRerun(
  action: string,
  params: Record<string, unknown>,
  tool: string,
  world: (mark: () => void) => Reply,
): Promise<{ outputs: Record<string, unknown>; calls: string[][]; disk: Record<string, unknown> }> {
  const first = observationStore();
  const kill = killPoint(first);
  await attempt(action, params, first, tool, world(kill.mark));
  const disk = kill.disk();
  return { ...(await attempt(action, params, observationStore(disk), tool, world(() => undefined))), disk };
}

describe('install_helm_chart: kill -9 during helm upgrade --install, then resume', () => {
  const kps = { cluster: 'prod-k8s-01', release: 'kube-prometheus-stack', chart: 'kube-prometheus-stack', repo_url: 'https://prometheus-community.github.io/helm-charts', version: '55.5.0', namespace: 'monitoring' };

  it('the resumed attempt reports previous_revision 0 (not the revision the killed attempt made), so rollback uninstalls', async () => {
    const revisions: number[] = [];
    const history = () =>
      revisions.length === 0
        ? { exitCode: 1, stderr: fixture('helm/release-not-found.stderr') }
        : { stdout: JSON.stringify(revisions.map((r, i) => ({ revision: r, status: i === revisions.length - 1 ? 'deployed' : 'superseded', chart: 'kube-prometheus-stack-55.5.0', app_version: 'v0.70.0' }))) };
    const world = (mark: () => void) =>
      router([
        ['version --short', { stdout: fixture('helm/version-v3.txt') }],
        [' history ', history],
        [
          'upgrade --install',
          () => {
            mark();
            revisions.push(revisions.length + 1);
            return { stdout: JSON.stringify({ ...JSON.parse(fixture('helm/upgrade-v3.json')), version: revisions.length }) };
          },
        ],
      ]);
    const r = await crashAndRerun('install_helm_chart', kps, 'helm', world);
    expect(r.disk).toEqual({ previous_revision: 0 });
    expect(r.outputs).toMatchObject({ revision: 2, previous_revision: 0 });
    // The resumed attempt does not look again: helm would now say revision 1.
    expect(r.calls.filter((c) => c.includes('history'))).toEqual([]);

    const comp = compensationFor(TALOS_SPECS, 'install_helm_chart', kps, r.outputs);
    expect(comp.params).toMatchObject({ release: 'kube-prometheus-stack', namespace: 'monitoring', revision: 0 });
    const undo = await harness(comp.action, comp.params);
    undo.deps.runner.on('helm', [], router([['status', { stdout: fixture('helm/status.json') }], ['uninstall', { stdout: 'release "kube-prometheus-stack" uninstalled\n' }]]));
    expect(await undo.impl.run(undo.rt)).toEqual({ release: 'kube-prometheus-stack', revision: 0, uninstalled: true });
    expect(undo.calls()).toEqual([
      [...H, 'status', 'kube-prometheus-stack', '--namespace', 'monitoring', '-o', 'json'],
      [...H, 'uninstall', 'kube-prometheus-stack', '--namespace', 'monitoring', '--wait', '--timeout', '10m0s'],
    ]);
  });

  it('an upgrade keeps the revision that was live before the first attempt', async () => {
    const revisions = [1, 2];
    const world = (mark: () => void) =>
      router([
        ['version --short', { stdout: fixture('helm/version-v3.txt') }],
        [' history ', () => ({ stdout: JSON.stringify(revisions.map((r) => ({ revision: r, status: r === revisions.at(-1) ? 'deployed' : 'superseded' }))) })],
        ['upgrade --install', () => (mark(), revisions.push(revisions.length + 1), { stdout: JSON.stringify({ ...JSON.parse(fixture('helm/upgrade-v3.json')), version: revisions.length }) })],
      ]);
    const r = await crashAndRerun('install_helm_chart', kps, 'helm', world);
    expect(r.outputs).toMatchObject({ revision: 4, previous_revision: 2 });
  });

  it('a first attempt that dies before it recorded anything leaves nothing to keep: the re-run looks itself', async () => {
    const store = observationStore();
    const world = router([
      ['version --short', { stdout: fixture('helm/version-v3.txt') }],
      [' history ', { exitCode: 1, stderr: 'Error: Kubernetes cluster unreachable: connection refused\n' }],
    ]);
    await expect(attempt('install_helm_chart', kps, store, 'helm', world)).rejects.toMatchObject({ errorCode: 'k8s_api_unavailable' });
    expect(store.persisted).toEqual({});
  });
});

describe('apply_kubernetes_manifest: killed during the apply', () => {
  it('previous_revision stays 0 for the Deployment the killed attempt created', async () => {
    const manifest = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 2 } };
    let revision = 0;
    const deployment = () => JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', annotations: { 'deployment.kubernetes.io/revision': String(revision) } } });
    const world = (mark: () => void) =>
      router([
        ['apply', () => (mark(), (revision = Math.max(revision, 1)), { stdout: 'deployment.apps/web\n' })],
        ['get deployment', () => ({ stdout: revision === 0 ? '' : deployment() })],
      ]);
    const r = await crashAndRerun('apply_kubernetes_manifest', { cluster: 'prod-k8s-01', namespace: 'production', manifest }, 'kubectl', world);
    expect(r.disk).toEqual({ previous_revision: 0 });
    expect(r.outputs).toEqual({ objects: ['deployment.apps/web'], deployment: 'web', previous_revision: 0, revision: 1 });
    expect(compensationFor(TALOS_SPECS, 'apply_kubernetes_manifest', { namespace: 'production', cluster: 'prod-k8s-01' }, r.outputs).params).toMatchObject({ deployment: 'web', revision: 0 });
  });
});

describe('scale_deployment: killed after the first scale', () => {
  it('previous_replicas are the replicas before the first attempt', async () => {
    const replicas: Record<string, number> = { api: 3, web: 2 };
    const list = () => JSON.stringify({ items: Object.entries(replicas).map(([name, n]) => ({ metadata: { name, namespace: 'production' }, spec: { replicas: n } })) });
    const world = (mark: () => void): Reply => (args) => {
      const line = args.join(' ');
      if (line.includes('get deployments')) return { stdout: list() };
      const m = /scale deployment\/(\S+) --replicas=(\d+)/.exec(line);
      if (m) {
        mark();
        replicas[m[1] as string] = Number(m[2]);
        return { stdout: `deployment.apps/${m[1]} scaled\n` };
      }
      return { exitCode: 127, stderr: `no route for ${line}` };
    };
    const params = { cluster: 'prod-k8s-01', namespace: 'production', selector: 'tier=front', replicas: 0 };
    const r = await crashAndRerun('scale_deployment', params, 'kubectl', (mark) => world(mark));
    expect(r.outputs).toEqual({ deployments: ['api', 'web'], previous_replicas: { api: 3, web: 2 }, replicas: { api: 0, web: 0 } });
  });

  it('a first attempt that failed its checks records nothing, so a retry after the fix sees the world as it is', async () => {
    const store = observationStore();
    const params = { cluster: 'prod-k8s-01', namespace: 'production', deployment: 'web', replicas: 0 };
    await expect(attempt('scale_deployment', params, store, 'kubectl', router([['get deployments', { stdout: '{"items":[]}' }]]))).rejects.toMatchObject({ errorCode: 'k8s_not_found' });
    expect(store.persisted).toEqual({});
    const again = await attempt('scale_deployment', params, store, 'kubectl', router([['get deployments', { stdout: JSON.stringify({ items: [{ metadata: { name: 'web' }, spec: { replicas: 4 } }] }) }], ['scale', { stdout: 'deployment.apps/web scaled\n' }]]));
    expect(again.outputs.previous_replicas).toEqual({ web: 4 });
  });
});

describe('cordon_node / drain_node: killed after the node was cordoned', () => {
  const node = (unschedulable: boolean) => JSON.stringify({ metadata: { name: 'worker-1' }, spec: unschedulable ? { unschedulable: true } : {} });

  it('cordon: was_cordoned stays false, so rollback uncordons', async () => {
    let cordoned = false;
    const world = (mark: () => void) =>
      router([
        ['get node', () => ({ stdout: node(cordoned) })],
        [' cordon ', () => {
          mark();
          const r = kubectlResult(cordoned ? '81-cordon-again' : '80-cordon');
          cordoned = true;
          return r;
        }],
      ]);
    const r = await crashAndRerun('cordon_node', { cluster: 'prod-k8s-01', node: 'worker-1' }, 'kubectl', world);
    expect(r.disk).toEqual({ was_cordoned: false });
    expect(r.outputs).toEqual({ node: 'worker-1', status: 'cordoned', was_cordoned: false });
    expect(compensationFor(TALOS_SPECS, 'cordon_node', { cluster: 'prod-k8s-01', node: 'worker-1' }, r.outputs).params).toMatchObject({ skip: false });
  });

  it('drain: kubectl drain cordons; the resumed attempt still says the node was not cordoned before', async () => {
    let cordoned = false;
    const world = (mark: () => void) =>
      router([
        ['get node', () => ({ stdout: node(cordoned) })],
        [' drain ', () => (mark(), (cordoned = true), kubectlResult('90-drain'))],
      ]);
    const r = await crashAndRerun('drain_node', { cluster: 'prod-k8s-01', node: 'worker-1' }, 'kubectl', world);
    expect(r.outputs).toMatchObject({ node: 'worker-1', was_cordoned: false });
    expect(r.calls.map((c) => c[3])).toEqual(['drain']);
  });
});

describe('upgrade_talos_node: killed during talosctl upgrade', () => {
  it('previous_version is the version before the first attempt; unchanged is false, so rollback runs', async () => {
    let upgraded = false;
    const world = (mark: () => void) =>
      router([
        [' upgrade ', () => (mark(), (upgraded = true), { stderr: 'watching nodes: [10.10.1.20]\n' })],
        [' version ', () => ({ stdout: fixture('talosctl/version.stdout').replace('Tag:         v1.6.1', upgraded ? 'Tag:         v1.6.2' : 'Tag:         v1.6.1') })],
      ]);
    const params = { cluster: 'prod-k8s-01', node: '10.10.1.20', image: 'ghcr.io/siderolabs/installer:v1.6.2' };
    const r = await crashAndRerun('upgrade_talos_node', params, 'talosctl', world);
    expect(r.outputs).toEqual({ node: '10.10.1.20', previous_version: 'v1.6.1', version: 'v1.6.2', unchanged: false });
    expect(r.calls[0]).toEqual(['talosctl', '--talosconfig', TC, 'upgrade', '-n', '10.10.1.20', '-e', '10.10.1.20', '--image', 'ghcr.io/siderolabs/installer:v1.6.2', '--wait', '--timeout', '1800s']);
    expect(compensationFor(TALOS_SPECS, 'upgrade_talos_node', params, r.outputs).params).toMatchObject({ skip: false });
  });
});

describe('create_namespace / verify_namespace_exists: killed during the apply', () => {
  const world = (state: { exists: boolean }) => (mark: () => void) =>
    router([
      ['get namespace', () => (state.exists ? { stdout: 'namespace/monitoring\n' } : kubectlResult('10-get-ns-missing'))],
      ['apply', () => (mark(), (state.exists = true), { stdout: 'namespace/monitoring\n' })],
    ]);

  it('created stays true', async () => {
    const r = await crashAndRerun('create_namespace', { cluster: 'prod-k8s-01', namespace: 'monitoring' }, 'kubectl', world({ exists: false }));
    expect(r.outputs).toEqual({ namespace: 'monitoring', created: true });
  });

  it('verify with create_if_missing: exists false, created true', async () => {
    const r = await crashAndRerun('verify_namespace_exists', { cluster: 'prod-k8s-01', namespace: 'monitoring', create_if_missing: true }, 'kubectl', world({ exists: false }));
    expect(r.outputs).toEqual({ namespace: 'monitoring', exists: false, created: true });
  });

  it('a plain verify records nothing: after a failure, a retry sees the namespace created meanwhile', async () => {
    const store = observationStore();
    const params = { cluster: 'prod-k8s-01', namespace: 'monitoring' };
    await expect(attempt('verify_namespace_exists', params, store, 'kubectl', router([['get namespace', kubectlResult('10-get-ns-missing')]]))).rejects.toMatchObject({ errorCode: 'namespace_not_found' });
    expect(store.get()).toEqual({});
    const again = await attempt('verify_namespace_exists', params, store, 'kubectl', router([['get namespace', { stdout: 'namespace/monitoring\n' }]]));
    expect(again.outputs).toEqual({ namespace: 'monitoring', exists: true, created: false });
    expect(again.calls).toEqual([[...K, 'get', 'namespace', 'monitoring', '--ignore-not-found', '-o', 'name']]);
  });
});
