/**
 * Tasks for a person (catalogue kind `person`): what cortex drafts for them, kept in the record
 * and as a file the person can read, edit and give back with `cortex approve --action ID --data
 * FILE`.
 */
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import type { EngineDeps } from './deps.js';
import { taskCommands } from './task-commands.js';

export { taskCommands } from './task-commands.js';

/** Name of the draft file in the task's artifacts folder (`<root>/state/artifacts/<execution>/<action>/`). */
export const DRAFT_FILE = 'draft.yaml';

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function draftFileText(executionId: string, actionId: string, action: string, draft: Record<string, unknown>): string {
  const cmd = taskCommands(executionId, actionId);
  const header = [
    `Draft outputs of the task "${actionId}" (${action}) of execution ${executionId}, made by cortex.`,
    `Approve them as drafted:  ${cmd.asIs}`,
    `Or approve your version:  ${cmd.withData}`,
    '(edit a copy of this file, YAML or JSON; it replaces the whole draft, and is checked against',
    'what the later actions expect before anything is recorded). Reject: cortex reject ... --action.',
  ];
  return `${header.map((l) => `# ${l}`).join('\n')}\n${stringify(draft, { lineWidth: 0 })}`;
}

/** Writes the draft file (0600, atomically) and returns its path and hash. */
export async function writeDraftFile(
  deps: EngineDeps,
  executionId: string,
  actionId: string,
  action: string,
  draft: Record<string, unknown>,
): Promise<{ path: string; sha256: string }> {
  const files = deps.files.forAction(executionId, actionId);
  const path = `${await files.artifactsDir()}/${DRAFT_FILE}`;
  const text = draftFileText(executionId, actionId, action, draft);
  await files.writePrivate(path, text);
  return { path, sha256: sha256(text) };
}
