import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseEtcdSnapshot, parseJsonStream } from '../../../../src/contractors/talos/parse.js';
import { labPaths, readJsonLines } from '../../../../src/lab/lab-dir.js';
import { talosModule } from '../../../../src/lab/talos/module.js';
import { readTalos } from '../../../../src/lab/talos/state.js';
import { runTalosctl } from '../../../../src/lab/talos/talosctl.js';
import { startFakeKube, type FakeKube } from './fake-kube.js';
import { newLab } from './lab-helper.js';

let kube: FakeKube;
beforeEach(async () => {
  kube = await startFakeKube();
});
afterEach(async () => {
  await kube.close();
});

function prodTc(lab: string): string[] {
  return ['--talosconfig', join(lab, 'clusters', 'prod-k8s-01', 'talosconfig')];
}

/** gen secrets + gen config for a new cluster, as generate_talos_config runs them. */
async function genCluster(lab: string, env: NodeJS.ProcessEnv, name: string): Promise<string> {
  const dir = join(lab, 'clusters', name);
  expect((await runTalosctl(['gen', 'secrets', '-o', join(dir, 'secrets.yaml')], env)).exitCode).toBe(0);
  const r = await runTalosctl(['gen', 'config', name, 'https://10.40.1.100:6443', '--with-secrets', join(dir, 'secrets.yaml'), '-o', dir, '--force', '--with-docs=false', '--with-examples=false', '--kubernetes-version', 'v1.29.1', '--install-image', 'ghcr.io/siderolabs/installer:v1.6.1'], env);
  expect(r).toMatchObject({ exitCode: 0, stdout: '' });
  expect(r.stderr).toBe(`Created ${dir}/controlplane.yaml\nCreated ${dir}/worker.yaml\nCreated ${dir}/talosconfig\n`);
  return dir;
}

describe('talosctl stand-in: argument handling like the real CLI', () => {
  it('unknown flags, shorthands, missing values and commands: error, blank line, usage, exit 1', async () => {
    const { env } = newLab();
    const r = await runTalosctl(['bootstrap', '--foo', '-n', '10.10.1.10'], env());
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.startsWith('unknown flag: --foo\n\nUsage:\n  talosctl bootstrap [flags]\n\nFlags:\n')).toBe(true);
    expect(r.stderr).toContain('Global Flags:\n      --cluster string');
    expect((await runTalosctl(['health', '-x'], env())).stderr.split('\n')[0]).toBe("unknown shorthand flag: 'x' in -x");
    expect((await runTalosctl(['apply-config', '--file'], env())).stderr.split('\n')[0]).toBe('flag needs an argument: --file');
    expect((await runTalosctl(['health', '--wait-timeout', '10'], env())).stderr.split('\n')[0]).toBe('invalid argument "10" for "--wait-timeout" flag: time: missing unit in duration "10"');
    expect((await runTalosctl(['etcd', 'snapshot'], env())).stderr.split('\n')[0]).toBe('accepts 1 arg(s), received 0');
    const unknown = await runTalosctl(['--talosconfig', '/x', 'frobnicate'], env());
    expect([unknown.exitCode, unknown.stderr.split('\n')[0]]).toEqual([1, 'unknown command "frobnicate" for "talosctl"']);
    expect((await runTalosctl(['gen', 'config', 'x', '10.0.0.1'], env())).stderr).toBe('no scheme and port specified for the cluster endpoint URL\ntry: "https://10.0.0.1:6443"\n');
  });

  it('records every invocation', async () => {
    const { lab, env } = newLab();
    await runTalosctl(['version', '--client'], env('a', 2));
    await runTalosctl(['bootstrap', '--nope'], env('b'));
    const lines = readJsonLines<{ tool: string; args: string[]; action_id: string; attempt: number; execution_id: string }>(labPaths(lab).invocations);
    expect(lines.map((l) => [l.tool, l.args, l.action_id, l.attempt, l.execution_id])).toEqual([
      ['talosctl', ['version', '--client'], 'a', 2, 'exec-1'],
      ['talosctl', ['bootstrap', '--nope'], 'b', 1, 'exec-1'],
    ]);
  });
});

describe('talosctl stand-in: clusters', () => {
  it('seed: prod-k8s-01 (3+3, bootstrapped), dr-k8s-01, staging-k8s; no prod-k8s-02; files of each cluster', () => {
    const { lab } = newLab();
    const s = readTalos(lab);
    expect(Object.keys(s.clusters)).toEqual(['prod-k8s-01', 'dr-k8s-01', 'staging-k8s']);
    expect(s.clusters['prod-k8s-01']?.nodes.map((n) => `${n.hostname} ${n.ip} ${n.machine_type}`)).toEqual([
      'k8s-cp-01 10.10.1.10 controlplane', 'k8s-cp-02 10.10.1.11 controlplane', 'k8s-cp-03 10.10.1.12 controlplane',
      'k8s-worker-01 10.10.1.20 worker', 'k8s-worker-02 10.10.1.21 worker', 'k8s-worker-03 10.10.1.22 worker',
    ]);
    expect(s.clusters['dr-k8s-01']?.nodes.map((n) => n.hostname)).toEqual(['dr-k8s-cp-01', 'dr-k8s-cp-02', 'dr-k8s-cp-03', 'dr-k8s-worker-01', 'dr-k8s-worker-02', 'dr-k8s-worker-03']);
    expect(Object.values(s.clusters).every((c) => c.bootstrapped)).toBe(true);
    for (const f of ['controlplane.yaml', 'worker.yaml', 'talosconfig', 'secrets.yaml']) expect(statSync(join(lab, 'clusters', 'prod-k8s-01', f)).mode & 0o777).toBe(0o600);
    expect(parse(readFileSync(labPaths(lab).talosconfig, 'utf8')).context).toBe('prod-k8s-01');
    expect(talosModule.describe?.(lab)).toHaveProperty(['prod-k8s-01', 'bootstrapped'], true);
  });

  it('get members -o json is a stream of indented objects, not an array', async () => {
    const { lab, env } = newLab();
    const r = await runTalosctl([...prodTc(lab), 'get', 'members', '-o', 'json', '-n', '10.10.1.10', '-e', '10.10.1.10'], env());
    expect(r.exitCode).toBe(0);
    expect(() => JSON.parse(r.stdout)).toThrow();
    expect(r.stdout.startsWith('{\n    "node": "10.10.1.10",\n    "metadata": {\n        "namespace": "cluster",\n        "type": "Members.cluster.talos.dev",')).toBe(true);
    const members = parseJsonStream(r.stdout) as Array<{ spec: { hostname: string; addresses: string[]; machineType: string; operatingSystem: string } }>;
    expect(members).toHaveLength(6);
    expect(members[3]?.spec).toMatchObject({ hostname: 'k8s-worker-01', addresses: ['10.10.1.20'], machineType: 'worker', operatingSystem: 'Talos (v1.6.1)' });
  });

  it('builds a cluster: insecure apply registers members, bootstrap once (AlreadyExists the second time), Nodes appear in the API server', async () => {
    const { lab, env } = newLab({ kubeUrl: kube.url });
    const dir = await genCluster(lab, env(), 'lab-k8s-09');
    for (const ip of ['10.40.1.10', '10.40.1.11']) {
      expect((await runTalosctl(['apply-config', '--insecure', '-n', ip, '--file', join(dir, 'controlplane.yaml'), '--mode', 'auto'], env())).exitCode).toBe(0);
    }
    expect(kube.requests).toEqual([]);
    const tc = ['--talosconfig', join(dir, 'talosconfig')];
    const first = await runTalosctl([...tc, 'bootstrap', '-n', '10.40.1.10', '-e', '10.40.1.10'], env('bootstrap'));
    expect(first).toEqual({ exitCode: 0, stdout: '', stderr: '' });
    const again = await runTalosctl([...tc, 'bootstrap', '-n', '10.40.1.10', '-e', '10.40.1.10'], env('bootstrap', 2));
    expect(again).toEqual({ exitCode: 1, stdout: '', stderr: 'error executing bootstrap: rpc error: code = AlreadyExists desc = etcd data directory is not empty\n' });
    // A worker joining a bootstrapped cluster registers its Node straight away.
    expect((await runTalosctl(['apply-config', '--insecure', '-n', '10.40.1.20', '--file', join(dir, 'worker.yaml')], env('join'))).exitCode).toBe(0);
    const posts = kube.requests.filter((r) => r.method === 'POST');
    expect(posts.map((p) => [p.path, (p.body as { metadata: { name: string } }).metadata.name, p.authorization, p.contentType])).toEqual([
      ['/api/v1/nodes', 'lab-k8s-09-cp-01', 'Bearer lab.bootstrap.1.exec-1', 'application/json'],
      ['/api/v1/nodes', 'lab-k8s-09-cp-02', 'Bearer lab.bootstrap.1.exec-1', 'application/json'],
      ['/api/v1/nodes', 'lab-k8s-09-worker-01', 'Bearer lab.join.1.exec-1', 'application/json'],
    ]);
    const cp = posts[0]?.body as { metadata: { labels: Record<string, string> }; spec: unknown; status: { conditions: Array<{ type: string; status: string }>; addresses: unknown[]; nodeInfo: { kubeletVersion: string; osImage: string } } };
    expect(cp.metadata.labels).toMatchObject({ 'kubernetes.io/hostname': 'lab-k8s-09-cp-01', 'node-role.kubernetes.io/control-plane': '', 'cortex.dev/cluster': 'lab-k8s-09' });
    expect(cp.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(cp.status.addresses).toEqual([{ type: 'InternalIP', address: '10.40.1.10' }, { type: 'Hostname', address: 'lab-k8s-09-cp-01' }]);
    expect(cp.status.nodeInfo).toMatchObject({ kubeletVersion: 'v1.29.1', osImage: 'Talos (v1.6.1)' });
    const worker = posts[2]?.body as { metadata: { labels: Record<string, string> } };
    expect(worker.metadata.labels['node-role.kubernetes.io/control-plane']).toBeUndefined();
  });

  it('insecure apply to a configured node fails with the TLS text; the authenticated apply works', async () => {
    const { lab, env } = newLab();
    const file = join(lab, 'clusters', 'prod-k8s-01', 'worker.yaml');
    const r = await runTalosctl(['apply-config', '--insecure', '-n', '10.10.1.20', '--file', file], env());
    expect(r).toEqual({ exitCode: 1, stdout: '', stderr: 'error applying new configuration: rpc error: code = Unavailable desc = connection error: desc = "transport: authentication handshake failed: remote error: tls: certificate required"\n' });
    const ok = await runTalosctl([...prodTc(lab), 'apply-config', '-n', '10.10.1.20', '-e', '10.10.1.20', '--file', file, '--mode', 'auto'], env());
    expect(ok).toEqual({ exitCode: 0, stdout: 'Applied configuration without a reboot\n', stderr: '' });
    expect(readTalos(lab).clusters['prod-k8s-01']?.nodes.find((n) => n.ip === '10.10.1.20')?.configs_applied).toBe(2);
    const lost = await runTalosctl([...prodTc(lab), 'version', '-n', '10.99.0.1', '-e', '10.10.1.10'], env());
    expect(lost.stderr).toContain('error getting version: rpc error: code = Unavailable desc = connection error');
  });

  it('a joining worker takes its VM name from the lab Proxmox state, else the next name of its role', async () => {
    const { lab, env } = newLab();
    writeFileSync(labPaths(lab).state('pve'), JSON.stringify({ nodes: { 'pve-01': { vms: { 301: { vmid: 301, name: 'monitoring-node-01', config: { ipconfig0: 'ip=10.10.20.11/24,gw=10.10.20.1' } } } } } }));
    const file = join(lab, 'clusters', 'prod-k8s-01', 'worker.yaml');
    await runTalosctl(['apply-config', '--insecure', '-n', '10.10.20.11', '--file', file], env());
    await runTalosctl(['apply-config', '--insecure', '-n', '10.10.20.12', '--file', file], env());
    expect(readTalos(lab).clusters['prod-k8s-01']?.nodes.slice(6).map((n) => n.hostname)).toEqual(['monitoring-node-01', 'k8s-worker-04']);
  });

  it('health prints progress on stderr; a missing member makes it fail', async () => {
    const { lab, env } = newLab();
    const ok = await runTalosctl([...prodTc(lab), 'health', '-n', '10.10.1.10', '-e', '10.10.1.10', '--wait-timeout', '20m', '--control-plane-nodes', '10.10.1.10,10.10.1.11,10.10.1.12', '--worker-nodes', '10.10.1.20'], env());
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toBe('');
    expect(ok.stderr.split('\n').slice(0, 4)).toEqual(['waiting for etcd to be healthy: ...', 'waiting for etcd to be healthy: OK', 'waiting for etcd members to be consistent across nodes: ...', 'waiting for etcd members to be consistent across nodes: OK']);
    // without -n the talosconfig context decides: the seeded one names every control plane, so
    // talosctl refuses (helpers.FailIfMultiNodes), as it does with such a context
    const drTc = ['--talosconfig', join(lab, 'clusters', 'dr-k8s-01', 'talosconfig')];
    expect(await runTalosctl([...drTc, 'health', '--wait-timeout', '5m'], env())).toEqual({ exitCode: 1, stdout: '', stderr: 'command "health" is not supported with multiple nodes\n' });
    expect((await runTalosctl([...drTc, 'etcd', 'snapshot', join(lab, 'snap.db')], env())).stderr).toBe('command "etcd snapshot" is not supported with multiple nodes\n');
    const dr = await runTalosctl([...drTc, 'health', '-n', '10.20.1.10', '-e', '10.20.1.10', '--wait-timeout', '5m'], env());
    expect([dr.exitCode, dr.stderr.split('\n')[0]]).toEqual([0, 'discovered nodes: ["10.20.1.10" "10.20.1.11" "10.20.1.12" "10.20.1.20" "10.20.1.21" "10.20.1.22"]']);
    const bad = await runTalosctl([...prodTc(lab), 'health', '-n', '10.10.1.10', '--wait-timeout', '1s', '--worker-nodes', '10.10.1.99'], env());
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain('waiting for all k8s nodes to report: expected node 10.10.1.99 has not registered\nhealthcheck error: rpc error: code = DeadlineExceeded desc = context deadline exceeded\n');
  });

  it('kubeconfig writes the lab kubeconfig relabelled for the cluster (0600, --force to overwrite)', async () => {
    const { lab, env } = newLab();
    writeFileSync(labPaths(lab).kubeconfig, 'apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    server: http://127.0.0.1:4321\ncontexts:\n- name: lab\n  context:\n    cluster: lab\n    user: lab\ncurrent-context: lab\nusers:\n- name: lab\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /lab/bin/kube-token\n');
    const out = join(lab, 'out', 'kubeconfig');
    const args = [...prodTc(lab), 'kubeconfig', '--merge=false', out, '-n', '10.10.1.10', '-e', '10.10.1.10'];
    expect(await runTalosctl([...args, '--force'], env())).toEqual({ exitCode: 0, stdout: '', stderr: '' });
    const doc = parse(readFileSync(out, 'utf8'));
    expect(doc['current-context']).toBe('admin@prod-k8s-01');
    expect(doc.clusters[0]).toEqual({ name: 'prod-k8s-01', cluster: { server: 'http://127.0.0.1:4321' } });
    expect(doc.users[0].user.exec.command).toBe('/lab/bin/kube-token');
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect((await runTalosctl(args, env())).stderr).toBe(`kubeconfig file already exists, use --force to overwrite: ${out}\n`);
    const stdout = await runTalosctl([...prodTc(lab), 'kubeconfig', '--merge=false', '-', '-n', '10.10.1.10'], env());
    expect(stdout.stdout).toContain('current-context: admin@prod-k8s-01');
  });

  it('etcd snapshot writes a file and prints the saved and info lines', async () => {
    const { lab, env } = newLab();
    const path = join(lab, 'backups', 'snap.db');
    const r = await runTalosctl([...prodTc(lab), 'etcd', 'snapshot', path, '-n', '10.10.1.10', '-e', '10.10.1.10'], env());
    expect(r.exitCode).toBe(0);
    const info = parseEtcdSnapshot(r.stdout);
    expect(info).toMatchObject({ path, bytes: statSync(path).size });
    expect(info?.revision).toBeGreaterThan(48_213);
    expect(existsSync(`${path}.part`)).toBe(false);
    const worker = await runTalosctl([...prodTc(lab), 'etcd', 'snapshot', path, '-n', '10.10.1.20'], env());
    expect(worker.exitCode).toBe(1);
  });

  it('upgrade, version, rollback, reset', async () => {
    const { lab, env } = newLab();
    const tc = prodTc(lab);
    const up = await runTalosctl([...tc, 'upgrade', '-n', '10.10.1.21', '-e', '10.10.1.21', '--image', 'ghcr.io/siderolabs/installer:v1.6.2', '--wait', '--timeout', '1500s'], env());
    expect(up.exitCode).toBe(0);
    const v = await runTalosctl([...tc, 'version', '-n', '10.10.1.21'], env());
    expect(v.stdout).toContain('Server:\n\tNODE:        10.10.1.21\n\tTag:         v1.6.2\n');
    expect((await runTalosctl([...tc, 'rollback', '-n', '10.10.1.21'], env())).exitCode).toBe(0);
    expect((await runTalosctl([...tc, 'version', '-n', '10.10.1.21'], env())).stdout).toContain('\tTag:         v1.6.1\n');
    const none = await runTalosctl([...tc, 'rollback', '-n', '10.10.1.22'], env());
    expect(none.stderr).toBe('error executing rollback on node 10.10.1.22: rpc error: code = Unknown desc = cannot rollback: no previous installation found\n');
    expect((await runTalosctl([...tc, 'reset', '-n', '10.10.1.22', '-e', '10.10.1.10', '--graceful', '--reboot=false'], env())).exitCode).toBe(0);
    expect(readTalos(lab).clusters['prod-k8s-01']?.nodes.map((n) => n.ip)).not.toContain('10.10.1.22');
  });
});

describe('talosctl stand-in: failure injection', () => {
  it('fails the targeted attempts with Unavailable, then succeeds', async () => {
    const { lab, env } = newLab({ faults: [{ action_id: 'snap', attempts: 1 }] });
    const args = [...prodTc(lab), 'etcd', 'snapshot', join(lab, 's.db'), '-n', '10.10.1.10', '-e', '10.10.1.10'];
    const r = await runTalosctl(args, env('snap', 1));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe('error reading file: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 10.10.1.10:50000: connect: connection refused"\n');
    expect(r.stderr).toContain('rpc error: code = Unavailable desc = connection error');
    expect((await runTalosctl(args, env('snap', 2))).exitCode).toBe(0);
    expect((await runTalosctl([...prodTc(lab), 'version', '-n', '10.10.1.10'], env('snap', 1))).exitCode).toBe(0);
  });
});
