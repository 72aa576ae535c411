/**
 * Approving a task for a person (`cortex approve ID --action ACTION_ID [--data FILE] [--output
 * k=v]`): which outputs it records (the draft as is, or the person's file, plus --output keys),
 * checked against what the later actions expect before anything is recorded.
 */
import { resolve } from 'node:path';
import { DefinitionInvalidError, UsageError, type Issue } from '../errors.js';
import { loadDocument, parseJsonBounded, pointerToPath, TooDeepError, type SourceDocument } from '../definitions/load-document.js';
import { unrecordableText } from '../definitions/parameters.js';
import { checkTaskOutputs } from '../definitions/task-outputs.js';
import { sha256 } from '../engine/person-task.js';
import type { ActionRecord, PersonTask } from '../model/records.js';
import type { App } from './context.js';
import type { DrivePrep } from './drive.js';
import type { HeldExecution } from './existing.js';

export interface TaskApproval {
  outputs: Record<string, unknown>;
  from: NonNullable<PersonTask['outputs_from']>;
  /** The --data file, absolute. */
  dataFile?: string;
  /** Set when the person's outputs say the task did not succeed. */
  failed?: string;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `--output key=value`: JSON values are parsed, anything else is a string; refused (exit 2) when too deep or not recordable text. */
export function parseOutputAssignments(list: Array<{ key: string; raw: string }>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, raw } of list) {
    try {
      out[key] = parseJsonBounded(raw);
    } catch (e) {
      if (e instanceof TooDeepError) throw new UsageError(`--output ${key}: ${e.message}`);
      out[key] = raw;
    }
    const bad = unrecordableText(out[key]);
    if (bad) throw new UsageError(`--output ${key}${bad}`);
  }
  return out;
}

async function readDraftDocument(held: HeldExecution, action: ActionRecord): Promise<SourceDocument | undefined> {
  const task = action.person_task ?? {};
  if (!task.draft_file) return undefined;
  const files = held.deps.files.forAction(held.record.execution_id, action.action_id);
  const text = await files.readText(task.draft_file).catch(() => undefined);
  if (text === undefined) return undefined;
  if (task.draft_sha256 && sha256(text) !== task.draft_sha256) {
    throw new UsageError(
      `the draft file ${task.draft_file} was edited after cortex wrote it, so approving without --data is ambiguous (nothing was recorded): approve your edits with cortex approve ${held.record.execution_id} --action ${action.action_id} --data ${task.draft_file}`,
      { hint: 'or delete the file to approve the draft as cortex made it (cortex status shows it)' },
    );
  }
  return loadDocument(task.draft_file, task.draft_file).catch(() => undefined);
}

/**
 * The outputs approving `action` records, completed by its implementation; throws (exit 2)
 * naming file:line:column for each problem, before anything is recorded.
 */
export async function approvedTaskOutputs(
  app: App,
  held: HeldExecution,
  prep: DrivePrep,
  action: ActionRecord,
  request: { dataFile?: string; outputs?: Array<{ key: string; raw: string }> },
): Promise<TaskApproval> {
  const task = action.person_task ?? {};
  let doc: SourceDocument | undefined;
  let base: Record<string, unknown>;
  if (request.dataFile) {
    doc = await loadDocument(resolve(app.cwd, request.dataFile), request.dataFile);
    if (!isMapping(doc.data)) throw new DefinitionInvalidError([{ file: request.dataFile, message: `expected a mapping of output names to values (the outputs of "${action.action_id}")` }]);
    base = doc.data;
  } else {
    doc = await readDraftDocument(held, action);
    base = task.draft ?? {};
  }
  const overrides = parseOutputAssignments(request.outputs ?? []);
  const outputs = { ...base, ...overrides };
  const from: TaskApproval['from'] = request.dataFile ? 'data' : task.draft ? 'draft' : 'output';

  const issues = checkTaskOutputs(prep.loaded.definition, prep.catalogue, action.action_id, outputs);
  if (issues.length) {
    const placed: Issue[] = issues.map((i) => {
      const key = pointerToPath(i.pointer)[0];
      if (key !== undefined && key in overrides) return { file: `--output ${key}`, pointer: i.pointer, message: i.message };
      if (doc) return doc.issueAt(i.pointer, i.message);
      return { file: task.draft ? `the draft of "${action.action_id}"` : `the outputs of "${action.action_id}"`, pointer: i.pointer, message: i.message };
    });
    placed.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
    const noDraft = !request.dataFile && !task.draft;
    throw new DefinitionInvalidError(placed, {
      code: 'CORTEX_TASK_OUTPUTS_INVALID',
      summary: `the outputs for task "${action.action_id}" do not fit what the workflow does with them (nothing was recorded):`,
      hint: noDraft
        ? `${task.draft_error ? `cortex could not draft them (${task.draft_error.message}); ` : ''}give them with --data FILE (JSON or YAML)`
        : `fix the file and approve again${request.dataFile ? '' : `, or give your version with --data FILE`}`,
    });
  }
  const spec = prep.catalogue.get(held.record.phases.find((p) => p.actions.includes(action))?.contractor ?? '', action.action);
  const impl = spec ? await prep.impls.get(spec) : undefined;
  const done = impl?.complete?.(outputs, action.parameters ?? {});
  return { outputs: done?.outputs ?? outputs, from, ...(request.dataFile ? { dataFile: resolve(app.cwd, request.dataFile) } : {}), ...(done?.failed ? { failed: done.failed } : {}) };
}
