/**
 * The real kubectl against the lab API server: server-side apply, rollout status (success,
 * ProgressDeadlineExceeded for a failing action, timeout), rollout undo twice, wait, scale,
 * StatefulSet/DaemonSet rollouts, injected 500s. Outputs compared with the recorded real results.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAS_KUBECTL, deploymentYaml, fixture, startLabKube, waitFor, type LabKube } from './kube-helper.js';

const WEB = { monitoring: 'apps', '"web"': '"web"' };

describe.skipIf(!HAS_KUBECTL)('kubectl against the lab API server: workloads', () => {
  let k: LabKube;
  const deployment = (ns: string, name: string) => k.server.store.peek('deployments.apps', ns, name);

  beforeAll(async () => {
    k = await startLabKube({
      faults: [
        { action_id: 'wait-rollout', attempts: 1 },
        { action_id: 'deploy-app', attempts: null },
      ],
    });
    const ns = await k.kubectl(['create', 'namespace', 'apps']);
    expect(ns.code).toBe(0);
  });
  afterAll(async () => {
    await k?.stop();
  });

  it('server-side apply: 404 for a missing namespace, then created, then updated with a new generation', async () => {
    const missing = await k.kubectl(['apply', '--server-side', '--field-manager=cortex', '-f', '-'], { stdin: deploymentYaml('web', 'nosuchns', 'nginx:1.26') });
    expect(missing).toEqual({ code: 1, stdout: '', stderr: fixture('20-apply-ssa-deploy-no-ns', { monitoring: 'nosuchns' }).stderr });

    const created = await k.kubectl(['apply', '--server-side', '--field-manager=cortex', '-f', '-'], { stdin: deploymentYaml('web', 'apps', 'nginx:1.26') });
    expect(created).toEqual({ code: 0, stdout: fixture('21-apply-ssa-deploy-created').stdout, stderr: '' });
    const d1 = deployment('apps', 'web')!;
    expect(d1.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(d1.metadata.generation).toBe(1);
    expect(d1.metadata.managedFields?.[0]).toMatchObject({ manager: 'cortex', operation: 'Apply' });

    const again = await k.kubectl(['apply', '--server-side', '--field-manager=cortex', '-n', 'apps', '-o', 'name', '-f', '-'], { stdin: deploymentYaml('web', 'apps', 'nginx:1.26') });
    expect(again).toEqual({ code: 0, stdout: 'deployment.apps/web\n', stderr: '' });
    expect(deployment('apps', 'web')!.metadata.generation).toBe(1);

    const statuses = k
      .requests()
      .filter((r) => r.method === 'PATCH' && r.path === '/apis/apps/v1/namespaces/apps/deployments/web')
      .map((r) => r.status);
    expect(statuses).toEqual([201, 200]);
  });

  it('rollout status: success once the lab controller has the pods Ready', async () => {
    const r = await k.kubectl(['rollout', 'status', 'deployment/web', '-n', 'apps', '--timeout=20s']);
    expect(r.code).toBe(0);
    expect(r.stdout.endsWith(fixture('40-rollout-status-complete', WEB).stdout)).toBe(true);
    expect(r.stderr).toBe('');
    const d = deployment('apps', 'web')!;
    expect(d.status).toMatchObject({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 });
    const pods = k.server.store.scan('pods', 'apps');
    expect(pods).toHaveLength(2);
    for (const p of pods) {
      expect(p.metadata.name).toMatch(/^web-[a-z0-9]{6,10}-[a-z0-9]{5}$/);
      expect(p.metadata.labels).toMatchObject({ app: 'web', 'pod-template-hash': expect.any(String) });
      expect(p.status).toMatchObject({ phase: 'Running', podIP: expect.stringMatching(/^10\.244\.\d+\.\d+$/) });
      expect(p.spec.nodeName).toMatch(/worker/);
    }
  });

  it('rollout status: a failing action sees ProgressDeadlineExceeded on attempt 1, success on attempt 2', async () => {
    const failed = await k.kubectl(['rollout', 'status', 'deployment/web', '-n', 'apps', '--timeout=20s'], { action: 'wait-rollout', attempt: 1 });
    expect(failed).toEqual({ code: 1, stdout: '', stderr: fixture('46-rollout-status-deadline', WEB).stderr });
    const ok = await k.kubectl(['rollout', 'status', 'deployment/web', '-n', 'apps', '--timeout=20s'], { action: 'wait-rollout', attempt: 2 });
    expect(ok.code).toBe(0);
    const seen = k.requests().filter((r) => r.action_id === 'wait-rollout');
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((r) => r.execution_id === 'exec-test')).toBe(true);
  });

  it('a failing action gets 500 InternalError for writes', async () => {
    const r = await k.kubectl(['apply', '--server-side', '--field-manager=cortex', '-f', '-'], { action: 'deploy-app', stdin: deploymentYaml('web', 'apps', 'nginx:9') });
    expect(r).toEqual({ code: 1, stdout: '', stderr: fixture('B-apply-500-InternalError').stderr });
    const ns = await k.kubectl(['create', 'namespace', 'x'], { action: 'deploy-app' });
    expect(ns).toEqual({ code: 1, stdout: '', stderr: fixture('B-create-ns-500').stderr });
  });

  it('rollout undo goes back, and a second undo goes forward again (revisions renumbered)', async () => {
    const v2 = await k.kubectl(['apply', '--server-side', '--field-manager=cortex', '-f', '-'], { stdin: deploymentYaml('web', 'apps', 'nginx:1.27') });
    expect(v2.code).toBe(0);
    expect(deployment('apps', 'web')!.metadata.generation).toBe(2);
    expect((await k.kubectl(['rollout', 'status', 'deployment/web', '-n', 'apps', '--timeout=20s'])).code).toBe(0);
    const image = () => deployment('apps', 'web')!.spec.template.spec.containers[0].image as string;
    const revision = () => deployment('apps', 'web')!.metadata.annotations?.['deployment.kubernetes.io/revision'];
    expect(revision()).toBe('2');

    const undo = await k.kubectl(['rollout', 'undo', 'deployment/web', '-n', 'apps']);
    expect(undo).toEqual({ code: 0, stdout: fixture('50-rollout-undo', WEB).stdout, stderr: '' });
    expect(image()).toBe('nginx:1.26');
    await waitFor(() => revision() === '3', { what: 'apps/web at revision 3', timeoutMs: 5000 });
    expect((await k.kubectl(['rollout', 'status', 'deployment/web', '-n', 'apps', '--timeout=20s'])).code).toBe(0);

    const second = await k.kubectl(['rollout', 'undo', 'deployment/web', '-n', 'apps']);
    expect(second).toEqual({ code: 0, stdout: 'deployment.apps/web rolled back\n', stderr: '' });
    expect(image()).toBe('nginx:1.27');
    await waitFor(() => revision() === '4', { what: 'apps/web at revision 4', timeoutMs: 5000 });
    const rs = k.server.store.scan('replicasets.apps', 'apps').map((x) => x.metadata.annotations?.['deployment.kubernetes.io/revision']);
    expect(rs.sort()).toEqual(['3', '4']);

    const missing = await k.kubectl(['rollout', 'undo', 'deployment/web', '-n', 'apps', '--to-revision=7']);
    expect(missing).toEqual({ code: 1, stdout: '', stderr: 'error: unable to find specified revision 7 in history\n' });
  });

  it('wait --for=condition=Available: met, and NotFound for a missing deployment', async () => {
    const met = await k.kubectl(['wait', '--for=condition=Available', 'deployment/web', '-n', 'apps', '--timeout=10s']);
    expect(met).toEqual({ code: 0, stdout: fixture('60-wait-available', WEB).stdout, stderr: '' });
    const missing = await k.kubectl(['wait', '--for=condition=Available', 'deployment/nope', '-n', 'apps', '--timeout=10s']);
    expect(missing).toEqual({ code: 1, stdout: '', stderr: fixture('65-wait-missing', WEB).stderr });
  });

  it('rollout status and wait time out while pods cannot be scheduled', async () => {
    const yaml = deploymentYaml('stuck', 'apps', 'nginx:1.27', 2, '      nodeSelector: {cortex.dev/cluster: nowhere}\n');
    expect((await k.kubectl(['apply', '--server-side', '--field-manager=cortex', '-f', '-'], { stdin: yaml })).code).toBe(0);
    await waitFor(() => k.server.store.scan('pods', 'apps').filter((p) => p.metadata.name.startsWith('stuck-')).length === 2, { what: 'two pods of apps/stuck', timeoutMs: 5000 });
    const r = await k.kubectl(['rollout', 'status', 'deployment/stuck', '-n', 'apps', '--timeout=1s']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Waiting for deployment "stuck" rollout to finish: 0 of 2 updated replicas are available...');
    expect(r.stderr).toBe(fixture('44-rollout-status-timeout').stderr);
    const w = await k.kubectl(['wait', '--for=condition=Available', 'deployment/stuck', '-n', 'apps', '--timeout=1s']);
    expect(w).toEqual({ code: 1, stdout: '', stderr: fixture('62-wait-available-timeout', { web: 'stuck' }).stderr });
    const pod = k.server.store.scan('pods', 'apps').find((p) => p.metadata.name.startsWith('stuck-'))!;
    expect(pod.status.conditions[0]).toMatchObject({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' });
    expect((await k.kubectl(['delete', 'deployment', 'stuck', '-n', 'apps'])).stdout).toBe('deployment.apps "stuck" deleted\n');
    await waitFor(() => !k.server.store.scan('pods', 'apps').some((p) => p.metadata.name.startsWith('stuck-')), { what: 'the pods of apps/stuck to be gone', timeoutMs: 5000 });
  });

  it('get pods -l: the deployment pods, and an empty list', async () => {
    const r = await k.kubectl(['get', 'pods', '-n', 'apps', '-l', 'app=web', '-o', 'json']);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { kind: string; items: { metadata: { labels: Record<string, string> } }[] };
    expect(list.kind).toBe('List');
    expect(list.items.length).toBe(2);
    expect(list.items.every((p) => p.metadata.labels.app === 'web')).toBe(true);
    const none = await k.kubectl(['get', 'pods', '-n', 'apps', '-l', 'app=nothing', '-o', 'json']);
    expect(none).toEqual({ code: 0, stdout: fixture('71-get-pods-label-none').stdout, stderr: '' });
  });

  it('scale: the DR standby deployments scale up onto the DR workers', async () => {
    const r = await k.kubectl(['scale', 'deployment/web-api-dr', '-n', 'production', '--replicas=3']);
    expect(r).toEqual({ code: 0, stdout: 'deployment.apps/web-api-dr scaled\n', stderr: '' });
    const status = await k.kubectl(['rollout', 'status', 'deployment', '-l', 'cortex.dev/failover=true', '-n', 'production', '--timeout=20s']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('deployment "web-api-dr" successfully rolled out');
    const pods = k.server.store.scan('pods', 'production').filter((p) => p.metadata.labels?.['cortex.dev/failover'] === 'true' && !p.metadata.deletionTimestamp);
    expect(pods).toHaveLength(3);
    expect(new Set(pods.map((p) => p.spec.nodeName))).toEqual(new Set(['dr-k8s-worker-01', 'dr-k8s-worker-02', 'dr-k8s-worker-03']));
  });

  it('rollout status for a StatefulSet and a DaemonSet', async () => {
    const manifest = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: apps}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "postgres:16"}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: apps}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {cortex.dev/cluster: prod-k8s-01}
      containers: [{name: agent, image: "grafana/agent:v0.39.0"}]
`;
    const applied = await k.kubectl(['apply', '--server-side', '--field-manager=cortex', '-f', '-'], { stdin: manifest });
    expect(applied).toEqual({ code: 0, stdout: 'statefulset.apps/db serverside-applied\ndaemonset.apps/agent serverside-applied\n', stderr: '' });
    const sts = await k.kubectl(['rollout', 'status', 'statefulset/db', '-n', 'apps', '--timeout=20s']);
    expect(sts.code).toBe(0);
    expect(sts.stdout).toContain('partitioned roll out complete: 2 new pods have been updated...');
    expect(k.server.store.peek('pods', 'apps', 'db-0')).toBeDefined();
    expect(k.server.store.peek('pods', 'apps', 'db-1')).toBeDefined();
    const ds = await k.kubectl(['rollout', 'status', 'daemonset/agent', '-n', 'apps', '--timeout=20s']);
    expect(ds.code).toBe(0);
    expect(ds.stdout).toContain('daemon set "agent" successfully rolled out');
    // 3 prod workers (the control-plane nodes are tainted)
    expect(k.server.store.peek('daemonsets.apps', 'apps', 'agent')!.status).toMatchObject({ desiredNumberScheduled: 3, numberAvailable: 3 });
  });
});
