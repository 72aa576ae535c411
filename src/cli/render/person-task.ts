import type { ActionRecord } from '../../model/records.js';
import { taskCommands } from '../../engine/task-commands.js';
import type { Styler } from '../output.js';

/**
 * Lines under a task for a person in `cortex status ID`: its draft and how to answer it, or who answered.
 * yaml (about 70 modules) is imported only when a draft is shown: `cortex status` starts without it.
 * By import(), which the bundles of bin/cortex.js resolve as they do every other import of yaml
 * (scripts/build-bundles.mjs), not by a createRequire'd require, which would load node_modules'
 * copy beside the program bundle's own.
 */
export async function personTaskLines(executionId: string, a: ActionRecord, s: Styler): Promise<string[]> {
  const task = a.person_task;
  if (!task) return [];
  const lines: string[] = [];
  if (a.status === 'awaiting_input' && !task.result) {
    const cmd = taskCommands(executionId, a.action_id);
    if (task.draft) {
      lines.push(`    ${s.yellow('waits for a person')}; cortex drafted${task.draft_file ? ` (file ${task.draft_file})` : ''}:`);
      const { stringify } = await import('yaml');
      const yaml = stringify(task.draft, { lineWidth: 0 }).trimEnd();
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
