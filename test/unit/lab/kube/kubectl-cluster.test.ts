/**
 * The real kubectl against the lab API server: namespaces (get --ignore-not-found, protobuf create,
 * server-side apply), NotFound errors, cordon/uncordon, drain (refused for emptyDir data and pods
 * without a controller, DaemonSet pod ignored, pods evicted, PodDisruptionBudget 429), NetworkPolicy
 * apply (and its 422 for a selector value over 63 characters), Tables, logs, the exec credential plugin the lab
 * kubeconfig uses, and that the server only listens on 127.0.0.1.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mustResource } from '../../../../src/lab/kube/resources.js';
import { NODE_DEBUGGER_POD } from '../../../../src/lab/kube/seed.js';
import { HAS_KUBECTL, KUBECTL, fixture, run, startLabKube, waitFor, type LabKube } from './kube-helper.js';

const NODE = { 'worker-1': 'k8s-worker-02' };

describe.skipIf(!HAS_KUBECTL)('kubectl against the lab API server: cluster', () => {
  let k: LabKube;

  beforeAll(async () => {
    k = await startLabKube({ faults: [{ action_id: 'cordon', attempts: null }] });
  });
  afterAll(async () => {
    await k?.stop();
  });

  it('namespaces: missing with --ignore-not-found, NotFound, create (protobuf body), AlreadyExists, get -o name', async () => {
    const cache = k.cache();
    const missing = fixture('10-get-ns-missing');
    expect(await k.kubectl(['get', 'namespace', 'monitoring', '--ignore-not-found', '-o', 'name'], { cache })).toEqual({ code: missing.exitCode, stdout: missing.stdout, stderr: missing.stderr });
    expect(await k.kubectl(['get', 'namespace', 'monitoring', '-o', 'name'], { cache })).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Error from server (NotFound): namespaces "monitoring" not found\n',
    });
    expect(await k.kubectl(['create', 'namespace', 'monitoring'], { cache })).toEqual({ code: 0, stdout: fixture('12-create-ns').stdout, stderr: '' });
    expect(await k.kubectl(['create', 'namespace', 'monitoring'], { cache })).toEqual({ code: 1, stdout: '', stderr: fixture('13-create-ns-again').stderr });
    expect(await k.kubectl(['get', 'namespace', 'monitoring', '--ignore-not-found', '-o', 'name'], { cache })).toEqual({ code: 0, stdout: 'namespace/monitoring\n', stderr: '' });
    const post = k.requests().find((r) => r.method === 'POST' && r.path === '/api/v1/namespaces');
    expect(post).toMatchObject({ status: 201, query: { fieldManager: 'kubectl-create', fieldValidation: 'Strict' } });
    const ns = k.server.store.peek('namespaces', undefined, 'monitoring')!;
    expect(ns.status).toEqual({ phase: 'Active' });
    expect(ns.spec).toEqual({ finalizers: ['kubernetes'] });
  });

  it('namespaces: server-side apply creates with labels, re-apply updates them', async () => {
    const manifest = (env: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ceph-csi-rbd\n  labels:\n    pod-security.kubernetes.io/enforce: privileged\n    cortex.dev/environment: ${env}\n`;
    expect(await k.kubectl(['apply', '--server-side', '--field-manager=cortex', '-f', '-'], { stdin: manifest('a') })).toEqual({
      code: 0,
      stdout: 'namespace/ceph-csi-rbd serverside-applied\n',
      stderr: '',
    });
    expect((await k.kubectl(['apply', '--server-side', '--field-manager=cortex', '-f', '-'], { stdin: manifest('b') })).code).toBe(0);
    expect(k.server.store.peek('namespaces', undefined, 'ceph-csi-rbd')!.metadata.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'privileged',
      'cortex.dev/environment': 'b',
      'kubernetes.io/metadata.name': 'ceph-csi-rbd',
    });
  });

  it('NotFound for a namespaced object: the namespace GET decides the message', async () => {
    expect(await k.kubectl(['get', 'deployment', 'web', '-n', 'nosuchns', '-o', 'json'])).toEqual({
      code: 1,
      stdout: '',
      stderr: fixture('32-get-deploy-missing-ns', { monitoring: 'nosuchns' }).stderr,
    });
    expect(await k.kubectl(['get', 'deployment', 'web', '-n', 'production', '-o', 'json'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Error from server (NotFound): deployments.apps "web" not found\n',
    });
    const nsGets = k.requests().filter((r) => r.method === 'GET' && (r.path === '/api/v1/namespaces/nosuchns' || r.path === '/api/v1/namespaces/production'));
    expect(nsGets.map((r) => r.status)).toEqual([404, 200]);
  });

  it('cordon, already cordoned, uncordon, missing node; a failing action gets a 500', async () => {
    const cache = k.cache();
    expect(await k.kubectl(['cordon', 'k8s-worker-02'], { cache })).toEqual({ code: 0, stdout: fixture('80-cordon', NODE).stdout, stderr: '' });
    expect(k.server.store.peek('nodes', undefined, 'k8s-worker-02')!.spec.unschedulable).toBe(true);
    expect(await k.kubectl(['cordon', 'k8s-worker-02'], { cache })).toEqual({ code: 0, stdout: fixture('81-cordon-again', NODE).stdout, stderr: '' });
    expect(await k.kubectl(['uncordon', 'k8s-worker-02'], { cache })).toEqual({ code: 0, stdout: fixture('82-uncordon', NODE).stdout, stderr: '' });
    expect(k.server.store.peek('nodes', undefined, 'k8s-worker-02')!.spec.unschedulable).toBeUndefined();
    expect(await k.kubectl(['cordon', 'worker-9'], { cache })).toEqual({ code: 1, stdout: '', stderr: fixture('83-cordon-missing').stderr });
    expect(await k.kubectl(['cordon', 'k8s-worker-02'], { cache, action: 'cordon' })).toEqual({ code: 1, stdout: '', stderr: fixture('B-get-500').stderr });
  });

  it('drain: the seeded emptyDir pod and pod without a controller make kubectl refuse, as a real cluster would', async () => {
    const web = k.server.store.scan('pods', 'production').find((p) => p.spec?.nodeName === 'k8s-worker-02' && p.metadata.name.startsWith('web-api-'))!;
    const emptyDir = `cannot delete Pods with local storage (use --delete-emptydir-data to override): production/${web.metadata.name}`;
    // (kubectl 1.32 does say "cannot delete cannot delete" for pods without a controller)
    const bare = `cannot delete cannot delete Pods that declare no controller (use --force to override): default/${NODE_DEBUGGER_POD}`;
    const pending = 'There are pending nodes to be drained:\n k8s-worker-02\n';
    const plain = await k.kubectl(['drain', 'k8s-worker-02', '--ignore-daemonsets', '--timeout=30s']);
    expect([plain.code, plain.stdout]).toEqual([1, 'node/k8s-worker-02 cordoned\n']);
    // kubectl collects the refusals in a Go map: their order varies from run to run
    const [first, second] = plain.stderr.includes(`[${emptyDir}, `) ? [emptyDir, bare] : [bare, emptyDir];
    expect(plain.stderr).toBe(`error: unable to drain node "k8s-worker-02" due to error: [${first}, ${second}], continuing command...\n${pending}${first}\n${second}\n`);
    const emptyDirOnly = await k.kubectl(['drain', 'k8s-worker-02', '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=30s']);
    expect(emptyDirOnly.stderr).toBe(`error: unable to drain node "k8s-worker-02" due to error: ${bare}, continuing command...\n${pending}${bare}\n`);
    expect(k.requests().filter((x) => x.method === 'POST' && String(x.path).endsWith('/eviction'))).toEqual([]);
    expect((await k.kubectl(['uncordon', 'k8s-worker-02'])).code).toBe(0);
  });

  it('drain: DaemonSet pod ignored, the other pods evicted (polled until gone) and recreated elsewhere', async () => {
    const before = k.server.store.scan('pods').filter((p) => p.spec?.nodeName === 'k8s-worker-02' && p.metadata.namespace === 'production');
    expect(before.length).toBeGreaterThan(0);
    const ds = k.server.store.scan('pods', 'kube-system').find((p) => p.spec?.nodeName === 'k8s-worker-02' && p.metadata.name.startsWith('node-exporter-'))!;
    const r = await k.kubectl(['drain', 'k8s-worker-02', '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=30s']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('node/k8s-worker-02 cordoned');
    expect(lines.at(-1)).toBe('node/k8s-worker-02 drained');
    for (const p of [...before.map((x) => `production/${x.metadata.name}`), `default/${NODE_DEBUGGER_POD}`]) {
      expect(lines).toContain(`evicting pod ${p}`);
      expect(lines).toContain(`pod/${p.split('/')[1]} evicted`);
    }
    // one Warning line whose parts come from a Go map (any order)
    const warnings = [`deleting Pods that declare no controller: default/${NODE_DEBUGGER_POD}`, fixture('90-drain').stderr.trim().replace('Warning: ', '').replace('node-exporter-x1', ds.metadata.name)];
    expect(r.stderr.startsWith('Warning: ') && r.stderr.endsWith('\n')).toBe(true);
    expect(r.stderr.slice('Warning: '.length, -1).split('; ').sort()).toEqual(warnings.sort());
    const evictions = k.requests().filter((x) => x.method === 'POST' && String(x.path).endsWith('/eviction'));
    expect(evictions.map((x) => x.status)).toEqual([...before, 1].map(() => 201));
    const polls = k.requests().filter((x) => x.method === 'GET' && x.path === `/api/v1/namespaces/production/pods/${before[0]!.metadata.name}`);
    expect(polls.map((x) => x.status)).toContain(404);
    // replacements land on other, schedulable nodes
    await waitFor(() => k.server.store.peek('deployments.apps', 'production', 'web-api')?.status?.readyReplicas === 3, { what: 'production/web-api to have 3 ready replicas', timeoutMs: 5000 });
    expect(k.server.store.scan('pods', 'production').filter((p) => p.spec?.nodeName === 'k8s-worker-02')).toEqual([]);
    expect((await k.kubectl(['uncordon', 'k8s-worker-02'])).code).toBe(0);
  });

  it('drain: a PodDisruptionBudget refusal (429) is retried until the timeout', async () => {
    const pdb = k.server.store.get('poddisruptionbudgets.policy', 'production', 'payments-api')!;
    pdb.spec.minAvailable = 2;
    k.server.api.update(mustResource('poddisruptionbudgets.policy'), 'production', 'payments-api', pdb);
    const victim = k.server.store.scan('pods', 'production').find((p) => p.metadata.name.startsWith('payments-api-') && !p.metadata.deletionTimestamp)!;
    const node = victim.spec.nodeName as string;
    const r = await k.kubectl(['drain', node, '--ignore-daemonsets', '--timeout=2s', `--pod-selector=app=payments-api`]);
    expect(r.code).toBe(1);
    // kubectl retries every 5 s and only then notices its global timeout (as in the recorded 92-drain-pdb-429)
    expect(r.stdout).toMatch(new RegExp(`^node/${node} cordoned\n(evicting pod production/${victim.metadata.name}\n)+$`));
    expect(r.stderr).toContain(`error when evicting pods/"${victim.metadata.name}" -n "production" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.`);
    expect(r.stderr).toContain(`There are pending nodes to be drained:\n ${node}\n`);
    const refused = k.requests().filter((x) => x.method === 'POST' && x.path === `/api/v1/namespaces/production/pods/${victim.metadata.name}/eviction`);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((x) => x.status === 429)).toBe(true);
    expect(k.server.store.peek('pods', 'production', victim.metadata.name)).toBeDefined();
    expect((await k.kubectl(['uncordon', node])).code).toBe(0);
  });

  it('NetworkPolicy: server-side apply, get -o json, delete --ignore-not-found twice', async () => {
    const manifest = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-allow-ingress
  namespace: production
spec:
  podSelector: {matchLabels: {app: web-api}}
  policyTypes: [Ingress, Egress]
  ingress: []
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{port: 53, protocol: UDP}]
`;
    expect(await k.kubectl(['apply', '--server-side', '-f', '-'], { stdin: manifest })).toEqual({ code: 0, stdout: fixture('A0-apply-ssa-netpol').stdout, stderr: '' });
    const got = await k.kubectl(['get', 'networkpolicy', 'web-allow-ingress', '-n', 'production', '-o', 'json']);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout).spec).toMatchObject({ podSelector: { matchLabels: { app: 'web-api' } }, policyTypes: ['Ingress', 'Egress'], egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }] });
    const del = ['delete', 'networkpolicy', 'web-allow-ingress', '-n', 'production', '--ignore-not-found'];
    expect(await k.kubectl(del)).toEqual({ code: 0, stdout: 'networkpolicy.networking.k8s.io "web-allow-ingress" deleted\n', stderr: '' });
    expect(await k.kubectl(del)).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('NetworkPolicy: a selector value over 63 characters is refused (422), as the API server does', async () => {
    const long = `cortex-isolate-${'x'.repeat(49)}`;
    const policy = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: long, namespace: 'production' }, spec: { podSelector: { matchLabels: { 'cortex.dev/isolate': long } }, policyTypes: ['Ingress'], ingress: [] } };
    const r = await k.kubectl(['apply', '--server-side', '--field-manager=cortex', '-f', '-', '-o', 'name'], { stdin: JSON.stringify(policy) });
    expect(r).toEqual({ code: 1, stdout: '', stderr: `The NetworkPolicy "${long}" is invalid: spec.podSelector.matchLabels: Invalid value: "${long}": must be no more than 63 characters\n` });
    expect(k.requests().filter((x) => x.method === 'PATCH' && String(x.path).includes('/networkpolicies/')).at(-1)).toMatchObject({ status: 422 });
    expect(k.server.store.peek('networkpolicies.networking.k8s.io', 'production', long)).toBeUndefined();
  });

  it('plain get prints server-side Tables; secrets by name; pod logs', async () => {
    const nodes = await k.kubectl(['get', 'nodes']);
    expect(nodes.code).toBe(0);
    expect(nodes.stdout.split('\n')[0]).toMatch(/^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION$/);
    expect(nodes.stdout).toMatch(/k8s-cp-01\s+Ready\s+control-plane\s+90d\s+v1\.29\.1/);
    const secrets = await k.kubectl(['get', 'secrets', '-n', 'production', '-o', 'name']);
    expect(secrets).toEqual({ code: 0, stdout: 'secret/api-keys\nsecret/db-credentials\n', stderr: '' });
    const pod = k.server.store.scan('pods', 'production').find((p) => p.metadata.name.startsWith('web-api-') && p.status?.phase === 'Running')!;
    const logs = await k.kubectl(['logs', '-n', 'production', pod.metadata.name, '--tail=1']);
    expect(logs).toEqual({ code: 0, stdout: expect.stringMatching(/msg="ready"\n$/), stderr: '' });
  });

  it('the lab kubeconfig wiring: an exec credential plugin names the calling action', async () => {
    const plugin = join(k.lab, 'kube-token');
    // the same script start-lab.ts writes to <lab>/bin/kube-token
    writeFileSync(
      plugin,
      '#!/bin/sh\nprintf \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"lab.%s.%s.%s"}}\\n\' "${CORTEX_ACTION_ID:-none}" "${CORTEX_ATTEMPT:-1}" "${CORTEX_EXECUTION_ID:-none}"\n',
    );
    chmodSync(plugin, 0o755);
    const config = join(k.lab, 'kubeconfig-exec');
    writeFileSync(
      config,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    server: ${k.server.httpsUrl}\n    certificate-authority: ${join(k.lab, 'kube-ca.crt')}\ncontexts:\n- name: lab\n  context: {cluster: lab, user: lab}\ncurrent-context: lab\nusers:\n- name: lab\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ${plugin}\n      interactiveMode: Never\n`,
    );
    const env = { PATH: process.env.PATH ?? '', HOME: k.lab, KUBECACHEDIR: k.cache(), CORTEX_ACTION_ID: 'verify-namespace', CORTEX_ATTEMPT: '2', CORTEX_EXECUTION_ID: 'exec-42' };
    const r = await run([KUBECTL, '--kubeconfig', config, 'get', 'namespace', 'production', '-o', 'name'], env);
    expect(r).toEqual({ code: 0, stdout: 'namespace/production\n', stderr: '' });
    expect(k.requests().filter((x) => x.path === '/api/v1/namespaces/production').at(-1)).toMatchObject({
      action_id: 'verify-namespace',
      attempt: 2,
      execution_id: 'exec-42',
    });
  });

  it('listens on 127.0.0.1 only, plain HTTP and TLS on the same port', async () => {
    const url = new URL(k.server.url);
    expect(url.hostname).toBe('127.0.0.1');
    const res = await fetch(`${k.server.url}/version`);
    expect(await res.json()).toMatchObject({ major: '1', minor: '32', gitVersion: 'v1.32.4' });
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((i) => i && !i.internal && i.family === 'IPv4')
      .map((i) => i!.address);
    for (const address of others) {
      const refused = await new Promise<boolean>((resolve) => {
        const s = connect({ host: address, port: Number(url.port) });
        s.once('connect', () => {
          s.destroy();
          resolve(false);
        });
        s.once('error', () => resolve(true));
      });
      expect(refused, `reachable on ${address}`).toBe(true);
    }
  });
});
