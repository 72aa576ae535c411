import { ExitCode, NotFoundError } from '../../errors.js';
import { assertExecutionId, type ExecutionRecord } from '../../model/records.js';
import { liveStatus } from '../../engine/live-status.js';
import { hasExpiredApproval } from '../../engine/approvals.js';
import type { CommandContext } from '../context.js';
import { table } from '../render/table.js';
import { personTaskLines } from '../render/person-task.js';
import { openStore, processCheck, readActive, type ReadOnlyState } from '../state.js';
import type { Styler } from '../output.js';
import { listFormat, printStructured, type ListFormat } from '../render/format.js';

function elapsed(from: string, to: Date): string {
  const s = Math.max(0, Math.round((to.getTime() - Date.parse(from)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

export { assertExecutionId } from '../../model/records.js';

export async function readExecutionOrThrow(state: ReadOnlyState, id: string): Promise<{ record: ExecutionRecord; location: 'active' | 'history' }> {
  assertExecutionId(id);
  const found = await state.store.readExecution(id);
  if (!found) throw new NotFoundError(`no execution ${id} in active/ or history/`, { hint: 'cortex status; cortex history' });
  return found;
}

export interface StatusOptions {
  output?: string;
}

/** `cortex status [EXECUTION_ID] [-o json|yaml|wide|name]`: active executions, or one execution's phase/action tree. */
export async function status(ctx: CommandContext, args: unknown[], opts: StatusOptions = {}): Promise<number> {
  const id = args[0] as string | undefined;
  const format = listFormat(ctx.out, opts, ['json', 'yaml', 'wide', 'name']);
  if (id) {
    const state = await openStore(ctx);
    const { record, location } = await readExecutionOrThrow(state, id);
    const shown = location === 'active' ? liveStatus(record, state) : record.status;
    if (format === 'json' || format === 'yaml') await printStructured(ctx.out, format, { ...record, location, display_status: shown });
    else if (format === 'name') ctx.out.line(record.execution_id);
    else ctx.out.line(await renderTree(record, shown, location, ctx.out.style, ctx.out.verbose));
    return ExitCode.OK;
  }
  const problems: string[] = [];
  const records = readActive(ctx, (file, e) => problems.push(`${file}: ${e.message}`)).sort((a, b) => a.started_at.localeCompare(b.started_at));
  const view = activeView(records, { isProcessAlive: processCheck() }, new Date(), ctx.out.style, format);
  if (format === 'json' || format === 'yaml') {
    await printStructured(ctx.out, format, { ...(view.data as object), unreadable: problems });
    return ExitCode.OK;
  }
  // -o name of no executions prints nothing (not an empty line), as kubectl does.
  if (view.text) ctx.out.line(view.text);
  for (const p of problems) ctx.out.err(`unreadable record ${p}`);
  return ExitCode.OK;
}

/** The active executions as data (json, yaml) or as text (a table and its notes, or ids). */
export function activeView(records: ExecutionRecord[], state: { isProcessAlive: ReadOnlyState['isProcessAlive'] }, now: Date, s: Styler, format: ListFormat): { data?: unknown; text: string } {
  // status only reads: an approval past its approval_timeout is shown as expired; tick, serve,
  // resume and approve act on it.
  const expired = records.filter((r) => hasExpiredApproval(r, now));
  if (format === 'json' || format === 'yaml') {
    return {
      text: '',
      data: {
        executions: records.map((r) => ({
          execution_id: r.execution_id,
          workflow_id: r.workflow_id,
          status: liveStatus(r, state),
          recorded_status: r.status,
          current_phase: r.current_phase ?? null,
          current_action: r.current_action ?? null,
          started_at: r.started_at,
          elapsed_seconds: Math.round((now.getTime() - Date.parse(r.started_at)) / 1000),
          status_reason: r.status_reason ?? null,
          // Who drives it (a queue worker in queue mode): host and pid.
          process: r.process ? { host: r.process.host, pid: r.process.pid } : null,
        })),
      },
    };
  }
  if (format === 'name') return { text: records.map((r) => r.execution_id).join('\n') };
  if (records.length === 0) return { text: 'no active executions' };
  const wide = format === 'wide';
  const lines = [
    table(
      ['EXECUTION', 'WORKFLOW', 'STATUS', 'PHASE', 'ACTION', 'ELAPSED', ...(wide ? ['STARTED', 'TRIGGER', 'PROCESS'] : [])],
      records.map((r) => {
        const st = liveStatus(r, state);
        const colour = st === 'running' ? s.cyan : st === 'interrupted' || st === 'failed' ? s.red : s.yellow;
        return [
          r.execution_id,
          r.workflow_id,
          colour(expired.includes(r) ? 'approval expired' : st === 'pending' && r.queued ? 'queued' : st),
          r.current_phase ?? '-',
          r.current_action ?? '-',
          elapsed(r.started_at, now),
          ...(wide ? [r.started_at.replace('T', ' ').slice(0, 19), triggerText(r), r.process ? `${r.process.pid}@${r.process.host}` : '-'] : []),
        ];
      }),
    ),
  ];
  for (const r of records) {
    const st = liveStatus(r, state);
    if (st === 'interrupted') lines.push(s.dim(`${r.execution_id}: its process (pid ${r.process?.pid} on ${r.process?.host}) is gone: cortex resume ${r.execution_id} or cortex rollback ${r.execution_id}`));
    else if (expired.includes(r)) lines.push(s.dim(`${r.execution_id}: its approval_timeout has passed: it is rejected and rolled back by the next cortex tick (or cortex resume ${r.execution_id})`));
    else if (st === 'queued') lines.push(s.dim(`${r.execution_id}: queued, waiting for a queue worker (cortex worker)`));
    else if (st === 'awaiting_approval' || st === 'paused' || (st === 'pending' && r.queued)) lines.push(s.dim(`${r.execution_id}: ${r.status_reason ?? st}`));
  }
  return { text: lines.join('\n') };
}

/** How an execution was started, in a few words: `manual root@vm`, `webhook alertmanager`. */
export function triggerText(r: ExecutionRecord): string {
  const who = r.trigger.user ? ` ${r.trigger.user}${r.trigger.host ? `@${r.trigger.host}` : ''}` : '';
  return `${r.trigger.type}${r.trigger.source ? ` ${r.trigger.source}` : who}`;
}

/** An action's outputs on one line, cut at `max` characters (--verbose: whole). */
function outputsLine(outputs: Record<string, unknown>, max: number): string {
  const text = JSON.stringify(outputs);
  return text.length <= max ? text : `${text.slice(0, max)}… (--verbose or --json: all of it)`;
}

export async function renderTree(r: ExecutionRecord, shown: string, location: string, s: Styler, isVerbose = false, now = new Date()): Promise<string> {
  const lines: string[] = [];
  // An approval past its approval_timeout can no longer be given: say what happens instead.
  const isExpired = location === 'active' && hasExpiredApproval(r, now);
  lines.push(`${s.bold(r.execution_id)}  ${r.workflow_name} (${r.workflow_id} v${r.definition.version})`);
  lines.push(`status: ${shown}${shown !== r.status ? ` (recorded ${r.status})` : ''}   started ${r.started_at}${r.finished_at ? `   finished ${r.finished_at}` : ''}${r.duration_seconds ? `   ${r.duration_seconds}s` : ''}   [${location}]`);
  if (isExpired) lines.push(`reason: the approval expired: the next cortex tick rejects it and rolls back what completed (or now: cortex resume ${r.execution_id})`);
  else if (r.status_reason) lines.push(`reason: ${r.status_reason}`);
  lines.push(s.dim(`trigger: ${r.trigger.type}${r.trigger.user ? ` by ${r.trigger.user}` : ''}${r.trigger.host ? `@${r.trigger.host}` : ''}${r.trigger.source ? ` from ${r.trigger.source}` : ''}${r.simulate ? '   (simulated in the lab)' : ''}`));
  lines.push(s.dim(`parameters: ${JSON.stringify(r.parameters)}`));
  for (const p of r.phases) {
    lines.push(`${s.bold(p.phase_id)} [${p.contractor}] ${p.status}${p.duration_seconds != null ? ` ${p.duration_seconds}s` : ''}${p.skip_reason ? s.dim(` (${p.skip_reason})`) : ''}`);
    const isPhaseExpired = isExpired && p.status === 'awaiting_approval' && !p.approval?.decision && Boolean(p.approval?.expires_at) && Date.parse(p.approval?.expires_at ?? '') <= now.getTime();
    if (isPhaseExpired) lines.push(`  approval: ${s.yellow(`expired at ${p.approval?.expires_at}`)}${p.approval?.role ? ` (${p.approval.role})` : ''}`);
    else if (p.approval) lines.push(`  approval: ${p.approval.decision ?? 'pending'}${p.approval.role ? ` (${p.approval.role})` : ''}${p.approval.decided_by ? ` by ${p.approval.decided_by}` : ''}${p.approval.expires_at && !p.approval.decision ? `, expires ${p.approval.expires_at}` : ''}`);
    if (p.handoff_in) lines.push(s.dim(`  handoff in: ${p.handoff_in}`));
    for (const a of p.actions) {
      const attempts = a.attempts.length > 1 ? `, ${a.attempts.length} attempts` : '';
      lines.push(`  ${a.action_id} ${s.dim(a.action)}: ${a.status}${a.duration_seconds != null ? ` ${a.duration_seconds}s` : ''}${attempts}${a.on_error_applied && a.status !== 'completed' ? s.dim(` on_error ${a.on_error_applied}`) : ''}`);
      if (a.error) lines.push(`    ${s.red('error')} ${a.error.code}: ${a.error.message}${a.error.hint ? `\n    hint: ${a.error.hint}` : ''}`);
      if (a.skip_reason && a.status === 'skipped') lines.push(s.dim(`    ${a.skip_reason}`));
      lines.push(...(await personTaskLines(r.execution_id, a, s)));
      if (a.outputs && Object.keys(a.outputs).length) lines.push(s.dim(`    outputs: ${outputsLine(a.outputs, isVerbose ? Number.POSITIVE_INFINITY : 160)}`));
      for (const at of a.attempts) {
        if (a.attempts.length < 2 && !at.error) continue;
        lines.push(s.dim(`    #${at.attempt} ${at.status}${at.fallback ? ' (fallback)' : ''}${at.exit_code != null ? ` exit ${at.exit_code}` : ''}${at.error ? `: ${at.error.message}` : ''}`));
      }
    }
    if (p.handoff_out) lines.push(s.dim(`  handoff out: ${p.handoff_out}`));
  }
  for (const n of r.notifications ?? []) lines.push(`${s.yellow('notification')} ${n.time} ${n.message}`);
  if (r.rollback) {
    lines.push(`${s.bold('rollback')} ${r.rollback.status}: ${r.rollback.reason}`);
    for (const st of r.rollback.steps) lines.push(`  ${st.step_id} ${s.dim(st.action)}: ${st.status}${st.error ? ` ${st.error.message}` : ''}${st.retry_command && st.status === 'failed' ? `\n    retry: ${st.retry_command}` : ''}`);
  }
  return lines.join('\n');
}
