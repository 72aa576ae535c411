import { existsSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { ExitCode, InternalError, UsageError, formatIssue } from '../../errors.js';
import { splitWords, TOOL_NAMES } from '../../config/config.js';
import { layout } from '../../layout.js';
import { ensureRoot } from '../../root.js';
import { formatLocal } from '../../definitions/cron.js';
import { blockPath, buildBlock, currentBlock, lintCrontab, systemCrontab, withBlock, withoutBlock, type CrontabIO } from '../../triggers/crontab.js';
import { PROBLEMS_HINT, problemLines, loadRootTriggers } from '../../triggers/setup.js';
import { CLI_ENTRY } from '../../adapters/detached-launcher.js';
import { FsTriggerStateStore } from '../../adapters/fs-trigger-state-store.js';
import { touchPrivate } from '../../adapters/atomic-file.js';
import { readTickState } from '../../triggers/tick.js';
import type { CommandContext } from '../context.js';
import { loadRootConfig } from '../../app/prepare.js';
import { listFormat, printStructured } from '../render/format.js';
import { table } from '../render/table.js';
import { parseNow } from './tick.js';

export interface ScheduleOptions {
  /** list: `-o table|json|yaml|wide|name`. */
  output?: string;
  print?: boolean;
  count?: string;
  now?: string;
}

function crontabOf(ctx: CommandContext): CrontabIO {
  const override = ctx.env.CORTEX_CRONTAB;
  return systemCrontab(override ? splitWords(override) : ['crontab'], ctx.env);
}

function which(command: string, path: string | undefined): string | undefined {
  if (command.includes('/')) return isAbsolute(command) && existsSync(command) ? command : undefined;
  for (const d of (path ?? '').split(delimiter)) if (d && isAbsolute(d) && existsSync(join(d, command))) return join(d, command);
  return undefined;
}

/** The block for this root: absolute node and entry, PATH with node's and the tools' directories. */
async function blockFor(ctx: CommandContext): Promise<string> {
  const config = await loadRootConfig(ctx);
  const toolDirs: string[] = [];
  for (const t of TOOL_NAMES) {
    const found = which(config.tools[t][0] as string, ctx.env.PATH);
    if (found) toolDirs.push(dirname(found));
  }
  const block = buildBlock({ root: ctx.root.dir, node: process.execPath, entry: CLI_ENTRY, path: blockPath(dirname(process.execPath), toolDirs, ctx.env.PATH) });
  const problems = lintCrontab(block);
  if (problems.length) throw new InternalError(`the crontab block is malformed: ${problems.join('; ')}`);
  return block;
}

async function list(ctx: CommandContext, opts: ScheduleOptions): Promise<number> {
  const format = listFormat(ctx.out, opts, ['json', 'yaml', 'wide', 'name']);
  const count = opts.count === undefined ? 3 : Number(opts.count);
  if (!Number.isInteger(count) || count < 1 || count > 100) throw new UsageError('--count expects a whole number from 1 to 100');
  const now = parseNow(opts.now);
  const loaded = await loadRootTriggers(ctx.root.dir);
  const problems = loaded.problems.map(formatIssue);
  const code = problems.length ? ExitCode.INVALID_INPUT : ExitCode.OK;
  const state = await readTickState(new FsTriggerStateStore(ctx.root.dir));
  const schedules = loaded.entries
    .filter((e) => e.type === 'schedule' && e.schedule)
    .map((e) => {
      const s = e.schedule!;
      const runs = e.enabled ? s.nextRuns(count, now) : [];
      const st = state.schedules[e.key];
      return {
        schedule: e.key,
        workflow_id: e.workflowId,
        trigger_id: e.id,
        cron: s.expression,
        timezone: s.timezone,
        enabled: e.enabled,
        catch_up: (e.trigger.catch_up as string | undefined) ?? 'skip',
        fixed_time: s.fixedTime,
        defined_in: e.origin,
        next_runs: runs.map((r) => ({ local: formatLocal(r, s.timezone), utc: r.toISOString() })),
        last_checked: st?.last_checked ?? null,
        last_scheduled_for: st?.last_scheduled_for ?? null,
        last_execution: st?.last_execution ?? null,
      };
    });
  let cron: { installed: boolean | null; detail?: string };
  try {
    cron = { installed: currentBlock(await crontabOf(ctx).read(), ctx.root.dir) !== undefined };
  } catch (e) {
    cron = { installed: null, detail: (e as Error).message };
  }
  const st = ctx.out.style;
  if (format === 'json' || format === 'yaml') {
    await printStructured(ctx.out, format, { root: ctx.root.dir, now: now.toISOString(), cron, schedules, problems });
    return code;
  }
  if (format === 'name') {
    for (const s of schedules) ctx.out.line(s.schedule);
    for (const l of problemLines(loaded.problems)) ctx.out.err(st.red(l));
    if (problems.length) ctx.out.err(`hint: ${PROBLEMS_HINT}`);
    return code;
  }
  const wide = format === 'wide';
  if (!schedules.length) ctx.out.line(`no schedules under ${ctx.root.dir} (add a trigger of type schedule to a workflow, or a file under triggers/)`);
  else {
    ctx.out.line(
      table(
        ['SCHEDULE', 'CRON', 'TIMEZONE', 'STATE', 'CATCH_UP', 'NEXT RUNS (LOCAL / UTC)', ...(wide ? ['WORKFLOW', 'DEFINED IN', 'LAST RUN'] : [])],
        schedules.map((s) => [
          s.schedule,
          s.cron,
          s.timezone,
          s.enabled ? 'enabled' : 'disabled',
          s.catch_up,
          s.next_runs.length ? s.next_runs.map((r) => `${r.local} / ${r.utc.replace('.000Z', 'Z')}`).join(', ') : s.enabled ? 'never' : '-',
          ...(wide ? [s.workflow_id, s.defined_in, s.last_execution ?? '-'] : []),
        ]),
      ),
    );
    for (const s of schedules) if (s.last_execution) ctx.out.line(ctx.out.style.dim(`${s.schedule}: last run ${s.last_execution} (due ${s.last_scheduled_for})`));
  }
  if (cron.installed === true) ctx.out.line(st.dim(`cron: cortex tick runs every minute (crontab block for ${ctx.root.dir})`));
  else if (cron.installed === false) ctx.out.line(st.yellow(`cron: not installed: nothing runs these schedules until "cortex schedule install --root ${ctx.root.dir}"`));
  else ctx.out.line(st.yellow(`cron: unknown (${cron.detail})`));
  // After the table, so that they are the last thing on the screen.
  for (const l of problemLines(loaded.problems)) ctx.out.err(st.red(l));
  if (problems.length) ctx.out.err(`hint: ${PROBLEMS_HINT}`);
  return code;
}

async function install(ctx: CommandContext, opts: ScheduleOptions): Promise<number> {
  const block = await blockFor(ctx);
  if (opts.print) {
    if (ctx.out.json) ctx.out.data({ root: ctx.root.dir, block });
    else ctx.out.line(block.trimEnd());
    return ExitCode.OK;
  }
  const io = crontabOf(ctx);
  const current = await io.read();
  const { text, changed } = withBlock(current, block, ctx.root.dir);
  // Created here, owner-only: the shell cron runs would create it 0644 (state/ is 0700 anyway).
  await touchPrivate(join(layout(ctx.root.dir).state, 'cron.log'), { root: ctx.root.dir });
  if (changed) await io.write(text);
  if (ctx.out.json) ctx.out.data({ root: ctx.root.dir, installed: true, changed, block, crontab: io.describe() });
  else {
    ctx.out.line(changed ? `installed into the crontab (${io.describe()}):` : `already installed, unchanged (${io.describe()}):`);
    ctx.out.line(block.trimEnd());
    ctx.out.line(ctx.out.style.dim(`check with: crontab -l; cortex schedule list --root ${ctx.root.dir}; output goes to ${join(layout(ctx.root.dir).state, 'cron.log')}`));
  }
  return ExitCode.OK;
}

async function uninstall(ctx: CommandContext): Promise<number> {
  const io = crontabOf(ctx);
  const { text, removed } = withoutBlock(await io.read(), ctx.root.dir);
  if (removed) await io.write(text);
  if (ctx.out.json) ctx.out.data({ root: ctx.root.dir, removed, crontab: io.describe() });
  else ctx.out.line(removed ? `removed the cortex block for ${ctx.root.dir} from the crontab` : `the crontab has no cortex block for ${ctx.root.dir}; nothing to do`);
  return ExitCode.OK;
}

/** `cortex schedule list|install|uninstall`. */
export async function schedule(ctx: CommandContext, args: unknown[], opts: ScheduleOptions): Promise<number> {
  await ensureRoot(ctx.root);
  const action = args[0] as string;
  if (opts.output !== undefined && action !== 'list') throw new UsageError(`-o applies to "cortex schedule list" only`, { hint: action === 'install' ? 'cortex schedule install --print shows the block; --json prints it as JSON' : undefined });
  switch (action) {
    case 'list':
      return list(ctx, opts);
    case 'install':
      return install(ctx, opts);
    case 'uninstall':
      return uninstall(ctx);
    default:
      throw new UsageError(`unknown schedule action "${action}": expected list, install or uninstall`, { hint: 'cortex schedule list' });
  }
}
