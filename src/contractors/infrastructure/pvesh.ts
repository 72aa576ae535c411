/**
 * The one way infrastructure actions talk to Proxmox: `pvesh <get|set|create|delete> <path> --k v
 * ... --output-format json` through rt.tool (TOOLS.md §1), with the rules that bite:
 *   - a non-zero exit is a failure whose message is on stderr (`400 Parameter verification
 *     failed.\n<param>: <msg>`, `Configuration file '...' does not exist`, ...);
 *   - worker calls print the task log, then the UPID; the UPID is taken from the LAST stdout line
 *     with a regex (never JSON.parse of all of stdout: forwarded calls may print one JSON string);
 *   - pvesh may exit 0 although its task failed, so every task is confirmed through
 *     tasks/<upid>/status (success: exitstatus OK or "WARNINGS: n"), and on failure the task log
 *     gives the operator the context.
 */
import { ActionFailedError } from '../../errors.js';
import type { ActionRuntime, PlannedStep } from '../action-impl.js';

export type PveMethod = 'get' | 'set' | 'create' | 'delete';
export type PveValue = string | number | boolean | readonly (string | number)[] | null | undefined;
/** API parameters in order; undefined/null values are left out, arrays repeat the flag, booleans become 1/0. */
export type PveParams = ReadonlyArray<readonly [string, PveValue]>;

export const UPID_PATTERN = 'UPID:[A-Za-z0-9][A-Za-z0-9-]*:[0-9A-Fa-f]{8}:[0-9A-Fa-f]{8,9}:[0-9A-Fa-f]{8}:[^:\\s/]+:[^:\\s/]*:[^:\\s/]+:';

export function encodeParams(params: PveParams = []): string[] {
  const out: string[] = [];
  for (const [name, value] of params) {
    if (value === undefined || value === null) continue;
    const values = Array.isArray(value) ? (value as readonly (string | number)[]) : [value as string | number | boolean];
    for (const v of values) out.push(`--${name}`, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
  return out;
}

/** The argv after the configured pvesh command line. */
export function pveshArgs(method: PveMethod, path: string, params: PveParams = []): string[] {
  return [method, path, ...encodeParams(params), '--output-format', 'json'];
}

/** The UPID printed as the result of a worker call: the last match on the last non-empty stdout line. */
export function extractUpid(stdout: string): string | undefined {
  const lines = stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  const last = lines.at(-1);
  if (!last) return undefined;
  const matches = [...last.matchAll(new RegExp(UPID_PATTERN, 'g'))];
  return matches.at(-1)?.[0];
}

/** Field 2 of a UPID: the node the task runs on (its status must be read there). */
export function upidNode(upid: string): string {
  return upid.split(':')[1] ?? '';
}

/** Field 6 of a UPID: the task type (qmclone, qmstart, reloadnetworkall, ...). */
export function upidType(upid: string): string {
  return upid.split(':')[5] ?? '';
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

export type PveErrorKind = 'not_found' | 'exists' | 'param' | 'lock' | 'state' | 'unreachable' | 'unavailable' | 'other';

/** What a pvesh error text means, and whether trying again can help. */
export function classifyPveMessage(message: string): { kind: PveErrorKind; retryable: boolean } {
  const m = message.toLowerCase();
  if (/can't lock file|lock request timeout|cfs-lock|got timeout|is locked|trying to acquire lock/.test(m)) return { kind: 'lock', retryable: true };
  if (/ipcc_send_rec|connection refused|no route to host|timed out|cluster not ready|no quorum|^59[56] |can't connect|hostname lookup/.test(m)) {
    return { kind: 'unreachable', retryable: true };
  }
  if (/does not exist|no such |not found/.test(m)) return { kind: 'not_found', retryable: false };
  if (/already exists|already defined|already used|already in use/.test(m)) return { kind: 'exists', retryable: false };
  if (/^400 parameter verification failed/.test(m)) return { kind: 'param', retryable: false };
  if (/is running|not running|already running|is a template|it's a template/.test(m)) return { kind: 'state', retryable: false };
  if (/not available|not enough space|no space left|not active|is disabled/.test(m)) return { kind: 'unavailable', retryable: false };
  return { kind: 'other', retryable: true };
}

/** A failed pvesh call or task; `pveMessage` is Proxmox's own text, `kind` its meaning. */
export class PveshError extends ActionFailedError {
  readonly pveMessage: string;
  readonly kind: PveErrorKind;
  readonly upid?: string;

  constructor(
    message: string,
    pveMessage: string,
    details: { errorCode: string; retryable?: boolean; exitStatus?: number | null; stderrTail?: string; upid?: string; hint?: string },
  ) {
    const c = classifyPveMessage(pveMessage);
    super(message, { ...details, retryable: details.retryable ?? c.retryable });
    this.pveMessage = pveMessage;
    this.kind = c.kind;
    if (details.upid !== undefined) this.upid = details.upid;
  }
}
Object.defineProperty(PveshError.prototype, 'name', { value: 'PveshError', enumerable: false });

export function isPveshError(e: unknown, kind?: PveErrorKind): e is PveshError {
  return e instanceof PveshError && (kind === undefined || e.kind === kind);
}

export interface CallOptions {
  /** errorCode of the ActionFailedError thrown on failure (default pvesh_failed / pvesh_task_failed). */
  errorCode?: string;
  /** What the call does, for messages ("clone VM 9000 to 101"). */
  what?: string;
}

export interface TaskStatus {
  upid: string;
  status: string;
  exitstatus?: string;
  type?: string;
  node?: string;
  [key: string]: unknown;
}

function oneLine(text: string): string {
  return text.trim().split('\n').map((l) => l.trim()).filter(Boolean).join(' | ');
}

export function isTaskOk(exitstatus: string | undefined): boolean {
  return exitstatus === 'OK' || (exitstatus ?? '').startsWith('WARNINGS: ');
}

/** pvesh bound to one action attempt. */
export class Pvesh {
  constructor(readonly rt: ActionRuntime) {}

  /** Runs one call; returns the parsed JSON result. Throws PveshError on a non-zero exit. */
  async call(method: PveMethod, path: string, params: PveParams = [], options: CallOptions = {}): Promise<unknown> {
    const { stdout } = await this.raw(method, path, params, options);
    try {
      return parseJsonOutput(stdout);
    } catch {
      throw new ActionFailedError(`pvesh ${method} ${path} printed no JSON: ${stdout.trim().slice(0, 200)}`, {
        errorCode: 'pvesh_bad_output',
        retryable: false,
      });
    }
  }

  get<T = unknown>(path: string, params: PveParams = [], options: CallOptions = {}): Promise<T> {
    return this.call('get', path, params, options) as Promise<T>;
  }

  async raw(method: PveMethod, path: string, params: PveParams = [], options: CallOptions = {}): Promise<{ stdout: string; stderr: string }> {
    const args = pveshArgs(method, path, params);
    const res = await this.rt.tool('pvesh', args);
    if (res.exitCode !== 0) {
      const pveMessage = res.stderr.trim() || res.stdout.trim() || `exit ${res.exitCode ?? res.signal}`;
      const what = options.what ? `${options.what}: ` : '';
      throw new PveshError(
        `${what}pvesh ${method} ${path} failed (${res.exitCode === null ? `killed by ${res.signal}` : `exit ${res.exitCode}`}): ${oneLine(pveMessage)}`,
        pveMessage,
        { errorCode: options.errorCode ?? 'pvesh_failed', exitStatus: res.exitCode, stderrTail: res.stderr.slice(-2000) },
      );
    }
    return { stdout: res.stdout, stderr: res.stderr };
  }

  /**
   * A worker call (clone, start, stop, delete, snapshot, SDN apply, ...): runs it, takes the UPID
   * from the last stdout line and waits for the task. Returns the final task status.
   */
  async task(method: PveMethod, path: string, params: PveParams = [], options: CallOptions = {}): Promise<TaskStatus> {
    const { stdout, stderr } = await this.raw(method, path, params, options);
    const upid = extractUpid(stdout);
    if (!upid) {
      throw new ActionFailedError(
        `${options.what ? `${options.what}: ` : ''}pvesh ${method} ${path} printed no UPID${stderr.trim() ? ` (stderr: ${oneLine(stderr)})` : ''}`,
        { errorCode: 'pvesh_bad_output', retryable: false, stderrTail: stderr.slice(-2000) },
      );
    }
    return this.waitTask(upid, { ...options, stderr });
  }

  /**
   * A call that returns null on older Proxmox and a UPID on newer (resize): waits when a UPID
   * appears.
   */
  async maybeTask(method: PveMethod, path: string, params: PveParams = [], options: CallOptions = {}): Promise<TaskStatus | null> {
    const { stdout, stderr } = await this.raw(method, path, params, options);
    const upid = extractUpid(stdout);
    return upid ? this.waitTask(upid, { ...options, stderr }) : null;
  }

  /** Polls tasks/<upid>/status every proxmox.task_poll_seconds until stopped; throws unless OK/WARNINGS. */
  async waitTask(upid: string, options: CallOptions & { stderr?: string } = {}): Promise<TaskStatus> {
    const node = upidNode(upid);
    const base = `/nodes/${node}/tasks/${upid}`;
    const intervalMs = Math.max(10, (this.rt.config.proxmox.task_poll_seconds ?? 1) * 1000);
    let transient = 0;
    for (let poll = 0; ; poll++) {
      if (poll > 0) await this.rt.sleep(intervalMs);
      let status: TaskStatus;
      try {
        status = (await this.get<TaskStatus>(`${base}/status`, [], { errorCode: options.errorCode ?? 'pvesh_task_failed' })) ?? ({} as TaskStatus);
      } catch (e) {
        if (isPveshError(e) && e.retryable && transient++ < 3) continue;
        throw e;
      }
      transient = 0;
      if (status.status !== 'stopped') continue;
      if (isTaskOk(status.exitstatus)) return { ...status, upid };
      const exitstatus = status.exitstatus ?? 'unknown task status';
      const log = await this.taskLog(upid);
      const context = log.filter((l) => !/^TASK (ERROR|OK)/.test(l) && l !== exitstatus).slice(-5);
      const what = options.what ? `${options.what}: ` : '';
      throw new PveshError(
        `${what}task ${upidType(upid) || 'task'} failed: ${exitstatus}${context.length ? ` (log: ${context.join(' | ')})` : ''}`,
        exitstatus,
        { errorCode: options.errorCode ?? 'pvesh_task_failed', upid, stderrTail: [options.stderr ?? '', ...log].join('\n').slice(-2000) },
      );
    }
  }

  /** The last lines of a task's log; empty when it cannot be read. */
  async taskLog(upid: string, limit = 50): Promise<string[]> {
    try {
      const lines = await this.get<Array<{ n: number; t: string }>>(`/nodes/${upidNode(upid)}/tasks/${upid}/log`, [['limit', limit]]);
      return Array.isArray(lines) ? lines.map((l) => String(l.t)) : [];
    } catch {
      return [];
    }
  }
}

/** A planned pvesh command line for --dry-run. */
export function planCall(method: PveMethod, path: string, params: PveParams = [], note?: string): PlannedStep {
  return { kind: 'command', tool: 'pvesh', args: pveshArgs(method, path, params), ...(note ? { note } : {}) };
}

/** A planned worker call followed by the task wait. */
export function planTask(method: PveMethod, path: string, params: PveParams = [], note?: string): PlannedStep[] {
  return [
    planCall(method, path, params, note),
    { kind: 'wait', note: 'poll pvesh get /nodes/<upid-node>/tasks/<upid>/status until stopped; exitstatus must be OK or WARNINGS' },
  ];
}
