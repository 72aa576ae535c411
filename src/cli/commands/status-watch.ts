import { exitCodeFor } from '../../app/exit-codes.js';
import { ExitCode, UsageError } from '../../errors.js';
import { liveStatus } from '../../engine/live-status.js';
import { isTerminal, type ExecutionRecord } from '../../model/records.js';
import type { CommandContext } from '../context.js';
import { clockTime, createRedrawer, poll, POLL_MS } from '../live.js';
import { openStore, readActive } from '../state.js';
import { listFormat, type ListFormat } from '../render/format.js';
import { activeView, readExecutionOrThrow, renderTree, status, type StatusOptions } from './status.js';

/** `cortex status [ID] [-o ...] [-w]`: once, or watching (-w). */
export async function statusOrWatch(ctx: CommandContext, args: unknown[], opts: StatusOptions & { watch?: boolean }): Promise<number> {
  if (!opts.watch) return status(ctx, args, opts);
  return watchStatus(ctx, args[0] as string | undefined, listFormat(ctx.out, opts, ['json', 'yaml', 'wide', 'name']));
}

/**
 * `cortex status -w [ID]`: with an id, until that execution ends (completed, failed, rolled back,
 * cancelled; the exit code is then the one its run would have had); without, until Ctrl-C (130).
 * On a terminal the view is redrawn in place every second; under a pipe it is printed once and
 * then only what changed, one timestamped line per change; with -o json, one JSON document per
 * line at each change.
 */
export async function watchStatus(ctx: CommandContext, id: string | undefined, format: ListFormat): Promise<number> {
  if (format === 'yaml' || format === 'name') throw new UsageError(`-w prints a table, -o wide or -o json (one document per line), not -o ${format}`);
  const state = await openStore(ctx);
  const redraw = ctx.out.isTTY && format !== 'json' ? createRedrawer(ctx.out) : undefined;
  const header = (now: Date) => ctx.out.style.dim(`every ${POLL_MS / 1000}s, ${clockTime(now)}${id ? '' : ': Ctrl-C to stop'}`);

  if (id) {
    // The first read fails loudly (no such execution); later ones may fall between the record
    // leaving active/ and its arrival in history/.
    const initial: { record: ExecutionRecord; location: 'active' | 'history' } | undefined = await readExecutionOrThrow(state, id);
    let prev = initial.record;
    let first = true;
    let code: number = ExitCode.OK;
    const done = await poll(ctx.signal, POLL_MS, async () => {
      if (ctx.out.isStdoutGone) return true;
      const found = first ? initial : await state.store.readExecution(id).catch(() => undefined);
      if (!found) return false;
      const rec = found.record;
      const ended = found.location === 'history' || isTerminal(rec.status);
      const shown = ended ? rec.status : liveStatus(rec, state);
      const now = new Date();
      if (format === 'json') {
        if (first || JSON.stringify(rec) !== JSON.stringify(prev)) ctx.out.line(JSON.stringify({ ...rec, display_status: shown }));
      } else if (redraw) {
        redraw.draw([header(now), ...(await renderTree(rec, shown, ended ? 'history' : 'active', ctx.out.style)).split('\n')]);
      } else if (first) {
        ctx.out.line(await renderTree(rec, shown, found.location, ctx.out.style));
      } else {
        for (const change of recordChanges(prev, rec)) ctx.out.line(`${clockTime(now)} ${change}`);
      }
      first = false;
      prev = rec;
      if (ended) {
        code = exitCodeFor(rec, false);
        if (format !== 'json') ctx.out.err(`${id} ended: ${rec.status}; exit ${code}`);
      }
      return ended;
    });
    return done === ExitCode.OK ? code : done;
  }

  let prev = new Map<string, string>();
  let first = true;
  return poll(ctx.signal, POLL_MS, async () => {
    if (ctx.out.isStdoutGone) return true;
    const records = readActive(ctx).sort((a, b) => a.started_at.localeCompare(b.started_at));
    const now = new Date();
    const rows = new Map(records.map((r) => [r.execution_id, rowOf(r, liveStatus(r, state))]));
    if (format === 'json') {
      const view = activeView(records, state, now, ctx.out.style, 'json');
      if (first || [...rows].join() !== [...prev].join()) ctx.out.line(JSON.stringify(view.data));
    } else if (redraw) {
      redraw.draw([header(now), ...activeView(records, state, now, ctx.out.style, format).text.split('\n')]);
    } else if (first) {
      ctx.out.line(activeView(records, state, now, ctx.out.style, format).text);
    } else {
      for (const [execId, row] of rows) if (prev.get(execId) !== row) ctx.out.line(`${clockTime(now)} ${execId} ${row}`);
      for (const execId of prev.keys()) {
        if (rows.has(execId)) continue;
        const ended = await state.store.readExecution(execId).catch(() => undefined);
        ctx.out.line(`${clockTime(now)} ${execId} ${ended ? ended.record.status : 'gone'}`);
      }
    }
    first = false;
    prev = rows;
    return false;
  });
}

function rowOf(r: ExecutionRecord, shown: string): string {
  return `${shown}${r.current_phase ? ` ${r.current_phase}${r.current_action ? `/${r.current_action}` : ''}` : ''}`;
}

function secs(n: number | null | undefined): string {
  return n == null ? '' : ` in ${n}s`;
}

/** What changed between two copies of a record, one line each, in the order a run makes them. */
export function recordChanges(a: ExecutionRecord, b: ExecutionRecord): string[] {
  const out: string[] = [];
  const phases = new Map(a.phases.map((p) => [p.phase_id, p]));
  for (const p of b.phases) {
    const before = phases.get(p.phase_id);
    if (before?.status !== p.status) out.push(`phase ${p.phase_id} ${p.status}${p.status === 'skipped' && p.skip_reason ? ` (${p.skip_reason})` : secs(p.duration_seconds)}`);
    if (p.approval?.decision && before?.approval?.decision !== p.approval.decision) out.push(`phase ${p.phase_id} ${p.approval.decision}${p.approval.decided_by ? ` by ${p.approval.decided_by}` : ''}`);
    const actions = new Map((before?.actions ?? []).map((x) => [x.action_id, x]));
    for (const x of p.actions) {
      const was = actions.get(x.action_id);
      if (was?.status !== x.status) {
        out.push(`  ${x.action_id} ${x.status}${secs(x.duration_seconds)}${x.error ? `: ${x.error.code}: ${x.error.message}` : ''}`);
      } else if (x.status === 'running' && x.attempts.length > (was?.attempts.length ?? 0)) {
        out.push(`  ${x.action_id} attempt ${x.attempts.length}`);
      }
    }
  }
  if (b.rollback) {
    if (a.rollback?.status !== b.rollback.status) out.push(`rollback ${b.rollback.status}: ${b.rollback.reason}`);
    const done = new Map((a.rollback?.steps ?? []).map((s) => [s.step_id, s.status]));
    for (const s of b.rollback.steps) if (done.get(s.step_id) !== s.status) out.push(`  ${s.step_id} ${s.status}${s.error ? `: ${s.error.message}` : ''}`);
  }
  if (a.status !== b.status) out.push(`${b.execution_id} ${b.status}${b.status_reason ? `: ${b.status_reason}` : ''}`);
  return out;
}
