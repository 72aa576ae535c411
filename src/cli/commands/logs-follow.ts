import { open, stat } from 'node:fs/promises';
import { exitCodeFor } from '../../app/exit-codes.js';
import { ExitCode } from '../../errors.js';
import { isTerminal } from '../../model/records.js';
import { liveStatus } from '../../engine/live-status.js';
import type { CommandContext } from '../context.js';
import { poll, POLL_MS } from '../live.js';
import { formatLogLine, type LogEntry } from '../render/log-line.js';
import type { ReadOnlyState } from '../state.js';

/** Reads what was appended to a log since the last call; only whole lines, a torn last line waits. */
export function createTail(path: string): () => Promise<string[]> {
  let offset = 0;
  return async () => {
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      return [];
    }
    // Truncated or replaced by a smaller file: read it from the start.
    if (size < offset) offset = 0;
    if (size === offset) return [];
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(size - offset);
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      const text = buf.subarray(0, bytesRead).toString('utf8');
      const end = text.lastIndexOf('\n');
      if (end < 0) return [];
      offset += Buffer.byteLength(text.slice(0, end + 1), 'utf8');
      return text.slice(0, end).split('\n');
    } finally {
      await fh.close();
    }
  };
}

/**
 * `cortex logs -f ID`: the lines so far, then each new one as it is written, until the execution
 * ends (a line on stderr says how; the exit code is the one its run would have had: 0 completed,
 * 1 failed, rolled back or cancelled) or Ctrl-C (exit 130; the execution goes on). While it waits for a person
 * (approval, a paused or interrupted run) a note says so on stderr, once per state.
 */
export async function followLogs(
  ctx: CommandContext,
  state: ReadOnlyState,
  id: string,
  sources: Array<{ contractor: string; path: string }>,
  isOfExecution: (line: string) => boolean,
): Promise<number> {
  const tails = sources.map((s) => ({ contractor: s.contractor, next: createTail(s.path) }));
  const flush = async () => {
    const batch: LogEntry[] = [];
    for (const t of tails) for (const line of await t.next()) if (isOfExecution(line)) batch.push({ contractor: t.contractor, line });
    // Lines start with their ISO time: sorting merges the contractors' logs in time order.
    batch.sort((a, b) => a.line.localeCompare(b.line));
    for (const e of batch) {
      if (ctx.out.json) ctx.out.line(JSON.stringify(e));
      else ctx.out.line(formatLogLine(e));
    }
  };
  let noted = '';
  let code: number = ExitCode.OK;
  const done = await poll(ctx.signal, POLL_MS, async () => {
    if (ctx.out.isStdoutGone) return true;
    // Read the record first: lines written before it ended are then in the files already.
    const found = await state.store.readExecution(id).catch(() => undefined);
    await flush();
    if (!found) return false;
    if (found.location === 'history' || isTerminal(found.record.status)) {
      code = exitCodeFor(found.record, false);
      const { status: st, status_reason: reason } = found.record;
      if (ctx.out.json) ctx.out.err(JSON.stringify({ followed: { execution_id: id, status: st, exit_code: code } }));
      else ctx.out.err(`${id} ended: ${st}${reason ? ` (${reason})` : ''}; exit ${code}`);
      return true;
    }
    const shown = liveStatus(found.record, state);
    const idle = shown === 'awaiting_approval' || shown === 'paused' || shown === 'interrupted' ? shown : '';
    if (idle && idle !== noted) ctx.out.err(`${id} is ${idle.replace('_', ' ')}: still following (Ctrl-C to stop)`);
    noted = idle;
    return false;
  });
  return done === ExitCode.OK ? code : done;
}
