/**
 * The lab's pvesh: same command line, output and exit codes as the real one (proxmox/pve-manager
 * PVE/CLI/pvesh.pm @ 14a22df35955d97dfc1af21e117dc894a29df0c9, TOOLS.md §1), over the lab's
 * Proxmox API (core.ts). Options are parsed like PVE::JSONSchema::get_options (Getopt::Long:
 * an unknown or ambiguous option fails with "400 unable to parse option"), then checked against
 * the published schema; a parameter error is followed by the usage line, as cli_handler does.
 * Worker calls run "in the foreground": the task log goes to stdout, then the UPID; a failed task
 * still exits 0 (its error on stderr, its status stopped with the error as exitstatus).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { callContextFromEnv, latencyMs, recordInvocation, type CallContext } from '../lab-dir.js';
import { childrenOf, matchRoute } from './api.js';
import { execute, finishTask, readPve, resolve, ROUTES, TASK_MS, verify } from './core.js';
import { formatResult } from './format.js';
import { PveError } from './params.js';
import { findEndpoint, METHOD_OF, methodSchema, parseBoolean, propertyOf, validateCall, type ApiValue, type MethodSchema, type PropSchema } from './schema.js';
import type { PveState } from './state.js';

export interface PveshResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

const COMMANDS = new Set(['get', 'set', 'create', 'delete', 'ls', 'usage', 'help']);

/** PVE::RESTHandler $standard_output_options, and pvesh's own noproxy. */
const OUTPUT_OPTIONS: Record<string, PropSchema> = {
  'output-format': { type: 'string', enum: ['text', 'json', 'json-pretty', 'yaml'], optional: 1, default: 'text' },
  noheader: { type: 'boolean', optional: 1 },
  noborder: { type: 'boolean', optional: 1 },
  quiet: { type: 'boolean', optional: 1 },
  'human-readable': { type: 'boolean', optional: 1 },
  noproxy: { type: 'boolean', optional: 1 },
};

const USAGE = `USAGE: pvesh <COMMAND> [ARGS] [OPTIONS]

       pvesh create <api_path> [OPTIONS] [FORMAT_OPTIONS]
       pvesh delete <api_path> [OPTIONS] [FORMAT_OPTIONS]
       pvesh get <api_path> [OPTIONS] [FORMAT_OPTIONS]
       pvesh help [<extra-args>] [OPTIONS]
       pvesh ls <api_path> [OPTIONS] [FORMAT_OPTIONS]
       pvesh set <api_path> [OPTIONS] [FORMAT_OPTIONS]
       pvesh usage <api_path> [OPTIONS]`;

/**
 * pvesh's schema for one call (extract_path_info): the target method's parameters without the
 * path parameters, plus the output options. `lookup` also answers indexed names (net0 ...).
 */
interface PathSchema {
  schema: MethodSchema;
  lookup(name: string): PropSchema | undefined;
  names(): string[];
}

function pathSchema(ms: MethodSchema | undefined, uriParams: Record<string, string>): PathSchema {
  const props: Record<string, PropSchema> = {};
  for (const [k, v] of Object.entries(ms?.params ?? {})) if (!(k in uriParams)) props[k] = v;
  Object.assign(props, OUTPUT_OPTIONS);
  const schema: MethodSchema = { params: props, returns: null, ...(ms?.additional_properties ? { additional_properties: 1 } : {}) };
  return {
    schema,
    lookup: (name) => (name.endsWith('[n]') ? undefined : propertyOf(schema, name)),
    names: () => Object.keys(props).filter((k) => !k.endsWith('[n]')),
  };
}

/** get_options' short usage line: `pvesh create <api_path> --newid <integer> [OPTIONS] [FORMAT_OPTIONS]`. */
function usageLine(cmd: string, ps: PathSchema): string {
  const props = ps.schema.params;
  const required = Object.keys(props)
    .filter((k) => !props[k]?.optional && !k.endsWith('[n]'))
    .sort()
    .map((k) => `--${k} <${props[k]?.type ?? 'string'}>`);
  return `pvesh ${cmd} <api_path>${required.length ? ` ${required.join(' ')}` : ''} [OPTIONS] [FORMAT_OPTIONS]`;
}

function paramFail(message: string, usage: string): PveError {
  const e = new PveError(message, { code: 400 });
  e.usage = usage;
  return e;
}

/**
 * Getopt::Long as get_options configures it (prefix `-` or `--`, case-insensitive, unique
 * abbreviations, permuted non-options): booleans take an optional value, lists and arrays
 * repeat, everything else takes one mandatory value (even one starting with `-`).
 */
function getopt(args: readonly string[], ps: PathSchema): { opts: Record<string, string | string[]>; rest: string[]; warnings: string[] } {
  const opts: Record<string, string | string[]> = {};
  const rest: string[] = [];
  const warnings: string[] = [];
  const names = ps.names();
  const find = (given: string): { name?: string; warning?: string } => {
    const lower = given.toLowerCase();
    const exact = names.find((n) => n.toLowerCase() === lower) ?? (ps.lookup(given) ? given : undefined);
    if (exact) return { name: exact };
    const candidates = names.filter((n) => n.toLowerCase().startsWith(lower));
    if (candidates.length === 1) return { name: candidates[0] as string };
    if (candidates.length > 1) return { warning: `Option ${given} is ambiguous (${candidates.sort().join(', ')})` };
    return { warning: `Unknown option: ${lower}` };
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') {
      rest.push(...args.slice(i + 1));
      break;
    }
    const m = /^--?([^=]+)(?:=([\s\S]*))?$/.exec(a);
    if (!m || a === '-') {
      rest.push(a);
      continue;
    }
    const { name, warning } = find(m[1] as string);
    if (!name) {
      warnings.push(warning as string);
      continue;
    }
    const schema = ps.lookup(name) as PropSchema;
    const isBool = schema.type === 'boolean';
    const isList = schema.type === 'array' || (typeof schema.format === 'string' && schema.format.includes('-list'));
    let value = m[2];
    if (value === undefined) {
      const next = args[i + 1];
      if (isBool) {
        if (next !== undefined && !/^-./.test(next)) {
          value = next;
          i++;
        } else value = '';
      } else if (next === undefined) {
        warnings.push(`Option ${m[1]} requires an argument`);
        continue;
      } else {
        value = next;
        i++;
      }
    }
    if (isList) opts[name] = [...((opts[name] as string[] | undefined) ?? []), value];
    else opts[name] = value;
  }
  return { opts, rest, warnings };
}

/** get_options after Getopt: booleans to 1/0, `-list` values joined with commas. */
function normalizeOptions(opts: Record<string, string | string[]>, ps: PathSchema, usage: string): Record<string, ApiValue> {
  const out: Record<string, ApiValue> = {};
  for (const [k, v] of Object.entries(opts)) {
    const s = ps.lookup(k);
    if (s?.type === 'boolean' && typeof v === 'string') {
      const b = v === '' ? '1' : parseBoolean(v);
      if (b === undefined) throw paramFail('unable to parse boolean option\n', usage);
      out[k] = b;
    } else if (Array.isArray(v) && typeof s?.format === 'string' && s.format.includes('-list')) out[k] = v.join(',');
    else out[k] = v;
  }
  return out;
}

function dynamicChildren(apiPath: string, state: PveState): string[] {
  const segs = apiPath.split('/').filter(Boolean);
  if (segs.length === 1 && segs[0] === 'nodes') return state.nodes.map((n) => n.name);
  if (segs.length === 3 && segs[0] === 'nodes' && segs[2] === 'qemu') return state.vms.filter((v) => v.node === segs[1]).map((v) => String(v.vmid));
  return [];
}

function lsOutput(call: CallContext, apiPath: string): string {
  const names = [...childrenOf(ROUTES, apiPath), ...dynamicChildren(apiPath, readPve(call.lab))];
  return names
    .map((name) => {
      const r = matchRoute(ROUTES, `${apiPath.replace(/\/$/, '')}/${name}`)?.route;
      const flags = `D${r?.get ? 'r' : '-'}${r?.set ? 'w' : '-'}${r?.create ? 'c' : '-'}${r?.delete ? 'd' : '-'}`;
      return `${flags}        ${name}`;
    })
    .join('\n');
}

function usageOf(apiPath: string, only?: string): string {
  const ep = findEndpoint(apiPath);
  const lines: string[] = [];
  for (const cmd of ['get', 'set', 'create', 'delete'] as const) {
    if (only && only !== cmd) continue;
    const ms = ep ? methodSchema(ep.template, METHOD_OF[cmd] as 'GET') : undefined;
    if (!ep || !ms) continue;
    lines.push(`USAGE: ${usageLine(cmd, pathSchema(ms, ep.params)).replace('<api_path>', apiPath)}`);
  }
  return lines.join('\n');
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
  const warnings: string[] = [];
  try {
    return await dispatch(call, argv, warnings);
  } catch (e) {
    const head = warnings.map((w) => `${w}\n`).join('');
    if (e instanceof PveError) return { stdout: '', stderr: `${head}${e.stringify()}`, exitCode: e.exitCode };
    return { stdout: '', stderr: `${head}internal error: ${(e as Error).stack ?? String(e)}\n`, exitCode: 255 };
  }
}

async function dispatch(call: CallContext, argv: readonly string[], warnings: string[]): Promise<PveshResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new PveError(`ERROR: no command specified\n${USAGE}`);
  if (!COMMANDS.has(cmd)) throw new PveError(`ERROR: unknown command 'pvesh ${cmd}'\n${USAGE}`);
  if (cmd === 'help') return { stdout: `${USAGE}\n`, stderr: '', exitCode: 0 };
  // extract_path_info takes the word after the command as the path, before any option parsing.
  const rawPath = args[0];
  const method = METHOD_OF[cmd];
  // pvesh resolves the path before parsing options (extract_path_info): no handler, exit 1.
  if (method && rawPath !== undefined) {
    const { resolved, labMissing } = resolve(method, rawPath);
    if (!resolved) throw new PveError(`No '${cmd}' handler defined for '${rawPath}'${labMissing ? ' (the cortex lab does not serve it)' : ''}`, { exitCode: 1 });
  }
  const ep = rawPath !== undefined ? findEndpoint(rawPath) : undefined;
  const ms = method && ep ? methodSchema(ep.template, method) : undefined;

  if (cmd === 'usage') {
    const own: Record<string, PropSchema> = { verbose: { type: 'boolean' }, returns: { type: 'boolean' }, command: { type: 'string' } };
    const raw = getopt(args, { schema: { params: own, returns: null }, lookup: (n) => own[n], names: () => Object.keys(own) });
    if (raw.rest.length === 0) throw paramFail('not enough arguments\n', 'pvesh usage <api_path> [OPTIONS]');
    const apiPath = `/${(raw.rest[0] as string).split('/').filter(Boolean).join('/')}`;
    const text = usageOf(apiPath, raw.opts.command as string | undefined);
    if (!text) throw new PveError(raw.opts.command ? `no '${String(raw.opts.command)}' handler for '${apiPath}'` : `no such resource '${apiPath}'`);
    return { stdout: `${text}\n`, stderr: '', exitCode: 0 };
  }

  const ps = pathSchema(ms, ep?.params ?? {});
  const usage = usageLine(cmd, ps);
  const { opts, rest, warnings: w } = getopt(args, ps);
  warnings.push(...w);
  if (w.length) throw paramFail('unable to parse option\n', usage);
  if (rest.length === 0) throw paramFail('not enough arguments\n', usage);
  if (rest.length > 1) throw paramFail('too many arguments\n', usage);
  const apiPath = `/${(rest[0] as string).split('/').filter(Boolean).join('/')}`;
  const params = normalizeOptions(opts, ps, usage);
  const format = {
    outputFormat: String(params['output-format'] ?? 'text'),
    noborder: params.noborder === '1',
    noheader: params.noheader === '1',
  };
  const quiet = params.quiet === '1';

  if (cmd === 'ls') {
    const out = lsOutput(call, apiPath === '/' ? '' : apiPath);
    if (apiPath !== '/' && !findEndpoint(apiPath)) throw new PveError(`no such resource '${apiPath}'`);
    return { stdout: out ? `${out}\n` : '', stderr: '', exitCode: 0 };
  }

  const { resolved } = resolve(method as 'GET', apiPath);
  if (!resolved) throw new PveError(`no '${cmd}' handler for '${apiPath}'`);
  try {
    // pvesh's own method validates what it was given; then the API method validates the call
    // with its path parameters (PVE::RESTHandler::handle, twice).
    verify(ps.schema, params);
    const apiParams: Record<string, ApiValue> = { ...resolved.pathParams };
    for (const [k, v] of Object.entries(params)) if (!(k in OUTPUT_OPTIONS) || k in resolved.schema.params) apiParams[k] = v;
    verify(resolved.schema, apiParams);
    const r = execute(call, resolved, apiPath, apiParams);
    if (r.kind === 'error') throw new PveError(r.message);
    if (r.kind === 'data') {
      const text = quiet ? undefined : formatResult(r.data, format);
      return { stdout: text === undefined ? '' : `${text}\n`, stderr: '', exitCode: 0 };
    }
    // A worker task, run in the foreground.
    await delay(latencyMs(call.lab, TASK_MS));
    finishTask(call.lab, r);
    const upidOut = formatResult(r.upid, format) ?? r.upid;
    const stdout = [...r.spec.log, ...(quiet ? [] : [upidOut])].join('\n');
    return { stdout: stdout ? `${stdout}\n` : '', stderr: r.error ? `${r.error}\n` : '', exitCode: 0 };
  } catch (e) {
    if (e instanceof PveError && e.isParamError()) e.usage = usage;
    throw e;
  }
}

/** A value known only while running (`<nextid>`, `<provision-vm.output.vmid>`): not checked. */
const PLACEHOLDER = /<[^<>\s]+>/;

/**
 * What real pvesh would refuse in a planned command line (argv after `pvesh`), without running
 * it: an unknown path or method, an option Getopt rejects, a value the schema rejects. Values
 * with placeholders are taken as valid. Returns pvesh's error texts; empty when it would run.
 */
export function checkPveshArgv(argv: readonly string[]): string[] {
  const [cmd, rawPath, ...rest] = argv;
  const method = cmd ? METHOD_OF[cmd] : undefined;
  if (!method || rawPath === undefined) return [`not a pvesh API call: ${argv.join(' ')}`];
  const apiPath = `/${rawPath.split('/').filter(Boolean).join('/')}`;
  const ep = findEndpoint(apiPath);
  const ms = ep ? methodSchema(ep.template, method) : undefined;
  if (!ep || !ms) return [`No '${cmd}' handler defined for '${apiPath}'`];
  const ps = pathSchema(ms, ep.params);
  const usage = usageLine(cmd as string, ps);
  const { opts, rest: extra, warnings } = getopt(rest, ps);
  if (warnings.length) return warnings;
  if (extra.length) return [`too many arguments: ${extra.join(' ')}`];
  const problems: string[] = [];
  try {
    const params = normalizeOptions(opts, ps, usage);
    const apiParams: Record<string, ApiValue> = { ...ep.params };
    for (const [k, v] of Object.entries(params)) if (!(k in OUTPUT_OPTIONS) || k in ms.params) apiParams[k] = v;
    const unknownValue = (v: ApiValue) => (Array.isArray(v) ? v.some((x) => PLACEHOLDER.test(String(x))) : PLACEHOLDER.test(String(v ?? '')));
    for (const [schema, values] of [
      [ps.schema, params],
      [ms, apiParams],
    ] as const) {
      for (const [k, e] of Object.entries(validateCall(schema, values))) {
        const top = k.split('.')[0] as string;
        if (values[top] !== undefined && unknownValue(values[top])) continue;
        problems.push(`${k}: ${e.trimEnd()}`);
      }
      if (problems.length) break;
    }
  } catch (e) {
    if (e instanceof PveError) problems.push(e.message.trimEnd());
    else throw e;
  }
  return problems;
}
