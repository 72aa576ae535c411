import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ExitCode, UsageError } from '../../errors.js';
import { ensureRoot } from '../../root.js';
import { DedupStore } from '../../triggers/dedup.js';
import { dispatchEvent, type DispatchResult } from '../../triggers/dispatch.js';
import { EVENT_SOURCES, normalizeRoute, type EventSource } from '../../triggers/load.js';
import { parseEventJson } from '../../triggers/render.js';
import { problemLines, loadRootTriggers } from '../../triggers/setup.js';
import type { CommandContext } from '../context.js';
import { triggerStarterFor } from '../app.js';

export interface TriggerOptions {
  source?: string;
  event?: string;
  githubEvent?: string;
  delivery?: string;
  path?: string;
  dryRun?: boolean;
  force?: boolean;
  simulate?: boolean;
  lab?: string;
}

const MAX_EVENT_BYTES = 25 * 1024 * 1024;

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of process.stdin) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(String(c));
    size += b.length;
    if (size > MAX_EVENT_BYTES) throw new UsageError(`the event on stdin is larger than ${MAX_EVENT_BYTES} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Prints a dispatch result (shared with serve's --verbose output). */
export function printDispatch(ctx: CommandContext, result: DispatchResult, considered: number, showMisses: boolean): void {
  const s = ctx.out.style;
  if (result.matched === 0) ctx.out.line(`no trigger matched (${considered} considered)`);
  for (const r of result.runs) {
    const what = `${r.workflow_id} (trigger ${r.trigger}, event ${r.event_id})`;
    switch (r.status) {
      case 'would_start':
        ctx.out.line(`would start ${what}\n  parameters: ${JSON.stringify(r.parameters ?? {})}`);
        break;
      case 'started':
        ctx.out.line(`${s.green('started')} ${r.execution_id ?? `pid ${r.pid}`} ${s.dim(what)}${r.message ? `\n  ${r.message}` : ''}`);
        break;
      case 'queued':
        ctx.out.line(`${s.yellow('queued')} ${r.execution_id} ${s.dim(what)}${r.message ? `\n  ${r.message}` : ''}`);
        break;
      case 'duplicate':
        ctx.out.line(`${s.yellow('duplicate')} ${what}: already handled at ${r.first_seen} (--force starts it again)`);
        break;
      case 'invalid_parameters':
        ctx.out.line(`${s.red('not started')} ${what}: ${r.message}`);
        break;
      case 'failed':
        ctx.out.line(`${s.red('failed')} ${what}: ${r.message}`);
        break;
      case 'busy':
        ctx.out.line(`${s.yellow('not started')} ${what}: ${r.message}`);
        break;
    }
  }
  if (showMisses && result.not_matched.length) {
    ctx.out.line(s.dim('not matched:'));
    for (const m of result.not_matched) ctx.out.line(s.dim(`  ${m.trigger}${m.unit ? ` [${m.unit}]` : ''}: ${m.reason}`));
  }
}

/** Exit code for a dispatch: 0, or the first failure's (the run's own exit code when it is 2, 3 or 4). */
export function dispatchExitCode(result: DispatchResult): number {
  const failed = result.runs.find((r) => r.status === 'failed' || r.status === 'busy');
  if (failed) return failed.exit_code === 2 || failed.exit_code === 3 || failed.exit_code === 4 ? failed.exit_code : ExitCode.WORKFLOW_FAILED;
  if (result.runs.some((r) => r.status === 'invalid_parameters')) return ExitCode.INVALID_INPUT;
  return ExitCode.OK;
}

/** `cortex trigger --source S --event FILE|- [--github-event E] [--delivery ID] [--dry-run]`. */
export async function trigger(ctx: CommandContext, _args: unknown[], opts: TriggerOptions): Promise<number> {
  await ensureRoot(ctx.root);
  const source = opts.source as EventSource;
  if (!opts.source || !(EVENT_SOURCES as readonly string[]).includes(opts.source)) {
    throw new UsageError(`--source must be one of ${EVENT_SOURCES.join(', ')}`, { hint: 'cortex trigger --source alertmanager --event alert.json' });
  }
  if (!opts.event) throw new UsageError('--event FILE (or - for stdin) is required');
  let raw: Buffer;
  if (opts.event === '-') raw = await readStdin();
  else {
    try {
      raw = await readFile(resolve(ctx.cwd, opts.event));
    } catch (e) {
      throw new UsageError(`cannot read the event ${opts.event}: ${(e as Error).message}`);
    }
  }
  const payload = parseEventJson(raw.toString('utf8'));
  const loaded = await loadRootTriggers(ctx.root.dir);
  for (const l of problemLines(loaded.problems)) ctx.out.err(l);
  let candidates = loaded.entries.filter((e) => e.source === source);
  if (opts.path !== undefined) {
    const route = normalizeRoute(opts.path);
    candidates = loaded.entries.filter((e) => e.route === route);
    const other = candidates.find((e) => e.source !== source);
    if (other) throw new UsageError(`/webhook/${route} receives ${other.source} events, not ${source}`);
  }
  const [{ ProperLockManager }, { FsTriggerStateStore }] = await Promise.all([import('../../adapters/proper-lock-manager.js'), import('../../adapters/fs-trigger-state-store.js')]);
  const starter = await triggerStarterFor(ctx, opts);
  const result = await dispatchEvent(
    candidates,
    {
      source,
      payload,
      rawBody: raw,
      receivedAt: new Date(),
      ...(opts.githubEvent ? { githubEvent: opts.githubEvent } : {}),
      ...(opts.delivery ? { delivery: opts.delivery } : {}),
    },
    {
      env: ctx.env,
      starter,
      dedup: new DedupStore(new FsTriggerStateStore(ctx.root.dir), new ProperLockManager(ctx.root.dir)),
      dryRun: Boolean(opts.dryRun),
      force: Boolean(opts.force),
    },
  );
  if (ctx.out.json) ctx.out.data({ source, considered: candidates.length, ...result, ...(opts.dryRun ? { dry_run: true } : {}) });
  else printDispatch(ctx, result, candidates.length, Boolean(opts.dryRun) || ctx.out.verbose || result.matched === 0);
  return dispatchExitCode(result);
}
