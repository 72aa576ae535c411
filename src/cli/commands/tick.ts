import { ExitCode, UsageError } from '../../errors.js';
import { ensureRoot } from '../../root.js';
import { formatIssue } from '../../errors.js';
import { PROBLEMS_HINT, problemLines, loadRootTriggers } from '../../triggers/setup.js';
import { runTick } from '../../triggers/tick.js';
import { hasExpiredApproval } from '../../engine/approvals.js';
import type { CommandContext } from '../context.js';
import { appFor, launcherFor, triggerStarterFor } from '../app.js';
import { readActive } from '../state.js';

export interface TickOptions {
  now?: string;
  dryRun?: boolean;
  simulate?: boolean;
  lab?: string;
}

export function parseNow(value: string | undefined): Date {
  if (value === undefined) return new Date();
  const d = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(d.getTime())) {
    throw new UsageError(`--now expects an ISO 8601 time with a zone, e.g. 2026-03-29T01:00:00Z, got "${value}"`);
  }
  if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(value)) throw new UsageError(`--now "${value}" has no time zone: add Z or an offset (+02:00)`);
  return d;
}

interface ApprovalNote {
  execution_id: string;
  action: 'resuming' | 'would_expire';
  pid?: number;
  /** Queue mode: the job it was queued as, or why it could not be. */
  message?: string;
  /** False when the rejection could not be launched (queue mode: Redis does not answer). */
  ok?: boolean;
}

/**
 * Approvals whose approval_timeout passed: each is marked expired under its lock, and a detached
 * `cortex resume` rejects it and rolls back what completed. `--now` only shows which would expire.
 */
async function expireDue(ctx: CommandContext, now: Date, dryRun: boolean): Promise<ApprovalNote[]> {
  const due = readActive(ctx).filter((r) => hasExpiredApproval(r, now));
  // resume decides with the real clock: act only on approvals that have really expired.
  if (dryRun || due.every((r) => !hasExpiredApproval(r, new Date()))) return due.map((r) => ({ execution_id: r.execution_id, action: 'would_expire' as const }));
  const { expireDueApprovals } = await import('../../app/continue.js');
  const launcher = await launcherFor(ctx);
  const out: ApprovalNote[] = [];
  await expireDueApprovals(appFor(ctx), async (id) => {
    const r = await launcher.launch(id, { continues: true });
    out.push({ execution_id: id, action: 'resuming', ...(r.pid !== undefined ? { pid: r.pid } : {}), ...(r.message ? { message: r.message } : {}), ...(r.ok ? {} : { ok: false }) });
  });
  return out;
}

/** Starts the queued runs (on_conflict: queue) whose workflow has room now. */
async function startQueued(ctx: CommandContext): Promise<Array<{ execution_id: string; pid?: number; message?: string }>> {
  const { startQueuedRuns } = await import('../../app/continue.js');
  const launcher = await launcherFor(ctx);
  const out: Array<{ execution_id: string; pid?: number; message?: string }> = [];
  await startQueuedRuns(appFor(ctx), async (id) => {
    const r = await launcher.launch(id);
    out.push({ execution_id: id, ...(r.pid !== undefined ? { pid: r.pid } : {}), ...(r.message ? { message: r.message } : {}) });
  });
  return out;
}

/** `cortex tick [--now ISO] [--dry-run]`: what cron runs every minute. */
export async function tick(ctx: CommandContext, _args: unknown[], opts: TickOptions): Promise<number> {
  await ensureRoot(ctx.root);
  const now = parseNow(opts.now);
  const loaded = await loadRootTriggers(ctx.root.dir);
  // The valid schedules still run; the invalid files are reported and the tick exits 2 (cron.log keeps the lines).
  const stamp = now.toISOString();
  if (!ctx.out.json) {
    for (const l of problemLines(loaded.problems)) ctx.out.err(`${stamp} ${l}`);
    if (loaded.problems.length) ctx.out.err(`${stamp} hint: ${PROBLEMS_HINT}`);
  }
  const problems = loaded.problems.map(formatIssue);
  const [{ ProperLockManager }, { FsTriggerStateStore }] = await Promise.all([import('../../adapters/proper-lock-manager.js'), import('../../adapters/fs-trigger-state-store.js')]);
  const starter = await triggerStarterFor(ctx, opts);
  const result = await runTick({
    state: new FsTriggerStateStore(ctx.root.dir),
    now,
    entries: loaded.entries,
    locks: new ProperLockManager(ctx.root.dir),
    starter,
    env: ctx.env,
    dryRun: Boolean(opts.dryRun),
  });
  if (result.busy) {
    const h = result.busy.holder;
    const msg = `another tick is running${h ? ` (pid ${h.pid} on ${h.host} since ${h.acquired_at})` : ''}; this one does nothing`;
    if (ctx.out.json) ctx.out.data({ ...result, message: msg, problems });
    else ctx.out.line(`${stamp} ${msg}`);
    return problems.length ? ExitCode.INVALID_INPUT : ExitCode.OK;
  }
  const approvals = await expireDue(ctx, now, Boolean(opts.dryRun));
  const dequeued = opts.dryRun ? [] : await startQueued(ctx);
  if (ctx.out.json) {
    ctx.out.data({ ...result, approvals, dequeued, problems, ...(opts.dryRun ? { dry_run: true } : {}) });
  } else {
    for (const n of result.notes) ctx.out.err(`${stamp} note: ${n}`);
    for (const r of result.runs) {
      const head = `${stamp} ${r.schedule} due ${r.scheduled_local} (${r.scheduled_for})${r.kind === 'catch_up' ? ' [catch_up run_once]' : ''}`;
      if (r.status === 'started') ctx.out.line(`${head}: started ${r.execution_id ?? `pid ${r.pid}`}${r.message ? ` (${r.message})` : ''}`);
      else if (r.status === 'would_start') ctx.out.line(`${head}: would start`);
      else ctx.out.line(`${head}: ${r.status === 'invalid_parameters' ? 'not started' : 'failed'}: ${r.message}`);
    }
    for (const s of result.skipped) ctx.out.line(`${stamp} ${s.schedule}: skipped ${s.missed >= 1000 ? '1000+' : s.missed} missed run(s), the latest due ${s.latest_missed} (catch_up ${s.catch_up})`);
    for (const a of approvals) {
      const how = a.pid !== undefined ? `cortex resume started (pid ${a.pid})` : a.ok === false ? `not queued (${a.message}); cortex resume ${a.execution_id} rejects it` : `${a.message ?? 'queued'} for a worker`;
      ctx.out.line(`${stamp} ${a.execution_id}: approval expired: ${a.action === 'resuming' ? `${how} to reject and roll back` : 'it would be rejected (not acted on)'}`);
    }
    for (const d of dequeued) ctx.out.line(`${stamp} ${d.execution_id}: queued run started${d.pid !== undefined ? ` (pid ${d.pid})` : d.message ? ` (${d.message})` : ''}`);
    if (ctx.out.verbose && !result.runs.length && !result.skipped.length && !approvals.length && !dequeued.length) ctx.out.line(`${stamp} nothing due (${loaded.entries.filter((e) => e.type === 'schedule').length} schedule(s))`);
  }
  if (result.runs.some((r) => r.status === 'failed' || r.status === 'invalid_parameters')) return ExitCode.WORKFLOW_FAILED;
  return problems.length ? ExitCode.INVALID_INPUT : ExitCode.OK;
}
