/** Start, stop and delete a VM, each waited on, shared by the VM actions. */
import { ActionFailedError } from '../../errors.js';
import type { PlannedStep } from '../action-impl.js';
import { isPveshError, planCall, planTask, type Pvesh } from './pvesh.js';

export interface CurrentStatus {
  status?: string;
  qmpstatus?: string;
  lock?: string;
  [key: string]: unknown;
}

export function vmPath(node: string, vmid: number | string): string {
  return `/nodes/${node}/qemu/${vmid}`;
}

export async function currentStatus(pv: Pvesh, node: string, vmid: number): Promise<CurrentStatus> {
  return (await pv.get<CurrentStatus>(`${vmPath(node, vmid)}/status/current`)) ?? {};
}

/** Starts the VM and checks status/current says running. */
export async function startAndCheck(pv: Pvesh, node: string, vmid: number, errorCode = 'vm_start_failed'): Promise<string> {
  await pv.task('create', `${vmPath(node, vmid)}/status/start`, [], { errorCode, what: `start VM ${vmid}` });
  const st = await currentStatus(pv, node, vmid);
  if (st.status !== 'running') {
    throw new ActionFailedError(`VM ${vmid} on ${node} is ${st.status ?? 'in an unknown state'} after its start task succeeded`, {
      errorCode,
      retryable: true,
    });
  }
  return 'running';
}

export interface StopOptions {
  /** ACPI/agent shutdown with forceStop after timeoutSeconds; else a hard stop. */
  graceful: boolean;
  timeoutSeconds: number;
  errorCode?: string;
}

export function stopParams(o: StopOptions): { path: string; params: Array<[string, number]> } {
  return o.graceful && o.timeoutSeconds > 0
    ? { path: 'status/shutdown', params: [['timeout', o.timeoutSeconds], ['forceStop', 1]] }
    : { path: 'status/stop', params: [] };
}

export async function stopVm(pv: Pvesh, node: string, vmid: number, o: StopOptions): Promise<void> {
  const s = stopParams(o);
  try {
    await pv.task('create', `${vmPath(node, vmid)}/${s.path}`, s.params, { errorCode: o.errorCode ?? 'vm_stop_failed', what: `stop VM ${vmid}` });
  } catch (e) {
    // Stopped meanwhile (or by the shutdown itself before a hard stop): that is what we wanted.
    if (isPveshError(e) && /not running/i.test(e.pveMessage)) return;
    throw e;
  }
}

/** `delete /nodes/<node>/qemu/<vmid> --purge 1 --destroy-unreferenced-disks 1`, waited. False when it was already gone. */
export async function deleteVm(pv: Pvesh, node: string, vmid: number, purge = true, errorCode = 'vm_destroy_failed'): Promise<boolean> {
  try {
    await pv.task('delete', vmPath(node, vmid), deleteParams(purge), { errorCode, what: `destroy VM ${vmid}` });
    return true;
  } catch (e) {
    if (isPveshError(e, 'not_found') && /does not exist/i.test(e.pveMessage)) return false;
    throw e;
  }
}

export function deleteParams(purge: boolean): Array<[string, number]> {
  return purge ? [['purge', 1], ['destroy-unreferenced-disks', 1]] : [['destroy-unreferenced-disks', 1]];
}

/** Stop (hard) if needed and delete; errors are returned, not thrown (cleanup after a failure). */
export async function cleanupVm(pv: Pvesh, node: string, vmid: number): Promise<string | undefined> {
  try {
    const st = await currentStatus(pv, node, vmid);
    if (st.status && st.status !== 'stopped') await stopVm(pv, node, vmid, { graceful: false, timeoutSeconds: 0 });
    await deleteVm(pv, node, vmid, true);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

export function planStop(node: string, vmid: string, o: StopOptions, note?: string): PlannedStep[] {
  const s = stopParams(o);
  return planTask('create', `${vmPath(node, vmid)}/${s.path}`, s.params, note);
}

export function planStart(node: string, vmid: string, note?: string): PlannedStep[] {
  return [...planTask('create', `${vmPath(node, vmid)}/status/start`, [], note), planCall('get', `${vmPath(node, vmid)}/status/current`)];
}
