import { readdir } from 'node:fs/promises';
import { ExitCode } from '../../errors.js';
import { assertWorkflowId } from '../../definitions/repository.js';
import { layout } from '../../layout.js';
import type { ExecutionRecord } from '../../model/records.js';
import type { CommandContext } from '../context.js';
import { listFormat, printStructured } from '../render/format.js';
import { table } from '../render/table.js';
import { triggerText } from './status.js';
import { openStore } from '../state.js';

const STAMP = /-([0-9]{8}T[0-9]{6}Z)-[0-9a-f]{4}$/;

/** `cortex history [WORKFLOW_ID] [--limit N] [-o json|yaml|wide|name]`: finished executions, newest first. */
export async function history(ctx: CommandContext, args: unknown[], opts: { limit?: string; output?: string }): Promise<number> {
  const workflowId = args[0] as string | undefined;
  const format = listFormat(ctx.out, opts, ['json', 'yaml', 'wide', 'name']);
  if (workflowId) assertWorkflowId(workflowId);
  const limit = opts.limit === undefined ? 20 : Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1) {
    const { UsageError } = await import('../../errors.js');
    throw new UsageError(`--limit expects a positive integer, got "${opts.limit}"`);
  }
  const dir = layout(ctx.root.dir).history;
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch {
    names = [];
  }
  // Execution ids carry their start time, so file names sort by time without opening the files.
  const ids = names
    .filter((n) => n.startsWith('workflow-') && n.endsWith('.json'))
    .map((n) => n.slice('workflow-'.length, -'.json'.length))
    .filter((id) => !workflowId || id.startsWith(`${workflowId}-`) && id.slice(workflowId.length + 1).match(/^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}$/))
    .sort((a, b) => (STAMP.exec(b)?.[1] ?? '').localeCompare(STAMP.exec(a)?.[1] ?? '') || b.localeCompare(a))
    .slice(0, limit);
  const state = await openStore(ctx);
  const records: ExecutionRecord[] = [];
  for (const id of ids) {
    const found = await state.store.readExecution(id).catch(() => undefined);
    if (found) records.push(found.record);
  }
  if (format === 'name') {
    for (const r of records) ctx.out.line(r.execution_id);
    return ExitCode.OK;
  }
  if (format === 'json' || format === 'yaml') {
    await printStructured(ctx.out, format, {
      executions: records.map((r) => ({
        execution_id: r.execution_id,
        workflow_id: r.workflow_id,
        status: r.status,
        started_at: r.started_at,
        finished_at: r.finished_at ?? null,
        duration_seconds: r.duration_seconds ?? null,
        trigger: r.trigger,
        error: r.error ?? null,
      })),
    });
    return ExitCode.OK;
  }
  if (records.length === 0) {
    ctx.out.line(workflowId ? `no finished executions of ${workflowId}` : 'no finished executions');
    return ExitCode.OK;
  }
  const wide = format === 'wide';
  ctx.out.line(
    table(
      ['EXECUTION', 'STATUS', 'STARTED', 'DURATION', 'TRIGGER', 'ERROR', ...(wide ? ['WORKFLOW', 'FINISHED', 'REASON'] : [])],
      records.map((r) => [
        r.execution_id,
        r.status,
        r.started_at.replace('T', ' ').slice(0, 19),
        r.duration_seconds != null ? `${r.duration_seconds}s` : '-',
        wide ? triggerText(r) : r.trigger.type,
        r.error ? (wide ? `${r.error.code}: ${r.error.message}` : r.error.code) : '',
        ...(wide ? [r.workflow_id, r.finished_at ? r.finished_at.replace('T', ' ').slice(0, 19) : '-', r.status_reason && r.status_reason !== r.error?.message ? r.status_reason : '-'] : []),
      ]),
    ),
  );
  return ExitCode.OK;
}
