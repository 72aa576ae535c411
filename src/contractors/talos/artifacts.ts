import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ActionRuntime } from '../action-impl.js';
import { rootFromScratch } from './cluster.js';

/**
 * Directory for files an action keeps after the execution (forensics): under the coordination
 * root, `<root>/state/artifacts/<execution_id>/<action_id>/` (owner-only). The engine offers no
 * artifacts directory yet; this is the one place to change when it does.
 */
export async function artifactsDir(rt: ActionRuntime, sub?: string): Promise<string> {
  const scratch = await rt.scratchDir();
  const root = rootFromScratch(scratch);
  const base = root ? join(root, 'state', 'artifacts') : join(scratch, '..', 'artifacts');
  const dir = join(base, rt.executionId, rt.actionId, ...(sub ? [sub] : []));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** A file-name-safe form of `namespace/name`. */
export function safeName(...parts: string[]): string {
  return parts.map((p) => p.replace(/[^A-Za-z0-9._-]/g, '_')).join('_');
}
