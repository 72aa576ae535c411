/**
 * The lab's Proxmox API, one implementation behind both faces (the pvesh stand-in and the HTTPS
 * API): finding the endpoint, checking the call against the published schema (upstream
 * pve-api.json), running the lab handler on the shared state, tasks and failure injection.
 *
 * Failure injection (--simulate-fail ACTION): the first worker call of the attempt gets a failed
 * task, or the first synchronous change a lock timeout; reads used by the checks report a
 * degraded cluster (no quorum, full nodes and storages, lagging replication), and guest-agent
 * probes see HTTP 503.
 */
import { readState, shouldFail, updateState, type CallContext } from '../lab-dir.js';
import type { Ctx, Handler, Method, Route, TaskSpec } from './api.js';
import { PveError, paramError, type ParamValue } from './params.js';
import { CLUSTER_ROUTES } from './routes-cluster.js';
import { NODE_ROUTES } from './routes-nodes.js';
import { QEMU_ROUTES } from './routes-qemu.js';
import { findEndpoint, METHOD_OF, methodSchema, propertyOf, validateCall, type ApiValue, type HttpMethod, type MethodSchema } from './schema.js';
import { disksOf, seedPveState, type PveState, type PveTask } from './state.js';

export const ROUTES: readonly Route[] = [...CLUSTER_ROUTES, ...NODE_ROUTES, ...QEMU_ROUTES];

const COMMAND_OF: Record<HttpMethod, Method> = { GET: 'get', PUT: 'set', POST: 'create', DELETE: 'delete' };

/** Reads that report a degraded cluster when the calling action is to fail. */
const SEMANTIC_READS = new Set(['/cluster/status', '/cluster/resources', '/nodes/{node}/storage', '/nodes/{node}/replication']);

/** How long a worker task runs in the lab (scaled by the lab latency). */
export const TASK_MS = 30;
const MAX_TASKS = 400;

function hex(n: number, width = 8): string {
  return n.toString(16).toUpperCase().padStart(width, '0');
}

/** A resolved call: the endpoint, its schema, the lab's handler and the path parameters. */
export interface Resolved {
  template: string;
  method: HttpMethod;
  schema: MethodSchema;
  route: Route;
  handler: Handler;
  pathParams: Record<string, string>;
}

/**
 * Finds what serves `method apiPath`; undefined when Proxmox has no such method (pvesh: "No 'get'
 * handler defined", HTTPS: 501). `labMissing` is set when Proxmox has it but the lab does not.
 */
export function resolve(method: HttpMethod, apiPath: string): { resolved?: Resolved; labMissing?: boolean } {
  const ep = findEndpoint(apiPath);
  if (!ep) return {};
  const schema = methodSchema(ep.template, method);
  if (!schema) return {};
  const route = ROUTES.find((r) => r.path === ep.template);
  const handler = route?.[COMMAND_OF[method]];
  if (!route || !handler) return { labMissing: true };
  return { resolved: { template: ep.template, method, schema, route, handler, pathParams: ep.params } };
}

/** Raises the 400 Parameter verification failed of PVE::RESTHandler::handle, if any. */
export function verify(schema: MethodSchema, params: Record<string, ApiValue>): void {
  const errors = validateCall(schema, params);
  if (Object.keys(errors).length) throw paramError(errors);
}

/** Validated values as the handlers read them: integers and numbers as numbers, booleans as booleans. */
export function typed(schema: MethodSchema, params: Record<string, ApiValue>): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue;
    const type = propertyOf(schema, k)?.type;
    if (Array.isArray(v)) out[k] = v.map(String);
    else if (type === 'integer' || type === 'number') out[k] = Number(v);
    else if (type === 'boolean') out[k] = v === true || v === '1' || v === 1;
    else out[k] = String(v);
  }
  return out;
}

function newTask(state: PveState, spec: TaskSpec, now: number): PveTask {
  state.counters.pid += 1 + (state.counters.pid % 7);
  state.counters.pstart += 97;
  const upid = `UPID:${spec.node}:${hex(state.counters.pid)}:${hex(state.counters.pstart)}:${hex(now)}:${spec.type}:${spec.id}:root@pam:`;
  const t: PveTask = { upid, node: spec.node, type: spec.type, id: spec.id, user: 'root@pam', pid: state.counters.pid, pstart: state.counters.pstart, starttime: now, status: 'running', log: [...spec.log] };
  state.tasks.push(t);
  if (state.tasks.length > MAX_TASKS) state.tasks.splice(0, state.tasks.length - MAX_TASKS);
  return t;
}

function injectedTaskError(state: PveState, spec: TaskSpec, ctx: Ctx): string {
  const vmid = spec.id;
  switch (spec.type) {
    case 'qmclone': {
      const src = state.vms.find((v) => String(v.vmid) === vmid);
      const storage = (ctx.params.storage as string | undefined) ?? (src ? disksOf(src.config)[0]?.storage : undefined) ?? 'local-lvm';
      const node = (ctx.params.target as string | undefined) ?? spec.node;
      return `clone failed: storage '${storage}' is not available on node '${node}'`;
    }
    case 'qmstart':
      return `start failed: QEMU exited with code 1`;
    case 'qmshutdown':
      return `VM ${vmid} qmp command 'system_powerdown' failed - got timeout`;
    case 'qmsnapshot':
      return `VM ${vmid} qmp command 'savevm-start' failed - unable to connect to VM ${vmid} qmp socket - timeout after 51 retries`;
    case 'reloadnetworkall':
      return `${state.localNode}: reloading network config failed: command 'ifreload -a' failed: exit code 1`;
    default:
      return `can't lock file '/var/lock/qemu-server/lock-${vmid}.conf' - got timeout`;
  }
}

function injectedSyncError(apiPath: string): string {
  const vmid = /\/qemu\/(\d+)/.exec(apiPath)?.[1];
  if (vmid) return `can't lock file '/var/lock/qemu-server/lock-${vmid}.conf' - got timeout`;
  if (apiPath.startsWith('/cluster/firewall')) return `cfs-lock 'file-cluster_fw' error: got lock request timeout`;
  if (apiPath.startsWith('/cluster/sdn')) return `cfs-lock 'file-sdn' error: got lock request timeout`;
  return `cfs-lock 'file-${apiPath.split('/').filter(Boolean)[0] ?? 'cluster'}' error: got lock request timeout`;
}

/** A lab seeded before this module existed holds `{}`: start from the seed then. */
export function ensureSeeded(state: PveState): PveState {
  if (!Array.isArray((state as Partial<PveState>).vms)) Object.assign(state, seedPveState());
  return state;
}

export function readPve(lab: string): PveState {
  return ensureSeeded(readState<PveState>(lab, 'pve', seedPveState));
}

function faultKey(c: CallContext): string {
  return `${c.executionId ?? '-'}|${c.actionId ?? '-'}|${c.attempt}`;
}

/** What a call did: data, a started worker task (to be finished with finishTask), or an error. */
export type Executed = { kind: 'data'; data: unknown } | { kind: 'task'; upid: string; spec: TaskSpec; error?: string; injected: boolean } | { kind: 'error'; message: string };

/**
 * Runs a validated call's handler on the lab state (reads without a lock, changes under it). The
 * handler gets the call's parameters without the path parameters, typed.
 */
export function execute(call: CallContext, r: Resolved, apiPath: string, apiParams: Record<string, ApiValue>, user = 'root@pam'): Executed {
  const params = typed(r.schema, Object.fromEntries(Object.entries(apiParams).filter(([k]) => !(k in r.pathParams))));
  const fault = shouldFail(call.lab, call.actionId, call.attempt);
  const now = Math.floor(Date.now() / 1000);
  if (r.method === 'GET') {
    // Reads change nothing: no lock, no write (the state file is replaced atomically).
    const state = readPve(call.lab);
    const outcome = r.handler.run({ state, path: r.pathParams, params, now, fault: fault && SEMANTIC_READS.has(r.template), apiPath, user });
    if (!('data' in outcome)) throw new PveError(`internal: GET ${apiPath} started a task`);
    return { kind: 'data', data: outcome.data };
  }
  return updateState<PveState, Executed>(call.lab, 'pve', seedPveState, (state) => {
    ensureSeeded(state);
    const draft = structuredClone(state);
    const semantic = fault && r.template.endsWith('/agent/exec');
    const ctx: Ctx = { state: draft, path: r.pathParams, params, now, fault: semantic, apiPath, user };
    const outcome = r.handler.run(ctx); // PveError: nothing is committed
    const key = faultKey(call);
    const inject = fault && !semantic && !state.faulted.includes(key);
    if (inject) {
      state.faulted.push(key);
      if (state.faulted.length > 200) state.faulted.splice(0, state.faulted.length - 200);
    }
    if ('data' in outcome) {
      if (inject) return { kind: 'error', message: injectedSyncError(apiPath) };
      Object.assign(state, draft);
      return { kind: 'data', data: outcome.data };
    }
    const spec = outcome.task;
    if (inject) {
      const error = injectedTaskError(state, spec, ctx);
      const t = newTask(state, { ...spec, log: spec.log.slice(0, 1) }, now);
      return { kind: 'task', upid: t.upid, spec: { ...spec, log: t.log }, error, injected: true };
    }
    Object.assign(state, draft);
    const t = newTask(state, spec, now);
    return { kind: 'task', upid: t.upid, spec, ...(spec.error ? { error: spec.error } : {}), injected: false };
  });
}

/** Ends a worker task: runs its finish on the state as it is now, logs TASK OK / TASK ERROR. */
export function finishTask(lab: string, done: Extract<Executed, { kind: 'task' }>): void {
  updateState<PveState, void>(lab, 'pve', seedPveState, (state) => {
    if (!done.injected) done.spec.finish?.(state, done.error === undefined);
    const t = state.tasks.find((x) => x.upid === done.upid);
    if (!t) return;
    t.status = 'stopped';
    t.endtime = Math.floor(Date.now() / 1000);
    t.exitstatus = done.error ?? 'OK';
    t.log.push(done.error ? `TASK ERROR: ${done.error}` : 'TASK OK');
  });
}

export { METHOD_OF };
