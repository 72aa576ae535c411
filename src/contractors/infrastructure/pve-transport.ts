/**
 * How infrastructure actions reach Proxmox: pvesh (on a node, or through ssh) or the REST API over
 * HTTPS with an API token (`proxmox.api` in config.yaml). Both go through the action runtime
 * (rt.tool / rt.http), so every call is recorded, bounded by the action's deadline and masked,
 * and both answer in the same terms: the result data, the UPID of a worker call, or a PveshError
 * carrying Proxmox's own text.
 */
import { ActionFailedError, oneLine } from '../../errors.js';
import type { ProxmoxApiConfig } from '../../config/config.js';
import type { ActionRuntime, PlannedStep } from '../action-impl.js';
import { PveshError } from './pve-errors.js';

export type PveMethod = 'get' | 'set' | 'create' | 'delete';
export type PveValue = string | number | boolean | readonly (string | number)[] | null | undefined;
/** API parameters in order; undefined/null values are left out, arrays repeat the flag, booleans become 1/0. */
export type PveParams = ReadonlyArray<readonly [string, PveValue]>;

export const UPID_PATTERN = 'UPID:[A-Za-z0-9][A-Za-z0-9-]*:[0-9A-Fa-f]{8}:[0-9A-Fa-f]{8,9}:[0-9A-Fa-f]{8}:[^:\\s/]+:[^:\\s/]*:[^:\\s/]+:';

/** pvesh command -> HTTP method (PVE::CLI::pvesh). */
export const HTTP_METHOD: Record<PveMethod, 'GET' | 'PUT' | 'POST' | 'DELETE'> = { get: 'GET', set: 'PUT', create: 'POST', delete: 'DELETE' };

/** The parameters as name/value pairs: undefined and null left out, arrays repeated, booleans 1/0. */
export function paramPairs(params: PveParams = []): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, value] of params) {
    if (value === undefined || value === null) continue;
    const values = Array.isArray(value) ? (value as readonly (string | number)[]) : [value as string | number | boolean];
    for (const v of values) out.push([name, typeof v === 'boolean' ? (v ? '1' : '0') : String(v)]);
  }
  return out;
}

export function encodeParams(params: PveParams = []): string[] {
  return paramPairs(params).flatMap(([k, v]) => [`--${k}`, v]);
}

/** The argv after the configured pvesh command line. */
export function pveshArgs(method: PveMethod, path: string, params: PveParams = []): string[] {
  return [method, path, ...encodeParams(params), '--output-format', 'json'];
}

/** The UPID printed as the result of a worker call: the last match on the last non-empty line. */
export function extractUpid(stdout: string): string | undefined {
  const lines = stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  const last = lines.at(-1);
  if (!last) return undefined;
  const matches = [...last.matchAll(new RegExp(UPID_PATTERN, 'g'))];
  return matches.at(-1)?.[0];
}

/** pvesh --output-format json prints one line; scalars are bare (null, 100, "UPID:..."). */
export function parseJsonOutput(stdout: string): unknown {
  const text = stdout.trim();
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    const last = text.split('\n').at(-1) ?? '';
    return JSON.parse(last);
  }
}

export interface CallOptions {
  /** errorCode of the ActionFailedError thrown on failure (default pvesh_failed / pvesh_task_failed). */
  errorCode?: string;
  /** What the call does, for messages ("clone VM 9000 to 101"). */
  what?: string;
}

/** What one call answered. */
export interface PveReply {
  data: unknown;
  /** The task of a worker call. */
  upid?: string;
  /** What came besides the result (pvesh's stderr: a worker call's task error). */
  stderr: string;
  /** Set when the answer held no readable result (pvesh output that is not JSON). */
  unparsed?: string;
}

/** One way to Proxmox. */
export interface PveTransport {
  /** Sends one API call. Throws PveshError when Proxmox refuses it. */
  send(method: PveMethod, path: string, params: PveParams, options: CallOptions): Promise<PveReply>;
  /** The call as messages name it: `pvesh get /x` or `GET /x`. */
  describe(method: PveMethod, path: string): string;
}

/** pvesh through the configured command line (local, or ssh with quoting done by rt.tool). */
export class PveshCliTransport implements PveTransport {
  constructor(private readonly rt: ActionRuntime) {}

  describe(method: PveMethod, path: string): string {
    return `pvesh ${method} ${path}`;
  }

  async send(method: PveMethod, path: string, params: PveParams, options: CallOptions): Promise<PveReply> {
    const res = await this.rt.tool('pvesh', pveshArgs(method, path, params));
    if (res.exitCode !== 0) {
      const pveMessage = res.stderr.trim() || res.stdout.trim() || `exit ${res.exitCode ?? res.signal}`;
      const what = options.what ? `${options.what}: ` : '';
      throw new PveshError(`${what}pvesh ${method} ${path} failed (${res.exitCode === null ? `killed by ${res.signal}` : `exit ${res.exitCode}`}): ${oneLine(pveMessage)}`, pveMessage, {
        errorCode: options.errorCode ?? 'pvesh_failed',
        exitStatus: res.exitCode,
        stderrTail: res.stderr.slice(-2000),
      });
    }
    const upid = extractUpid(res.stdout);
    try {
      return { data: parseJsonOutput(res.stdout), ...(upid ? { upid } : {}), stderr: res.stderr };
    } catch {
      return { data: undefined, ...(upid ? { upid } : {}), stderr: res.stderr, unparsed: res.stdout };
    }
  }
}

/** The base of the API: `<url>/api2/json`, whatever of it the operator wrote. */
export function apiBase(url: string): string {
  return `${url.replace(/\/+$/, '').replace(/\/api2\/json$/, '')}/api2/json`;
}

function encodePath(path: string): string {
  return path
    .split('/')
    .map((seg) => encodeURIComponent(seg).replace(/%3A/gi, ':').replace(/%40/g, '@').replace(/%21/g, '!'))
    .join('/');
}

/** The HTTPS request for one call: GET and DELETE carry the parameters in the query, PUT and POST as a form. */
export function apiRequest(url: string, method: PveMethod, path: string, params: PveParams = []): { method: string; url: string; body?: string } {
  const form = new URLSearchParams(paramPairs(params));
  const target = `${apiBase(url)}${encodePath(path)}`;
  const http = HTTP_METHOD[method];
  if (http === 'GET' || http === 'DELETE') return { method: http, url: form.size ? `${target}?${form}` : target };
  return { method: http, url: target, body: form.toString() };
}

/** Proxmox's text for a refused HTTPS call, in pvesh's words (`400 Parameter verification failed.\n<param>: <msg>`). */
export function apiErrorText(status: number, statusText: string | undefined, body: unknown): string {
  const b = (body && typeof body === 'object' ? body : {}) as { message?: unknown; errors?: unknown };
  const message = (typeof b.message === 'string' && b.message.trim()) || statusText?.trim() || `HTTP ${status}`;
  const errors = b.errors && typeof b.errors === 'object' ? (b.errors as Record<string, unknown>) : undefined;
  if (errors && Object.keys(errors).length) {
    return `${status} ${message}\n${Object.keys(errors)
      .sort()
      .map((k) => `${k}: ${String(errors[k]).trim()}`)
      .join('\n')}`;
  }
  // A method's own `die` answers 500 with the text pvesh would print as is.
  return status === 500 ? message : `${status} ${message}`;
}

/** The token in a secret: USER@REALM!TOKENID=SECRET (a leading PVEAPIToken= is accepted). */
export const API_TOKEN_PATTERN = /^[^\s:/@]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+=\S+$/;

/** The REST API over HTTPS with an API token (proxmox.api). */
export class PveApiTransport implements PveTransport {
  private token: string | undefined;

  constructor(
    private readonly rt: ActionRuntime,
    private readonly api: ProxmoxApiConfig,
  ) {}

  describe(method: PveMethod, path: string): string {
    return `${HTTP_METHOD[method]} ${path}`;
  }

  private async tokenValue(): Promise<string> {
    if (this.token) return this.token;
    const value = (await this.rt.secret(this.api.token_secret)).trim().replace(/^PVEAPIToken=/, '');
    if (!API_TOKEN_PATTERN.test(value)) {
      throw new ActionFailedError(`proxmox.api: the secret ${this.api.token_secret} does not hold a Proxmox API token`, {
        errorCode: 'proxmox_token_invalid',
        retryable: false,
        hint: `set it to USER@REALM!TOKENID=SECRET, e.g. cortex@pve!cortex=xxxxxxxx-xxxx-... (pveum user token add cortex@pve cortex)`,
      });
    }
    this.token = value;
    return value;
  }

  async send(method: PveMethod, path: string, params: PveParams, options: CallOptions): Promise<PveReply> {
    const token = await this.tokenValue();
    const req = apiRequest(this.api.url, method, path, params);
    const what = options.what ? `${options.what}: ` : '';
    const describe = this.describe(method, path);
    let res;
    try {
      res = await this.rt.http({
        method: req.method,
        url: req.url,
        headers: { authorization: `PVEAPIToken=${token}`, accept: 'application/json', ...(req.body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        ...(req.body !== undefined ? { body: req.body } : {}),
        ...(this.api.ca_file || this.api.fingerprint ? { tls: { ...(this.api.ca_file ? { caFile: this.api.ca_file } : {}), ...(this.api.fingerprint ? { fingerprint: this.api.fingerprint } : {}) } } : {}),
        ...(this.api.timeout_seconds ? { timeoutMs: this.api.timeout_seconds * 1000 } : {}),
      });
    } catch (e) {
      // A dropped connection is Proxmox being unreachable, like pvesh's "Connection refused".
      if (e instanceof ActionFailedError && (e.errorCode === 'http_unreachable' || e.errorCode === 'http_timeout')) {
        throw new PveshError(`${what}${describe} failed: ${e.message}`, e.message, { errorCode: e.errorCode, retryable: true });
      }
      throw e;
    }
    let body: unknown;
    try {
      body = res.body.trim() ? JSON.parse(res.body) : undefined;
    } catch {
      body = undefined;
    }
    if (res.status >= 200 && res.status < 300) {
      if (!body || typeof body !== 'object') return { data: undefined, stderr: '', unparsed: res.body };
      const data = (body as { data?: unknown }).data ?? null;
      const upid = typeof data === 'string' ? extractUpid(data) : undefined;
      return { data, ...(upid ? { upid } : {}), stderr: '' };
    }
    const pveMessage = apiErrorText(res.status, res.statusText, body);
    throw new PveshError(`${what}${describe} failed (HTTP ${res.status}): ${oneLine(pveMessage)}`, pveMessage, {
      errorCode: options.errorCode ?? 'pvesh_failed',
      exitStatus: null,
      stderrTail: pveMessage.slice(-2000),
      ...(res.status === 401 ? { hint: `check the API token in secret ${this.api.token_secret} (USER@REALM!TOKENID=SECRET): it may be mistyped, expired or removed` } : {}),
      ...(res.status === 403 ? { hint: `grant the token the privilege named above on that path (pveum acl modify <path> --tokens <USER@REALM!TOKENID> --roles <role>; without privilege separation the user's ACL applies)` } : {}),
    });
  }
}

/** The transport the configuration asks for: the HTTPS API when proxmox.api is set, else pvesh. */
export function transportFor(rt: ActionRuntime): PveTransport {
  const api = rt.config.proxmox.api;
  return api ? new PveApiTransport(rt, api) : new PveshCliTransport(rt);
}

/**
 * A planned pvesh command line as the configured transport would make it: unchanged for pvesh,
 * the HTTPS request (parameters in the query or the form body) when proxmox.api is set.
 */
export function planForTransport(step: PlannedStep, api: ProxmoxApiConfig | undefined): PlannedStep {
  if (!api || step.kind !== 'command' || step.tool !== 'pvesh') return step;
  const [method, path, ...rest] = step.args;
  const params: Array<[string, string]> = [];
  for (let i = 0; i < rest.length; i += 2) {
    const k = (rest[i] as string).replace(/^--/, '');
    if (k === 'output-format') continue;
    params.push([k, rest[i + 1] as string]);
  }
  const req = apiRequest(api.url, method as PveMethod, path as string, params);
  const body = req.body !== undefined ? groupPairs(params) : undefined;
  return { kind: 'request', method: req.method, url: req.url, ...(body && Object.keys(body).length ? { body } : {}), ...(step.note ? { note: step.note } : {}) };
}

function groupPairs(pairs: Array<[string, string]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of pairs) {
    const have = out[k];
    out[k] = have === undefined ? v : Array.isArray(have) ? [...have, v] : [have, v];
  }
  return out;
}
