/**
 * Runs the real kubectl (/usr/bin/kubectl, client only, no cluster) on what the adapters produce:
 * rendered manifests through offline `--local` commands (typed decoding), and every argv shape
 * through kubectl's flag parser (with a missing --kubeconfig, a valid command line fails only on
 * `stat`, an invalid one with `unknown flag`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { imagePatch } from '../../../../src/contractors/talos/apply-security-patches.js';
import { captureArgs, logArgs } from '../../../../src/contractors/talos/capture-cluster-state.js';
import { isolateArgs } from '../../../../src/contractors/talos/apply-network-policy.js';
import { unlabelArgs } from '../../../../src/contractors/talos/delete-network-policy.js';
import { drainArgs, holdArgs } from '../../../../src/contractors/talos/drain-node.js';
import { applyArgs, manifestStream } from '../../../../src/contractors/talos/kube.js';
import { getNamespaceArgs, namespaceManifest } from '../../../../src/contractors/talos/namespaces.js';
import { defaultDenyPolicy, renderNetworkPolicy } from '../../../../src/contractors/talos/network-policy.js';
import { rolloutStatusArgs } from '../../../../src/contractors/talos/rollout.js';
import { KEY_NAMES_TEMPLATE } from '../../../../src/contractors/talos/verify-secrets.js';
import { renderChart, resolveChart } from '../../../../src/lab/helm/charts.js';

const KUBECTL = '/usr/bin/kubectl';
const HAVE = existsSync(KUBECTL);

// One private HOME/cache for this file; KUBECONFIG points to a file that does not exist.
const home = mkdtempSync(join(tmpdir(), 'kubectl-home-'));

function kubectl(args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(KUBECTL, args, {
    input,
    encoding: 'utf8',
    timeout: 10_000,
    env: { PATH: process.env.PATH ?? '/usr/bin', HOME: home, KUBECACHEDIR: join(home, 'cache'), KUBECONFIG: join(home, 'missing-kubeconfig') },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, asynchronously, so many checks run in parallel (each kubectl start costs ~80 ms). */
function kubectlAsync(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(KUBECTL, args, { env: { PATH: process.env.PATH ?? '/usr/bin', HOME: home, KUBECACHEDIR: join(home, 'cache'), KUBECONFIG: join(home, 'missing-kubeconfig') } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

describe.skipIf(!HAVE)('real kubectl accepts the manifests cortex renders', () => {
  it('Namespace: same shape as kubectl create namespace, labels survive kubectl label --local', () => {
    const gen = JSON.parse(kubectl(['create', 'namespace', 'monitoring', '--dry-run=client', '-o', 'json']).stdout) as Record<string, unknown>;
    const ours = namespaceManifest('monitoring', { 'pod-security.kubernetes.io/enforce': 'privileged' });
    expect([ours.apiVersion, ours.kind, (ours.metadata as { name: string }).name]).toEqual([gen.apiVersion, gen.kind, (gen.metadata as { name: string }).name]);
    const r = kubectl(['label', '--local', '-f', '-', 'cortex.dev/checked=yes', '-o', 'json'], manifestStream([ours]));
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).metadata.labels).toEqual({ 'pod-security.kubernetes.io/enforce': 'privileged', 'cortex.dev/checked': 'yes' });
  });

  it('NetworkPolicies decode as networking.k8s.io/v1 objects', () => {
    const policies = [
      defaultDenyPolicy('production'),
      renderNetworkPolicy({
        name: 'web-allow',
        namespace: 'production',
        podSelector: { app: 'web' },
        ingress: [{ from: [{ pod_selector: { app: 'lb' }, namespace_selector: { team: 'edge' } }, { ip_block: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }], ports: [{ port: 8080 }, { port: 'https', protocol: 'TCP' }, { port: 30000, end_port: 30010 }] }],
        egress: [{ to: [{ dns_selector: true }], ports: [{ port: 53, protocol: 'UDP' }] }],
      }),
    ];
    const r = kubectl(['label', '--local', '-f', '-', 'x=y', '-o', 'json'], manifestStream(policies));
    expect(r.code).toBe(0);
    // `set selector` decodes into the typed NetworkPolicy before refusing (it only edits Services):
    // a wrong field type would fail with "unable to decode" instead.
    const typed = kubectl(['set', 'selector', '--local', '-f', '-', 'a=b', '-o', 'json'], manifestStream(policies));
    expect(typed.stderr).toContain('setting a selector is only supported for Services');
    expect(typed.stderr).not.toContain('unable to decode');
    const broken = kubectl(['set', 'selector', '--local', '-f', '-', 'a=b'], manifestStream([{ ...policies[0], spec: { podSelector: {}, ingress: [{ ports: [{ port: { bad: 1 } }] }] } }]));
    expect(broken.stderr).toContain('unable to decode');
  });

  it('the lab charts render objects kubectl decodes (Deployment, StatefulSet, DaemonSet, Service)', async () => {
    const checks: Array<Promise<[string, { code: number | null; stderr: string }]>> = [];
    for (const name of ['kube-prometheus-stack', 'cilium', 'ingress-nginx', 'cert-manager', 'ceph-csi-rbd', 'web-api']) {
      const chart = resolveChart(name === 'web-api' ? 'charts/web-api' : `repo/${name}`, undefined, undefined, '/');
      const objects = renderChart(chart, name, 'ns1', name === 'ingress-nginx' ? { controller: { kind: 'DaemonSet', service: { type: 'NodePort', nodePorts: { http: 30080, https: 30443 } } } } : {});
      const services = objects.filter((o) => o.kind === 'Service');
      const workloads = objects.filter((o) => o.kind !== 'Service');
      if (services.length > 0) checks.push(kubectlAsync(['set', 'selector', '--local', '-f', '-', 'app=x', '-o', 'name'], manifestStream(services)).then((r) => [`${name} services`, r]));
      checks.push(kubectlAsync(['set', 'image', '--local', '-f', '-', '*=example/img:1', '-o', 'name'], manifestStream(workloads)).then((r) => [`${name} workloads`, r]));
    }
    for (const [what, r] of await Promise.all(checks)) expect([what, r.code, r.stderr]).toEqual([what, 0, '']);
  });

  it('the security image patch decodes as a Deployment', () => {
    const r = kubectl(['set', 'image', '--local', '-f', '-', 'api=x:2', '-o', 'json'], JSON.stringify(imagePatch({ kind: 'Deployment', namespace: 'p', name: 'api', containers: [{ name: 'api', image: 'x:1' }] })));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).spec.template.spec.containers).toEqual([{ name: 'api', image: 'x:2', resources: {} }]);
  });
});

describe.skipIf(!HAVE)('real kubectl parses every argv shape the adapters use', () => {
  const missing = '/nonexistent/cortex-test/kubeconfig';
  const shapes: string[][] = [
    applyArgs({}),
    applyArgs({ namespace: 'production', forceConflicts: true }),
    applyArgs({ fieldManager: 'cortex-security', forceConflicts: true }),
    getNamespaceArgs('monitoring'),
    rolloutStatusArgs('deployment', 'web', 'production', 300),
    rolloutStatusArgs('statefulset', 'prometheus', 'monitoring', 600),
    drainArgs({ cluster: 'c', node: 'w1', delete_emptydir_data: true, force: true, grace_period_seconds: 30, pod_selector: 'app=web', timeout_seconds: 60 } as never),
    drainArgs({ cluster: 'c', node: 'w1', preserve_forensics: true, pod_selector: 'tier=api' } as never),
    holdArgs([{ pod: 'production/web-1', reason: 'emptyDir data' }, { pod: 'production/debug', reason: 'no controller' }])[0]!.args,
    logArgs('web-1', 'production', 1000),
    captureArgs('pod_list', { cluster: 'c', node: 'w1' } as never),
    captureArgs('events', { cluster: 'c', namespace: 'production' } as never),
    captureArgs('network_policies', { cluster: 'c' } as never),
    ['get', 'secrets', '-n', 'production', '-o', 'name'],
    ['get', 'secret', 'db', '-n', 'production', '-o', `go-template=${KEY_NAMES_TEMPLATE}`],
    ['get', 'deployment', 'web', '-n', 'production', '--ignore-not-found', '-o', 'json'],
    ['get', 'deployment', '-n', 'production', '-l', 'cortex.dev/failover=true', '-o', 'name'],
    ['get', 'deployments,statefulsets,daemonsets', '--all-namespaces', '-o', 'json'],
    ['get', 'networkpolicies', '--all-namespaces', '--field-selector', 'metadata.name=iso', '-o', 'json'],
    ['rollout', 'undo', 'deployment/web', '-n', 'production', '--to-revision=3'],
    ['delete', 'deployment', 'web', '-n', 'production', '--ignore-not-found', '-o', 'name'],
    ['delete', 'networkpolicy', 'iso', '-n', 'production', '--ignore-not-found', '-o', 'name'],
    ['delete', 'pvc', '-n', 'monitoring', '-l', 'app.kubernetes.io/instance=kps', '--ignore-not-found', '-o', 'name'],
    ['delete', 'node', 'w1', '--ignore-not-found'],
    ['scale', 'deployment/web', '--replicas=3', '-n', 'production'],
    ['cordon', 'w1'],
    ['uncordon', 'w1'],
    ['label', 'node', 'w1', 'w2', 'cortex.dev/role=monitoring', '--overwrite'],
    ['label', 'pod', 'p1', '-n', 'production', 'cortex.dev/isolate=iso', '--overwrite'],
    ['label', 'pods', '-n', 'production', '-l', 'cortex.dev/isolate=iso', 'cortex.dev/isolate-'],
    ...isolateArgs(`cortex-isolate-${'x'.repeat(60)}`, 'production', ['p1', 'p2']),
    ...unlabelArgs(`cortex-isolate-${'x'.repeat(60)}`, 'production'),
    ['label', 'namespace', 'default', 'production', 'pod-security.kubernetes.io/enforce=restricted', '--overwrite'],
    ['taint', 'node', 'w1', 'dedicated=monitoring:NoSchedule', '--overwrite'],
    ['get', 'nodes', '-o', 'json'],
  ];
  it('every shape gets past the flag parser (fails only on the missing kubeconfig)', async () => {
    const results = await Promise.all(shapes.map((args) => kubectlAsync(['--kubeconfig', missing, ...args], '{}').then((r) => [args.join(' '), r.stderr.trim()])));
    for (const [line, stderr] of results) expect([line, stderr]).toEqual([line, `error: stat ${missing}: no such file or directory`]);
  });
  it('a wrong flag is caught the same way (the check works)', () => {
    expect(kubectl(['--kubeconfig', missing, 'rollout', 'status', 'deployment/x', '--watchh=false']).stderr).toContain('unknown flag: --watchh');
  });
});
