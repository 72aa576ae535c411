import { readFile } from 'node:fs/promises';
import { ExitCode, NotFoundError } from '../../errors.js';
import { CONTRACTORS } from '../../model/catalogue.js';
import { layout } from '../../layout.js';
import type { CommandContext } from '../context.js';
import { openStore } from '../state.js';
import { formatLogLine, type LogEntry } from '../render/log-line.js';
import { readExecutionOrThrow } from './status.js';

const ISO_START = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/;

/** A line that continues the debug entry above it: `<time> <id> <action> | ...`, or (older logs) one without a leading time. */
function isContinuation(line: string, id: string): boolean {
  if (!ISO_START.test(line)) return true;
  const words = line.split(' ');
  return words[1] === id && words[3] === '|';
}

/** `cortex logs EXECUTION_ID [--contractor C] [--debug] [-f]`: the contractor.log lines of one execution, in time order. */
export async function logs(ctx: CommandContext, args: unknown[], opts: { contractor?: string; debug?: boolean; follow?: boolean }): Promise<number> {
  const id = args[0] as string;
  const state = await openStore(ctx);
  const { record } = await readExecutionOrThrow(state, id);
  const involved = [...new Set(record.phases.map((p) => p.contractor))];
  // The short name the output prints ("talos") is accepted for talos-contractor.
  if (opts.contractor && !opts.contractor.endsWith('-contractor') && (CONTRACTORS as readonly string[]).includes(`${opts.contractor}-contractor`)) opts = { ...opts, contractor: `${opts.contractor}-contractor` };
  if (opts.contractor && !involved.includes(opts.contractor) && !(CONTRACTORS as readonly string[]).includes(opts.contractor)) {
    throw new NotFoundError(`contractor "${opts.contractor}" took no part in ${id}`, { hint: `involved: ${involved.join(', ')}` });
  }
  const contractors = opts.contractor ? [opts.contractor] : involved;
  const L = layout(ctx.root.dir);
  const entries: Array<LogEntry & { more: string[] }> = [];
  const needle = `execution=${id} `;
  const isOfExecution = (line: string) => line.includes(needle) || (opts.debug === true && line.includes(` ${id} `));
  if (opts.follow) {
    const sources = contractors.flatMap((c) => [L.master(c).contractorLog, ...(opts.debug ? [L.master(c).debugLog] : [])].map((path) => ({ contractor: c, path })));
    return (await import('./logs-follow.js')).followLogs(ctx, state, id, sources, isOfExecution);
  }
  for (const c of contractors) {
    const paths = [L.master(c).contractorLog, ...(opts.debug ? [L.master(c).debugLog] : [])];
    for (const path of paths) {
      let text = '';
      try {
        text = await readFile(path, 'utf8');
      } catch {
        continue;
      }
      // A debug entry spans lines (output tails): its continuation lines stay with it.
      let current: (typeof entries)[number] | undefined;
      for (const line of text.split('\n')) {
        if (line === '') continue;
        if (current && isContinuation(line, id)) {
          current.more.push(line);
          continue;
        }
        current = isOfExecution(line) ? { contractor: c, line, more: [] } : undefined;
        if (current) entries.push(current);
      }
    }
  }
  // Time order across the files (each line starts with its ISO time); a stable sort keeps entries whole.
  entries.sort((a, b) => a.line.slice(0, 24).localeCompare(b.line.slice(0, 24)));
  if (ctx.out.json) ctx.out.data({ execution_id: id, lines: entries.flatMap((e) => [e.line, ...e.more].map((line) => ({ contractor: e.contractor, line }))) });
  else if (entries.length === 0) ctx.out.line(`no log lines for ${id}${opts.debug ? '' : ' (--debug adds debug.log: command lines and output, when the run had --debug)'}`);
  else {
    for (const e of entries) for (const line of [e.line, ...e.more]) ctx.out.line(formatLogLine({ contractor: e.contractor, line }));
  }
  return ExitCode.OK;
}
