import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ActionFailedError } from '../../../../src/errors.js';
import { baseConfig, engineScratch, fixture, harness, kubectlResult, router, TC, KC } from './helpers.js';

async function failure(p: Promise<unknown>): Promise<ActionFailedError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ActionFailedError) return e;
    throw e;
  }
  throw new Error('expected the action to fail');
}

const NODES_JSON = (entries: Array<[string, string, boolean]>) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: entries.map(([name, ip, ready]) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name },
      status: { addresses: [{ type: 'InternalIP', address: ip }], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
    })),
    metadata: { resourceVersion: '' },
  });

describe('generate_talos_config', () => {
  it('generates secrets once, writes patches to scratch files and keeps the PKI out of the outputs', async () => {
    const { root, scratch } = engineScratch();
    const params = {
      cluster: 'prod-k8s-02',
      endpoint: '10.10.1.100',
      talos_version: 'v1.6.1',
      kubernetes_version: 'v1.29.1',
      install_disk: '/dev/sda',
      install_image: 'ghcr.io/siderolabs/installer:v1.6.1',
      additional_sans: ['10.10.1.100', 'api.cortex.local'],
      config_patches: [{ cluster: { network: { cni: { name: 'none' } } } }],
      worker_patches: [{ machine: { kubelet: { extraArgs: { 'max-pods': '200' } } } }],
    };
    const h = await harness('generate_talos_config', params, { config: {}, root });
    const dir = join(root, 'clusters', 'prod-k8s-02');
    h.deps.runner.on(
      'talosctl',
      [],
      router([
        ['gen secrets', (args) => (writeFileSync(args[3] as string, 'secrets: lab\n'), {})],
        ['gen config', () => {
          for (const f of ['controlplane.yaml', 'worker.yaml', 'talosconfig']) writeFileSync(join(dir, f), 'x');
          return { stderr: `Created ${dir}/controlplane.yaml\n` };
        }],
      ]),
    );
    const out = await h.impl.run(h.rt);
    expect(out).toEqual({
      config_dir: dir,
      controlplane_config: join(dir, 'controlplane.yaml'),
      worker_config: join(dir, 'worker.yaml'),
      talosconfig: join(dir, 'talosconfig'),
      secrets: join(dir, 'secrets.yaml'),
    });
    const calls = h.calls();
    expect(calls[0]).toEqual(['talosctl', 'gen', 'secrets', '-o', join(dir, 'secrets.yaml'), '--talos-version', 'v1.6.1']);
    const gen = calls[1] as string[];
    const patchAll = gen[gen.indexOf('--config-patch') + 1] as string;
    const patchWorker = gen[gen.indexOf('--config-patch-worker') + 1] as string;
    expect(gen).toEqual([
      'talosctl', 'gen', 'config', 'prod-k8s-02', 'https://10.10.1.100:6443',
      '--with-secrets', join(dir, 'secrets.yaml'), '-o', dir, '--force', '--with-docs=false', '--with-examples=false',
      '--talos-version', 'v1.6.1', '--kubernetes-version', 'v1.29.1', '--install-disk', '/dev/sda',
      '--install-image', 'ghcr.io/siderolabs/installer:v1.6.1', '--additional-sans', '10.10.1.100,api.cortex.local',
      '--config-patch', patchAll, '--config-patch-worker', patchWorker,
    ]);
    expect(patchAll.startsWith(`@${scratch}/`)).toBe(true);
    expect(readFileSync(patchAll.slice(1), 'utf8')).toBe('cluster:\n  network:\n    cni:\n      name: none\n');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'controlplane.yaml')).mode & 0o777).toBe(0o600);
    // Second run: secrets.yaml exists and is reused (same PKI).
    const h2 = await harness('generate_talos_config', params, { config: {}, root });
    h2.deps.runner.on('talosctl', ['gen', 'config'], {});
    await h2.impl.run(h2.rt);
    expect(h2.calls().map((c) => c.slice(0, 3))).toEqual([['talosctl', 'gen', 'config']]);
  });

  it('plans under the configured talosconfig directory', async () => {
    const h = await harness('generate_talos_config', { cluster: 'prod-k8s-02', endpoint: 'https://10.10.1.100:6443' });
    const steps = h.impl.plan(h.rt.params, { config: h.rt.config, executionId: 'e', workflowId: 'w', actionId: 'a', contractor: 'talos-contractor' });
    expect(steps[1]).toMatchObject({ kind: 'command', tool: 'talosctl', args: ['gen', 'config', 'prod-k8s-02', 'https://10.10.1.100:6443', '--with-secrets', '/etc/cortex/clusters/prod-k8s-02/secrets.yaml', '-o', '/etc/cortex/clusters/prod-k8s-02', '--force', '--with-docs=false', '--with-examples=false'] });
  });
});

describe('apply_talos_config', () => {
  it('insecure first apply; a node already configured gets the authenticated apply', async () => {
    const { root, scratch } = engineScratch();
    mkdirSync(scratch, { recursive: true });
    const cfg = join(scratch, 'cp.yaml');
    writeFileSync(cfg, 'machine: {}\n');
    const h = await harness('apply_talos_config', { cluster: 'prod-k8s-01', nodes: ['10.10.1.10', '10.10.1.11'], config_file: cfg, insecure: true }, { root });
    h.deps.runner.on(
      'talosctl',
      [],
      router([
        ['--insecure -n 10.10.1.11', { exitCode: 1, stderr: fixture('talosctl/apply-insecure-configured.stderr') }],
        ['apply-config', {}],
      ]),
    );
    expect(await h.impl.run(h.rt)).toEqual({ nodes: ['10.10.1.10', '10.10.1.11'], mode: 'auto' });
    expect(h.calls()).toEqual([
      ['talosctl', 'apply-config', '--insecure', '-n', '10.10.1.10', '--file', cfg, '--mode', 'auto'],
      ['talosctl', 'apply-config', '--insecure', '-n', '10.10.1.11', '--file', cfg, '--mode', 'auto'],
      ['talosctl', '--talosconfig', TC, 'apply-config', '-n', '10.10.1.11', '-e', '10.10.1.11', '--file', cfg, '--mode', 'auto'],
    ]);
  });

  it('uses the generated config of machine_type and fails clearly when it is missing', async () => {
    const h = await harness('apply_talos_config', { cluster: 'prod-k8s-01', nodes: ['10.10.1.20'], machine_type: 'worker' });
    const e = await failure(h.impl.run(h.rt));
    expect(e.errorCode).toBe('talos_config_not_found');
    expect(e.message).toContain('/etc/cortex/clusters/prod-k8s-01/worker.yaml');
  });
});

describe('bootstrap_talos_cluster', () => {
  const params = { cluster: 'prod-k8s-01', node: '10.10.1.10' };
  const argv = ['talosctl', '--talosconfig', TC, 'bootstrap', '-n', '10.10.1.10', '-e', '10.10.1.10'];
  it('bootstraps', async () => {
    const h = await harness('bootstrap_talos_cluster', params);
    h.deps.runner.on('talosctl', [], {});
    expect(await h.impl.run(h.rt)).toEqual({ node: '10.10.1.10', bootstrapped: true, already_bootstrapped: false });
    expect(h.calls()).toEqual([argv]);
  });
  it('AlreadyExists / "etcd data directory is not empty" is success', async () => {
    const h = await harness('bootstrap_talos_cluster', params);
    h.deps.runner.on('talosctl', [], { exitCode: 1, stderr: fixture('talosctl/bootstrap-already-exists.stderr') });
    expect(await h.impl.run(h.rt)).toEqual({ node: '10.10.1.10', bootstrapped: false, already_bootstrapped: true });
  });
  it('FailedPrecondition and Unavailable are retryable', async () => {
    for (const [file, code] of [['bootstrap-not-ready.stderr', 'talos_not_ready'], ['unavailable.stderr', 'talos_unavailable']] as const) {
      const h = await harness('bootstrap_talos_cluster', { ...params, recover_from: '/backups/x.db' });
      h.deps.runner.on('talosctl', [], { exitCode: 1, stderr: fixture(`talosctl/${file}`) });
      const e = await failure(h.impl.run(h.rt));
      expect([e.errorCode, e.retryable]).toEqual([code, true]);
      expect(h.calls()[0]).toEqual([...argv, '--recover-from', '/backups/x.db']);
    }
  });
});

describe('talos_health', () => {
  it('passes node lists and keeps the check lines', async () => {
    const h = await harness('talos_health', { cluster: 'prod-k8s-01', wait_timeout_seconds: 300 });
    h.deps.runner.on('talosctl', [], { stderr: fixture('talosctl/health.stderr') });
    const out = await h.impl.run(h.rt);
    expect(h.calls()).toEqual([
      ['talosctl', '--talosconfig', TC, 'health', '-n', '10.10.1.10', '-e', '10.10.1.10', '--wait-timeout', '300s', '--control-plane-nodes', '10.10.1.10,10.10.1.11,10.10.1.12', '--worker-nodes', '10.10.1.20,10.10.1.21,10.10.1.22'],
    ]);
    expect(h.deps.runner.calls[0]?.options?.timeoutMs).toBe(330_000);
    expect(out.checks).toEqual([
      'discovered nodes: ["10.10.1.10" "10.10.1.20"]',
      'waiting for etcd to be healthy: OK',
      'waiting for apid to be ready: OK',
      'waiting for all k8s nodes to report ready: OK',
      'waiting for kube-proxy to report ready: SKIP',
    ]);
    expect(out.healthy).toBe(true);
  });
  it('never leaves the node to the talosconfig context: without one in params or config it fails before talosctl runs', async () => {
    for (const action of ['talos_health', 'etcd_snapshot', 'get_kubeconfig']) {
      const h = await harness(action, { cluster: 'dr-k8s-01' });
      const e = await failure(h.impl.run(h.rt));
      expect([e.errorCode, e.retryable, e.hint]).toEqual(['cluster_not_configured', false, 'pass node, or set clusters.dr-k8s-01.control_plane_nodes (or clusters.dr-k8s-01.endpoint) in config.yaml']);
      expect(h.calls()).toEqual([]);
    }
    // a configured talosctl endpoint is used as node and endpoint
    const withEndpoint = await harness('talos_health', { cluster: 'dr-k8s-01' }, { config: { clusters: { ...baseConfig().clusters, 'dr-k8s-01': { endpoint: 'https://10.20.1.10:6443' } } } });
    withEndpoint.deps.runner.on('talosctl', [], { exitCode: 1, stderr: 'waiting for etcd to be healthy: ...\nhealthcheck error: rpc error: code = DeadlineExceeded desc = context deadline exceeded\n' });
    const e = await failure(withEndpoint.impl.run(withEndpoint.rt));
    expect(withEndpoint.calls()[0]).toEqual(['talosctl', '--talosconfig', '/etc/cortex/default.talosconfig', 'health', '-n', '10.20.1.10', '-e', '10.20.1.10', '--wait-timeout', '600s']);
    expect([e.errorCode, e.retryable]).toEqual(['cluster_unhealthy', true]);
  });
});

describe('get_kubeconfig', () => {
  it('writes the file with --merge=false --force, validates it with kubectl and outputs only the path', async () => {
    const { root } = engineScratch();
    const h = await harness('get_kubeconfig', { cluster: 'prod-k8s-02', node: '10.10.1.10' }, { config: { clusters: { default: { talosconfig: join(root, 'talosconfig'), kubeconfig: join(root, 'kc') } } }, root });
    const path = join(root, 'clusters', 'prod-k8s-02', 'kubeconfig');
    h.deps.runner.on('talosctl', [], (args) => (writeFileSync(args[4] as string, 'apiVersion: v1\nkind: Config\ncurrent-context: admin@prod-k8s-02\nusers: [{name: a, user: {token: secret}}]\n'), {}));
    h.deps.runner.on('kubectl', [], { stdout: NODES_JSON([['prod-k8s-02-cp-01', '10.10.1.10', true]]) });
    expect(await h.impl.run(h.rt)).toEqual({ path, context: 'admin@prod-k8s-02', nodes: 1 });
    expect(h.calls()).toEqual([
      ['talosctl', '--talosconfig', join(root, 'talosconfig'), 'kubeconfig', '--merge=false', path, '-n', '10.10.1.10', '-e', '10.10.1.10', '--force'],
      ['kubectl', '--kubeconfig', path, 'get', 'nodes', '-o', 'json'],
    ]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});

describe('etcd_snapshot', () => {
  it('parses the saved and info lines', async () => {
    const h = await harness('etcd_snapshot', { cluster: 'prod-k8s-01', path: '/backups/prod-k8s-01/etcd-20261125T120000Z.db' });
    h.deps.runner.on('talosctl', [], { stdout: fixture('talosctl/etcd-snapshot.stdout') });
    expect(await h.impl.run(h.rt)).toEqual({ path: '/backups/prod-k8s-01/etcd-20261125T120000Z.db', bytes: 2015264, revision: 4193, hash: 'c25fd181' });
    expect(h.calls()).toEqual([['talosctl', '--talosconfig', TC, 'etcd', 'snapshot', '/backups/prod-k8s-01/etcd-20261125T120000Z.db', '-n', '10.10.1.10', '-e', '10.10.1.10']]);
  });
  it('defaults to <base>/backups/<cluster>/etcd-<timestamp>.db', async () => {
    const { root } = engineScratch();
    const h = await harness('etcd_snapshot', { cluster: 'prod-k8s-01' }, { config: { clusters: { 'prod-k8s-01': { talosconfig: join(root, 'tc'), control_plane_nodes: ['10.10.1.11', '10.10.1.12'] } } }, root });
    h.deps.runner.on('talosctl', [], (args) => ({ stdout: `etcd snapshot saved to "${args[4]}" (10 bytes)\n` }));
    const out = await h.impl.run(h.rt);
    expect(h.calls()[0]?.slice(6)).toEqual(['-n', '10.10.1.11', '-e', '10.10.1.11']);
    expect(out.path).toBe(join(root, 'backups', 'prod-k8s-01', 'etcd-20261125T120000Z.db'));
    expect(existsSync(join(root, 'backups', 'prod-k8s-01'))).toBe(true);
    expect(out.revision).toBeNull();
  });
});

describe('upgrade_talos_node / rollback_talos_node', () => {
  it('reads the version before and after', async () => {
    const h = await harness('upgrade_talos_node', { cluster: 'prod-k8s-01', node: '10.10.1.20', image: 'ghcr.io/siderolabs/installer:v1.6.2', stage: true });
    let upgraded = false;
    h.deps.runner.on(
      'talosctl',
      [],
      router([
        [' upgrade ', () => ((upgraded = true), { stderr: 'watching nodes: [10.10.1.20]\n' })],
        [' version ', () => ({ stdout: fixture('talosctl/version.stdout').replace('Tag:         v1.6.1', upgraded ? 'Tag:         v1.6.2' : 'Tag:         v1.6.1') })],
      ]),
    );
    expect(await h.impl.run(h.rt)).toEqual({ node: '10.10.1.20', previous_version: 'v1.6.1', version: 'v1.6.2', unchanged: false });
    expect(h.calls()[1]).toEqual(['talosctl', '--talosconfig', TC, 'upgrade', '-n', '10.10.1.20', '-e', '10.10.1.20', '--image', 'ghcr.io/siderolabs/installer:v1.6.2', '--wait', '--timeout', '1800s', '--stage']);
  });
  it('rollback honours skip and waits for the node', async () => {
    const skip = await harness('rollback_talos_node', { cluster: 'prod-k8s-01', node: '10.10.1.20', skip: true });
    expect(await skip.impl.run(skip.rt)).toEqual({ node: '10.10.1.20', version: null });
    expect(skip.calls()).toEqual([]);
    const h = await harness('rollback_talos_node', { cluster: 'prod-k8s-01', node: '10.10.1.20' });
    h.deps.runner.on('talosctl', ['--talosconfig', TC, 'rollback'], {});
    h.deps.runner.on('talosctl', ['--talosconfig', TC, 'version'], { exitCode: 1, stderr: fixture('talosctl/unavailable.stderr') }, { stdout: fixture('talosctl/version.stdout') });
    expect(await h.impl.run(h.rt)).toEqual({ node: '10.10.1.20', version: 'v1.6.1' });
    expect(h.deps.clock.sleeps).toEqual([5000]);
  });
});

describe('join_nodes / remove_nodes', () => {
  it('applies the worker config insecurely, waits for Ready nodes, then labels them', async () => {
    const { root } = engineScratch();
    mkdirSync(join(root, 'clusters', 'prod-k8s-01'), { recursive: true });
    writeFileSync(join(root, 'clusters', 'prod-k8s-01', 'worker.yaml'), 'machine: {}\n');
    const config = { clusters: { 'prod-k8s-01': { kubeconfig: KC, talosconfig: join(root, 'talosconfig'), control_plane_nodes: ['10.10.1.10'] } } };
    const h = await harness('join_nodes', { cluster: 'prod-k8s-01', nodes: ['10.10.20.11', '10.10.20.12'], labels: { 'cortex.dev/role': 'monitoring' }, taints: ['dedicated=monitoring:NoSchedule'] }, { config, root });
    h.deps.runner.on('talosctl', [], router([['-n 10.10.20.12', { exitCode: 1, stderr: fixture('talosctl/apply-insecure-configured.stderr') }], ['apply-config', {}], ['get members', { stdout: fixture('talosctl/members.json').replace('"10.10.20.11"', '"10.10.20.12"') }]]));
    h.deps.runner.on('kubectl', [], router([
      ['get nodes', () => ({ stdout: NODES_JSON([['monitoring-node-01', '10.10.20.11', true], ['monitoring-node-02', '10.10.20.12', h.deps.clock.sleeps.length > 0]]) })],
      ['label node', { stdout: 'node/monitoring-node-01 labeled\nnode/monitoring-node-02 labeled\n' }],
      ['taint node', {}],
    ]));
    expect(await h.impl.run(h.rt)).toEqual({ nodes: ['monitoring-node-01', 'monitoring-node-02'], ips: ['10.10.20.11', '10.10.20.12'], ready: 2 });
    const worker = join(root, 'clusters', 'prod-k8s-01', 'worker.yaml');
    expect(h.calls()).toEqual([
      ['talosctl', 'apply-config', '--insecure', '-n', '10.10.20.11', '--file', worker, '--mode', 'auto'],
      ['talosctl', 'apply-config', '--insecure', '-n', '10.10.20.12', '--file', worker, '--mode', 'auto'],
      ['talosctl', '--talosconfig', join(root, 'talosconfig'), 'get', 'members', '-o', 'json', '-n', '10.10.1.10', '-e', '10.10.1.10'],
      ['kubectl', '--kubeconfig', KC, 'get', 'nodes', '-o', 'json'],
      ['kubectl', '--kubeconfig', KC, 'get', 'nodes', '-o', 'json'],
      ['kubectl', '--kubeconfig', KC, 'label', 'node', 'monitoring-node-01', 'monitoring-node-02', 'cortex.dev/role=monitoring', '--overwrite'],
      ['kubectl', '--kubeconfig', KC, 'taint', 'node', 'monitoring-node-01', 'dedicated=monitoring:NoSchedule', '--overwrite'],
      ['kubectl', '--kubeconfig', KC, 'taint', 'node', 'monitoring-node-02', 'dedicated=monitoring:NoSchedule', '--overwrite'],
    ]);
  });

  it('times out as node_join_failed', async () => {
    const { root } = engineScratch();
    mkdirSync(join(root, 'clusters', 'x'), { recursive: true });
    writeFileSync(join(root, 'clusters', 'x', 'worker.yaml'), 'machine: {}\n');
    const h = await harness('join_nodes', { cluster: 'x', nodes: ['10.9.9.9'], ready_timeout_seconds: 12 }, { config: { clusters: { x: { kubeconfig: KC, talosconfig: join(root, 'tc') } } }, root });
    h.deps.runner.on('talosctl', [], {});
    h.deps.runner.on('kubectl', [], { stdout: NODES_JSON([]) });
    const e = await failure(h.impl.run(h.rt));
    expect([e.errorCode, e.retryable, e.message]).toEqual(['node_join_failed', true, 'nodes did not become Ready within 12s: 10.9.9.9 not registered']);
  });

  it('remove_nodes drains, deletes and resets; gone nodes count as removed', async () => {
    const h = await harness('remove_nodes', { cluster: 'prod-k8s-01', nodes: ['k8s-worker-03', 'k8s-worker-09'] });
    h.deps.runner.on('kubectl', [], router([
      ['get nodes', { stdout: NODES_JSON([['k8s-worker-03', '10.10.1.22', true]]) }],
      ['drain k8s-worker-09', kubectlResult('83-cordon-missing')],
      ['drain', kubectlResult('90-drain')],
      ['delete node', {}],
    ]));
    h.deps.runner.on('talosctl', [], {});
    expect(await h.impl.run(h.rt)).toEqual({ removed: ['k8s-worker-03', 'k8s-worker-09'] });
    expect(h.calls()).toEqual([
      ['kubectl', '--kubeconfig', KC, 'get', 'nodes', '-o', 'json'],
      ['kubectl', '--kubeconfig', KC, 'drain', 'k8s-worker-03', '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=600s'],
      ['kubectl', '--kubeconfig', KC, 'delete', 'node', 'k8s-worker-03', '--ignore-not-found'],
      ['talosctl', '--talosconfig', TC, 'reset', '-n', '10.10.1.22', '-e', '10.10.1.10', '--graceful', '--reboot=false'],
      ['kubectl', '--kubeconfig', KC, 'drain', 'k8s-worker-09', '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=600s'],
      ['kubectl', '--kubeconfig', KC, 'delete', 'node', 'k8s-worker-09', '--ignore-not-found'],
    ]);
  });
});
