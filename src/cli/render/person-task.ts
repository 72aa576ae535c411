import { createRequire } from 'node:module';
import type { ActionRecord } from '../../model/records.js';
import { taskCommands } from '../../engine/task-commands.js';
import type { Styler } from '../output.js';

// yaml (about 70 modules) is loaded only when a draft is shown: `cortex status` starts without it.
const require = createRequire(import.meta.url);
const yamlStringify = (value: unknown): string => (require('yaml') as typeof import('yaml')).stringify(value, { lineWidth: 0 });

/** Lines under a task for a person in `cortex status ID`: its draft and how to answer it, or who answered. */
export function personTaskLines(executionId: string, a: ActionRecord, s: Styler): string[] {
  const task = a.person_task;
  if (!task) return [];
  const lines: string[] = [];
  if (a.status === 'awaiting_input' && !task.result) {
    const cmd = taskCommands(executionId, a.action_id);
    if (task.draft) {
      lines.push(`    ${s.yellow('waits for a person')}; cortex drafted${task.draft_file ? ` (file ${task.draft_file})` : ''}:`);
      const yaml = yamlStringify(task.draft).trimEnd();
      lines.push(...yaml.split('\n').map((l) => `      ${l}`));
      lines.push(`    approve it as is:       ${cmd.asIs}`);
      lines.push(`    or approve your copy:   ${cmd.withData}${s.dim('  (JSON or YAML; edit a copy of the draft file)')}`);
    } else {
      lines.push(`    ${s.yellow('waits for a person')}${task.draft_error ? `; cortex could not draft it: ${task.draft_error.message}` : ''}`);
      lines.push(`    when done: ${cmd.withData}${s.dim('  (JSON or YAML outputs)')}`);
    }
    return lines;
  }
  if (task.completed_by) {
    const how = task.result === 'rejected' ? 'rejected' : task.outputs_from === 'data' ? `approved with ${task.data_file ?? '--data'}` : task.outputs_from === 'draft' ? 'approved as drafted' : 'done';
    lines.push(s.dim(`    ${how} by ${task.completed_by} at ${task.completed_at}${task.comment ? `: ${task.comment}` : ''}`));
    if (task.result === 'failed' && task.error) lines.push(`    ${s.red('error')} ${task.error.message}`);
  }
  return lines;
}
