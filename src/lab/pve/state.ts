/**
 * The lab Proxmox cluster (<lab>/state/pve.json): nodes, storages, VMs (config, snapshots,
 * firewall), cluster firewall (aliases, IPSets), SDN (pending and applied), replication jobs and
 * tasks. Sizes are bytes unless a name says otherwise; times are Unix seconds.
 */

export const GIB = 1024 ** 3;
export const MIB = 1024 ** 2;
export const TIB = 1024 ** 4;

export interface PveNode {
  name: string;
  ip: string;
  online: boolean;
  maxcpu: number;
  /** CPU load without the lab VMs, 0..1. */
  cpuBase: number;
  maxmem: number;
  /** Memory used without the lab VMs. */
  memBase: number;
  maxdisk: number;
  diskUsed: number;
  bridges: string[];
  bootedAt: number;
}

export interface PveStorage {
  id: string;
  type: string;
  content: string[];
  shared: boolean;
  /** Nodes it is available on. */
  nodes: string[];
  /** Per node for local storages, once for shared ones. */
  total: number;
  /** Used by things other than lab VM disks. */
  usedBase: number;
  active: boolean;
}

export type Config = Record<string, string | number>;

export interface PveSnapshot {
  name: string;
  description?: string;
  snaptime: number;
  vmstate: boolean;
  parent?: string;
  config: Config;
}

export interface FwRule {
  type: string;
  action: string;
  enable: number;
  proto?: string;
  dport?: string;
  sport?: string;
  source?: string;
  dest?: string;
  macro?: string;
  log?: string;
  iface?: string;
  comment?: string;
  'icmp-type'?: string;
}

export interface AgentExec {
  exited: number;
  exitcode: number;
  'out-data'?: string;
  'err-data'?: string;
}

export interface PveVm {
  vmid: number;
  name: string;
  node: string;
  status: 'running' | 'stopped';
  template: boolean;
  lock?: string;
  pool?: string;
  startedAt?: number;
  config: Config;
  snapshots: PveSnapshot[];
  /** Name of the snapshot the current state derives from. */
  parent?: string;
  firewall: { options: Config; rules: FwRule[] };
  agentExec: Record<string, AgentExec>;
}

export interface IpsetEntry {
  cidr: string;
  comment?: string;
  nomatch?: number;
}

export interface PveIpset {
  name: string;
  comment?: string;
  entries: IpsetEntry[];
}

export interface SdnZone {
  type: string;
  bridge?: string;
  tag?: number;
  mtu?: number;
  ipam?: string;
  nodes?: string;
}

export interface SdnVnet {
  zone: string;
  tag?: number;
  alias?: string;
  vlanaware?: number;
}

export interface SdnSubnet {
  vnet: string;
  zone: string;
  cidr: string;
  gateway?: string;
  snat?: number;
}

export interface SdnConfig {
  zones: Record<string, SdnZone>;
  vnets: Record<string, SdnVnet>;
  subnets: Record<string, SdnSubnet>;
}

export interface ReplicationJob {
  id: string;
  guest: number;
  jobnum: number;
  target: string;
  schedule: string;
  /** Seconds between the last sync and "now" whenever it is read. */
  lagSeconds: number;
  error?: string;
  failCount?: number;
}

export interface PveTask {
  upid: string;
  node: string;
  type: string;
  id: string;
  user: string;
  pid: number;
  pstart: number;
  starttime: number;
  endtime?: number;
  status: 'running' | 'stopped';
  exitstatus?: string;
  log: string[];
}

export interface PveState {
  clusterName: string;
  /** The node pvesh "runs" on. */
  localNode: string;
  version: string;
  nodes: PveNode[];
  storages: PveStorage[];
  vms: PveVm[];
  aliases: Record<string, { cidr: string; comment?: string }>;
  ipsets: PveIpset[];
  clusterFirewall: Config;
  sdn: {
    config: SdnConfig;
    running: SdnConfig;
    /**
     * What each node's own network reload made of the last apply: the vnet bridges it has, from
     * `readyAt` (ms) on. The apply task only starts the per-node reloads; a node whose reload
     * fails (its zone's bridge missing) never gets them.
     */
    nodes?: Record<string, { vnets: string[]; readyAt: number }>;
  };
  replication: ReplicationJob[];
  tasks: PveTask[];
  counters: { pid: number; pstart: number; mac: number; agentPid: number };
  /** `<execution>|<action>|<attempt>` of calls whose one injected failure was served. */
  faulted: string[];
}

// ---------------------------------------------------------------------------------------------
// Seed

function mac(n: number): string {
  const hex = (x: number) => x.toString(16).toUpperCase().padStart(2, '0');
  return `BC:24:11:${hex((n >> 16) & 255)}:${hex((n >> 8) & 255)}:${hex(n & 255)}`;
}

interface VmSeed {
  vmid: number;
  name: string;
  node: string;
  ip?: string;
  gw?: string;
  cores?: number;
  memory?: number;
  diskGb?: number;
  storage?: string;
  tags?: string[];
  template?: boolean;
  status?: 'running' | 'stopped';
  bridge?: string;
  vlan?: number;
  firewall?: boolean;
}

function seedVm(s: VmSeed, now: number): PveVm {
  const storage = s.storage ?? 'ceph-rbd';
  const disk = s.template ? `${storage}:base-${s.vmid}-disk-0,size=${s.diskGb ?? 32}G` : `${storage}:vm-${s.vmid}-disk-0,iothread=1,size=${s.diskGb ?? 100}G`;
  const config: Config = {
    name: s.name,
    cores: s.cores ?? 4,
    sockets: 1,
    memory: s.memory ?? 8192,
    cpu: 'host',
    ostype: 'l26',
    scsihw: 'virtio-scsi-single',
    boot: 'order=scsi0',
    agent: 1,
    scsi0: disk,
    ide2: `${storage}:vm-${s.vmid}-cloudinit,media=cdrom`,
    net0: `virtio=${mac(s.vmid)},bridge=${s.bridge ?? 'vmbr0'}${s.vlan ? `,tag=${s.vlan}` : ''}${s.firewall === false ? '' : ',firewall=1'}`,
    onboot: s.template ? 0 : 1,
    vmgenid: `${s.vmid.toString(16).padStart(8, '0')}-c0de-4ab1-9a3b-1ab5${s.vmid.toString(16).padStart(8, '0')}`,
    smbios1: `uuid=${s.vmid.toString(16).padStart(8, '0')}-5eed-4c7a-8f00-00000000${s.vmid.toString(16).padStart(4, '0')}`,
  };
  if (s.ip) config.ipconfig0 = `ip=${s.ip}${s.gw ? `,gw=${s.gw}` : ''}`;
  if (s.tags?.length) config.tags = s.tags.join(';');
  if (s.template) config.template = 1;
  const status = s.template ? 'stopped' : (s.status ?? 'running');
  return {
    vmid: s.vmid,
    name: s.name,
    node: s.node,
    status,
    template: Boolean(s.template),
    ...(status === 'running' ? { startedAt: now - 86_400 * 12 - s.vmid * 60 } : {}),
    config,
    snapshots: [],
    firewall: { options: s.template ? {} : { enable: 1 }, rules: [] },
    agentExec: {},
  };
}

function backends(ips: string[], version: string, port: number): IpsetEntry[] {
  return ips.map((ip) => ({ cidr: ip, comment: `cortex:${version}:${port}` }));
}

/** The lab's initial Proxmox: two sites, templates, the clusters' VMs, LB pools, replication. */
export function seedPveState(now = Math.floor(Date.now() / 1000)): PveState {
  const node = (name: string, ip: string): PveNode => ({
    name,
    ip,
    online: true,
    maxcpu: 64,
    cpuBase: 0.06,
    maxmem: 512 * GIB,
    memBase: 24 * GIB,
    maxdisk: 100 * GIB,
    diskUsed: 12 * GIB,
    bridges: ['vmbr0', 'vmbr1'],
    bootedAt: now - 86_400 * 40,
  });
  const all = ['pve-01', 'pve-02', 'dc2-pve-01', 'dc2-pve-02'];
  const dc1 = ['pve-01', 'pve-02'];
  const dc2 = ['dc2-pve-01', 'dc2-pve-02'];
  const k8s = (vmid: number, name: string, nodeName: string, ip: string, gw: string, role: string, cluster: string, storage: string): VmSeed => ({
    vmid,
    name,
    node: nodeName,
    ip: `${ip}/24`,
    gw,
    cores: role === 'controlplane' ? 4 : 8,
    memory: role === 'controlplane' ? 8192 : 16384,
    diskGb: role === 'controlplane' ? 100 : 200,
    storage,
    tags: ['cortex', 'k8s', role, cluster],
    vlan: undefined,
  });
  const seeds: VmSeed[] = [
    { vmid: 9000, name: 'talos-tmpl', node: 'pve-01', template: true, cores: 2, memory: 2048, diskGb: 32, tags: ['template', 'talos'] },
    { vmid: 9001, name: 'talos-tmpl-hardened', node: 'pve-01', template: true, cores: 2, memory: 2048, diskGb: 32, tags: ['template', 'talos', 'hardened'] },
    { vmid: 9100, name: 'talos-tmpl-dr', node: 'dc2-pve-01', template: true, cores: 2, memory: 2048, diskGb: 32, storage: 'ceph-dr', tags: ['template', 'talos'] },
    // prod-k8s-01 (datacenter 1); replicated to the DR site.
    k8s(101, 'k8s-cp-01', 'pve-01', '10.10.1.10', '10.10.1.1', 'controlplane', 'prod-k8s-01', 'local-zfs'),
    k8s(102, 'k8s-cp-02', 'pve-02', '10.10.1.11', '10.10.1.1', 'controlplane', 'prod-k8s-01', 'local-zfs'),
    k8s(103, 'k8s-cp-03', 'pve-01', '10.10.1.12', '10.10.1.1', 'controlplane', 'prod-k8s-01', 'local-zfs'),
    k8s(111, 'k8s-worker-01', 'pve-01', '10.10.1.20', '10.10.1.1', 'worker', 'prod-k8s-01', 'local-zfs'),
    k8s(112, 'k8s-worker-02', 'pve-02', '10.10.1.21', '10.10.1.1', 'worker', 'prod-k8s-01', 'local-zfs'),
    k8s(113, 'k8s-worker-03', 'pve-02', '10.10.1.22', '10.10.1.1', 'worker', 'prod-k8s-01', 'local-zfs'),
    // Load balancers (HAProxy/keepalived VMs rendering the lb-* IPSets).
    { vmid: 150, name: 'prod-lb-01', node: 'pve-01', ip: '10.10.0.100/24', gw: '10.10.0.1', cores: 2, memory: 2048, diskGb: 20, tags: ['cortex', 'loadbalancer', 'haproxy'] },
    { vmid: 151, name: 'k8s-lb-01', node: 'pve-02', ip: '10.10.1.5/24', gw: '10.10.1.1', cores: 2, memory: 2048, diskGb: 20, tags: ['cortex', 'loadbalancer', 'haproxy'] },
    // dr-k8s-01 (datacenter 2, warm standby); node names as in the talos/kube lab.
    k8s(201, 'dr-k8s-cp-01', 'dc2-pve-01', '10.20.1.10', '10.20.1.1', 'controlplane', 'dr-k8s-01', 'ceph-dr'),
    k8s(202, 'dr-k8s-cp-02', 'dc2-pve-02', '10.20.1.11', '10.20.1.1', 'controlplane', 'dr-k8s-01', 'ceph-dr'),
    k8s(203, 'dr-k8s-cp-03', 'dc2-pve-01', '10.20.1.12', '10.20.1.1', 'controlplane', 'dr-k8s-01', 'ceph-dr'),
    k8s(211, 'dr-k8s-worker-01', 'dc2-pve-01', '10.20.1.20', '10.20.1.1', 'worker', 'dr-k8s-01', 'ceph-dr'),
    k8s(212, 'dr-k8s-worker-02', 'dc2-pve-02', '10.20.1.21', '10.20.1.1', 'worker', 'dr-k8s-01', 'ceph-dr'),
    k8s(213, 'dr-k8s-worker-03', 'dc2-pve-02', '10.20.1.22', '10.20.1.1', 'worker', 'dr-k8s-01', 'ceph-dr'),
    // staging-k8s (datacenter 1, the app-deployment target).
    k8s(301, 'staging-k8s-cp-01', 'pve-02', '10.30.1.10', '10.30.1.1', 'controlplane', 'staging-k8s', 'local-lvm'),
    k8s(311, 'staging-k8s-worker-01', 'pve-02', '10.30.1.20', '10.30.1.1', 'worker', 'staging-k8s', 'local-lvm'),
    k8s(312, 'staging-k8s-worker-02', 'pve-01', '10.30.1.21', '10.30.1.1', 'worker', 'staging-k8s', 'local-lvm'),
    { vmid: 250, name: 'dr-lb-01', node: 'dc2-pve-01', ip: '10.20.1.100/24', gw: '10.20.1.1', cores: 2, memory: 2048, diskGb: 20, storage: 'ceph-dr', tags: ['cortex', 'loadbalancer', 'haproxy'] },
  ];
  const storages: PveStorage[] = [
    { id: 'local', type: 'dir', content: ['iso', 'vztmpl', 'backup', 'snippets'], shared: false, nodes: all, total: 100 * GIB, usedBase: 18 * GIB, active: true },
    { id: 'local-lvm', type: 'lvmthin', content: ['images', 'rootdir'], shared: false, nodes: all, total: 3.5 * TIB, usedBase: 300 * GIB, active: true },
    { id: 'local-zfs', type: 'zfspool', content: ['images', 'rootdir'], shared: false, nodes: all, total: 7 * TIB, usedBase: 200 * GIB, active: true },
    { id: 'ceph-rbd', type: 'rbd', content: ['images', 'rootdir'], shared: true, nodes: dc1, total: 48 * TIB, usedBase: 9 * TIB, active: true },
    { id: 'ceph-dr', type: 'rbd', content: ['images', 'rootdir'], shared: true, nodes: dc2, total: 48 * TIB, usedBase: 7 * TIB, active: true },
  ];
  const replication: ReplicationJob[] = [101, 102, 103, 111, 112, 113].map((guest, i) => ({
    id: `${guest}-0`,
    guest,
    jobnum: 0,
    target: guest < 110 ? 'dc2-pve-01' : 'dc2-pve-02',
    // Proxmox's default schedule: a sync every 15 minutes, so up to ~15 minutes behind.
    schedule: '*/15',
    lagSeconds: 240 + i * 90,
  }));
  const hc = (path: string) => `cortex-hc:${path}:5:3:2:3`;
  return {
    clusterName: 'cortex-pve',
    localNode: 'pve-01',
    version: '8.2.4',
    nodes: [node('pve-01', '10.10.0.11'), node('pve-02', '10.10.0.12'), node('dc2-pve-01', '10.20.0.11'), node('dc2-pve-02', '10.20.0.12')],
    storages,
    vms: seeds.map((s) => seedVm(s, now)),
    aliases: {
      bastion_host: { cidr: '10.10.0.10', comment: 'SSH bastion' },
      monitoring_server: { cidr: '10.10.0.20', comment: 'Prometheus' },
    },
    ipsets: [
      { name: 'lb-prod-lb-01-web-api', comment: hc('/health'), entries: backends(['10.10.1.20', '10.10.1.21', '10.10.1.22'], '3f9c2e1', 30080) },
      { name: 'lb-dr-lb-01-dr-k8s-01-apiserver', comment: hc('/readyz'), entries: backends(['10.20.1.10', '10.20.1.11', '10.20.1.12'], 'v1.29.1', 6443) },
      { name: 'lb-dr-lb-01-dr-k8s-01-ingress-http', comment: hc('/healthz'), entries: backends(['10.20.1.20', '10.20.1.21', '10.20.1.22'], 'ingress-nginx-4.9.0', 30080) },
      { name: 'lb-dr-lb-01-dr-k8s-01-ingress-https', comment: hc('/healthz'), entries: backends(['10.20.1.20', '10.20.1.21', '10.20.1.22'], 'ingress-nginx-4.9.0', 30443) },
    ],
    clusterFirewall: { enable: 1, policy_in: 'DROP', policy_out: 'ACCEPT' },
    sdn: { config: { zones: {}, vnets: {}, subnets: {} }, running: { zones: {}, vnets: {}, subnets: {} } },
    replication,
    tasks: [],
    counters: { pid: 0x2a000, pstart: 0x1f2e3d4, mac: 0x3a0000, agentPid: 4100 },
    faulted: [],
  };
}

// ---------------------------------------------------------------------------------------------
// Derived values

export function newMac(state: PveState): string {
  state.counters.mac += 1;
  return mac(state.counters.mac);
}

export interface Disk {
  key: string;
  storage: string;
  volume: string;
  sizeBytes: number;
}

export function parseSize(s: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(s ?? '');
  if (!m) return 0;
  const mult = { '': 1, K: 1024, M: MIB, G: GIB, T: TIB }[m[2] as '' | 'K' | 'M' | 'G' | 'T'];
  return Number(m[1]) * mult;
}

export function formatSize(bytes: number): string {
  if (bytes % GIB === 0) return `${bytes / GIB}G`;
  return `${Math.round(bytes / MIB)}M`;
}

export const DISK_KEY = /^(scsi|virtio|sata|ide)\d+$|^efidisk0$|^tpmstate0$/;

export function disksOf(config: Config): Disk[] {
  const out: Disk[] = [];
  for (const [key, raw] of Object.entries(config)) {
    if (!DISK_KEY.test(key) || typeof raw !== 'string' || raw.includes('media=cdrom') || raw === 'none') continue;
    const [vol] = raw.split(',');
    const [storage, volume] = (vol ?? '').split(':');
    if (!storage || !volume) continue;
    out.push({ key, storage, volume, sizeBytes: parseSize(/(?:^|,)size=([^,]+)/.exec(raw)?.[1]) });
  }
  return out;
}

export function storageUsed(state: PveState, s: PveStorage, node: string): number {
  let used = s.usedBase;
  for (const vm of state.vms) {
    if (!s.shared && vm.node !== node) continue;
    for (const d of disksOf(vm.config)) if (d.storage === s.id) used += d.sizeBytes;
  }
  return Math.min(used, s.total);
}

export function nodeUsage(state: PveState, n: PveNode): { cpu: number; mem: number } {
  const running = state.vms.filter((v) => v.node === n.name && v.status === 'running');
  const cores = running.reduce((a, v) => a + Number(v.config.cores ?? 1) * Number(v.config.sockets ?? 1), 0);
  const mem = running.reduce((a, v) => a + Number(v.config.memory ?? 512) * MIB, 0);
  return { cpu: Math.min(1, n.cpuBase + (cores * 0.04) / n.maxcpu), mem: Math.min(n.maxmem, n.memBase + mem) };
}

export function findNode(state: PveState, name: string): PveNode | undefined {
  return state.nodes.find((n) => n.name === name);
}

export function findVmById(state: PveState, vmid: number): PveVm | undefined {
  return state.vms.find((v) => v.vmid === vmid);
}

export function configuredIps(config: Config): string[] {
  const out: string[] = [];
  for (let i = 0; i < 4; i++) {
    const m = /(?:^|,)ip=([^,/]+)/.exec(String(config[`ipconfig${i}`] ?? ''));
    if (m?.[1] && m[1] !== 'dhcp') out.push(m[1]);
  }
  return out;
}

/** A VM's address: its static ipconfig, else a lab DHCP lease derived from the VMID. */
export function vmAddress(vm: PveVm): string {
  return configuredIps(vm.config)[0] ?? `10.99.${Math.floor(vm.vmid / 250) % 250}.${(vm.vmid % 250) + 2}`;
}

/** How long after the apply task a node other than the local one has reloaded its network. */
export const NODE_RELOAD_MS = 150;

/** The vnet bridges a node has now (see PveState.sdn.nodes). */
export function nodeVnets(state: PveState, node: string, nowMs = Date.now()): string[] {
  const n = state.sdn.nodes?.[node];
  if (n) return nowMs >= n.readyAt ? n.vnets : [];
  // A state written before per-node reloads were modelled: every applied vnet everywhere.
  return Object.keys(state.sdn.running.vnets);
}

export function bridgesOf(config: Config): string[] {
  return Object.entries(config)
    .filter(([k]) => /^net\d+$/.test(k))
    .map(([, v]) => /(?:^|,)bridge=([^,]+)/.exec(String(v))?.[1])
    .filter((b): b is string => Boolean(b));
}
