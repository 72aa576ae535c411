/**
 * The lab Proxmox API as pvesh sees it: routes (path templates) with a handler per method, each
 * declaring its parameters. Handlers change the state they are given (a draft, committed by the
 * caller) and return either data or a task (worker calls).
 */
import { PveError, type ParamValue } from './params.js';
import { findNode, findVmById, type PveState, type PveVm } from './state.js';

export type Method = 'get' | 'set' | 'create' | 'delete';

export interface Ctx {
  state: PveState;
  /** Path parameters by template name ({node}, {vmid}, ...). */
  path: Record<string, string>;
  params: Record<string, ParamValue>;
  /** Unix seconds. */
  now: number;
  /** --simulate-fail applies to this call: reads report a degraded state. */
  fault: boolean;
  apiPath: string;
  /** Who calls: root@pam for pvesh, the token's id over HTTPS. */
  user?: string;
}

export interface TaskSpec {
  type: string;
  id: string;
  node: string;
  /** Task log lines (stdout of pvesh before the UPID). */
  log: string[];
  /** The task fails with this message (exit 0, stderr, exitstatus). */
  error?: string;
  /** Runs when the task ends (after its duration), on the state as it is then. */
  finish?: (state: PveState, ok: boolean) => void;
}

export type Outcome = { data: unknown } | { task: TaskSpec };

/** One method of a route; its parameters are checked against the API digest before it runs. */
export interface Handler {
  run(ctx: Ctx): Outcome;
}

export interface Route {
  path: string;
  get?: Handler;
  set?: Handler;
  create?: Handler;
  delete?: Handler;
}

export function fail(message: string): never {
  throw new PveError(message);
}

/** The node of the path, which must exist and be online. */
export function pathNode(ctx: Ctx): string {
  const name = ctx.path.node as string;
  const n = findNode(ctx.state, name);
  if (!n) fail(`hostname lookup '${name}' failed - failed to get address info for: ${name}: Name or service not known`);
  if (!n.online) fail(`500 Can't connect to ${n.ip}:8006 (No route to host)`);
  return name;
}

/** The path's VMID (already checked against the schema: an integer of 100 and more). */
export function pathVmid(ctx: Ctx): number {
  return Number(ctx.path.vmid);
}

/** The VM of the path on the path's node (its config lives there), like PVE::QemuConfig->load_config. */
export function pathVm(ctx: Ctx): PveVm {
  const node = pathNode(ctx);
  const vmid = pathVmid(ctx);
  const vm = findVmById(ctx.state, vmid);
  if (!vm || vm.node !== node) fail(`Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`);
  return vm;
}

export function assertUnlocked(vm: PveVm, skiplock?: unknown): void {
  if (vm.lock && !skiplock) fail(`VM is locked (${vm.lock})`);
}

export function matchRoute(routes: readonly Route[], apiPath: string): { route: Route; params: Record<string, string> } | undefined {
  const segs = apiPath.split('/').filter(Boolean);
  for (const route of routes) {
    const tpl = route.path.split('/').filter(Boolean);
    if (tpl.length !== segs.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < tpl.length; i++) {
      const t = tpl[i] as string;
      const s = segs[i] as string;
      if (t.startsWith('{') && t.endsWith('}')) params[t.slice(1, -1)] = decodeURIComponent(s);
      else if (t !== s) {
        ok = false;
        break;
      }
    }
    if (ok) return { route, params };
  }
  return undefined;
}

/** Children of a directory-like path, for `pvesh ls` and index GETs. */
export function childrenOf(routes: readonly Route[], apiPath: string): string[] {
  const depth = apiPath.split('/').filter(Boolean).length;
  const prefix = apiPath.split('/').filter(Boolean);
  const out = new Set<string>();
  for (const r of routes) {
    const tpl = r.path.split('/').filter(Boolean);
    if (tpl.length !== depth + 1) continue;
    if (tpl.slice(0, depth).every((t, i) => t.startsWith('{') || t === prefix[i])) {
      const last = tpl[depth] as string;
      if (!last.startsWith('{')) out.add(last);
    }
  }
  return [...out].sort();
}
