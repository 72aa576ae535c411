import { createHash, randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { labPaths, mkdirLab, readState } from '../lab-dir.js';

export type MachineType = 'controlplane' | 'worker';

/** One Talos machine that belongs to a cluster (it left maintenance mode with that cluster's config). */
export interface TalosNodeState {
  ip: string;
  hostname: string;
  machine_type: MachineType;
  node_id: string;
  talos_version: string;
  installer_image: string;
  /** Version and image `talosctl rollback` returns to (null: nothing to roll back to). */
  previous_version: string | null;
  previous_image: string | null;
  /** Image staged with `upgrade --stage`, applied at the next reboot. */
  staged_image: string | null;
  configs_applied: number;
  last_config: { file: string; mode: string; at: string } | null;
}

export interface TalosClusterState {
  name: string;
  /** Kubernetes API endpoint (https://<vip>:6443). */
  endpoint: string;
  site: string;
  talos_version: string;
  kubernetes_version: string;
  bootstrapped: boolean;
  bootstrapped_at: string | null;
  etcd_revision: number;
  nodes: TalosNodeState[];
  snapshots: Array<{ path: string; bytes: number; revision: number; hash: string; at: string; node: string }>;
}

/** <lab>/state/talos.json */
export interface TalosState {
  clusters: Record<string, TalosClusterState>;
}

export const TALOS_STATE = 'talos';
export const CLIENT_VERSION = 'v1.6.2';

export function emptyTalosState(): TalosState {
  return { clusters: {} };
}

export function readTalos(lab: string): TalosState {
  return readState(lab, TALOS_STATE, emptyTalosState);
}

/**
 * config.yaml `clusters.<name>` entries for the lab's Talos clusters: their control planes and
 * workers, as an operator configures them (talosctl gets -n from them when no node is given).
 */
export function labClusterNodes(lab: string): Record<string, { control_plane_nodes: string[]; worker_nodes: string[] }> {
  const out: Record<string, { control_plane_nodes: string[]; worker_nodes: string[] }> = {};
  for (const c of Object.values(readTalos(lab).clusters)) {
    out[c.name] = {
      control_plane_nodes: c.nodes.filter((n) => n.machine_type === 'controlplane').map((n) => n.ip),
      worker_nodes: c.nodes.filter((n) => n.machine_type === 'worker').map((n) => n.ip),
    };
  }
  return out;
}

export function nodeId(ip: string, cluster: string): string {
  return createHash('sha256').update(`${cluster}/${ip}`).digest('base64url').slice(0, 43);
}

export function newNode(cluster: string, ip: string, hostname: string, type: MachineType, version: string, at: string | null = null): TalosNodeState {
  return {
    ip,
    hostname,
    machine_type: type,
    node_id: nodeId(ip, cluster),
    talos_version: version,
    installer_image: `ghcr.io/siderolabs/installer:${version}`,
    previous_version: null,
    previous_image: null,
    staged_image: null,
    configs_applied: 1,
    last_config: at ? { file: 'seed', mode: 'auto', at } : null,
  };
}

interface SeedCluster {
  name: string;
  site: string;
  vip: string;
  cps: Array<[string, string]>;
  workers: Array<[string, string]>;
}

/**
 * Seeded clusters. Node names are shared with the lab Kubernetes API server's seed:
 * prod-k8s-01 k8s-cp-0N / k8s-worker-0N, dr-k8s-01 dr-k8s-cp-0N / dr-k8s-worker-0N.
 * prod-k8s-02 does not exist: build-k8s-cluster creates it.
 */
export const SEED_CLUSTERS: readonly SeedCluster[] = [
  {
    name: 'prod-k8s-01',
    site: 'datacenter-01',
    vip: '10.10.1.100',
    cps: [['10.10.1.10', 'k8s-cp-01'], ['10.10.1.11', 'k8s-cp-02'], ['10.10.1.12', 'k8s-cp-03']],
    workers: [['10.10.1.20', 'k8s-worker-01'], ['10.10.1.21', 'k8s-worker-02'], ['10.10.1.22', 'k8s-worker-03']],
  },
  {
    name: 'dr-k8s-01',
    site: 'datacenter-02',
    vip: '10.20.1.100',
    cps: [['10.20.1.10', 'dr-k8s-cp-01'], ['10.20.1.11', 'dr-k8s-cp-02'], ['10.20.1.12', 'dr-k8s-cp-03']],
    workers: [['10.20.1.20', 'dr-k8s-worker-01'], ['10.20.1.21', 'dr-k8s-worker-02'], ['10.20.1.22', 'dr-k8s-worker-03']],
  },
  {
    name: 'staging-k8s',
    site: 'datacenter-01',
    vip: '10.30.1.100',
    cps: [['10.30.1.10', 'staging-k8s-cp-01']],
    workers: [['10.30.1.20', 'staging-k8s-worker-01'], ['10.30.1.21', 'staging-k8s-worker-02']],
  },
];

export const SEED_TALOS_VERSION = 'v1.6.1';
export const SEED_KUBERNETES_VERSION = 'v1.29.1';

export function seedTalosState(): TalosState {
  const at = '2026-01-15T00:00:00.000Z';
  const clusters: Record<string, TalosClusterState> = {};
  for (const c of SEED_CLUSTERS) {
    clusters[c.name] = {
      name: c.name,
      endpoint: `https://${c.vip}:6443`,
      site: c.site,
      talos_version: SEED_TALOS_VERSION,
      kubernetes_version: SEED_KUBERNETES_VERSION,
      bootstrapped: true,
      bootstrapped_at: at,
      etcd_revision: 48_213,
      nodes: [
        ...c.cps.map(([ip, host]) => newNode(c.name, ip, host, 'controlplane', SEED_TALOS_VERSION, at)),
        ...c.workers.map(([ip, host]) => newNode(c.name, ip, host, 'worker', SEED_TALOS_VERSION, at)),
      ],
      snapshots: [],
    };
  }
  return { clusters };
}

/** A fake PEM block: lab data only, never a usable key. */
function fakePem(kind: string): string {
  const body = Buffer.from(`cortex-lab ${kind} ${randomBytes(24).toString('hex')}`).toString('base64');
  return Buffer.from(`-----BEGIN ${kind}-----\n${body}\n-----END ${kind}-----\n`).toString('base64');
}

export interface LabSecrets {
  cluster: { id: string; secret: string };
  secrets: { bootstraptoken: string; secretboxencryptionsecret: string };
  trustdinfo: { token: string };
  certs: { etcd: { crt: string; key: string }; k8s: { crt: string; key: string }; os: { crt: string; key: string } };
}

export function newSecretsBundle(): LabSecrets {
  const tok = (n: number) => randomBytes(n).toString('hex');
  return {
    cluster: { id: randomBytes(32).toString('base64url'), secret: randomBytes(32).toString('base64') },
    secrets: { bootstraptoken: `${tok(3)}.${tok(8)}`, secretboxencryptionsecret: randomBytes(32).toString('base64') },
    trustdinfo: { token: `${tok(3)}.${tok(8)}` },
    certs: {
      etcd: { crt: fakePem('CERTIFICATE'), key: fakePem('EC PRIVATE KEY') },
      k8s: { crt: fakePem('CERTIFICATE'), key: fakePem('EC PRIVATE KEY') },
      os: { crt: fakePem('CERTIFICATE'), key: fakePem('ED25519 PRIVATE KEY') },
    },
  };
}

export interface ConfigInputs {
  cluster: string;
  endpoint: string;
  talosVersion: string;
  kubernetesVersion: string;
  installDisk: string;
  installImage: string;
  sans: string[];
  secrets: LabSecrets;
}

/** A Talos machine config (v1alpha1) with the fields the stand-in reads back. */
export function machineConfig(type: MachineType, i: ConfigInputs): Record<string, unknown> {
  const k8s = i.kubernetesVersion.replace(/^v?/, 'v');
  return {
    version: 'v1alpha1',
    debug: false,
    persist: true,
    machine: {
      type,
      token: i.secrets.trustdinfo.token,
      ca: type === 'controlplane' ? { crt: i.secrets.certs.os.crt, key: i.secrets.certs.os.key } : { crt: i.secrets.certs.os.crt, key: '' },
      certSANs: [...i.sans],
      kubelet: { image: `ghcr.io/siderolabs/kubelet:${k8s}`, defaultRuntimeSeccompProfileEnabled: true, disableManifestsDirectory: true },
      network: {},
      install: { disk: i.installDisk, image: i.installImage, wipe: false },
      features: { rbac: true, stableHostname: true, apidCheckExtKeyUsage: true, diskQuotaSupport: true },
    },
    cluster: {
      id: i.secrets.cluster.id,
      secret: i.secrets.cluster.secret,
      controlPlane: { endpoint: i.endpoint },
      clusterName: i.cluster,
      network: { dnsDomain: 'cluster.local', podSubnets: ['10.244.0.0/16'], serviceSubnets: ['10.96.0.0/12'] },
      token: i.secrets.secrets.bootstraptoken,
      secretboxEncryptionSecret: i.secrets.secrets.secretboxencryptionsecret,
      ca: { crt: i.secrets.certs.k8s.crt, key: type === 'controlplane' ? i.secrets.certs.k8s.key : '' },
      ...(type === 'controlplane'
        ? {
            apiServer: { image: `registry.k8s.io/kube-apiserver:${k8s}`, certSANs: [...i.sans] },
            controllerManager: { image: `registry.k8s.io/kube-controller-manager:${k8s}` },
            scheduler: { image: `registry.k8s.io/kube-scheduler:${k8s}` },
            etcd: { ca: { crt: i.secrets.certs.etcd.crt, key: i.secrets.certs.etcd.key } },
          }
        : {}),
      discovery: { enabled: true },
    },
  };
}

/** talosconfig with one context per cluster (endpoints = control planes, or the endpoint host). */
export function talosconfigText(current: string, contexts: Array<{ name: string; endpoints: string[]; nodes?: string[] }>): string {
  const doc: Record<string, unknown> = { context: current, contexts: {} };
  for (const c of contexts) {
    (doc.contexts as Record<string, unknown>)[c.name] = {
      endpoints: c.endpoints,
      ...(c.nodes && c.nodes.length > 0 ? { nodes: c.nodes } : {}),
      ca: fakePem('CERTIFICATE'),
      crt: fakePem('CERTIFICATE'),
      key: fakePem('ED25519 PRIVATE KEY'),
    };
  }
  return stringify(doc);
}

export function clusterDir(lab: string, cluster: string): string {
  return join(lab, 'clusters', cluster);
}

/**
 * Files of the seeded clusters, as generate_talos_config would have left them:
 * <lab>/clusters/<name>/{secrets.yaml,controlplane.yaml,worker.yaml,talosconfig}, and
 * <lab>/talosconfig with a context per cluster.
 */
export function writeSeedFiles(lab: string, state: TalosState): void {
  rmSync(join(lab, 'clusters'), { recursive: true, force: true });
  const contexts: Array<{ name: string; endpoints: string[]; nodes: string[] }> = [];
  for (const c of Object.values(state.clusters)) {
    const dir = clusterDir(lab, c.name);
    mkdirLab(dir);
    const secrets = newSecretsBundle();
    const inputs: ConfigInputs = {
      cluster: c.name,
      endpoint: c.endpoint,
      talosVersion: c.talos_version,
      kubernetesVersion: c.kubernetes_version,
      installDisk: '/dev/sda',
      installImage: `ghcr.io/siderolabs/installer:${c.talos_version}`,
      sans: [new URL(c.endpoint).hostname],
      secrets,
    };
    const cps = c.nodes.filter((n) => n.machine_type === 'controlplane').map((n) => n.ip);
    writeFileSync(join(dir, 'secrets.yaml'), stringify(secrets), { mode: 0o600 });
    writeFileSync(join(dir, 'controlplane.yaml'), stringify(machineConfig('controlplane', inputs)), { mode: 0o600 });
    writeFileSync(join(dir, 'worker.yaml'), stringify(machineConfig('worker', inputs)), { mode: 0o600 });
    // as operators set them up (`talosctl config endpoint/node <control planes>`): a command without
    // -n then goes to every control plane, and one that needs a single node fails, as talosctl does
    writeFileSync(join(dir, 'talosconfig'), talosconfigText(c.name, [{ name: c.name, endpoints: cps, nodes: cps }]), { mode: 0o600 });
    contexts.push({ name: c.name, endpoints: cps, nodes: cps });
  }
  const first = contexts[0]?.name ?? 'lab';
  writeFileSync(labPaths(lab).talosconfig, talosconfigText(first, contexts), { mode: 0o600 });
}
