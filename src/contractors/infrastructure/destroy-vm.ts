import { ActionFailedError } from '../../errors.js';
import type { ActionImpl } from '../action-impl.js';
import { planCall, planTask, Pvesh } from './pvesh.js';
import { deleteParams, deleteVm, planStop, stopVm, vmPath } from './vm-power.js';
import { describeSelector, findVm, listVms, planVm, type ClusterVm, type VmSelector } from './vms.js';

interface Params extends VmSelector {
  purge?: boolean;
  shutdown_timeout_seconds?: number;
  missing_ok?: boolean;
}

/** Stop (unless stopped) and delete a VM, then check it is gone from /cluster/resources. */
export async function destroyFound(pv: Pvesh, vm: ClusterVm, o: { purge: boolean; graceful: boolean; timeoutSeconds: number }): Promise<void> {
  if (vm.template) {
    throw new ActionFailedError(`VM ${vm.vmid} "${vm.name}" is a template: cortex does not destroy templates`, { errorCode: 'vm_is_template', retryable: false });
  }
  if (vm.status !== 'stopped') await stopVm(pv, vm.node, vm.vmid, { graceful: o.graceful, timeoutSeconds: o.timeoutSeconds, errorCode: 'vm_destroy_failed' });
  await deleteVm(pv, vm.node, vm.vmid, o.purge);
  const still = (await listVms(pv)).find((v) => v.vmid === vm.vmid);
  if (still) {
    throw new ActionFailedError(`VM ${vm.vmid} is still listed in /cluster/resources after its destroy task succeeded`, { errorCode: 'vm_destroy_failed', retryable: true });
  }
}

export const destroyVmAction: ActionImpl = {
  plan(params) {
    const p = params as Params;
    const { node, vmid } = planVm(p);
    const timeout = p.shutdown_timeout_seconds ?? 60;
    return [
      planCall('get', '/cluster/resources', [['type', 'vm']], `find ${describeSelector(p)} and its node`),
      ...planStop(node, vmid, { graceful: timeout > 0, timeoutSeconds: timeout }, 'skipped when already stopped'),
      ...planTask('delete', vmPath(node, vmid), deleteParams(p.purge ?? true)),
      planCall('get', '/cluster/resources', [['type', 'vm']], 'the VMID must be gone'),
    ];
  },

  async run(rt) {
    const p = rt.params as Params;
    const pv = new Pvesh(rt);
    const vm = await findVm(pv, p);
    if (!vm) {
      if (p.missing_ok === false) throw new ActionFailedError(`${describeSelector(p)} does not exist`, { errorCode: 'vm_not_found', retryable: false });
      rt.debug(`destroy_vm: ${describeSelector(p)} does not exist; nothing to do`);
      return { vmid: p.vmid ?? (typeof p.vm === 'number' ? p.vm : null), node: p.node ?? null, destroyed: false };
    }
    const timeout = p.shutdown_timeout_seconds ?? 60;
    await destroyFound(pv, vm, { purge: p.purge ?? true, graceful: timeout > 0, timeoutSeconds: timeout });
    return { vmid: vm.vmid, node: vm.node, destroyed: true };
  },
};
