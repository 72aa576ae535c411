import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ActionFailedError } from '../../../../src/errors.js';
import { isolationLabelValue } from '../../../../src/contractors/talos/network-policy.js';
import { engineScratch, harness, KC, kubectlResult, router } from './helpers.js';

async function failure(p: Promise<unknown>): Promise<ActionFailedError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ActionFailedError) return e;
    throw e;
  }
  throw new Error('expected the action to fail');
}

const K = ['kubectl', '--kubeconfig', KC];

const deployment = (name: string, revision: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'production', annotations: { 'deployment.kubernetes.io/revision': String(revision) } },
    spec: { replicas: 3, selector: { matchLabels: { app: name } } },
    ...extra,
  });

describe('create_namespace / verify_namespace_exists', () => {
  it('applies a Namespace with server-side apply on stdin (never `create namespace`)', async () => {
    const h = await harness('create_namespace', { cluster: 'prod-k8s-01', namespace: 'monitoring', labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } });
    h.deps.runner.on('kubectl', [], router([['get namespace', kubectlResult('10-get-ns-missing')], ['apply', { stdout: 'namespace/monitoring\n' }]]));
    expect(await h.impl.run(h.rt)).toEqual({ namespace: 'monitoring', created: true });
    expect(h.calls()).toEqual([
      [...K, 'get', 'namespace', 'monitoring', '--ignore-not-found', '-o', 'name'],
      [...K, 'apply', '--server-side', '--field-manager=cortex', '-f', '-', '-o', 'name'],
    ]);
    expect(JSON.parse(h.inputs()[1] as string)).toEqual({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'monitoring', labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } } });
  });

  it('verify: exists, missing (fails), missing + create_if_missing', async () => {
    const a = await harness('verify_namespace_exists', { cluster: 'prod-k8s-01', namespace: 'production' });
    a.deps.runner.on('kubectl', [], { stdout: 'namespace/production\n' });
    expect(await a.impl.run(a.rt)).toEqual({ namespace: 'production', exists: true, created: false });
    const b = await harness('verify_namespace_exists', { cluster: 'prod-k8s-01', namespace: 'production' });
    b.deps.runner.on('kubectl', [], kubectlResult('10-get-ns-missing'));
    expect((await failure(b.impl.run(b.rt))).errorCode).toBe('namespace_not_found');
    const c = await harness('verify_namespace_exists', { cluster: 'prod-k8s-01', namespace: 'staging', create_if_missing: true, labels: { 'cortex.dev/environment': 'staging' } });
    c.deps.runner.on('kubectl', [], router([['get namespace', kubectlResult('10-get-ns-missing')], ['apply', { stdout: 'namespace/staging\n' }]]));
    expect(await c.impl.run(c.rt)).toEqual({ namespace: 'staging', exists: false, created: true });
    expect(JSON.parse(c.inputs()[1] as string).metadata).toEqual({ name: 'staging', labels: { 'cortex.dev/environment': 'staging' } });
  });
});

describe('verify_secrets', () => {
  it('checks names with -o name and keys with a go-template (values never read)', async () => {
    const h = await harness('verify_secrets', { cluster: 'prod-k8s-01', namespace: 'production', required_secrets: ['db-credentials', 'api-keys'], required_keys: { 'db-credentials': ['username', 'password'] } });
    h.deps.runner.on('kubectl', [], router([['get secrets', { stdout: 'secret/db-credentials\nsecret/other\n' }], ['get secret db-credentials', { stdout: 'username\n' }]]));
    const e = await failure(h.impl.run(h.rt));
    expect([e.errorCode, e.message]).toEqual(['secrets_missing', 'missing in namespace production: api-keys, db-credentials/password']);
    expect(h.calls()).toEqual([
      [...K, 'get', 'secrets', '-n', 'production', '-o', 'name'],
      [...K, 'get', 'secret', 'db-credentials', '-n', 'production', '-o', 'go-template={{range $k, $v := .data}}{{$k}}{{"\\n"}}{{end}}'],
    ]);
  });
});

describe('apply_kubernetes_manifest', () => {
  it('records the previous revision, applies with SSA and -n, and outputs the applied names', async () => {
    const manifest = [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web-api' }, spec: { ports: [{ port: 80 }] } },
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web-api', namespace: 'production' }, spec: { replicas: 3 } },
    ];
    const h = await harness('apply_kubernetes_manifest', { cluster: 'prod-k8s-01', namespace: 'production', manifest });
    h.deps.runner.on('kubectl', [], router([
      ['apply', { stdout: 'service/web-api\ndeployment.apps/web-api\n' }],
      ['get deployment', { stdout: deployment('web-api', 4) }],
    ]));
    h.deps.runner.on('kubectl', [...K.slice(1), 'get'], { stdout: deployment('web-api', 4) }, { stdout: deployment('web-api', 5) });
    expect(await h.impl.run(h.rt)).toEqual({ objects: ['service/web-api', 'deployment.apps/web-api'], deployment: 'web-api', previous_revision: 4, revision: 5 });
    expect(h.calls()).toEqual([
      [...K, 'get', 'deployment', 'web-api', '-n', 'production', '--ignore-not-found', '-o', 'json'],
      [...K, 'apply', '--server-side', '--field-manager=cortex', '-n', 'production', '-f', '-', '-o', 'name'],
      [...K, 'get', 'deployment', 'web-api', '-n', 'production', '--ignore-not-found', '-o', 'json'],
    ]);
    expect((h.inputs()[1] as string).split('\n').filter(Boolean).map((l) => JSON.parse(l))).toEqual(manifest);
  });

  it('a new deployment has previous_revision 0; a conflict names --force-conflicts', async () => {
    const h = await harness('apply_kubernetes_manifest', { cluster: 'prod-k8s-01', namespace: 'production', manifest: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' } }, force_conflicts: true });
    h.deps.runner.on('kubectl', [], router([['apply', kubectlResult('B-apply-409-Conflict')], ['get deployment', { stdout: '' }]]));
    const e = await failure(h.impl.run(h.rt));
    expect(e.errorCode).toBe('k8s_conflict');
    expect(e.hint).toMatch(/force_conflicts/);
    expect(h.calls()[1]).toEqual([...K, 'apply', '--server-side', '--field-manager=cortex', '--force-conflicts', '-n', 'production', '-f', '-', '-o', 'name']);
  });
});

describe('wait_for_rollout', () => {
  it('rollout status with --timeout (never --watch=false)', async () => {
    const h = await harness('wait_for_rollout', { cluster: 'prod-k8s-01', namespace: 'monitoring', deployment: 'prometheus-kube-prometheus-stack-prometheus', kind: 'statefulset', timeout: 600 }, { timeoutMs: 3_600_000 });
    h.deps.runner.on('kubectl', [], { stdout: 'partitioned roll out complete: 1 new pods have been updated...\n' });
    expect(await h.impl.run(h.rt)).toEqual({ deployment: 'prometheus-kube-prometheus-stack-prometheus', resources: ['statefulset/prometheus-kube-prometheus-stack-prometheus'], message: 'partitioned roll out complete: 1 new pods have been updated...' });
    expect(h.calls()).toEqual([[...K, 'rollout', 'status', 'statefulset/prometheus-kube-prometheus-stack-prometheus', '-n', 'monitoring', '--timeout=600s']]);
    expect(h.deps.runner.calls[0]?.options?.timeoutMs).toBe(630_000);
  });

  it('maps the real timeout and progress-deadline texts', async () => {
    for (const [tag, code] of [['44-rollout-status-timeout', 'deployment_rollout_timeout'], ['46-rollout-status-deadline', 'deployment_progress_deadline_exceeded']] as const) {
      const h = await harness('wait_for_rollout', { cluster: 'prod-k8s-01', namespace: 'production', deployment: 'web' });
      h.deps.runner.on('kubectl', [], kubectlResult(tag));
      expect((await failure(h.impl.run(h.rt))).errorCode).toBe(code);
    }
  });

  it('a selector waits for each matching workload', async () => {
    const h = await harness('wait_for_rollout', { cluster: 'dr-k8s-01', namespace: 'production', selector: 'cortex.dev/failover=true', timeout: 480 });
    h.deps.runner.on('kubectl', [], router([['get deployment', { stdout: 'deployment.apps/api\ndeployment.apps/web\n' }], ['rollout status', kubectlResult('40-rollout-status-complete')]]));
    const out = await h.impl.run(h.rt);
    expect(out.resources).toEqual(['deployment/api', 'deployment/web']);
    const kd = ['kubectl', '--kubeconfig', '/etc/cortex/default.kubeconfig', '--context', 'lab'];
    expect(h.calls()).toEqual([
      [...kd, 'get', 'deployment', '-n', 'production', '-l', 'cortex.dev/failover=true', '-o', 'name'],
      [...kd, 'rollout', 'status', 'deployment/api', '-n', 'production', '--timeout=480s'],
      [...kd, 'rollout', 'status', 'deployment/web', '-n', 'production', '--timeout=480s'],
    ]);
  });
});

describe('verify_pod_health', () => {
  const pods = kubectlResult('70-get-pods-label').stdout as string;
  it('reads the real pod list, node IPs and nodePorts', async () => {
    const h = await harness('verify_pod_health', { cluster: 'prod-k8s-01', namespace: 'monitoring', deployment: 'web', expected_replicas: 1 });
    const parsed = JSON.parse(pods) as { items: Array<{ spec: { nodeName?: string } }> };
    const node = parsed.items[0]?.spec.nodeName ?? 'worker-1';
    h.deps.runner.on('kubectl', [], router([
      ['get deployment web', { stdout: deployment('web', 1) }],
      ['get pods', { stdout: pods }],
      ['get nodes', { stdout: JSON.stringify({ items: [{ metadata: { name: node }, status: { addresses: [{ type: 'InternalIP', address: '10.10.1.20' }] } }] }) }],
      ['get service web', { stdout: JSON.stringify({ spec: { ports: [{ port: 80, nodePort: 30080 }] } }) }],
    ]));
    const out = await h.impl.run(h.rt);
    expect(out).toMatchObject({ healthy: true, total_pods: parsed.items.length, unhealthy_pods: [], node_ports: [30080] });
    expect(h.calls()[1]).toEqual([...K, 'get', 'pods', '-n', 'monitoring', '-l', 'app=web', '-o', 'json']);
  });

  it('no pods, crash loops and fractions fail', async () => {
    const h = await harness('verify_pod_health', { cluster: 'prod-k8s-01', namespace: 'monitoring', selector: 'app=web' });
    h.deps.runner.on('kubectl', [], kubectlResult('71-get-pods-label-none'));
    const e = await failure(h.impl.run(h.rt));
    expect([e.errorCode, e.message]).toEqual(['pod_health_check_failed', 'pod health check failed: no pods match app=web in monitoring']);
    const crash = JSON.stringify({ items: [
      { metadata: { name: 'a' }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } },
      { metadata: { name: 'b' }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ name: 'c', state: { waiting: { reason: 'CrashLoopBackOff' } } }] } },
    ] });
    const h2 = await harness('verify_pod_health', { cluster: 'prod-k8s-01', namespace: 'production', selector: 'app=web', all_ready_required: false, min_ready_fraction: 0.5 });
    h2.deps.runner.on('kubectl', [], router([['get pods', { stdout: crash }], ['get nodes', { stdout: '{"items":[]}' }]]));
    expect(await h2.impl.run(h2.rt)).toMatchObject({ healthy: true, ready_replicas: 1, total_pods: 2, unhealthy_pods: ['b'] });
    const h3 = await harness('verify_pod_health', { cluster: 'prod-k8s-01', namespace: 'production', selector: 'app=web' });
    h3.deps.runner.on('kubectl', [], router([['get pods', { stdout: crash }], ['get nodes', { stdout: '{"items":[]}' }]]));
    expect((await failure(h3.impl.run(h3.rt))).message).toContain('unhealthy: b (CrashLoopBackOff)');
  });
});

describe('rollback_kubernetes_deployment', () => {
  it('undo (previous), wait, read the revision', async () => {
    const h = await harness('rollback_kubernetes_deployment', { cluster: 'prod-k8s-01', namespace: 'production', deployment: 'web-api', revision: 'previous' });
    h.deps.runner.on('kubectl', [], router([['rollout undo', { stdout: 'deployment.apps/web-api rolled back\n' }], ['rollout status', kubectlResult('40-rollout-status-complete')], ['get deployment', { stdout: deployment('web-api', 6) }]]));
    expect(await h.impl.run(h.rt)).toEqual({ deployment: 'web-api', revision: 6, rolled_back: true, deleted: false });
    expect(h.calls()).toEqual([
      [...K, 'rollout', 'undo', 'deployment/web-api', '-n', 'production'],
      [...K, 'rollout', 'status', 'deployment/web-api', '-n', 'production', '--timeout=300s'],
      [...K, 'get', 'deployment', 'web-api', '-n', 'production', '--ignore-not-found', '-o', 'json'],
    ]);
  });
  it('--to-revision=N; revision 0 deletes', async () => {
    const h = await harness('rollback_kubernetes_deployment', { cluster: 'prod-k8s-01', namespace: 'production', deployment: 'web', revision: 3, wait: false });
    h.deps.runner.on('kubectl', [], router([['rollout undo', { stdout: 'deployment.apps/web skipped rollback (current template already matches revision 3)\n' }], ['get deployment', { stdout: deployment('web', 3) }]]));
    expect(await h.impl.run(h.rt)).toMatchObject({ rolled_back: false, revision: 3 });
    expect(h.calls()[0]).toEqual([...K, 'rollout', 'undo', 'deployment/web', '-n', 'production', '--to-revision=3']);
    const z = await harness('rollback_kubernetes_deployment', { cluster: 'prod-k8s-01', namespace: 'production', deployment: 'web', revision: 0 });
    z.deps.runner.on('kubectl', [], { stdout: 'deployment.apps/web\n' });
    expect(await z.impl.run(z.rt)).toEqual({ deployment: 'web', revision: 0, rolled_back: false, deleted: true });
    expect(z.calls()).toEqual([[...K, 'delete', 'deployment', 'web', '-n', 'production', '--ignore-not-found', '-o', 'name']]);
  });
});

describe('scale_deployment', () => {
  it('records replicas, scales each matching deployment and outputs the compensation map', async () => {
    const h = await harness('scale_deployment', { cluster: 'prod-k8s-01', namespace: 'production', selector: 'cortex.dev/failover=true', replicas: 3, wait: true });
    const list = JSON.stringify({ items: [JSON.parse(deployment('api', 2)), { ...JSON.parse(deployment('web', 1)), spec: { replicas: 0 } }] });
    h.deps.runner.on('kubectl', [], router([['get deployments', { stdout: list }], ['scale', { stdout: 'deployment.apps/x scaled\n' }], ['rollout status', kubectlResult('40-rollout-status-complete')]]));
    expect(await h.impl.run(h.rt)).toEqual({ deployments: ['api', 'web'], previous_replicas: { api: 3, web: 0 }, replicas: { api: 3, web: 3 } });
    expect(h.calls().slice(0, 3)).toEqual([
      [...K, 'get', 'deployments', '-n', 'production', '-l', 'cortex.dev/failover=true', '-o', 'json'],
      [...K, 'scale', 'deployment/api', '--replicas=3', '-n', 'production'],
      [...K, 'scale', 'deployment/web', '--replicas=3', '-n', 'production'],
    ]);
  });
});

describe('cordon / uncordon / drain', () => {
  const node = (unschedulable: boolean) => JSON.stringify({ metadata: { name: 'worker-1' }, spec: unschedulable ? { unschedulable: true } : {} });
  it('cordon reports was_cordoned from spec.unschedulable read before the cordon', async () => {
    for (const [tag, was] of [['80-cordon', false], ['81-cordon-again', true]] as const) {
      const h = await harness('cordon_node', { cluster: 'prod-k8s-01', node: 'worker-1' });
      const gets = [node(was), node(true)];
      h.deps.runner.on('kubectl', [], router([['cordon', kubectlResult(tag)], ['get node', () => ({ stdout: gets.shift() as string })]]));
      expect(await h.impl.run(h.rt)).toEqual({ node: 'worker-1', status: 'cordoned', was_cordoned: was });
      const get = [...K, 'get', 'node', 'worker-1', '-o', 'json'];
      expect(h.calls()).toEqual([get, [...K, 'cordon', 'worker-1'], get]);
    }
  });
  it('cordon of a missing node fails with k8s_not_found before cordoning', async () => {
    const h = await harness('cordon_node', { cluster: 'prod-k8s-01', node: 'worker-9' });
    h.deps.runner.on('kubectl', [], kubectlResult('83-cordon-missing'));
    expect((await failure(h.impl.run(h.rt))).errorCode).toBe('k8s_not_found');
    expect(h.calls()).toEqual([[...K, 'get', 'node', 'worker-9', '-o', 'json']]);
  });
  it('uncordon: skip does nothing; a missing node needs nothing', async () => {
    const s = await harness('uncordon_node', { cluster: 'prod-k8s-01', node: 'worker-1', skip: true });
    expect(await s.impl.run(s.rt)).toEqual({ node: 'worker-1', status: 'skipped' });
    expect(s.calls()).toEqual([]);
    const m = await harness('uncordon_node', { cluster: 'prod-k8s-01', node: 'worker-9' });
    m.deps.runner.on('kubectl', [], kubectlResult('83-cordon-missing'));
    expect(await m.impl.run(m.rt)).toEqual({ node: 'worker-9', status: 'not_found' });
    const u = await harness('uncordon_node', { cluster: 'prod-k8s-01', node: 'worker-1' });
    u.deps.runner.on('kubectl', [], router([['uncordon', kubectlResult('82-uncordon')], ['get node', { stdout: node(false) }]]));
    expect(await u.impl.run(u.rt)).toEqual({ node: 'worker-1', status: 'schedulable' });
  });
  it('drain parses the real output; pending nodes is pod_eviction_timeout', async () => {
    const h = await harness('drain_node', { cluster: 'prod-k8s-01', node: 'worker-1', delete_emptydir_data: true, timeout_seconds: 30 });
    h.deps.runner.on('kubectl', [], router([['get node', { stdout: node(false) }], ['drain', kubectlResult('90-drain')]]));
    expect(await h.impl.run(h.rt)).toEqual({ node: 'worker-1', evacuated_pods: 1, evicted: ['monitoring/web-7b9f8c5d4f-abcde'], left_pods: [], forensics_path: null, was_cordoned: false });
    expect(h.calls()[1]).toEqual([...K, 'drain', 'worker-1', '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=30s']);
    const f = await harness('drain_node', { cluster: 'prod-k8s-01', node: 'worker-1' });
    f.deps.runner.on('kubectl', [], router([['get node', { stdout: node(true) }], ['drain', kubectlResult('92-drain-pdb-429')]]));
    const e = await failure(f.impl.run(f.rt));
    expect([e.errorCode, e.retryable]).toEqual(['pod_eviction_timeout', true]);
  });
  it('preserve_forensics saves pods and logs first and never forces', async () => {
    const { root } = engineScratch();
    const h = await harness('drain_node', { cluster: 'prod-k8s-01', node: 'worker-1', preserve_forensics: true, force: true, delete_emptydir_data: true }, { root });
    h.deps.runner.on('kubectl', [], router([
      ['get node', { stdout: node(false) }],
      ['cordon', kubectlResult('80-cordon')],
      ['get pods', { stdout: kubectlResult('70-get-pods-label').stdout as string }],
      ['logs', { stdout: '2026-11-25T12:00:00Z hello\n' }],
      ['label pod', {}],
      ['drain', kubectlResult('90-drain')],
    ]));
    const out = await h.impl.run(h.rt);
    expect(out.forensics_path).toBe(join(root, 'state', 'artifacts', 'test-exec-0001', 'act-1', 'forensics-worker-1'));
    expect(readdirSync(out.forensics_path as string).sort()).toEqual(['monitoring_web-7b9f8c5d4f-abcde.log', 'monitoring_web-7b9f8c5d4f-fghij.log', 'pods.json']);
    // one recorded pod keeps an emptyDir cache: held back (labelled) instead of deleted
    expect(h.calls().map((c) => c.slice(3, 5))).toEqual([['get', 'node'], ['cordon', 'worker-1'], ['get', 'pods'], ['logs', 'web-7b9f8c5d4f-abcde'], ['logs', 'web-7b9f8c5d4f-fghij'], ['label', 'pod'], ['drain', 'worker-1']]);
    expect(h.calls()[5]).toEqual([...K, 'label', 'pod', 'web-7b9f8c5d4f-abcde', '-n', 'monitoring', 'cortex.dev/forensic-hold=true', '--overwrite']);
    expect(h.calls()[6]).toEqual([...K, 'drain', 'worker-1', '--ignore-daemonsets', '--pod-selector=!cortex.dev/forensic-hold', '--timeout=300s']);
    expect(out.left_pods).toEqual([{ pod: 'monitoring/web-7b9f8c5d4f-abcde', reason: 'emptyDir data' }]);
  });
  it('preserve_forensics holds pods with emptyDir data or no controller (labelled, listed) and drains the rest', async () => {
    const pod = (ns: string, name: string, extra: Record<string, unknown>) => ({ metadata: { name, namespace: ns, ...((extra.metadata as object) ?? {}) }, spec: extra.spec ?? {}, status: { phase: extra.phase ?? 'Running' } });
    const rs = { ownerReferences: [{ kind: 'ReplicaSet', name: 'web-1', controller: true }] };
    const pods = JSON.stringify({ items: [
      pod('production', 'web-1-a', { metadata: rs, spec: { volumes: [{ name: 'cache', emptyDir: {} }] } }),
      pod('production', 'api-1-b', { metadata: rs }),
      pod('default', 'debugger', { spec: { volumes: [{ name: 'host', hostPath: { path: '/' } }] } }),
      pod('default', 'scratch', { spec: { volumes: [{ name: 't', emptyDir: {} }] } }),
      pod('default', 'done', { phase: 'Succeeded' }),
      pod('kube-system', 'node-exporter-x', { metadata: { ownerReferences: [{ kind: 'DaemonSet', name: 'node-exporter', controller: true }] }, spec: { volumes: [{ name: 't', emptyDir: {} }] } }),
      pod('kube-system', 'kube-apiserver-n1', { metadata: { annotations: { 'kubernetes.io/config.mirror': 'abc' } } }),
    ] });
    const h = await harness('drain_node', { cluster: 'prod-k8s-01', node: 'worker-1', preserve_forensics: true, pod_selector: 'tier=api' });
    h.deps.runner.on('kubectl', [], router([['get node', { stdout: node(true) }], ['get pods', { stdout: pods }], ['logs', {}], ['label pod', {}], ['cordon', {}], ['drain', { stdout: 'node/worker-1 already cordoned\nevicting pod production/api-1-b\npod/api-1-b evicted\nnode/worker-1 drained\n' }]]));
    const out = await h.impl.run(h.rt);
    expect(out).toMatchObject({
      evicted: ['production/api-1-b'],
      was_cordoned: true,
      left_pods: [
        { pod: 'production/web-1-a', reason: 'emptyDir data' },
        { pod: 'default/debugger', reason: 'no controller' },
        { pod: 'default/scratch', reason: 'emptyDir data, no controller' },
      ],
    });
    const labels = h.calls().filter((c) => c[3] === 'label');
    expect(labels).toEqual([
      [...K, 'label', 'pod', 'web-1-a', '-n', 'production', 'cortex.dev/forensic-hold=true', '--overwrite'],
      [...K, 'label', 'pod', 'debugger', 'scratch', '-n', 'default', 'cortex.dev/forensic-hold=true', '--overwrite'],
    ]);
    expect(h.calls().at(-1)).toEqual([...K, 'drain', 'worker-1', '--ignore-daemonsets', '--pod-selector=tier=api,!cortex.dev/forensic-hold', '--timeout=300s']);
  });
  it('a drain kubectl refuses (emptyDir data, no controller) is node_drain_refused, not retried', async () => {
    const h = await harness('drain_node', { cluster: 'prod-k8s-01', node: 'k8s-worker-02' });
    const stderr =
      'error: unable to drain node "k8s-worker-02" due to error: cannot delete cannot delete Pods that declare no controller (use --force to override): default/node-debugger-k8s-worker-02-7x2kq, continuing command...\n' +
      'There are pending nodes to be drained:\n k8s-worker-02\ncannot delete cannot delete Pods that declare no controller (use --force to override): default/node-debugger-k8s-worker-02-7x2kq\n';
    h.deps.runner.on('kubectl', [], router([['get node', { stdout: node(false) }], ['drain', { exitCode: 1, stdout: 'node/k8s-worker-02 cordoned\n', stderr }]]));
    const e = await failure(h.impl.run(h.rt));
    expect([e.errorCode, e.retryable]).toEqual(['node_drain_refused', false]);
    expect(e.hint).toMatch(/force \(pods without a controller\)/);
  });
});

describe('network policies', () => {
  it('node target: labels the pods per namespace and applies one policy per namespace', async () => {
    const podsOnNode = JSON.stringify({ items: [
      { metadata: { name: 'web-1', namespace: 'production' } },
      { metadata: { name: 'web-2', namespace: 'production' } },
      { metadata: { name: 'agent', namespace: 'kube-system' } },
    ] });
    const h = await harness('apply_network_policy', { cluster: 'prod-k8s-01', policy_name: 'cortex-isolate-k8s-worker-02', target_selector: { node: 'k8s-worker-02' }, ingress_rules: [], egress_rules: [{ to: [{ dns_selector: true }], ports: [{ port: 53, protocol: 'UDP' }] }] });
    h.deps.runner.on('kubectl', [], router([['get pods', { stdout: podsOnNode }], ['label pod', {}], ['annotate pod', {}], ['apply', { stdout: 'networkpolicy.networking.k8s.io/cortex-isolate-k8s-worker-02\n' }]]));
    expect(await h.impl.run(h.rt)).toEqual({
      policy_name: 'cortex-isolate-k8s-worker-02',
      namespaces: ['production', 'kube-system'],
      policies: ['production/cortex-isolate-k8s-worker-02', 'kube-system/cortex-isolate-k8s-worker-02'],
      labelled_pods: ['production/web-1', 'production/web-2', 'kube-system/agent'],
      isolation_label: 'cortex.dev/isolate=cortex-isolate-k8s-worker-02',
    });
    expect(h.calls()).toEqual([
      [...K, 'get', 'pods', '--all-namespaces', '--field-selector', 'spec.nodeName=k8s-worker-02', '-o', 'json'],
      [...K, 'label', 'pod', 'web-1', 'web-2', '-n', 'production', 'cortex.dev/isolate=cortex-isolate-k8s-worker-02', '--overwrite'],
      [...K, 'annotate', 'pod', 'web-1', 'web-2', '-n', 'production', 'cortex.dev/isolate-policy=cortex-isolate-k8s-worker-02', '--overwrite'],
      [...K, 'label', 'pod', 'agent', '-n', 'kube-system', 'cortex.dev/isolate=cortex-isolate-k8s-worker-02', '--overwrite'],
      [...K, 'annotate', 'pod', 'agent', '-n', 'kube-system', 'cortex.dev/isolate-policy=cortex-isolate-k8s-worker-02', '--overwrite'],
      [...K, 'apply', '--server-side', '--field-manager=cortex', '-f', '-', '-o', 'name'],
    ]);
    const policies = (h.inputs()[5] as string).split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(policies[0]).toEqual({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'cortex-isolate-k8s-worker-02', namespace: 'production', labels: { 'app.kubernetes.io/managed-by': 'cortex' } },
      spec: {
        podSelector: { matchLabels: { 'cortex.dev/isolate': 'cortex-isolate-k8s-worker-02' } },
        ingress: [],
        egress: [{ to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ protocol: 'UDP', port: 53 }] }],
        policyTypes: ['Ingress', 'Egress'],
      },
    });
  });
  it('delete: finds the namespaces, deletes, removes labels', async () => {
    const h = await harness('delete_network_policy', { cluster: 'prod-k8s-01', policy_name: 'iso' });
    h.deps.runner.on('kubectl', [], router([['get networkpolicies', { stdout: JSON.stringify({ items: [{ metadata: { name: 'iso', namespace: 'production' } }] }) }], ['delete', { stdout: 'networkpolicy.networking.k8s.io/iso\n' }], ['annotate pods', {}], ['label pods', { exitCode: 1, stderr: 'error: no objects passed to label\n' }]]));
    expect(await h.impl.run(h.rt)).toEqual({ deleted: ['production/iso'] });
    expect(h.calls()).toEqual([
      [...K, 'get', 'networkpolicies', '--all-namespaces', '--field-selector', 'metadata.name=iso', '-o', 'json'],
      [...K, 'delete', 'networkpolicy', 'iso', '-n', 'production', '--ignore-not-found', '-o', 'name'],
      [...K, 'annotate', 'pods', '-n', 'production', '-l', 'cortex.dev/isolate=iso', 'cortex.dev/isolate-policy-'],
      [...K, 'label', 'pods', '-n', 'production', '-l', 'cortex.dev/isolate=iso', 'cortex.dev/isolate-'],
    ]);
  });
  it('a policy name over 63 characters is labelled by a stable short value (names that fit stay as they are)', () => {
    const long = `cortex-isolate-${'kube-prometheus-stack-prometheus-node-exporter-x8z2k'}`;
    const v = isolationLabelValue(long);
    expect(v).toMatch(/^cortex-isolate-kube-prometheus-stack-prometheus-node-[0-9a-f]{10}$/);
    expect(v.length).toBe(63);
    expect(isolationLabelValue(long)).toBe(v);
    expect(isolationLabelValue(`${long}x`)).not.toBe(v);
    expect(isolationLabelValue('cortex-isolate-k8s-worker-02')).toBe('cortex-isolate-k8s-worker-02');
    expect(isolationLabelValue('a'.repeat(63))).toBe('a'.repeat(63));
    expect(isolationLabelValue('a'.repeat(64))).toMatch(/^a{52}-[0-9a-f]{10}$/);
    // cut after a dot or dash: still a valid label value (it ends with the hash)
    expect(isolationLabelValue(`${'a'.repeat(51)}.${'b'.repeat(20)}`)).toMatch(/^a{51}\.-[0-9a-f]{10}$/);
  });
});

describe('capture_cluster_state', () => {
  it('saves JSON and logs, then uploads each file to the forensics service', async () => {
    const h = await harness('capture_cluster_state', { cluster: 'prod-k8s-01', node: 'worker-1', capture: ['pod_list', 'events', 'logs', 'nodes'], output_location: 's3://cortex-forensics/incidents/INC-1/k8s-state/', log_lines: 50 }, {
      config: { clusters: { 'prod-k8s-01': { kubeconfig: KC } }, endpoints: { forensics: { url: 'http://forensics.local', secret: 'FORENSICS_TOKEN' } } },
    });
    h.deps.secrets = { get: async () => 'tok-123456', describe: () => 'x' } as never;
    h.deps.runner.on('kubectl', [], router([['get pods', kubectlResult('70-get-pods-label')], ['get events', { stdout: '{"items":[]}' }], ['get node worker-1', { stdout: '{"metadata":{"name":"worker-1"}}' }], ['logs', { stdout: 'line\n' }]]));
    const out = await h.impl.run(h.rt);
    expect(h.calls()).toEqual([
      [...K, 'get', 'pods', '--all-namespaces', '--field-selector', 'spec.nodeName=worker-1', '-o', 'json'],
      [...K, 'get', 'events', '--all-namespaces', '-o', 'json'],
      [...K, 'get', 'node', 'worker-1', '-o', 'json'],
      [...K, 'logs', 'web-7b9f8c5d4f-abcde', '-n', 'monitoring', '--all-containers=true', '--tail=50', '--timestamps'],
      [...K, 'logs', 'web-7b9f8c5d4f-fghij', '-n', 'monitoring', '--all-containers=true', '--tail=50', '--timestamps'],
    ]);
    expect(out.files).toEqual([
      's3://cortex-forensics/incidents/INC-1/k8s-state/pod_list.json',
      's3://cortex-forensics/incidents/INC-1/k8s-state/events.json',
      's3://cortex-forensics/incidents/INC-1/k8s-state/nodes.json',
      's3://cortex-forensics/incidents/INC-1/k8s-state/logs/monitoring_web-7b9f8c5d4f-abcde.log',
      's3://cortex-forensics/incidents/INC-1/k8s-state/logs/monitoring_web-7b9f8c5d4f-fghij.log',
    ]);
    expect(out.pods).toBe(2);
    expect(h.http.requests.map((r) => [r.method, r.url])).toEqual((out.files as string[]).map((f) => ['PUT', `http://forensics.local/api/v1/uploads?location=${encodeURIComponent(f)}`]));
    expect(h.http.requests[0]?.headers?.authorization).toBe('Bearer tok-123456');
  });
});

describe('security actions', () => {
  it('apply_security_patches: SSA image patch with cortex-security, skips entries without a fix', async () => {
    const workloads = JSON.stringify({ items: [
      { kind: 'Deployment', metadata: { name: 'api', namespace: 'production' }, spec: { template: { spec: { containers: [{ name: 'api', image: 'harbor.cortex.local/api:1.0.0' }, { name: 'proxy', image: 'envoy:1.2' }] } } } },
      { kind: 'DaemonSet', metadata: { name: 'agent', namespace: 'kube-system' }, spec: { template: { spec: { containers: [{ name: 'a', image: 'harbor.cortex.local/api:1.0.1' }] } } } },
    ] });
    const h = await harness('apply_security_patches', { cluster: 'prod-k8s-01', scope: 'cluster_wide', vulnerabilities: [{ id: 'CVE-1', fixed_image: 'harbor.cortex.local/api:1.0.2' }, { id: 'CVE-2' }] });
    h.deps.runner.on('kubectl', [], router([['get deployments,statefulsets,daemonsets', { stdout: workloads }], ['apply', { stdout: 'deployment.apps/api\ndaemonset.apps/agent\n' }], ['rollout status', kubectlResult('40-rollout-status-complete')]]));
    expect(await h.impl.run(h.rt)).toEqual({ patched: ['production/Deployment/api', 'kube-system/DaemonSet/agent'], skipped: ['CVE-2'], count: 2 });
    expect(h.calls()[1]).toEqual([...K, 'apply', '--server-side', '--field-manager=cortex-security', '--force-conflicts', '-f', '-', '-o', 'name']);
    expect(JSON.parse((h.inputs()[1] as string).split('\n')[0] as string)).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api', namespace: 'production' }, spec: { template: { spec: { containers: [{ name: 'api', image: 'harbor.cortex.local/api:1.0.2' }] } } } });
  });
  it('implement_security_controls: PSS labels on every namespace but kube-system, default deny policy', async () => {
    const h = await harness('implement_security_controls', { cluster: 'prod-k8s-01', controls: [{ type: 'pod_security_standard', namespace: '*', level: 'restricted' }, { type: 'default_deny_network_policy', namespace: 'production' }] });
    h.deps.runner.on('kubectl', [], router([['get namespaces', { stdout: 'namespace/default\nnamespace/kube-system\nnamespace/production\n' }], ['label namespace', {}], ['apply', { stdout: 'networkpolicy.networking.k8s.io/cortex-default-deny\n' }]]));
    expect(await h.impl.run(h.rt)).toEqual({ applied: ['pod_security_standard pod-security.kubernetes.io/enforce=restricted on default,production', 'default_deny_network_policy cortex-default-deny in production'], count: 2 });
    expect(h.calls()[1]).toEqual([...K, 'label', 'namespace', 'default', 'production', 'pod-security.kubernetes.io/enforce=restricted', '--overwrite']);
    const bad = await harness('implement_security_controls', { cluster: 'prod-k8s-01', controls: [{ type: 'network_policy', namespace: 'x' }] });
    expect((await failure(bad.impl.run(bad.rt))).errorCode).toBe('invalid_parameters');
  });
});
