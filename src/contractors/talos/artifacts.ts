import type { ActionRuntime } from '../action-impl.js';

/**
 * Directory for files an action keeps after the execution (forensics):
 * `<root>/state/artifacts/<execution_id>/<action_id>[/<sub>]` (owner-only).
 */
export function artifactsDir(rt: ActionRuntime, sub?: string): Promise<string> {
  return rt.files.artifactsDir(sub);
}

/** A file-name-safe form of `namespace/name`. */
export function safeName(...parts: string[]): string {
  return parts.map((p) => p.replace(/[^A-Za-z0-9._-]/g, '_')).join('_');
}
