import { readFile } from 'node:fs/promises';
import { ExitCode, NotFoundError } from '../../errors.js';
import { CONTRACTORS } from '../../model/catalogue.js';
import { layout } from '../../layout.js';
import type { CommandContext } from '../context.js';
import { openStore } from '../state.js';
import { readExecutionOrThrow } from './status.js';

/** `cortex logs EXECUTION_ID [--contractor C]`: the contractor.log lines of one execution, in time order. */
export async function logs(ctx: CommandContext, args: unknown[], opts: { contractor?: string; debug?: boolean }): Promise<number> {
  const id = args[0] as string;
  const state = await openStore(ctx);
  const { record } = await readExecutionOrThrow(state, id);
  const involved = [...new Set(record.phases.map((p) => p.contractor))];
  if (opts.contractor && !involved.includes(opts.contractor) && !(CONTRACTORS as readonly string[]).includes(opts.contractor)) {
    throw new NotFoundError(`contractor "${opts.contractor}" took no part in ${id}`, { hint: `involved: ${involved.join(', ')}` });
  }
  const contractors = opts.contractor ? [opts.contractor] : involved;
  const L = layout(ctx.root.dir);
  const entries: Array<{ contractor: string; line: string }> = [];
  const needle = `execution=${id} `;
  for (const c of contractors) {
    const paths = [L.master(c).contractorLog, ...(opts.debug ? [L.master(c).debugLog] : [])];
    for (const path of paths) {
      let text = '';
      try {
        text = await readFile(path, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) if (line.includes(needle) || (opts.debug && line.includes(` ${id} `))) entries.push({ contractor: c, line });
    }
  }
  entries.sort((a, b) => a.line.localeCompare(b.line));
  if (ctx.out.json) ctx.out.data({ execution_id: id, lines: entries });
  else if (entries.length === 0) ctx.out.line(`no log lines for ${id}`);
  else for (const e of entries) ctx.out.line(`${e.contractor.replace(/-contractor$/, '').padEnd(14)} ${e.line}`);
  return ExitCode.OK;
}
