/**
 * review_investigation_findings: a security lead's review. cortex drafts what approving it as
 * is records: a remediation plan from the investigation's findings, the affected VM's current
 * config as the replacement's specs (read with pvesh), the vulnerabilities the investigation
 * named, and Pod Security controls that only warn and audit. The person approves the draft or
 * replaces it (cortex approve --action ID --data FILE).
 */
import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { planCall, Pvesh } from '../infrastructure/pvesh.js';
import { planForTransport } from '../infrastructure/pve-transport.js';
import { findVm, parseNet, RESOURCES_VM, splitTags, vmConfig, type ClusterVm } from '../infrastructure/vms.js';

interface Resource {
  type?: string;
  identifier?: string;
  ip_address?: string;
  cluster?: string;
  namespace?: string;
}

interface Params {
  report: string;
  findings?: Record<string, unknown>;
  generate_remediation_plan?: boolean;
  affected_resource?: Resource;
}

/** What each attack vector the investigation names adds to the runbook (the reviewer edits it). */
const PROCEDURES: Record<string, string[]> = {
  ssh_key_compromise: ['Rotate every SSH key that could reach the host; remove unknown authorized_keys entries', 'Allow SSH only from the bastion'],
  container_escape: ['Run the workload with a restricted Pod Security profile', 'Patch the container runtime and the kernel'],
  credential_theft: ['Rotate the credentials the host could read', 'Review the audit log for their use since the first indicator'],
  vulnerable_service: ['Patch the vulnerable service on every host that runs it'],
};

function isVmLike(r: Resource | undefined): r is Resource {
  return Boolean(r && (r.type === 'node' || r.type === 'vm') && (r.identifier || r.ip_address));
}

/** `memory` is an integer, or since PVE 8.1 a property string `[current=]<MiB>[,...]`. */
function leadingInt(v: unknown): number | undefined {
  const m = /^(?:current=)?(\d+)/.exec(String(v ?? ''));
  return m ? Number(m[1]) : undefined;
}

function sizeGb(disk: string): number | undefined {
  const m = /(?:^|,)size=(\d+(?:\.\d+)?)([KMGT])?/.exec(disk);
  if (!m) return undefined;
  const n = Number(m[1]);
  const gb = { K: n / 1024 / 1024, M: n / 1024, G: n, T: n * 1024 }[(m[2] ?? 'G') as 'K' | 'M' | 'G' | 'T'];
  return Math.max(1, Math.round(gb));
}

/** The boot disk's value (first disk of `boot: order=...`, else scsi0/virtio0/sata0/ide0). */
function bootDisk(c: Record<string, unknown>): string | undefined {
  const order = /order=([^,]+)/.exec(String(c.boot ?? ''))?.[1]?.split(';') ?? [];
  for (const key of [...order, 'scsi0', 'virtio0', 'sata0', 'ide0']) {
    const v = c[key];
    if (typeof v === 'string' && !/media=cdrom/.test(v) && /size=/.test(v)) return v;
  }
  return undefined;
}

/** provision_replacement_resource specs that rebuild `vm` as it is configured now. */
export function specsFromConfig(vm: ClusterVm, c: Record<string, unknown>): Record<string, unknown> {
  const spec: Record<string, unknown> = { name: vm.name, node: vm.node };
  const cores = leadingInt(c.cores);
  if (cores) spec.cores = cores;
  const sockets = leadingInt(c.sockets);
  if (sockets) spec.sockets = sockets;
  const memory = leadingInt(c.memory);
  if (memory) spec.memory_mb = memory;
  const disk = bootDisk(c);
  if (disk) {
    const storage = /^([^:,]+):/.exec(disk)?.[1];
    if (storage) spec.storage = storage;
    const gb = sizeGb(disk);
    if (gb) spec.disk_gb = gb;
  }
  const net = parseNet(c.net0);
  if (net?.bridge) spec.bridge = net.bridge;
  if (net?.tag) spec.vlan = net.tag;
  const ipconfig = String(c.ipconfig0 ?? '');
  const ip = /(?:^|,)ip=([^,]+)/.exec(ipconfig)?.[1];
  if (ip) spec.ip = ip;
  const gw = /(?:^|,)gw=([^,]+)/.exec(ipconfig)?.[1];
  if (gw) spec.gateway = gw;
  if (typeof c.nameserver === 'string' && c.nameserver.trim()) spec.nameservers = c.nameserver.trim().split(/\s+/);
  if (typeof c.searchdomain === 'string' && c.searchdomain) spec.search_domain = c.searchdomain;
  // cortex is always added; hardened is added by the hardened path.
  const tags = splitTags(typeof c.tags === 'string' ? c.tags : '').filter((t) => t !== 'cortex' && t !== 'hardened');
  if (tags.length) spec.tags = tags;
  if (c.onboot !== undefined) spec.onboot = String(c.onboot) === '1';
  return spec;
}

/** The affected VM's specs, or why there are none (the reviewer then writes them). */
async function replacementSpecs(rt: ActionRuntime, r: Resource | undefined): Promise<{ specs: Record<string, unknown> | null; note?: string }> {
  if (!isVmLike(r)) {
    const kind = (r as Resource | undefined)?.type;
    return { specs: null, note: `the affected resource is ${kind ? `a ${kind}` : 'not named'}, not a VM: give replacement_specs if a VM is to be provisioned` };
  }
  const pv = new Pvesh(rt);
  const wanted = r.identifier ?? (r.ip_address as string);
  try {
    let vm = await findVm(pv, { target: wanted });
    if (!vm && r.identifier && r.ip_address) vm = await findVm(pv, { target: r.ip_address });
    if (!vm) return { specs: null, note: `no VM "${wanted}" in the Proxmox cluster: give replacement_specs` };
    return { specs: specsFromConfig(vm, await vmConfig(pv, vm.node, vm.vmid)) };
  } catch (e) {
    if (!(e instanceof ActionFailedError)) throw e;
    return { specs: null, note: `could not read the VM "${wanted}" (${e.message}): give replacement_specs` };
  }
}

function iocRules(iocs: unknown): Array<Record<string, unknown>> {
  if (!Array.isArray(iocs)) return [];
  return iocs
    .filter((i): i is Record<string, unknown> => Boolean(i) && typeof i === 'object' && typeof (i as { value?: unknown }).value === 'string')
    .map((i) => ({ name: `ioc-${String(i.type ?? 'indicator')}-${String(i.value).slice(0, 16)}`, type: String(i.type ?? 'indicator'), value: i.value, source: i.source ?? null, on_match: 'alert' }));
}

export const reviewInvestigationFindingsAction: ActionImpl = {
  plan(params, ctx) {
    const p = params as unknown as Params;
    if (p.generate_remediation_plan === false || !isVmLike(p.affected_resource)) return [];
    const steps: PlannedStep[] = [
      planCall('get', '/cluster/resources', RESOURCES_VM, `find the affected VM "${p.affected_resource.identifier ?? p.affected_resource.ip_address}" to draft replacement_specs`),
      planCall('get', '/nodes/<node>/qemu/<vmid>/config', [], 'its current config becomes the replacement\'s specs'),
    ];
    // Shown as the configured Proxmox transport makes them (pvesh, or HTTPS requests), like the infrastructure actions.
    return steps.map((s) => planForTransport(s, ctx.config.proxmox.api));
  },

  async run(rt) {
    const p = rt.params as unknown as Params;
    if (p.generate_remediation_plan === false) return {};
    const f = p.findings ?? {};
    const r = p.affected_resource;
    const what = r?.identifier ?? r?.ip_address ?? 'the affected resource';
    const vector = typeof f.attack_vector === 'string' ? f.attack_vector : 'unknown';
    const scope = typeof f.scope === 'string' ? f.scope : 'unknown';
    const { specs, note } = await replacementSpecs(rt, r);
    const inCluster = r?.type === 'node' || r?.type === 'pod';
    const notes = note ? [note] : [];
    if (!Array.isArray(f.vulnerabilities)) notes.push('the investigation named no vulnerabilities with a fixed image: add them to vulnerabilities to patch them');
    return {
      remediation_plan: {
        summary: `Replace ${what} (${r?.type ?? 'resource'}; attack vector ${vector}, scope ${scope}): take it out of service keeping a forensic copy, provision a hardened replacement${inCluster ? `, and tighten Pod Security on ${r?.cluster ?? 'its cluster'}` : ''}.`,
        affected_resource: what,
        attack_vector: vector,
        scope,
        report: p.report,
        new_detection_rules: iocRules(f.iocs),
        updated_thresholds: {},
        new_procedures: PROCEDURES[vector] ?? ['Review how the attacker got in and close that path on every similar host'],
        ...(notes.length ? { notes } : {}),
      },
      replacement_specs: specs,
      vulnerabilities: Array.isArray(f.vulnerabilities) ? f.vulnerabilities : [],
      // warn and audit never refuse a pod: safe to approve as is; enforce is the reviewer's choice.
      recommended_controls: inCluster
        ? [
            { type: 'pod_security_standard', namespace: '*', level: 'restricted', mode: 'warn' },
            { type: 'pod_security_standard', namespace: '*', level: 'restricted', mode: 'audit' },
          ]
        : [],
    };
  },

  complete(outputs) {
    return { outputs: { ...outputs, approved: true } };
  },
};
