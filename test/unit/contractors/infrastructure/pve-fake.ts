/**
 * Scripted pvesh for adapter tests: replies keyed by the exact argv (after `pvesh`), consumed in
 * order (the last one repeats). Unscripted calls fail loudly so every call is pinned.
 */
import { readFileSync } from 'node:fs';
import type { ProcessResult } from '../../../../src/ports/process-runner.js';
import { fakeDeps } from '../../../fakes/fakes.js';

export const FIXTURES = JSON.parse(readFileSync(new URL('../../../fixtures/pvesh/outputs.json', import.meta.url), 'utf8')) as Record<string, unknown>;

type Reply = Partial<ProcessResult>;

export const J = ['--output-format', 'json'];

export function upid(type: string, id: string | number, node = 'pve-01', seq = 0): string {
  return `UPID:${node}:000A1B${(0x2c + seq).toString(16).toUpperCase().padStart(2, '0')}:01F2E3D4:6650A1B2:${type}:${id}:root@pam:`;
}

export const json = (data: unknown): Reply => ({ stdout: `${JSON.stringify(data)}\n` });
export const fail = (stderr: string, exitCode = 255): Reply => ({ exitCode, stderr: stderr.endsWith('\n') ? stderr : `${stderr}\n` });
export const worker = (u: string, log: string[] = [], stderr = ''): Reply => ({ stdout: `${[...log, JSON.stringify(u)].join('\n')}\n`, stderr });

export function taskStatus(u: string, exitstatus?: string): Record<string, unknown> {
  const [, node, , , , type, id] = u.split(':');
  return { id, node, pid: 662316, pstart: 32671734, starttime: 1716560306, status: exitstatus === undefined ? 'running' : 'stopped', type, upid: u, user: 'root@pam', ...(exitstatus !== undefined ? { exitstatus } : {}) };
}

export class PveFake {
  private readonly replies = new Map<string, Reply[]>();
  readonly calls: string[][] = [];

  on(args: readonly string[], ...replies: Reply[]): this {
    this.replies.set(args.join('\u0000'), [...replies]);
    return this;
  }

  get(path: string, data: unknown, params: string[] = []): this {
    return this.on(['get', path, ...params, ...J], json(data));
  }

  /** A worker call answered with `u`, its status polls (default: stopped OK) and its log. */
  task(args: readonly string[], u: string, opts: { log?: string[]; stderr?: string; statuses?: Array<string | undefined>; taskLog?: string[] } = {}): this {
    this.on([...args, ...J], worker(u, opts.log ?? [], opts.stderr ?? ''));
    const node = u.split(':')[1] as string;
    const statuses = opts.statuses ?? ['OK'];
    this.on(['get', `/nodes/${node}/tasks/${u}/status`, ...J], ...statuses.map((s) => json(taskStatus(u, s))));
    const last = statuses.at(-1);
    const log = opts.taskLog ?? [...(opts.log ?? []), last === 'OK' ? 'TASK OK' : `TASK ERROR: ${last}`];
    this.on(['get', `/nodes/${node}/tasks/${u}/log`, '--start', '0', '--limit', '500', ...J], json(log.map((t, i) => ({ n: i + 1, t }))));
    return this;
  }

  reply(args: readonly string[]): Reply {
    this.calls.push([...args]);
    const q = this.replies.get(args.join('\u0000'));
    if (!q || q.length === 0) return { exitCode: 127, stderr: `fake pvesh: no reply scripted for: ${args.join(' ')}\n` };
    return (q.length > 1 ? q.shift() : q[0]) as Reply;
  }
}

/** Engine deps whose runner answers pvesh from `fake`. */
export function depsWith(fake: PveFake): ReturnType<typeof fakeDeps> {
  const deps = fakeDeps();
  deps.runner.on('pvesh', [], (args) => fake.reply(args));
  return deps;
}

/** /cluster/resources --type vm items. */
export function vmRes(vmid: number, name: string, node: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: `qemu/${vmid}`, type: 'qemu', vmid, name, node, status: 'running', template: 0, maxcpu: 4, maxmem: 8589934592, ...extra };
}

export const RES_VM = ['get', '/cluster/resources', '--type', 'vm', ...J];
