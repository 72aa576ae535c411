import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, ActionRuntime } from '../action-impl.js';
import { destroyFound } from './destroy-vm.js';
import { isPveshError, planCall, planTask, Pvesh } from './pvesh.js';
import { deleteParams, vmPath } from './vm-power.js';
import { describeSelector, findVm, listVms, type ClusterVm } from './vms.js';

interface Params {
  resource: string | number;
  node?: string;
  preserve_forensic_copy?: boolean;
  forensic_storage?: string;
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
      steps.push(
        planCall('get', '/cluster/nextid'),
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
      return {
        vmid: typeof p.resource === 'number' ? p.resource : null,
        node: p.node ?? null,
        name,
        destroyed: false,
        forensic_copy_vmid: copy?.vmid ?? null,
        forensic_copy_name: copy?.name ?? null,
      };
    }
    if (vm.template) {
      throw new ActionFailedError(`VM ${vm.vmid} "${vm.name}" is a template: refusing to destroy it`, { errorCode: 'vm_is_template', retryable: false });
    }
    let copy: { vmid: number; name: string } | undefined;
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
      forensic_copy_vmid: copy?.vmid ?? null,
      forensic_copy_name: copy?.name ?? null,
    };
  },
};
