import { ActionFailedError } from '../../errors.js';
import type { ActionImpl } from '../action-impl.js';
import { planCall, Pvesh } from './pvesh.js';
import { currentStatus, planStart, planStop, startAndCheck, stopVm, vmPath } from './vm-power.js';
import { describeSelector, planVm, requireVm, type VmSelector } from './vms.js';

interface StartParams extends VmSelector {
  skip?: boolean;
}

interface StopParams extends VmSelector {
  graceful?: boolean;
  timeout_seconds?: number;
  skip?: boolean;
}

function skipped(p: VmSelector, key: 'was_running' | 'was_stopped'): Record<string, unknown> {
  // Nothing was done, so nothing is to be undone: the flag makes a compensation skip too.
  return { vmid: p.vmid ?? null, node: p.node ?? null, status: null, [key]: true };
}

export const startVmAction: ActionImpl = {
  plan(params) {
    const p = params as StartParams;
    if (p.skip) return [{ kind: 'wait', note: 'skip: nothing to do' }];
    const { node, vmid } = planVm(p);
    return [planCall('get', '/cluster/resources', [['type', 'vm']], `find ${describeSelector(p)}`), ...planStart(node, vmid, 'skipped when already running')];
  },

  async run(rt) {
    const p = rt.params as StartParams;
    if (p.skip) return skipped(p, 'was_running');
    const pv = new Pvesh(rt);
    const vm = await requireVm(pv, p);
    if (vm.template) throw new ActionFailedError(`VM ${vm.vmid} is a template and cannot be started`, { errorCode: 'vm_is_template', retryable: false });
    // A re-run after an interrupted start finds the VM running: the first attempt's answer decides the undo.
    const wasRunning = await rt.remember('was_running', async () => vm.status === 'running');
    if (vm.status !== 'running') await startAndCheck(pv, vm.node, vm.vmid);
    return { vmid: vm.vmid, node: vm.node, status: 'running', was_running: wasRunning };
  },
};

export const stopVmAction: ActionImpl = {
  plan(params) {
    const p = params as StopParams;
    if (p.skip) return [{ kind: 'wait', note: 'skip: nothing to do' }];
    const { node, vmid } = planVm(p);
    return [
      planCall('get', '/cluster/resources', [['type', 'vm']], `find ${describeSelector(p)}`),
      ...planStop(node, vmid, { graceful: p.graceful ?? true, timeoutSeconds: p.timeout_seconds ?? 120 }, 'skipped when already stopped'),
      planCall('get', `${vmPath(node, vmid)}/status/current`),
    ];
  },

  async run(rt) {
    const p = rt.params as StopParams;
    if (p.skip) return skipped(p, 'was_stopped');
    const pv = new Pvesh(rt);
    const vm = await requireVm(pv, p);
    const wasStopped = await rt.remember('was_stopped', async () => vm.status === 'stopped');
    if (vm.status === 'stopped') return { vmid: vm.vmid, node: vm.node, status: 'stopped', was_stopped: wasStopped };
    await stopVm(pv, vm.node, vm.vmid, { graceful: p.graceful ?? true, timeoutSeconds: p.timeout_seconds ?? 120 });
    const st = await currentStatus(pv, vm.node, vm.vmid);
    if (st.status !== 'stopped') {
      throw new ActionFailedError(`VM ${vm.vmid} is ${st.status ?? 'in an unknown state'} after its stop task succeeded`, { errorCode: 'vm_stop_failed', retryable: true });
    }
    return { vmid: vm.vmid, node: vm.node, status: 'stopped', was_stopped: wasStopped };
  },
};
