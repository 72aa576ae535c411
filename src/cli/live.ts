import { SystemClock } from '../adapters/system-clock.js';
import { ExitCode } from '../errors.js';
import type { Output } from './output.js';
import { visibleLength } from './render/table.js';

/** How often `status -w` and `logs -f` look again. */
export const POLL_MS = 1000;

/**
 * Calls `step` every `intervalMs` until it returns true (done: exit 0) or the signal is aborted
 * (Ctrl-C, SIGTERM, a closed terminal: exit 130; the execution watched goes on).
 */
export async function poll(signal: AbortSignal, intervalMs: number, step: () => Promise<boolean>): Promise<number> {
  const clock = new SystemClock();
  while (!signal.aborted) {
    if (await step()) return ExitCode.OK;
    try {
      await clock.sleep(intervalMs, signal);
    } catch {
      break;
    }
  }
  return ExitCode.INTERRUPTED;
}

/** `HH:MM:SS` (UTC), the prefix of the plain lines cortex prints under a pipe. */
export function clockTime(d: Date): string {
  return d.toISOString().slice(11, 19);
}

// eslint-disable-next-line no-control-regex
const ANSI_AT_START = /^\u001b\[[0-9;]*m/;

/** Cuts a line (colour codes kept, not counted) to `width` visible characters. */
export function fitLine(line: string, width: number): string {
  if (visibleLength(line) <= width) return line;
  let out = '';
  let shown = 0;
  let coloured = false;
  for (let i = 0; i < line.length && shown < width - 1; ) {
    const code = ANSI_AT_START.exec(line.slice(i));
    if (code) {
      out += code[0];
      coloured = true;
      i += code[0].length;
      continue;
    }
    out += line[i];
    shown++;
    i++;
  }
  return `${out}…${coloured ? '\u001b[0m' : ''}`;
}

/**
 * Redraws a block of lines in place on a terminal (as `watch` does, but below the prompt, and
 * what was drawn last stays on the screen afterwards). Lines are cut to the terminal's width and
 * the block to its height, so the cursor always returns to the block's first line.
 */
export function createRedrawer(out: Output): { draw(lines: string[]): void } {
  let drawn = 0;
  return {
    draw(lines) {
      const width = out.stdout.columns || 80;
      const height = Math.max(3, (out.stdout.rows || 24) - 1);
      let shown = lines.map((l) => fitLine(l, width));
      if (shown.length > height) shown = [...shown.slice(0, height - 1), `… ${shown.length - height + 1} more line(s): make the terminal taller`];
      // Cursor up to the block's first line, then clear to the end of the screen.
      const back = drawn > 0 ? `\u001b[${drawn}A\r\u001b[J` : '';
      out.stdout.write(`${back}${shown.join('\n')}\n`);
      drawn = shown.length;
    },
  };
}
