import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, ActionRuntime } from '../action-impl.js';
import { destroyFound } from './destroy-vm.js';
import { isPveshError, planCall, planTask, Pvesh } from './pvesh.js';
import { deleteParams, stopVm, vmPath } from './vm-power.js';
import { describeSelector, findVm, listVms, vmConfig, type ClusterVm } from './vms.js';

interface Params {
  resource: string | number;
  node?: string;
  preserve_forensic_copy?: boolean;
  forensic_storage?: string;
  evidence_copied?: boolean;
}

/** The VM's snapshots (not `current`): the evidence a clone would not carry and a destroy would free. */
async function snapshotsOf(pv: Pvesh, vm: { node: string; vmid: number }): Promise<string[]> {
  const list = (await pv.get<Array<{ name: string }>>(`${vmPath(vm.node, vm.vmid)}/snapshot`)) ?? [];
  return list.map((s) => s.name).filter((n) => n !== 'current');
}

/** A NIC's config with link_down=1 (the rest kept): the guest is off every network. */
function linkDown(value: string): string {
  return [...String(value).split(',').filter((p) => !p.startsWith('link_down=')), 'link_down=1'].join(',');
}

/**
 * Keeps the compromised VM itself as the forensic copy, because its snapshots (the memory state
 * above all) exist nowhere else: hard-stopped, every NIC unplugged (link_down=1), never started
 * with its node, renamed <name>-forensic-<date> (the name is free for the replacement) and tagged.
 */
async function quarantine(rt: ActionRuntime, pv: Pvesh, vm: ClusterVm): Promise<{ vmid: number; name: string }> {
  await stopVm(pv, vm.node, vm.vmid, { graceful: false, timeoutSeconds: 0 });
  const config = await vmConfig(pv, vm.node, vm.vmid);
  const name = forensicName(vm.name || `vm${vm.vmid}`, rt.now());
  const nics = Object.keys(config).filter((k) => /^net\d+$/.test(k)).sort();
  await pv.call('set', `${vmPath(vm.node, vm.vmid)}/config`, [['name', name], ['tags', 'cortex;forensic'], ['onboot', 0], ...nics.map((k) => [k, linkDown(String(config[k]))] as [string, string])], {
    errorCode: 'forensic_copy_failed',
    what: `quarantine VM ${vm.vmid} as forensic evidence`,
  });
  return { vmid: vm.vmid, name };
}

const MAX_VMID_TRIES = 8;

function forensicPrefix(name: string): string {
  return `${name}-forensic-`;
}

function forensicName(name: string, now: Date): string {
  return `${forensicPrefix(name)}${now.toISOString().slice(0, 10).replace(/-/g, '')}`;
}

/** A forensic copy made earlier (a re-run): name <name>-forensic-<date>, tagged forensic. */
function existingCopy(vms: ClusterVm[], name: string): ClusterVm | undefined {
  return vms.filter((v) => v.name.startsWith(forensicPrefix(name)) && v.tags.includes('forensic')).sort((a, b) => b.vmid - a.vmid)[0];
}

async function cloneForensicCopy(rt: ActionRuntime, pv: Pvesh, vm: ClusterVm, storage: string | undefined): Promise<{ vmid: number; name: string }> {
  const name = forensicName(vm.name || `vm${vm.vmid}`, rt.now());
  for (let tries = 1; ; tries++) {
    const newid = Number(await pv.get('/cluster/nextid'));
    try {
      await pv.task(
        'create',
        `${vmPath(vm.node, vm.vmid)}/clone`,
        [
          ['newid', newid],
          ['name', name],
          ['full', 1],
          ['storage', storage],
          ['description', `Forensic copy of VM ${vm.vmid} (${vm.name}) taken by cortex execution ${rt.executionId}. Never start it on a production network.`],
        ],
        { errorCode: 'forensic_copy_failed', what: `clone VM ${vm.vmid} as forensic copy ${newid}` },
      );
    } catch (e) {
      if (isPveshError(e, 'exists') && tries < MAX_VMID_TRIES) continue;
      throw e;
    }
    // Tagged so it is found again, and kept from booting with its node.
    await pv.call('set', `${vmPath(vm.node, newid)}/config`, [['tags', 'cortex;forensic'], ['onboot', 0]], {
      errorCode: 'forensic_copy_failed',
      what: `tag forensic copy ${newid}`,
    });
    return { vmid: newid, name };
  }
}

export const destroyCompromisedResourceAction: ActionImpl = {
  plan(params) {
    const p = params as unknown as Params;
    const node = p.node ?? '<node>';
    const steps = [
      planCall('get', '/cluster/resources', [['type', 'vm']], `find ${describeSelector({ target: p.resource })}`),
    ];
    if (p.preserve_forensic_copy !== false) {
      if (!p.evidence_copied) {
        steps.push(
          planCall('get', `${vmPath(node, '<vmid>')}/snapshot`, [], 'with snapshots (their memory state exists nowhere else) the VM itself is kept: stopped, NICs link_down=1, renamed <name>-forensic-<yyyymmdd>; no clone, no destroy'),
        );
      }
      steps.push(
        planCall('get', '/cluster/nextid', [], p.evidence_copied ? undefined : 'without snapshots:'),
        ...planTask('create', `${vmPath(node, '<vmid>')}/clone`, [['newid', '<nextid>'], ['name', `<name>-forensic-<yyyymmdd>`], ['full', 1], ['storage', p.forensic_storage], ['description', '<forensic copy note>']]),
        planCall('set', `${vmPath(node, '<nextid>')}/config`, [['tags', 'cortex;forensic'], ['onboot', 0]]),
      );
    }
    steps.push(
      ...planTask('create', `${vmPath(node, '<vmid>')}/status/stop`, [], 'hard stop; skipped when stopped'),
      ...planTask('delete', vmPath(node, '<vmid>'), deleteParams(true)),
      planCall('get', '/cluster/resources', [['type', 'vm']], 'the VMID must be gone'),
    );
    return steps;
  },

  async run(rt) {
    const p = rt.params as unknown as Params;
    const pv = new Pvesh(rt);
    const vms = await listVms(pv);
    const vm = await findVm(pv, { target: p.resource, ...(p.node ? { node: p.node } : {}) }, vms);
    const keepCopy = p.preserve_forensic_copy !== false;
    if (!vm) {
      const name = typeof p.resource === 'string' ? p.resource : null;
      const copy = name && keepCopy ? existingCopy(vms, name) : undefined;
      // A re-run after the quarantine finds the kept VM (renamed) with its snapshots.
      const evidence = copy ? await snapshotsOf(pv, copy) : [];
      return {
        vmid: typeof p.resource === 'number' ? p.resource : null,
        node: p.node ?? null,
        name,
        destroyed: false,
        kept_for_evidence: evidence.length > 0,
        evidence_snapshots: evidence,
        forensic_copy_vmid: copy?.vmid ?? null,
        forensic_copy_name: copy?.name ?? null,
      };
    }
    if (vm.template) {
      throw new ActionFailedError(`VM ${vm.vmid} "${vm.name}" is a template: refusing to destroy it`, { errorCode: 'vm_is_template', retryable: false });
    }
    let copy: { vmid: number; name: string } | undefined;
    if (keepCopy && !p.evidence_copied) {
      const evidence = await snapshotsOf(pv, vm);
      if (evidence.length) {
        // A clone copies no snapshot and the destroy would free them: keep this VM until the evidence is copied.
        const kept = await quarantine(rt, pv, vm);
        return { vmid: vm.vmid, node: vm.node, name: vm.name, destroyed: false, kept_for_evidence: true, evidence_snapshots: evidence, forensic_copy_vmid: kept.vmid, forensic_copy_name: kept.name };
      }
    }
    if (keepCopy) {
      copy = existingCopy(vms, vm.name);
      if (copy) rt.debug(`destroy_compromised_resource: forensic copy ${copy.vmid} (${copy.name}) exists already`);
      else copy = await cloneForensicCopy(rt, pv, vm, p.forensic_storage);
    }
    // A compromised guest is not trusted to shut down: hard stop.
    await destroyFound(pv, vm, { purge: true, graceful: false, timeoutSeconds: 0 });
    return {
      vmid: vm.vmid,
      node: vm.node,
      name: vm.name,
      destroyed: true,
      kept_for_evidence: false,
      evidence_snapshots: [],
      forensic_copy_vmid: copy?.vmid ?? null,
      forensic_copy_name: copy?.name ?? null,
    };
  },
};
