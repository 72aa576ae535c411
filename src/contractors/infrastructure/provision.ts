/**
 * Cloning a VM from a template and bringing it up (provision_vm, provision_replacement_resource):
 * nextid → clone (waited) → config → firewall options → resize → start (waited) → status/current.
 * A VM of the same name carrying the `cortex` tag (an earlier attempt) is reused instead.
 */
import { ActionFailedError } from '../../errors.js';
import type { ActionRuntime, PlannedStep, PlanContext } from '../action-impl.js';
import type { ResolvedConfig } from '../../config/config.js';
import { sizeToGib } from './names.js';
import { isPveshError, planCall, planTask, type Pvesh, type PveParams } from './pvesh.js';
import { agentEnabled, agentIps, ipFromIpconfig, listVms, parseNet, vmConfig, type ClusterVm } from './vms.js';
import { cleanupVm, currentStatus, planStart, startAndCheck, vmPath } from './vm-power.js';

export interface VmSpec {
  name: string;
  node?: string;
  template_vmid?: number;
  vmid?: number;
  cores?: number;
  sockets?: number;
  memory_mb?: number;
  disk_gb?: number;
  storage?: string;
  bridge?: string;
  vlan?: number;
  ip?: string;
  gateway?: string;
  nameservers?: string[];
  search_domain?: string;
  tags?: string[];
  pool?: string;
  description?: string;
  full_clone?: boolean;
  firewall?: boolean;
  start?: boolean;
  onboot?: boolean;
}

export interface ProvisionOptions {
  /** Template to clone instead of spec.template_vmid / config proxmox.template_vmid. */
  templateVmid?: number;
  /** Without an explicit template: a template VM carrying this tag (e.g. `hardened`). */
  templateTag?: string;
  /** Tags added besides `cortex` and spec.tags. */
  extraTags?: string[];
  /** VM firewall options set before the first start (e.g. enable 1, policy_in DROP). */
  firewallOptions?: PveParams;
  /** A same-name VM is only reused when it has all these tags (besides cortex). */
  reuseRequiresTags?: string[];
}

export interface ProvisionResult {
  vmid: number;
  node: string;
  name: string;
  ip: string | null;
  mac: string | null;
  reused: boolean;
}

const MAX_VMID_TRIES = 8;

function tagsOf(spec: VmSpec, opts: ProvisionOptions): string {
  return [...new Set(['cortex', ...(opts.extraTags ?? []), ...(spec.tags ?? [])])].join(';');
}

function templateOf(spec: VmSpec, opts: ProvisionOptions, config: ResolvedConfig, vms: ClusterVm[] = []): number | undefined {
  const explicit = opts.templateVmid ?? spec.template_vmid;
  if (explicit !== undefined) return explicit;
  if (opts.templateTag) {
    const tagged = vms.filter((v) => v.template && v.tags.includes(opts.templateTag as string)).sort((a, b) => a.vmid - b.vmid);
    const found = tagged.find((v) => v.node === (spec.node ?? config.proxmox.node)) ?? tagged[0];
    if (found) return found.vmid;
  }
  return config.proxmox.template_vmid;
}

function ipconfig(spec: VmSpec, config: ResolvedConfig): string | undefined {
  if (!spec.ip) return undefined;
  if (spec.ip === 'dhcp') return 'ip=dhcp';
  const gw = spec.gateway ?? config.proxmox.gateway;
  return `ip=${spec.ip}${gw ? `,gw=${gw}` : ''}`;
}

/**
 * net0 of the new VM: the template's NIC (model, MAC, and options such as queues, mtu, rate,
 * link_down, trunks kept) on the wanted bridge and VLAN, with the firewall flag.
 */
function net0(spec: VmSpec, config: ResolvedConfig, current: unknown): string {
  const dev = parseNet(current);
  const bridge = spec.bridge ?? config.proxmox.bridge ?? dev?.bridge ?? 'vmbr0';
  const head = dev?.mac ? `${dev.model}=${dev.mac}` : (dev?.model ?? 'virtio');
  const firewall = spec.firewall ?? true;
  return [head, `bridge=${bridge}`, ...(spec.vlan !== undefined ? [`tag=${spec.vlan}`] : []), ...(firewall ? ['firewall=1'] : []), ...(dev?.rest ?? [])].join(',');
}

function configParams(spec: VmSpec, config: ResolvedConfig, opts: ProvisionOptions, currentNet0: unknown): PveParams {
  return [
    ['cores', spec.cores],
    ['sockets', spec.sockets],
    ['memory', spec.memory_mb],
    ['net0', net0(spec, config, currentNet0)],
    ['ipconfig0', ipconfig(spec, config)],
    ['nameserver', spec.nameservers && spec.nameservers.length > 0 ? spec.nameservers.join(' ') : undefined],
    ['searchdomain', spec.search_domain],
    ['tags', tagsOf(spec, opts)],
    ['onboot', spec.onboot ?? true],
    ['description', spec.description],
  ];
}

function cloneParams(spec: VmSpec, vmid: number | string, templateNode: string, node: string, marker: string): PveParams {
  const full = spec.full_clone ?? true;
  return [
    ['newid', vmid],
    ['name', spec.name],
    ['full', full],
    ['storage', full ? spec.storage : undefined],
    ['target', node !== templateNode ? node : undefined],
    ['pool', spec.pool],
    ['description', marker],
  ];
}

/**
 * Written into a clone's description: which execution and action made it. The `cortex` tag is
 * only set once the VM is configured, so after a crash between the clone and the configuration
 * this is how the action recognises its own half-made VM and finishes it instead of refusing it.
 */
export function cloneMarker(executionId: string, actionId: string): string {
  return `cortex:${executionId}/${actionId}`;
}

/** The boot disk key (scsi0, virtio0, ...) and its size in GiB. */
function bootDisk(config: Record<string, unknown>): { key: string; gib?: number } {
  const boot = /order=([^;,\s]+)/.exec(String(config.boot ?? ''))?.[1];
  const keys = [boot, 'scsi0', 'virtio0', 'sata0', 'ide0'].filter((k): k is string => Boolean(k));
  for (const key of keys) {
    const v = config[key];
    if (typeof v === 'string' && !v.includes('media=cdrom')) {
      return { key, gib: sizeToGib(/(?:^|,)size=([^,]+)/.exec(v)?.[1]) };
    }
  }
  return { key: 'scsi0' };
}

/** IP (from ipconfig0, else the guest agent) and MAC of net0. */
export async function addressOf(pv: Pvesh, node: string, vmid: number, config: Record<string, unknown>, running: boolean): Promise<{ ip: string | null; mac: string | null }> {
  const mac = parseNet(config.net0)?.mac ?? null;
  let ip = ipFromIpconfig(config.ipconfig0) ?? null;
  if (!ip && running && agentEnabled(config)) ip = (await agentIps(pv, node, vmid)).find((a) => a.includes('.')) ?? null;
  return { ip, mac };
}

async function reuse(rt: ActionRuntime, pv: Pvesh, vm: ClusterVm, spec: VmSpec): Promise<ProvisionResult> {
  rt.debug(`provision: reusing VM ${vm.vmid} "${vm.name}" on ${vm.node} (${vm.status})`);
  if (vm.lock) {
    throw new ActionFailedError(`VM ${vm.vmid} "${vm.name}" exists but is locked (${vm.lock}): an earlier attempt may still be running`, {
      errorCode: 'vm_locked',
      retryable: true,
    });
  }
  let running = vm.status === 'running';
  if ((spec.start ?? true) && !running) {
    await startAndCheck(pv, vm.node, vm.vmid);
    running = true;
  }
  const config = await vmConfig(pv, vm.node, vm.vmid);
  return { vmid: vm.vmid, node: vm.node, name: vm.name, ...(await addressOf(pv, vm.node, vm.vmid, config, running)), reused: true };
}

export async function provision(rt: ActionRuntime, pv: Pvesh, spec: VmSpec, opts: ProvisionOptions = {}): Promise<ProvisionResult> {
  const vms = await listVms(pv);
  const sameName = vms.filter((v) => v.name === spec.name && !v.template);
  const required = ['cortex', ...(opts.reuseRequiresTags ?? [])];
  const ours = sameName.filter((v) => required.every((t) => v.tags.includes(t)));
  if (ours.length > 1) {
    throw new ActionFailedError(`several VMs are named "${spec.name}" (${ours.map((v) => v.vmid).join(', ')})`, { errorCode: 'vm_ambiguous', retryable: false });
  }
  if (ours[0]) return reuse(rt, pv, ours[0], spec);
  const marker = cloneMarker(rt.executionId, rt.actionId);
  for (const v of sameName) {
    const config = await vmConfig(pv, v.node, v.vmid);
    if (config.description !== marker) continue;
    if (v.lock) {
      throw new ActionFailedError(`VM ${v.vmid} "${v.name}" is still being created by an earlier attempt (lock ${v.lock})`, { errorCode: 'vm_locked', retryable: true });
    }
    rt.debug(`provision: VM ${v.vmid} "${v.name}" was cloned by this action before it was interrupted; finishing it`);
    return finishProvision(rt, pv, spec, opts, v.node, v.vmid);
  }
  if (sameName.length > 0) {
    const v = sameName[0] as ClusterVm;
    throw new ActionFailedError(
      `a VM named "${spec.name}" already exists (${v.vmid} on ${v.node}, tags: ${v.tags.join(';') || 'none'}) and was not made by this action`,
      { errorCode: 'vm_name_conflict', retryable: false, hint: 'destroy or rename it, or choose another name' },
    );
  }

  const templateVmid = templateOf(spec, opts, rt.config, vms);
  if (templateVmid === undefined) {
    const tagged = opts.templateTag ? `, tag a template "${opts.templateTag}"` : '';
    throw new ActionFailedError(`no template to clone: give template_vmid${tagged} or set proxmox.template_vmid in config.yaml`, {
      errorCode: 'invalid_parameters',
      retryable: false,
    });
  }
  const template = vms.find((v) => v.vmid === templateVmid);
  if (!template) {
    throw new ActionFailedError(`template VM ${templateVmid} does not exist`, { errorCode: 'template_not_found', retryable: false });
  }
  const node = spec.node ?? rt.config.proxmox.node ?? template.node;

  // Pick a VMID and clone; a parallel clone may take the same free id first, then take the next.
  let vmid = 0;
  for (let tries = 1; ; tries++) {
    vmid = Number(await pv.get('/cluster/nextid', spec.vmid !== undefined ? [['vmid', spec.vmid]] : [], { errorCode: 'vmid_in_use' }));
    if (!Number.isInteger(vmid) || vmid < 100) {
      throw new ActionFailedError(`pvesh get /cluster/nextid returned ${String(vmid)}`, { errorCode: 'pvesh_bad_output', retryable: false });
    }
    try {
      await pv.task('create', `${vmPath(template.node, templateVmid)}/clone`, cloneParams(spec, vmid, template.node, node, marker), {
        errorCode: 'vm_creation_failed',
        what: `clone template ${templateVmid} to VM ${vmid} "${spec.name}" on ${node}`,
      });
      break;
    } catch (e) {
      if (spec.vmid === undefined && isPveshError(e, 'exists') && /\bVM \d+ already exists|newid/.test(e.pveMessage) && tries < MAX_VMID_TRIES) {
        rt.debug(`provision: VMID ${vmid} was taken meanwhile; asking for the next one`);
        continue;
      }
      // A clone that failed may leave a half-created VM behind (Proxmox removes it, but make sure).
      if (isPveshError(e) && e.upid) {
        const left = (await listVms(pv)).find((v) => v.vmid === vmid && v.name === spec.name);
        if (left) await cleanupVm(pv, left.node, vmid);
      }
      throw e;
    }
  }

  return finishProvision(rt, pv, spec, opts, node, vmid);
}

/** Configures, grows and starts a freshly cloned VM; a failure destroys the partial VM. */
async function finishProvision(rt: ActionRuntime, pv: Pvesh, spec: VmSpec, opts: ProvisionOptions, node: string, vmid: number): Promise<ProvisionResult> {
  try {
    const path = vmPath(node, vmid);
    const config = await vmConfig(pv, node, vmid);
    await pv.call('set', `${path}/config`, configParams(spec, rt.config, opts, config.net0), { errorCode: 'vm_config_failed', what: `configure VM ${vmid}` });
    if (opts.firewallOptions) {
      await pv.call('set', `${path}/firewall/options`, opts.firewallOptions, { errorCode: 'vm_config_failed', what: `set the firewall of VM ${vmid}` });
    }
    if (spec.disk_gb !== undefined) {
      const disk = bootDisk(config);
      if (disk.gib === undefined || disk.gib < spec.disk_gb) {
        await pv.maybeTask('set', `${path}/resize`, [['disk', disk.key], ['size', `${spec.disk_gb}G`]], { errorCode: 'vm_resize_failed', what: `grow ${disk.key} of VM ${vmid}` });
      } else {
        rt.debug(`provision: ${disk.key} is already ${disk.gib} GiB (>= ${spec.disk_gb}); not resized`);
      }
    }
    let running = false;
    if (spec.start ?? true) {
      await startAndCheck(pv, node, vmid);
      running = true;
    } else {
      running = (await currentStatus(pv, node, vmid)).status === 'running';
    }
    const finalConfig = await vmConfig(pv, node, vmid);
    return { vmid, node, name: spec.name, ...(await addressOf(pv, node, vmid, finalConfig, running)), reused: false };
  } catch (e) {
    const cleanup = await cleanupVm(pv, node, vmid);
    if (e instanceof ActionFailedError) {
      const note = cleanup ? ` (removing the partial VM ${vmid} failed too: ${cleanup})` : ` (the partial VM ${vmid} was destroyed)`;
      throw new ActionFailedError(`${e.message}${note}`, {
        errorCode: e.errorCode,
        retryable: e.retryable,
        exitStatus: e.exitStatus,
        stderrTail: e.stderrTail,
        cause: e,
      });
    }
    throw e;
  }
}

export function planProvision(spec: VmSpec, ctx: PlanContext, opts: ProvisionOptions = {}): PlannedStep[] {
  const template = templateOf(spec, opts, ctx.config) ?? (opts.templateTag ? `<template tagged ${opts.templateTag}>` : '<template_vmid>');
  const node = spec.node ?? ctx.config.proxmox.node ?? '<template-node>';
  const vmid = '<nextid>';
  const steps: PlannedStep[] = [
    planCall('get', '/cluster/resources', [['type', 'vm']], `reuse a VM named ${spec.name} tagged cortex if there is one; find template ${template}`),
    planCall('get', '/cluster/nextid', spec.vmid !== undefined ? [['vmid', spec.vmid]] : []),
    // The template's node is looked up at run time; the plan assumes it is the target node.
    ...planTask('create', `/nodes/${spec.node ?? '<template-node>'}/qemu/${template}/clone`, cloneParams(spec, vmid, node, node, cloneMarker(ctx.executionId, ctx.actionId))),
    planCall('get', `${vmPath(node, vmid)}/config`),
    planCall('set', `${vmPath(node, vmid)}/config`, configParams(spec, ctx.config, opts, undefined)),
  ];
  if (opts.firewallOptions) steps.push(planCall('set', `${vmPath(node, vmid)}/firewall/options`, opts.firewallOptions));
  if (spec.disk_gb !== undefined) steps.push(planCall('set', `${vmPath(node, vmid)}/resize`, [['disk', 'scsi0'], ['size', `${spec.disk_gb}G`]], 'only when the disk is smaller'));
  if (spec.start ?? true) steps.push(...planStart(node, vmid));
  steps.push(planCall('get', `${vmPath(node, vmid)}/config`, [], 'ip and mac'));
  return steps;
}

export function provisionOutputs(r: ProvisionResult): Record<string, unknown> {
  return { vmid: r.vmid, node: r.node, name: r.name, ip: r.ip, mac: r.mac };
}
