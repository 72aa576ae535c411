import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ActionRuntime, ToolOptions } from '../action-impl.js';
import type { ProcessResult } from '../../ports/process-runner.js';
import { parseJsonStream, parseServerVersion } from './parse.js';
import { toolFailure, type ErrorClass } from './tool-errors.js';
import { nodeArgs, talosArgs, type ClusterTarget } from './cluster.js';

export async function talosctl(rt: ActionRuntime, args: string[], options?: ToolOptions): Promise<ProcessResult> {
  return rt.tool('talosctl', args, options);
}

/** Runs talosctl and throws a classified ActionFailedError unless it exits 0. */
export async function talosOk(rt: ActionRuntime, what: string, args: string[], fallback: ErrorClass, options?: ToolOptions): Promise<ProcessResult> {
  const res = await talosctl(rt, args, options);
  if (res.exitCode !== 0) throw toolFailure('talosctl', what, res, fallback, 'class');
  return res;
}

/**
 * Writes machine-config patches as YAML files in the scratch directory (removed when the
 * execution ends) and returns `@path` arguments for --config-patch.
 */
export async function patchFiles(rt: ActionRuntime, patches: readonly unknown[] | undefined, prefix: string): Promise<string[]> {
  if (!patches || patches.length === 0) return [];
  const dir = join(await rt.scratchDir(), `talos-patches-${randomBytes(3).toString('hex')}`);
  await rt.files.mkdirPrivate(dir);
  const out: string[] = [];
  for (const [i, patch] of patches.entries()) {
    const path = join(dir, `${prefix}-${i}.yaml`);
    await rt.files.writePrivate(path, stringify(patch));
    out.push(`@${path}`);
  }
  return out;
}

/** Talos cluster member as `talosctl get members -o json` prints it. */
export interface TalosMember {
  node?: string;
  metadata: { id: string };
  spec: { nodeId?: string; addresses?: string[]; hostname?: string; machineType?: string; operatingSystem?: string };
}

export async function getMembers(rt: ActionRuntime, t: ClusterTarget, node: string): Promise<TalosMember[]> {
  const res = await talosOk(rt, 'talosctl get members', talosArgs(t, 'get', 'members', '-o', 'json', ...nodeArgs(t, node, undefined)), {
    errorCode: 'talosctl_failed',
    retryable: true,
  });
  try {
    return parseJsonStream(res.stdout) as TalosMember[];
  } catch {
    throw toolFailure('talosctl', 'talosctl get members (unparsable output)', res, { errorCode: 'bad_output', retryable: false }, 'action');
  }
}

/** The Talos version a node runs (`talosctl version`, Server section), or undefined when it does not answer. */
export async function nodeVersion(rt: ActionRuntime, t: ClusterTarget, node: string, endpoint: unknown): Promise<{ version?: string; res: ProcessResult }> {
  const res = await talosctl(rt, talosArgs(t, 'version', ...nodeArgs(t, node, endpoint)));
  return { ...(res.exitCode === 0 ? { version: parseServerVersion(res.stdout) } : {}), res };
}

/** stderr says an --insecure apply reached a node that has left maintenance mode. */
export function isConfiguredNode(stderr: string): boolean {
  return /certificate required|tls: |maintenance mode|not in maintenance|x509:/i.test(stderr) && !/connection refused/.test(stderr);
}
