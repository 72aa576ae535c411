/**
 * The lab's pvesh: same command line, output and exit codes as the real one (TOOLS.md §1), over
 * the lab state. Worker calls run "in the foreground": the task log goes to stdout, then the UPID;
 * a failed task still exits 0 (its error on stderr, its status stopped with the error as
 * exitstatus), as real pvesh does.
 *
 * Failure injection (--simulate-fail ACTION): the first worker call of the attempt gets a failed
 * task, or the first synchronous change a lock timeout (exit 255); reads used by the checks report
 * a degraded cluster (no quorum, full nodes and storages, lagging replication), and guest-agent
 * probes see HTTP 503.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { callContextFromEnv, latencyMs, readState, recordInvocation, shouldFail, updateState, type CallContext } from '../lab-dir.js';
import { childrenOf, matchRoute, type Ctx, type Handler, type Method, type Route, type TaskSpec } from './api.js';
import { formatResult } from './format.js';
import { defOf, FORMAT_OPTIONS, PveError, splitOptions, validateParams, type ParamSchema } from './params.js';
import { CLUSTER_ROUTES } from './routes-cluster.js';
import { NODE_ROUTES } from './routes-nodes.js';
import { QEMU_ROUTES } from './routes-qemu.js';
import { disksOf, seedPveState, type PveState, type PveTask } from './state.js';

export const ROUTES: readonly Route[] = [...CLUSTER_ROUTES, ...NODE_ROUTES, ...QEMU_ROUTES];

export interface PveshResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

const COMMANDS: Record<string, Method | 'ls' | 'usage' | 'help'> = { get: 'get', set: 'set', create: 'create', delete: 'delete', ls: 'ls', usage: 'usage', help: 'help' };

/** Reads that report a degraded cluster when the calling action is to fail. */
const SEMANTIC_READS = new Set(['/cluster/status', '/cluster/resources', '/nodes/{node}/storage', '/nodes/{node}/replication']);

const TASK_MS = 30;
const MAX_TASKS = 400;

const USAGE = `USAGE: pvesh <COMMAND> [ARGS] [OPTIONS]

       pvesh create <api_path> [OPTIONS] [FORMAT_OPTIONS]
       pvesh delete <api_path> [OPTIONS] [FORMAT_OPTIONS]
       pvesh get <api_path> [OPTIONS] [FORMAT_OPTIONS]
       pvesh help [<extra-args>] [OPTIONS]
       pvesh ls <api_path> [OPTIONS] [FORMAT_OPTIONS]
       pvesh set <api_path> [OPTIONS] [FORMAT_OPTIONS]
       pvesh usage <api_path> [OPTIONS]`;

function hex(n: number, width = 8): string {
  return n.toString(16).toUpperCase().padStart(width, '0');
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
function ensureSeeded(state: PveState): PveState {
  if (!Array.isArray((state as Partial<PveState>).vms)) Object.assign(state, seedPveState());
  return state;
}

function faultKey(c: CallContext): string {
  return `${c.executionId ?? '-'}|${c.actionId ?? '-'}|${c.attempt}`;
}

type Executed = { kind: 'data'; data: unknown } | { kind: 'task'; upid: string; spec: TaskSpec; error?: string; injected: boolean } | { kind: 'error'; message: string };

function execute(call: CallContext, method: Method, apiPath: string, route: Route, handler: Handler, pathParams: Record<string, string>, params: Ctx['params']): Executed {
  const fault = shouldFail(call.lab, call.actionId, call.attempt);
  const now = Math.floor(Date.now() / 1000);
  if (method === 'get') {
    // Reads change nothing: no lock, no write (the state file is replaced atomically).
    const state = ensureSeeded(readState<PveState>(call.lab, 'pve', seedPveState));
    const outcome = handler.run({ state, path: pathParams, params, now, fault: fault && SEMANTIC_READS.has(route.path), apiPath });
    if (!('data' in outcome)) throw new PveError(`internal: GET ${apiPath} started a task`);
    return { kind: 'data', data: outcome.data };
  }
  return updateState<PveState, Executed>(call.lab, 'pve', seedPveState, (state) => {
    ensureSeeded(state);
    const draft = structuredClone(state);
    const semantic = fault && route.path.endsWith('/agent/exec');
    const ctx: Ctx = { state: draft, path: pathParams, params, now, fault: semantic, apiPath };
    const outcome = handler.run(ctx); // PveError: nothing is committed
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

function finishTask(call: CallContext, upid: string, spec: TaskSpec, error: string | undefined, injected: boolean): void {
  updateState<PveState, void>(call.lab, 'pve', seedPveState, (state) => {
    if (!injected) spec.finish?.(state, error === undefined);
    const t = state.tasks.find((x) => x.upid === upid);
    if (!t) return;
    t.status = 'stopped';
    t.endtime = Math.floor(Date.now() / 1000);
    t.exitstatus = error ?? 'OK';
    t.log.push(error ? `TASK ERROR: ${error}` : 'TASK OK');
  });
}

function usageOf(route: Route, apiPath: string, only?: string): string {
  const lines: string[] = [];
  for (const m of ['get', 'set', 'create', 'delete'] as const) {
    const h = route[m];
    if (!h || (only && only !== m)) continue;
    const required = Object.entries(h.schema?.props ?? {})
      .filter(([, d]) => !d.optional)
      .map(([n, d]) => `--${n} <${d.type}>`);
    lines.push(`USAGE: pvesh ${m} ${apiPath}${required.length ? ` ${required.join(' ')}` : ''} [OPTIONS] [FORMAT_OPTIONS]`);
  }
  return lines.join('\n');
}

function dynamicChildren(apiPath: string): (state: PveState) => string[] {
  const segs = apiPath.split('/').filter(Boolean);
  return (state) => {
    if (segs.length === 1 && segs[0] === 'nodes') return state.nodes.map((n) => n.name);
    if (segs.length === 3 && segs[0] === 'nodes' && segs[2] === 'qemu') return state.vms.filter((v) => v.node === segs[1]).map((v) => String(v.vmid));
    return [];
  };
}

function lsOutput(call: CallContext, apiPath: string): string {
  const state = ensureSeeded(readState<PveState>(call.lab, 'pve', seedPveState));
  const names = [...childrenOf(ROUTES, apiPath), ...dynamicChildren(apiPath)(state)];
  return names
    .map((name) => {
      const m = matchRoute(ROUTES, `${apiPath.replace(/\/$/, '')}/${name}`);
      const r = m?.route;
      const flags = `D${r?.get ? 'r' : '-'}${r?.set ? 'w' : '-'}${r?.create ? 'c' : '-'}${r?.delete ? 'd' : '-'}`;
      return `${flags}        ${name}`;
    })
    .join('\n');
}

/** One pvesh invocation: argv without the program name, env with CORTEX_LAB_DIR and the action. */
export async function runPvesh(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<PveshResult> {
  let call: CallContext;
  try {
    call = callContextFromEnv(env);
  } catch (e) {
    return { stdout: '', stderr: `${(e as Error).message}\n`, exitCode: 255 };
  }
  recordInvocation(call, 'pvesh', argv);
  try {
    return await dispatch(call, argv);
  } catch (e) {
    if (e instanceof PveError) return { stdout: '', stderr: `${e.message.trimEnd()}\n`, exitCode: e.exitCode };
    return { stdout: '', stderr: `internal error: ${(e as Error).stack ?? String(e)}\n`, exitCode: 255 };
  }
}

async function dispatch(call: CallContext, argv: readonly string[]): Promise<PveshResult> {
  const [cmdWord, rawPath, ...rest] = argv;
  if (cmdWord === undefined) throw new PveError(`ERROR: no command specified\n${USAGE}`);
  const cmd = COMMANDS[cmdWord];
  if (!cmd) throw new PveError(`ERROR: unknown command 'pvesh ${cmdWord}'\n${USAGE}`);
  if (cmd === 'help') return { stdout: `${USAGE}\n`, stderr: '', exitCode: 0 };
  if (rawPath === undefined || rawPath.startsWith('--')) throw new PveError(`400 not enough arguments\npvesh ${cmd} <api_path> [OPTIONS]${cmd === 'usage' ? '' : ' [FORMAT_OPTIONS]'}`);
  const apiPath = `/${rawPath.split('/').filter(Boolean).join('/')}`;
  const match = matchRoute(ROUTES, apiPath);

  if (cmd === 'usage') {
    const raw = splitOptions(rest, (n) => n === 'verbose' || n === 'v' || n === 'returns');
    if (!match) throw new PveError(`no such resource '${apiPath}'`);
    return { stdout: `${usageOf(match.route, apiPath, raw.command?.[0])}\n`, stderr: '', exitCode: 0 };
  }
  if (cmd === 'ls') {
    if (!match && apiPath !== '/') throw new PveError(`no such resource '${apiPath}'`);
    const out = lsOutput(call, apiPath === '/' ? '' : apiPath);
    return { stdout: out ? `${out}\n` : '', stderr: '', exitCode: 0 };
  }
  if (!match) throw new PveError(`no such resource '${apiPath}'`);
  const handler = match.route[cmd];
  if (!handler) throw new PveError(`no '${cmd}' handler for '${apiPath}'`);

  const schema: ParamSchema = handler.schema ?? { props: {} };
  const raw = splitOptions(rest, (n) => (FORMAT_OPTIONS[n] ?? defOf(schema, n))?.type === 'boolean');
  const formatRaw: Record<string, string[]> = {};
  for (const k of Object.keys(FORMAT_OPTIONS)) {
    if (raw[k]) {
      formatRaw[k] = raw[k] as string[];
      delete raw[k];
    }
  }
  const fmt = validateParams({ props: FORMAT_OPTIONS }, formatRaw);
  const params = validateParams(schema, raw, match.params);
  const format = { outputFormat: (fmt['output-format'] as string | undefined) ?? 'text', noborder: Boolean(fmt.noborder), noheader: Boolean(fmt.noheader) };

  const r = execute(call, cmd, apiPath, match.route, handler, match.params, params);
  if (r.kind === 'error') throw new PveError(r.message);
  if (r.kind === 'data') {
    const text = formatResult(r.data, format);
    return { stdout: text === undefined ? '' : `${text}\n`, stderr: '', exitCode: 0 };
  }
  // A worker task, run in the foreground.
  await delay(latencyMs(call.lab, TASK_MS));
  finishTask(call, r.upid, r.spec, r.error, r.injected);
  const upidOut = formatResult(r.upid, format) ?? r.upid;
  const stdout = [...r.spec.log, upidOut].join('\n');
  return { stdout: `${stdout}\n`, stderr: r.error ? `${r.error}\n` : '', exitCode: 0 };
}
