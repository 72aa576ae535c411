import { existsSync, readFileSync, statSync } from 'node:fs';
import { ExitCode, UsageError } from '../../errors.js';
import type { CommandContext } from '../context.js';
import { appFor } from '../app.js';

/** `cortex lab show|reset [--lab DIR]`: the rehearsal environment's state, or a fresh one. */
export async function lab(ctx: CommandContext, args: unknown[], opts: { lab?: string; requests?: boolean }): Promise<number> {
  const verb = args[0] as string;
  const dir = appFor(ctx).sessions.labDirFor(opts.lab ? { dir: opts.lab } : undefined);
  const { seedLab, isSeeded } = await import('../../lab/start-lab.js');
  const { LAB_MODULES } = await import('../../lab/modules.js');
  const { labPaths, readJsonLines, readLabConfig } = await import('../../lab/lab-dir.js');
  if (verb === 'reset') {
    seedLab(dir, { root: ctx.root.dir });
    if (ctx.out.json) ctx.out.data({ lab: dir, reset: true });
    else ctx.out.line(`lab ${dir} reset to its initial state`);
    return ExitCode.OK;
  }
  if (verb !== 'show') throw new UsageError(`cortex lab expects "show" or "reset", got "${verb}"`);
  // reset refuses a file through the lab guard (seedLab), with the reason it gives every refusal.
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`lab ${dir} is not a directory`, { hint: 'give --lab a directory (the default is <root>/lab)' });
  if (!isSeeded(dir)) {
    if (ctx.out.json) ctx.out.data({ lab: dir, exists: false });
    else ctx.out.line(`no lab at ${dir} yet: cortex run <workflow> --simulate creates it`);
    return ExitCode.OK;
  }
  const P = labPaths(dir);
  const state: Record<string, unknown> = {};
  for (const m of LAB_MODULES) state[m.name] = m.describe ? m.describe(dir) : null;
  const invocations = readJsonLines<{ tool: string; action_id: string | null }>(P.invocations);
  const requests = readJsonLines<{ service?: string; method?: string; path?: string; status?: number; action?: string | null }>(P.requests);
  const services = existsSync(P.services) ? (JSON.parse(readFileSync(P.services, 'utf8')) as unknown) : null;
  const byTool: Record<string, number> = {};
  for (const i of invocations) byTool[i.tool] = (byTool[i.tool] ?? 0) + 1;
  const byService: Record<string, number> = {};
  for (const r of requests) byService[r.service ?? '?'] = (byService[r.service ?? '?'] ?? 0) + 1;
  const summary = { lab: dir, config: readLabConfig(dir), services, state, invocations: byTool, requests: byService, ...(opts.requests ? { request_log: requests } : {}) };
  if (ctx.out.json) {
    ctx.out.data(summary);
    return ExitCode.OK;
  }
  const s = ctx.out.style;
  ctx.out.line(`${s.bold('lab')} ${dir}`);
  ctx.out.line(`latency x${summary.config.latency}${summary.config.faults.length ? `, faults: ${summary.config.faults.map((f) => `${f.action_id}${f.attempts === null ? '' : `:${f.attempts}`}`).join(', ')}` : ''}`);
  for (const [name, value] of Object.entries(state)) {
    ctx.out.line('');
    ctx.out.line(s.bold(name));
    ctx.out.line(JSON.stringify(value, null, 2).split('\n').map((l) => `  ${l}`).join('\n'));
  }
  ctx.out.line('');
  ctx.out.line(`${s.bold('tool invocations')} ${Object.entries(byTool).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
  ctx.out.line(`${s.bold('HTTP requests received')} ${Object.entries(byService).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
  if (opts.requests) for (const r of requests) ctx.out.line(`  ${r.service} ${r.method} ${r.path} -> ${r.status}${r.action ? ` (${r.action})` : ''}`);
  return ExitCode.OK;
}
