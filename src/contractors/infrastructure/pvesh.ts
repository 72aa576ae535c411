/**
 * The one way infrastructure actions talk to Proxmox, over the configured transport
 * (pve-transport.ts: pvesh, or the HTTPS API with a token), with the rules that bite:
 *   - a refused call is a PveshError carrying Proxmox's own text (`400 Parameter verification
 *     failed.\n<param>: <msg>`, `Configuration file '...' does not exist`, ...);
 *   - a worker call answers with a UPID (pvesh prints the task log first: the UPID is taken from
 *     the LAST stdout line with a regex, never JSON.parse of all of stdout);
 *   - the call may succeed although its task failed, so every task is confirmed through
 *     tasks/<upid>/status (success: exitstatus OK or "WARNINGS: n"), and on failure the last lines
 *     of the task log give the operator the context.
 */
import { ActionFailedError, oneLine } from '../../errors.js';
import type { ActionRuntime, PlannedStep } from '../action-impl.js';
import { isPveshError, PveshError } from './pve-errors.js';
import { pveshArgs, transportFor, type CallOptions, type PveMethod, type PveParams, type PveReply, type PveTransport } from './pve-transport.js';

export { classifyPveMessage, isPveshError, PveshError, type PveErrorKind } from './pve-errors.js';
export { encodeParams, extractUpid, parseJsonOutput, pveshArgs, UPID_PATTERN, type CallOptions, type PveMethod, type PveParams, type PveValue } from './pve-transport.js';

/** Field 2 of a UPID: the node the task runs on (its status must be read there). */
export function upidNode(upid: string): string {
  return upid.split(':')[1] ?? '';
}

/** Field 6 of a UPID: the task type (qmclone, qmstart, reloadnetworkall, ...). */
export function upidType(upid: string): string {
  return upid.split(':')[5] ?? '';
}

/** Task log lines read per call when looking for the last ones. */
const LOG_PAGE = 500;

export interface TaskStatus {
  upid: string;
  status: string;
  exitstatus?: string;
  type?: string;
  node?: string;
  [key: string]: unknown;
}

export function isTaskOk(exitstatus: string | undefined): boolean {
  return exitstatus === 'OK' || (exitstatus ?? '').startsWith('WARNINGS: ');
}

/** Proxmox bound to one action attempt, over the configured transport. */
export class Pvesh {
  readonly transport: PveTransport;

  constructor(readonly rt: ActionRuntime) {
    this.transport = transportFor(rt);
  }

  /** Sends one call (PveshError when Proxmox refuses it). */
  send(method: PveMethod, path: string, params: PveParams = [], options: CallOptions = {}): Promise<PveReply> {
    return this.transport.send(method, path, params, options);
  }

  /** Runs one call; returns its result. Throws PveshError when Proxmox refuses it. */
  async call(method: PveMethod, path: string, params: PveParams = [], options: CallOptions = {}): Promise<unknown> {
    const r = await this.send(method, path, params, options);
    if (r.unparsed !== undefined) {
      throw new ActionFailedError(`${this.transport.describe(method, path)} answered without JSON: ${oneLine(r.unparsed, 200)}`, {
        errorCode: 'pvesh_bad_output',
        retryable: false,
      });
    }
    return r.data;
  }

  get<T = unknown>(path: string, params: PveParams = [], options: CallOptions = {}): Promise<T> {
    return this.call('get', path, params, options) as Promise<T>;
  }

  /**
   * A worker call (clone, start, stop, delete, snapshot, SDN apply, ...): runs it, takes its UPID
   * and waits for the task. Returns the final task status.
   */
  async task(method: PveMethod, path: string, params: PveParams = [], options: CallOptions = {}): Promise<TaskStatus> {
    const { upid, stderr } = await this.send(method, path, params, options);
    if (!upid) {
      throw new ActionFailedError(
        `${options.what ? `${options.what}: ` : ''}${this.transport.describe(method, path)} answered no UPID${stderr.trim() ? ` (stderr: ${oneLine(stderr)})` : ''}`,
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
    const { upid, stderr } = await this.send(method, path, params, options);
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

  /**
   * The last `limit` lines of a task's log (empty when it cannot be read): pages of `start` /
   * `limit` (tasks/{upid}/log) until a short page, keeping the tail.
   */
  async taskLog(upid: string, limit = 50): Promise<string[]> {
    const path = `/nodes/${upidNode(upid)}/tasks/${upid}/log`;
    let tail: string[] = [];
    try {
      for (let start = 0; start < 100 * LOG_PAGE; start += LOG_PAGE) {
        const page = await this.get<Array<{ n: number; t: string }>>(path, [
          ['start', start],
          ['limit', LOG_PAGE],
        ]);
        const lines = Array.isArray(page) ? page.map((l) => String(l.t)) : [];
        tail = [...tail, ...lines].slice(-limit);
        if (lines.length < LOG_PAGE) break;
      }
      return tail;
    } catch {
      return tail;
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
