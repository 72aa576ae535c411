import { readdir } from 'node:fs/promises';
import { ExitCode, UsageError } from '../../errors.js';
import { assertWorkflowId } from '../../definitions/repository.js';
import { layout } from '../../layout.js';
import { TERMINAL_STATUSES, type ExecutionRecord, type ExecutionStatus } from '../../model/records.js';
import { parseSince } from '../since.js';
import type { CommandContext } from '../context.js';
import { listFormat, printStructured } from '../render/format.js';
import { table } from '../render/table.js';
import { triggerText } from './status.js';
import { openStore } from '../state.js';

const STAMP = /-([0-9]{8}T[0-9]{6}Z)-[0-9a-f]{4}$/;

export interface HistoryOptions {
  limit?: string;
  output?: string;
  workflow?: string;
  status?: string;
  since?: string;
}

/**
 * `cortex history [WORKFLOW_ID] [--workflow W] [--status S[,S]] [--since 2h] [--limit N]
 * [-o json|yaml|wide|name]`: finished executions, newest first; the filters apply before --limit.
 */
export async function history(ctx: CommandContext, args: unknown[], opts: HistoryOptions): Promise<number> {
  const format = listFormat(ctx.out, opts, ['json', 'yaml', 'wide', 'name']);
  const positional = args[0] as string | undefined;
  if (positional && opts.workflow && positional !== opts.workflow) throw new UsageError(`two workflows asked for: ${positional} and --workflow ${opts.workflow}: give one`);
  const workflowId = positional ?? opts.workflow;
  if (workflowId) assertWorkflowId(workflowId);
  const limit = opts.limit === undefined ? 20 : Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit expects a positive integer, got "${opts.limit}"`);
  const statuses = opts.status === undefined ? undefined : parseStatuses(opts.status);
  const since = opts.since === undefined ? undefined : parseSince(opts.since, new Date());
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
    .filter((id) => !workflowId || (id.startsWith(`${workflowId}-`) && id.slice(workflowId.length + 1).match(/^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}$/)))
    .sort((a, b) => (STAMP.exec(b)?.[1] ?? '').localeCompare(STAMP.exec(a)?.[1] ?? '') || b.localeCompare(a));
  const state = await openStore(ctx);
  let records: ExecutionRecord[] = [];
  let lastStamp = '';
  for (const id of ids) {
    // Ids only know the second: read on through the second of the last match, then sort by time.
    const stamp = STAMP.exec(id)?.[1] ?? '';
    if (records.length >= limit && stamp !== lastStamp) break;
    const found = await state.store.readExecution(id).catch(() => undefined);
    if (!found) continue;
    const r = found.record;
    if (statuses && !statuses.includes(r.status)) continue;
    if (since && Date.parse(r.started_at) < since.getTime()) continue;
    records.push(r);
    lastStamp = stamp;
  }
  records = records.sort((a, b) => b.started_at.localeCompare(a.started_at)).slice(0, limit);
  const filtered = Boolean(statuses || since);
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
    ctx.out.line(`no finished executions${workflowId ? ` of ${workflowId}` : ''}${filtered ? ' matching the filters' : ''}`);
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

/** `--status completed,failed`: statuses an execution ends with; another exits 2 naming them. */
function parseStatuses(text: string): ExecutionStatus[] {
  const asked = text.split(',').map((x) => x.trim()).filter(Boolean);
  const unknown = asked.filter((x) => !(TERMINAL_STATUSES as readonly string[]).includes(x));
  if (asked.length === 0 || unknown.length > 0) {
    throw new UsageError(`--status ${JSON.stringify(text)}: history holds executions that ended ${TERMINAL_STATUSES.join(', ')} (several: comma-separated)`);
  }
  return asked as ExecutionStatus[];
}
