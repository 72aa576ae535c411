/**
 * The lab API server without kubectl: the protobuf namespace body, selectors, patch flavours,
 * server-side apply ownership, the seed, the REST calls other lab parts make, watches, and
 * persistence across server processes.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeApi } from '../../../../src/lab/kube/api.js';
import { ApiError } from '../../../../src/lab/kube/object.js';
import { isQualifiedName, isValidLabelValue } from '../../../../src/lab/kube/validation.js';
import { LabController } from '../../../../src/lab/kube/controller.js';
import { decodeProtobufObject } from '../../../../src/lab/kube/protobuf.js';
import { jsonPatch, strategicMergePatch } from '../../../../src/lab/kube/patch.js';
import { mustResource } from '../../../../src/lab/kube/resources.js';
import { NODE_DEBUGGER_POD, seedKubeState } from '../../../../src/lab/kube/seed.js';
import { matchesRequirements, parseFieldSelector, parseLabelSelector } from '../../../../src/lab/kube/selectors.js';
import { startKubeServer, parseLabToken, type KubeServer } from '../../../../src/lab/kube/server.js';
import { KubeStore, type KubeState } from '../../../../src/lab/kube/store.js';
import { selfSignedCertificate } from '../../../../src/lab/kube/tls.js';
import { kubeModule } from '../../../../src/lab/kube/module.js';
import { readState, writeLabConfig } from '../../../../src/lab/lab-dir.js';
import { waitFor } from './kube-helper.js';

const DEPLOY = mustResource('deployments.apps');

function memoryApi(): KubeApi {
  return new KubeApi(new KubeStore(undefined, seedKubeState()));
}

describe('lab kube: parsing', () => {
  it('decodes the protobuf body of `kubectl create namespace` (recorded bytes)', () => {
    const hex = '6b3873000a0f0a02763112094e616d65737061636512220a1a0a0a6d6f6e69746f72696e6712001a0022002a0032003800420012001a020a001a002200';
    expect(decodeProtobufObject(Buffer.from(hex, 'hex'))).toEqual({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'monitoring' } });
  });

  it('makes self-signed certificates TLS accepts, every time (DER encoding)', () => {
    for (let i = 0; i < 300; i++) {
      const c = selfSignedCertificate();
      expect(() => createSecureContext({ key: c.key, cert: c.cert })).not.toThrow();
    }
    const x = new X509Certificate(selfSignedCertificate().cert);
    expect(x.subjectAltName).toBe('IP Address:127.0.0.1, DNS:localhost');
    expect(x.checkIP('127.0.0.1')).toBe('127.0.0.1');
  });

  it('parses label and field selectors', () => {
    const reqs = parseLabelSelector('app=web,tier!=db,env in (prod, dr),!legacy,team');
    expect(matchesRequirements({ app: 'web', env: 'dr', team: 'x' }, reqs)).toBe(true);
    expect(matchesRequirements({ app: 'web', env: 'dr', team: 'x', legacy: '1' }, reqs)).toBe(false);
    expect(matchesRequirements({ app: 'web', env: 'staging', team: 'x' }, reqs)).toBe(false);
    expect(parseFieldSelector('spec.nodeName=k8s-worker-02')).toEqual([{ path: 'spec.nodeName', negate: false, value: 'k8s-worker-02' }]);
    expect(() => parseFieldSelector('spec.foo=x')).toThrow('field label not supported: spec.foo');
  });

  it('reads the lab token: lab.<action>.<attempt>.<execution>', () => {
    expect(parseLabToken('Bearer lab.deploy-app.2.20260115-abc.1')).toEqual({ actionId: 'deploy-app', attempt: 2, executionId: '20260115-abc.1' });
    expect(parseLabToken('Bearer lab.none.1.none')).toEqual({ attempt: 1 });
    expect(parseLabToken(undefined)).toEqual({ attempt: 1 });
  });

  it('strategic merge patch merges containers by name and deletes nulls; JSON patch replaces', () => {
    const obj = { spec: { unschedulable: true, containers: [{ name: 'a', image: 'x:1' }, { name: 'b', image: 'y:1' }] } };
    expect(strategicMergePatch(obj, { spec: { unschedulable: null, containers: [{ name: 'b', image: 'y:2' }] } })).toEqual({
      spec: { containers: [{ name: 'a', image: 'x:1' }, { name: 'b', image: 'y:2' }] },
    });
    expect(jsonPatch(obj, [{ op: 'replace', path: '/spec/unschedulable', value: false }])).toMatchObject({ spec: { unschedulable: false } });
    expect(() => jsonPatch(obj, [{ op: 'replace', path: '/spec/nope', value: 1 }])).toThrow(/missing/);
  });
});

describe('lab kube: registry', () => {
  it('seeds what the built-in workflows need', () => {
    const s = seedKubeState();
    const all = (k: string) => Object.values(s.objects[k] ?? {});
    expect(all('namespaces').map((n) => n.metadata.name).sort()).toEqual(['default', 'kube-node-lease', 'kube-public', 'kube-system', 'production', 'staging']);
    const nodes = all('nodes');
    expect(nodes).toHaveLength(15);
    expect(s.objects.nodes!['k8s-worker-02']!.status.addresses[0]).toEqual({ type: 'InternalIP', address: '10.10.1.21' });
    expect(s.objects.nodes!['dr-k8s-worker-01']!.metadata.labels!['cortex.dev/cluster']).toBe('dr-k8s-01');
    expect(s.objects.nodes!['k8s-cp-01']!.spec.taints).toEqual([{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }]);
    const pods = all('pods');
    expect(pods.filter((p) => p.metadata.name.startsWith('node-exporter-'))).toHaveLength(15);
    expect(pods.every((p) => p.status.phase === 'Running')).toBe(true);
    expect(pods.filter((p) => p.spec.nodeName === 'k8s-worker-02' && p.metadata.namespace === 'production').length).toBeGreaterThan(0);
    // what kubectl drain refuses without --delete-emptydir-data / --force is on k8s-worker-02
    const onNode = pods.filter((p) => p.spec.nodeName === 'k8s-worker-02');
    expect(onNode.some((p) => (p.spec.volumes ?? []).some((v: { emptyDir?: unknown }) => v.emptyDir) && p.metadata.ownerReferences?.[0]?.kind === 'ReplicaSet')).toBe(true);
    expect(onNode.filter((p) => !p.metadata.ownerReferences).map((p) => `${p.metadata.namespace}/${p.metadata.name}`)).toEqual([`default/${NODE_DEBUGGER_POD}`]);
    const dr = all('deployments.apps').filter((d) => d.metadata.labels?.['cortex.dev/failover'] === 'true');
    expect(dr.map((d) => [d.metadata.name, d.spec.replicas])).toEqual([
      ['web-api-dr', 0],
      ['payments-api-dr', 0],
    ]);
    for (const ns of ['default', 'production', 'staging']) {
      expect(s.objects.secrets![`${ns}/db-credentials`]).toBeDefined();
      expect(s.objects.secrets![`${ns}/api-keys`]).toBeDefined();
    }
  });

  it('schedules by nodeSelector, taints and the namespace node selector; Recreate replaces all pods', () => {
    const store = new KubeStore(undefined, seedKubeState());
    const api = new KubeApi(store);
    const controller = new LabController(store, api, { stepMs: () => 0, terminateMs: () => 0 });
    const body = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'app' }, spec: { replicas: 2, strategy: { type: 'Recreate' }, selector: { matchLabels: { app: 'app' } }, template: { metadata: { labels: { app: 'app' } }, spec: { containers: [{ name: 'app', image: 'app:1' }] } } } };
    api.create(DEPLOY, 'staging', body);
    controller.settle();
    const nodes = () => store.scan('pods', 'staging').map((p) => p.spec.nodeName as string).sort();
    expect(nodes()).toEqual(['staging-k8s-worker-01', 'staging-k8s-worker-02']);
    api.patch(DEPLOY, 'staging', 'app', 'strategic', JSON.stringify({ spec: { template: { spec: { containers: [{ name: 'app', image: 'app:2' }] } } } }));
    controller.settle();
    const pods = store.scan('pods', 'staging');
    expect(pods.map((p) => p.spec.containers[0].image)).toEqual(['app:2', 'app:2']);
    expect(store.peek('deployments.apps', 'staging', 'app')!.metadata.annotations!['deployment.kubernetes.io/revision']).toBe('2');
    const described = kubeModule.describe!.call(kubeModule, '/nonexistent-lab') as { nodes: unknown[] };
    expect(described.nodes).toEqual([]);
  });

  it('server-side apply: a manager dropping a field removes it, fields of other managers stay', () => {
    const api = memoryApi();
    const manifest = (env: { name: string; value: string }[]) =>
      JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'app', namespace: 'staging' },
        spec: {
          selector: { matchLabels: { app: 'app' } },
          template: { metadata: { labels: { app: 'app' } }, spec: { containers: [{ name: 'app', image: 'app:1', env }] } },
        },
      });
    const first = api.patch(DEPLOY, 'staging', 'app', 'apply', manifest([{ name: 'A', value: '1' }, { name: 'B', value: '2' }]), { fieldManager: 'cortex' });
    expect(first.created).toBe(true);
    api.patch(DEPLOY, 'staging', 'app', 'merge', JSON.stringify({ metadata: { labels: { team: 'ops' } } }), { fieldManager: 'kubectl-label' });
    const second = api.patch(DEPLOY, 'staging', 'app', 'apply', manifest([{ name: 'A', value: '1' }]), { fieldManager: 'cortex' });
    expect(second.created).toBe(false);
    expect(second.object.spec.template.spec.containers[0].env).toEqual([{ name: 'A', value: '1' }]);
    expect(second.object.metadata.labels).toEqual({ team: 'ops' });
    expect(second.object.metadata.generation).toBe(2);
    // the same manifest again changes nothing (same resourceVersion)
    const third = api.patch(DEPLOY, 'staging', 'app', 'apply', manifest([{ name: 'A', value: '1' }]), { fieldManager: 'cortex' });
    expect(third.object.metadata.resourceVersion).toBe(second.object.metadata.resourceVersion);
  });

  it('server-side apply keeps NetworkPolicy ports atomic and Service ports keyed by port and protocol', () => {
    const api = memoryApi();
    const policy = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'iso', namespace: 'production' },
      spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] }] },
    };
    const np = api.patch(mustResource('networkpolicies.networking.k8s.io'), 'production', 'iso', 'apply', JSON.stringify(policy), { fieldManager: 'cortex' });
    expect(np.object.spec.egress[0].ports).toEqual([{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }]);
    const svc = api.get(mustResource('services'), 'kube-system', 'kube-dns');
    expect(svc.spec.ports.map((p: { protocol: string }) => p.protocol)).toEqual(['UDP', 'TCP']);
    const patched = api.patch(mustResource('services'), 'kube-system', 'kube-dns', 'apply', JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'kube-dns' }, spec: { ports: [{ name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 5353 }] } }), { fieldManager: 'x' });
    expect(patched.object.spec.ports).toMatchObject([{ protocol: 'UDP', targetPort: 53 }, { protocol: 'TCP', targetPort: 5353 }]);
  });

  it('rejects what a real server rejects: immutable selector, mismatched labels, missing namespace, AlreadyExists', () => {
    const api = memoryApi();
    const d = api.get(DEPLOY, 'production', 'web-api');
    d.spec.selector = { matchLabels: { app: 'other' } };
    d.spec.template.metadata.labels = { app: 'other' };
    expect(() => api.update(DEPLOY, 'production', 'web-api', d)).toThrow(/field is immutable/);
    const bad = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'c' } }, spec: { containers: [{ name: 'x', image: 'y' }] } } } };
    expect(() => api.create(DEPLOY, 'production', bad)).toThrow('`selector` does not match template `labels`');
    expect(() => api.create(DEPLOY, 'nosuchns', bad)).toThrow('namespaces "nosuchns" not found');
    expect(() => api.create(mustResource('secrets'), 'production', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'api-keys' } })).toThrow('secrets "api-keys" already exists');
  });

  it('label keys and values follow apimachinery: qualified names, values up to 63 of the label pattern', () => {
    expect(isValidLabelValue('')).toEqual([]);
    expect(isValidLabelValue('a'.repeat(63))).toEqual([]);
    expect(isValidLabelValue('a'.repeat(64))).toEqual(['must be no more than 63 characters']);
    expect(isValidLabelValue('-x')).toEqual([
      "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ]);
    expect(isQualifiedName('cortex.dev/isolate')).toEqual([]);
    expect(isQualifiedName(`${'a'.repeat(253)}/x`)).toEqual([]);
    expect(isQualifiedName(`${'a'.repeat(254)}/x`)).toEqual(['prefix part must be no more than 253 characters']);
    expect(isQualifiedName(`x/${'a'.repeat(64)}`)).toEqual(['name part must be no more than 63 characters']);
    expect(isQualifiedName('/x')).toEqual(['prefix part must be non-empty']);
    expect(isQualifiedName('Cortex.dev/x')[0]).toMatch(/^prefix part a lowercase RFC 1123 subdomain must consist of/);
    expect(isQualifiedName('a/b/c')[0]).toMatch(/^a qualified name must consist of .* with an optional DNS subdomain prefix and '\/' \(e\.g\. 'example\.com\/MyName'\)$/);
  });

  it('refuses a label value over 63 characters with 422 Invalid, causes as the API server sends them (in a NetworkPolicy selector too)', () => {
    const api = memoryApi();
    const long = `cortex-isolate-${'k8s-worker-02-'.repeat(4)}x`; // 72 characters
    const policy = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: long, namespace: 'production' },
      spec: { podSelector: { matchLabels: { 'cortex.dev/isolate': long } }, policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'team/': 'x' } } }] }] },
    };
    let err: ApiError | undefined;
    try {
      api.create(mustResource('networkpolicies.networking.k8s.io'), 'production', policy);
    } catch (e) {
      err = e as ApiError;
    }
    expect(err?.toStatus()).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `NetworkPolicy.networking.k8s.io "${long}" is invalid: [spec.podSelector.matchLabels: Invalid value: "${long}": must be no more than 63 characters, spec.ingress[0].from[0].namespaceSelector.matchLabels: Invalid value: "team/": name part must be non-empty, spec.ingress[0].from[0].namespaceSelector.matchLabels: Invalid value: "team/": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')]`,
      reason: 'Invalid',
      details: {
        name: long,
        group: 'networking.k8s.io',
        kind: 'NetworkPolicy',
        causes: [
          { reason: 'FieldValueInvalid', message: `Invalid value: "${long}": must be no more than 63 characters`, field: 'spec.podSelector.matchLabels' },
          { reason: 'FieldValueInvalid', message: 'Invalid value: "team/": name part must be non-empty', field: 'spec.ingress[0].from[0].namespaceSelector.matchLabels' },
          {
            reason: 'FieldValueInvalid',
            message: expect.stringMatching(/^Invalid value: "team\/": name part must consist of alphanumeric characters/),
            field: 'spec.ingress[0].from[0].namespaceSelector.matchLabels',
          },
        ],
      },
      code: 422,
    });
    // labels on the object itself and on a pod template, and a pod label set by a PATCH
    const pod = api.list(mustResource('pods'), 'production')[0]!;
    expect(() => api.patch(mustResource('pods'), 'production', pod.metadata.name, 'merge', JSON.stringify({ metadata: { labels: { 'cortex.dev/isolate': long } } }))).toThrow(
      `Pod "${pod.metadata.name}" is invalid: metadata.labels: Invalid value: "${long}": must be no more than 63 characters`,
    );
    const d = api.get(DEPLOY, 'production', 'web-api');
    d.spec.template.metadata.labels['bad key'] = 'x';
    expect(() => api.update(DEPLOY, 'production', 'web-api', d)).toThrow(/^Deployment\.apps "web-api" is invalid: spec\.template\.metadata\.labels: Invalid value: "bad key": name part must consist of/);
  });

  it('refuses annotations over 256 KiB in total (keys and values), and badly formed annotation keys', () => {
    const api = memoryApi();
    const cm = (annotations: Record<string, string>) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'notes', namespace: 'production', annotations } });
    const limit = 256 * 1024;
    expect(() => api.create(mustResource('configmaps'), 'production', cm({ a: 'x'.repeat(limit - 1) }))).not.toThrow();
    let err: ApiError | undefined;
    try {
      api.create(mustResource('configmaps'), 'production', { ...cm({ a: 'x'.repeat(limit - 1), b: '' }), metadata: { ...cm({}).metadata, name: 'notes2', annotations: { a: 'x'.repeat(limit - 1), b: '' } } });
    } catch (e) {
      err = e as ApiError;
    }
    expect(err?.message).toBe('ConfigMap "notes2" is invalid: metadata.annotations: Too long: may not be more than 262144 bytes');
    expect(err?.details?.causes).toEqual([{ reason: 'FieldValueTooLong', message: 'Too long: may not be more than 262144 bytes', field: 'metadata.annotations' }]);
    // keys are checked case-insensitively (Kubernetes lower-cases them first), and shown as given
    expect(() => api.create(mustResource('configmaps'), 'production', { ...cm({ 'Example.COM/Owner': 'a' }), metadata: { name: 'n3', annotations: { 'Example.COM/Owner': 'a' } } })).not.toThrow();
    expect(() => api.create(mustResource('configmaps'), 'production', { ...cm({}), metadata: { name: 'n4', annotations: { 'a/b/c': 'v' } } })).toThrow(/^ConfigMap "n4" is invalid: metadata\.annotations: Invalid value: "a\/b\/c": a qualified name must consist of/);
  });
});

describe('lab kube: the server over REST (how other lab parts use it)', () => {
  let lab: string | undefined;
  let server: KubeServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
    if (lab) rmSync(lab, { recursive: true, force: true });
  });

  async function start(): Promise<KubeServer> {
    lab ??= mkdtempSync(join(tmpdir(), 'cortex-kube-rest-'));
    writeLabConfig(lab, { latency: 1, faults: [] });
    server = await startKubeServer(lab, { stepMs: 20, terminateMs: 50 });
    return server;
  }

  const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as Record<string, any> }); // eslint-disable-line @typescript-eslint/no-explicit-any

  it('POST creates (201), POST again is AlreadyExists (409), DELETE cascades to ReplicaSets and pods; state survives a restart', async () => {
    lab = mkdtempSync(join(tmpdir(), 'cortex-kube-rest-'));
    kubeModule.seed(lab);
    const s = await start();
    const ns = await json(await fetch(`${s.url}/api/v1/namespaces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'monitoring' } }) }));
    expect(ns).toMatchObject({ status: 201, body: { status: { phase: 'Active' }, metadata: { name: 'monitoring', uid: expect.any(String) } } });
    const body = JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'grafana', labels: { 'app.kubernetes.io/instance': 'kube-prometheus-stack' } },
      spec: { replicas: 2, selector: { matchLabels: { app: 'grafana' } }, template: { metadata: { labels: { app: 'grafana' } }, spec: { containers: [{ name: 'grafana', image: 'grafana/grafana:10.2.2' }] } } },
    });
    const url = `${s.url}/apis/apps/v1/namespaces/monitoring/deployments`;
    const created = await json(await fetch(`${url}?fieldManager=helm`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }));
    expect(created.status).toBe(201);
    const again = await json(await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }));
    expect(again).toMatchObject({ status: 409, body: { kind: 'Status', reason: 'AlreadyExists', message: 'deployments.apps "grafana" already exists', code: 409 } });
    await waitFor(() => s.store.peek('deployments.apps', 'monitoring', 'grafana')?.status?.readyReplicas === 2, { what: 'monitoring/grafana to have 2 ready replicas', timeoutMs: 5000 });

    // a watch sees the scale-down as MODIFIED events
    const list = await json(await fetch(`${url}?fieldSelector=metadata.name%3Dgrafana`));
    const watch = await fetch(`${url}?watch=true&fieldSelector=metadata.name%3Dgrafana&resourceVersion=${list.body.metadata.resourceVersion}`);
    const reader = watch.body!.getReader();
    await fetch(`${url}/grafana/scale`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: '{"spec":{"replicas":1}}' });
    const chunk = new TextDecoder().decode((await reader.read()).value);
    expect(JSON.parse(chunk.split('\n')[0]!)).toMatchObject({ type: 'MODIFIED', object: { spec: { replicas: 1 }, metadata: { generation: 2 } } });
    await reader.cancel();

    const del = await json(await fetch(`${url}/grafana`, { method: 'DELETE' }));
    expect(del).toMatchObject({ status: 200, body: { kind: 'Status', status: 'Success', details: { name: 'grafana', group: 'apps', kind: 'deployments' } } });
    expect(s.store.scan('replicasets.apps', 'monitoring')).toEqual([]);
    await waitFor(() => s.store.scan('pods', 'monitoring').length === 0, { what: 'the pods of monitoring/grafana to be gone', timeoutMs: 5000 });
    const gone = await json(await fetch(`${url}/grafana`));
    expect(gone).toMatchObject({ status: 404, body: { reason: 'NotFound', message: 'deployments.apps "grafana" not found' } });

    // a node joined by a stand-in gets a DaemonSet pod
    const node = await json(
      await fetch(`${s.url}/api/v1/nodes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'mon-01', labels: { 'cortex.dev/role': 'monitoring' } }, status: { addresses: [{ type: 'InternalIP', address: '10.10.20.11' }] } }),
      }),
    );
    expect(node.status).toBe(201);
    await waitFor(() => s.store.scan('pods', 'kube-system').some((p) => p.spec.nodeName === 'mon-01' && p.status.phase === 'Running'), { what: 'a running DaemonSet pod on mon-01', timeoutMs: 5000 });

    await s.stop();
    server = undefined;
    const saved = readState<KubeState>(lab, 'kube', () => ({ version: 1, resourceVersion: 0, objects: {} }));
    expect(saved.objects.namespaces!.monitoring).toBeDefined();
    expect(saved.objects.nodes!['mon-01']!.spec.podCIDR).toMatch(/^10\.244\.\d+\.0\/24$/);
    const s2 = await start();
    const got = await json(await fetch(`${s2.url}/api/v1/namespaces/monitoring`));
    expect(got.status).toBe(200);
    expect(Number(got.body.metadata.resourceVersion)).toBeLessThanOrEqual(s2.store.resourceVersion);
  });

  it('has every acknowledged write on disk when it answers (a real API server commits to etcd first): a kill -9 of the process loses none', async () => {
    // In the lab the API server lives in the cortex process: a kill -9 of cortex takes it down with
    // whatever it had not written. A real cluster keeps every write it answered. Seen in a torture
    // chain: the monitoring label of `kubectl label node` (the last step of join_nodes) was lost
    // when cortex was killed within the store's 30 ms write delay, and helm --wait then waited
    // 20 minutes for pods no node could take. What is on disk right after each answer is what a
    // kill leaves: read it before the server stops (stop() flushes, a kill does not).
    lab = mkdtempSync(join(tmpdir(), 'cortex-kube-rest-'));
    kubeModule.seed(lab);
    const s = await start();
    const onDisk = () => readState<KubeState>(lab!, 'kube', () => ({ version: 1, resourceVersion: 0, objects: {} }));
    const post = await fetch(`${s.url}/api/v1/nodes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'mon-02' }, status: { addresses: [{ type: 'InternalIP', address: '10.10.20.12' }] } }),
    });
    expect(post.status).toBe(201);
    expect(onDisk().objects.nodes?.['mon-02']).toBeDefined();
    const label = await fetch(`${s.url}/api/v1/nodes/mon-02`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: '{"metadata":{"labels":{"cortex.dev/role":"monitoring"}}}' });
    expect(label.status).toBe(200);
    expect(onDisk().objects.nodes?.['mon-02']?.metadata.labels?.['cortex.dev/role']).toBe('monitoring');
    // A ConfigMap: no controller acts on it (a namespace would be finalized and gone within ms).
    const cms = `${s.url}/api/v1/namespaces/production/configmaps`;
    const cm = await fetch(cms, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'written' }, data: { a: '1' } }) });
    expect(cm.status).toBe(201);
    expect(onDisk().objects.configmaps?.['production/written']?.data).toEqual({ a: '1' });
    const del = await fetch(`${cms}/written`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(onDisk().objects.configmaps?.['production/written']).toBeUndefined();
  });

  it('fails kubectl (not the stand-ins) for an action set to fail', async () => {
    lab = mkdtempSync(join(tmpdir(), 'cortex-kube-rest-'));
    kubeModule.seed(lab);
    const s = await start();
    writeLabConfig(lab, { latency: 1, faults: [{ action_id: 'install-cilium', attempts: 1 }] });
    const get = (ua: string, attempt = 1) =>
      fetch(`${s.url}/api/v1/namespaces/kube-system`, { headers: { authorization: `Bearer lab.install-cilium.${attempt}.exec-1`, 'user-agent': ua } }).then((r) => r.status);
    expect(await get('kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07')).toBe(500);
    expect(await get('kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07', 2)).toBe(200);
    expect(await get('cortex-lab-standin')).toBe(200);
    const pods = await json(
      await fetch(`${s.url}/api/v1/namespaces/production/pods?labelSelector=app%3Dweb-api`, { headers: { authorization: 'Bearer lab.install-cilium.1.x', 'user-agent': 'kubectl/v1.32.4' } }),
    );
    expect(pods.body.items[0].status.containerStatuses[0].state.waiting.reason).toBe('CrashLoopBackOff');
  });

  it('answers Status errors for bad paths and bodies', async () => {
    const s = await start();
    expect(await json(await fetch(`${s.url}/apis/apps/v1/namespaces/default/widgets`))).toMatchObject({ status: 404, body: { kind: 'Status', reason: 'NotFound' } });
    expect(await json(await fetch(`${s.url}/api/v1/namespaces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }))).toMatchObject({
      status: 400,
      body: { reason: 'BadRequest' },
    });
    expect(
      await json(await fetch(`${s.url}/api/v1/namespaces/x`, { method: 'PATCH', headers: { 'content-type': 'text/plain' }, body: '{}' })),
    ).toMatchObject({ status: 415, body: { reason: 'UnsupportedMediaType' } });
  });
});
