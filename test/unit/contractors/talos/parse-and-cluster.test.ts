import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../../src/config/config.js';
import { kubectlArgs, nodeArgs, planCluster, resolveClusterWith, talosEndpointHost } from '../../../../src/contractors/talos/cluster.js';
import { goDuration, imageRepository, objectNames, parseEtcdSnapshot, parseJsonStream, parseServerVersion, parseToolJson } from '../../../../src/contractors/talos/parse.js';
import { classifyHelm, classifyKubectl, classifyTalos } from '../../../../src/contractors/talos/tool-errors.js';
import { parseHelmMajor } from '../../../../src/contractors/talos/helm.js';
import { baseConfig, fixture, kubectlResult } from './helpers.js';

describe('parseJsonStream (talosctl get -o json)', () => {
  it('splits concatenated indented objects, braces inside strings included', () => {
    const objs = parseJsonStream(fixture('talosctl/members.json')) as Array<{ spec: { hostname: string; addresses: string[] } }>;
    expect(objs.map((o) => o.spec.hostname)).toEqual(['k8s-cp-01', 'monitoring-node-01']);
    expect(objs[1]?.spec.addresses).toEqual(['10.10.20.11']);
  });
  it('is not fooled into JSON.parse of the whole stream', () => {
    expect(() => JSON.parse(fixture('talosctl/members.json'))).toThrow();
    expect(parseJsonStream('')).toEqual([]);
    expect(() => parseJsonStream('{"a": {')).toThrow(/unterminated/);
  });
});

describe('tool output parsers', () => {
  it('etcd snapshot lines', () => {
    expect(parseEtcdSnapshot(fixture('talosctl/etcd-snapshot.stdout'))).toEqual({
      path: '/backups/prod-k8s-01/etcd-20261125T120000Z.db',
      bytes: 2015264,
      hash: 'c25fd181',
      revision: 4193,
      totalKeys: 1287,
      totalSize: 3035136,
    });
    expect(parseEtcdSnapshot('nothing')).toBeUndefined();
  });
  it('talosctl version Server tag', () => {
    expect(parseServerVersion(fixture('talosctl/version.stdout'))).toBe('v1.6.1');
  });
  it('Go durations for helm --timeout', () => {
    expect([goDuration(45), goDuration(600), goDuration(90), goDuration(3600), goDuration(900)]).toEqual(['45s', '10m0s', '1m30s', '1h0m0s', '15m0s']);
  });
  it('kubectl -o name lines and image repositories', () => {
    expect(objectNames(kubectlResult('21-apply-ssa-deploy-created').stdout as string)).toEqual(['deployment.apps/web']);
    expect(imageRepository('ghcr.io/x/api:1.2.3@sha256:abc')).toBe('ghcr.io/x/api');
    expect(imageRepository('registry:5000/app')).toBe('registry:5000/app');
    expect(imageRepository('nginx:1.25')).toBe('nginx');
  });
  it('tool JSON after a status line', () => {
    expect(parseToolJson<{ version: number }>('x', `Release "a" does not exist. Installing it now.\n${fixture('helm/upgrade-v3.json')}`).version).toBe(1);
  });
  it('helm major from version --short', () => {
    expect(parseHelmMajor(fixture('helm/version-v3.txt'))).toBe(3);
    expect(parseHelmMajor(fixture('helm/version-v4.txt'))).toBe(4);
  });
});

describe('error classification', () => {
  it('kubectl texts from the real kubectl', () => {
    expect(classifyKubectl(kubectlResult('44-rollout-status-timeout').stderr as string)?.errorCode).toBe('deployment_rollout_timeout');
    expect(classifyKubectl(kubectlResult('46-rollout-status-deadline').stderr as string)?.errorCode).toBe('deployment_progress_deadline_exceeded');
    expect(classifyKubectl(kubectlResult('92-drain-pdb-429').stderr as string)?.errorCode).toBe('pod_eviction_timeout');
    expect(classifyKubectl(kubectlResult('B-apply-409-Conflict').stderr as string)?.errorCode).toBe('k8s_conflict');
    expect(classifyKubectl(kubectlResult('B-apply-403-Forbidden').stderr as string)?.errorCode).toBe('k8s_forbidden');
    expect(classifyKubectl(kubectlResult('83-cordon-missing').stderr as string)?.errorCode).toBe('k8s_not_found');
    expect(classifyKubectl(kubectlResult('13-create-ns-again').stderr as string)?.errorCode).toBe('k8s_already_exists');
    expect(classifyKubectl(kubectlResult('B-get-500').stderr as string)).toMatchObject({ errorCode: 'k8s_api_unavailable', retryable: true });
    expect(classifyKubectl('The connection to the server localhost:8080 was refused - did you specify the right host or port?')?.retryable).toBe(true);
  });
  it('talosctl and helm texts', () => {
    expect(classifyTalos(fixture('talosctl/bootstrap-not-ready.stderr'))).toMatchObject({ errorCode: 'talos_not_ready', retryable: true });
    expect(classifyTalos(fixture('talosctl/unavailable.stderr'))).toMatchObject({ errorCode: 'talos_unavailable', retryable: true });
    expect(classifyHelm(fixture('helm/upgrade-failed-atomic-v3.stderr'))).toMatchObject({ errorCode: 'helm_install_failed', retryable: true });
    expect(classifyHelm(fixture('helm/repo-not-found.stderr'))).toMatchObject({ errorCode: 'helm_install_failed', retryable: false });
    expect(classifyHelm(fixture('helm/release-not-found.stderr'))?.errorCode).toBe('helm_release_not_found');
  });
});

describe('cluster resolution', () => {
  const config = resolveConfig(baseConfig(), {}, null);
  it('uses clusters.<name>, else clusters.default with its context', () => {
    const prod = resolveClusterWith(config, 'prod-k8s-01', undefined, () => false);
    expect(kubectlArgs(prod, 'get', 'nodes')).toEqual(['--kubeconfig', '/etc/cortex/prod.kubeconfig', 'get', 'nodes']);
    expect(prod.dir).toBe('/etc/cortex/clusters/prod-k8s-01');
    const other = resolveClusterWith(config, 'staging-k8s', undefined, () => false);
    expect(kubectlArgs(other, 'get', 'nodes')).toEqual(['--kubeconfig', '/etc/cortex/default.kubeconfig', '--context', 'lab', 'get', 'nodes']);
    expect(other.talosconfig).toBe('/etc/cortex/default.talosconfig');
  });
  it('prefers files generated for a cluster that is not in the config', () => {
    const made = new Set(['/etc/cortex/clusters/prod-k8s-02/talosconfig', '/etc/cortex/clusters/prod-k8s-02/kubeconfig']);
    const t = resolveClusterWith(config, 'prod-k8s-02', undefined, (p) => made.has(p));
    expect(t.talosconfig).toBe('/etc/cortex/clusters/prod-k8s-02/talosconfig');
    expect(kubectlArgs(t, 'get', 'nodes')).toEqual(['--kubeconfig', '/etc/cortex/clusters/prod-k8s-02/kubeconfig', 'get', 'nodes']);
  });
  it('falls back to the coordination root\'s clusters directory when no talosconfig is configured', () => {
    const t = resolveClusterWith(resolveConfig({}, {}, null), 'x', '/home/op/coord/clusters', () => false);
    expect(t.dir).toBe('/home/op/coord/clusters/x');
    expect(t.base).toBe('/home/op/coord');
    expect(resolveClusterWith(resolveConfig({}, {}, null), 'x', undefined, () => false)).toMatchObject({ dir: '<root>/clusters/x', base: '<root>' });
    expect(() => kubectlArgs(t)).toThrow(/no kubeconfig for cluster "x"/);
  });
  it('plans without looking at the disk: a dry-run shows the configured files, not generated ones', () => {
    const base = mkdtempSync(join(tmpdir(), 'talos-plan-'));
    mkdirSync(join(base, 'clusters', 'prod-k8s-02'), { recursive: true });
    for (const f of ['talosconfig', 'kubeconfig']) writeFileSync(join(base, 'clusters', 'prod-k8s-02', f), 'x');
    const cfg = resolveConfig({ clusters: { default: { talosconfig: join(base, 'talosconfig'), kubeconfig: join(base, 'kc') } } }, {}, null);
    expect(planCluster(cfg, { cluster: 'prod-k8s-02' })).toMatchObject({ talosconfig: join(base, 'talosconfig'), kubeconfig: join(base, 'kc'), dir: join(base, 'clusters', 'prod-k8s-02') });
    expect(planCluster(resolveConfig({}, {}, null), { cluster: 'x' })).toMatchObject({ dir: '<root>/clusters/x', base: '<root>' });
  });
  it('-n/-e: the node is its own endpoint unless one is given', () => {
    const t = resolveClusterWith(config, 'prod-k8s-01', undefined, () => false);
    expect(nodeArgs(t, '10.10.1.10', undefined)).toEqual(['-n', '10.10.1.10', '-e', '10.10.1.10']);
    expect(nodeArgs(t, '10.10.1.20', 'https://10.10.1.100:6443')).toEqual(['-n', '10.10.1.20', '-e', '10.10.1.100']);
    expect(talosEndpointHost('10.0.0.5:50001')).toBe('10.0.0.5:50001');
  });
});
