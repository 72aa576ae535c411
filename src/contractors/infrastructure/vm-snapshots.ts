import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, ActionRuntime } from '../action-impl.js';
import { snapshotName } from './names.js';
import { isPveshError, planCall, planTask, Pvesh } from './pvesh.js';
import { currentStatus, vmPath } from './vm-power.js';
import { describeSelector, findVm, planVm, requireVm, type VmSelector } from './vms.js';

interface Snapshot {
  name: string;
  description?: string;
  snaptime?: number;
  vmstate?: number;
  parent?: string;
}

async function listSnapshots(pv: Pvesh, node: string, vmid: number): Promise<Snapshot[]> {
  const list = await pv.get<Snapshot[]>(`${vmPath(node, vmid)}/snapshot`);
  return (Array.isArray(list) ? list : []).filter((s) => s.name !== 'current');
}

interface CreateParams extends VmSelector {
  snapshot_name?: string;
  description?: string;
  preserve_memory?: boolean;
}

function createName(p: CreateParams, executionId: string): string {
  return snapshotName(p.snapshot_name ?? `cortex-${executionId}`);
}

export const createVmSnapshotAction: ActionImpl = {
  plan(params, ctx) {
    const p = params as CreateParams;
    const { node, vmid } = planVm(p);
    const snap = createName(p, ctx.executionId);
    return [
      planCall('get', '/cluster/resources', [['type', 'vm']], `find ${describeSelector(p)}`),
      planCall('get', `${vmPath(node, vmid)}/snapshot`, [], `reuse ${snap} if it exists`),
      ...planTask('create', `${vmPath(node, vmid)}/snapshot`, [['snapname', snap], ['description', p.description], ['vmstate', p.preserve_memory ? 1 : undefined]]),
      planCall('get', `${vmPath(node, vmid)}/snapshot`, [], 'must list it'),
    ];
  },

  async run(rt: ActionRuntime) {
    const p = rt.params as CreateParams;
    const pv = new Pvesh(rt);
    const vm = await requireVm(pv, p);
    const snap = createName(p, rt.executionId);
    const path = vmPath(vm.node, vm.vmid);
    const out = { snapshot_id: `${vm.node}/${vm.vmid}@${snap}`, snapname: snap, vmid: vm.vmid, node: vm.node };
    if ((await listSnapshots(pv, vm.node, vm.vmid)).some((s) => s.name === snap)) {
      rt.debug(`create_vm_snapshot: ${snap} already exists on VM ${vm.vmid}; reusing it`);
      return out;
    }
    await pv.task(
      'create',
      `${path}/snapshot`,
      [
        ['snapname', snap],
        ['description', p.description],
        ['vmstate', p.preserve_memory ? 1 : undefined],
      ],
      { errorCode: 'snapshot_failed', what: `snapshot VM ${vm.vmid} as ${snap}` },
    );
    if (!(await listSnapshots(pv, vm.node, vm.vmid)).some((s) => s.name === snap)) {
      throw new ActionFailedError(`snapshot ${snap} of VM ${vm.vmid} is not listed after its task succeeded`, { errorCode: 'snapshot_failed', retryable: true });
    }
    return out;
  },
};

interface DeleteParams extends VmSelector {
  snapshot_name: string;
  force?: boolean;
  missing_ok?: boolean;
}

export const deleteVmSnapshotAction: ActionImpl = {
  plan(params) {
    const p = params as unknown as DeleteParams;
    const { node, vmid } = planVm(p);
    const snap = snapshotName(p.snapshot_name);
    return [
      planCall('get', '/cluster/resources', [['type', 'vm']], `find ${describeSelector(p)}`),
      planCall('get', `${vmPath(node, vmid)}/snapshot`),
      ...planTask('delete', `${vmPath(node, vmid)}/snapshot/${snap}`, [['force', p.force ? 1 : undefined]], 'skipped when it does not exist'),
    ];
  },

  async run(rt) {
    const p = rt.params as unknown as DeleteParams;
    const pv = new Pvesh(rt);
    const snap = snapshotName(p.snapshot_name);
    const missingOk = p.missing_ok !== false;
    const vm = await findVm(pv, p);
    if (!vm) {
      if (missingOk) return { vmid: p.vmid ?? null, node: p.node ?? null, snapname: snap, deleted: false };
      throw new ActionFailedError(`${describeSelector(p)} does not exist`, { errorCode: 'vm_not_found', retryable: false });
    }
    const out = { vmid: vm.vmid, node: vm.node, snapname: snap };
    if (!(await listSnapshots(pv, vm.node, vm.vmid)).some((s) => s.name === snap)) {
      if (missingOk) return { ...out, deleted: false };
      throw new ActionFailedError(`snapshot ${snap} of VM ${vm.vmid} does not exist`, { errorCode: 'snapshot_not_found', retryable: false });
    }
    try {
      await pv.task('delete', `${vmPath(vm.node, vm.vmid)}/snapshot/${snap}`, [['force', p.force ? 1 : undefined]], {
        errorCode: 'snapshot_delete_failed',
        what: `delete snapshot ${snap} of VM ${vm.vmid}`,
      });
    } catch (e) {
      if (missingOk && isPveshError(e, 'not_found')) return { ...out, deleted: false };
      throw e;
    }
    return { ...out, deleted: true };
  },
};

interface RollbackParams extends VmSelector {
  snapshot_name: string;
  start?: boolean;
}

export const rollbackVmSnapshotAction: ActionImpl = {
  plan(params) {
    const p = params as unknown as RollbackParams;
    const { node, vmid } = planVm(p);
    const snap = snapshotName(p.snapshot_name);
    return [
      planCall('get', '/cluster/resources', [['type', 'vm']], `find ${describeSelector(p)}`),
      ...planTask('create', `${vmPath(node, vmid)}/snapshot/${snap}/rollback`, [['start', p.start !== false ? 1 : undefined]]),
      planCall('get', `${vmPath(node, vmid)}/status/current`),
    ];
  },

  async run(rt) {
    const p = rt.params as unknown as RollbackParams;
    const pv = new Pvesh(rt);
    const vm = await requireVm(pv, p);
    const snap = snapshotName(p.snapshot_name);
    const start = p.start !== false;
    try {
      await pv.task('create', `${vmPath(vm.node, vm.vmid)}/snapshot/${snap}/rollback`, [['start', start ? 1 : undefined]], {
        errorCode: 'snapshot_rollback_failed',
        what: `roll VM ${vm.vmid} back to ${snap}`,
      });
    } catch (e) {
      if (isPveshError(e, 'not_found')) {
        throw new ActionFailedError(`snapshot ${snap} of VM ${vm.vmid} does not exist`, { errorCode: 'snapshot_not_found', retryable: false, cause: e });
      }
      throw e;
    }
    const st = await currentStatus(pv, vm.node, vm.vmid);
    if (start && st.status !== 'running') {
      throw new ActionFailedError(`VM ${vm.vmid} is ${st.status ?? 'in an unknown state'} after rolling back to ${snap} with --start 1`, {
        errorCode: 'snapshot_rollback_failed',
        retryable: true,
      });
    }
    return { vmid: vm.vmid, node: vm.node, snapname: snap, status: st.status ?? null };
  },
};
