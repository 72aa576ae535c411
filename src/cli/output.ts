import type { ChalkInstance } from 'chalk';

/** Where a command prints. Colour only on a terminal and never under NO_COLOR, --no-color or --json. */
export interface Output {
  readonly json: boolean;
  readonly color: boolean;
  readonly isTTY: boolean;
  readonly verbose: boolean;
  /** One line (or block) to stdout. */
  line(text?: string): void;
  /** A value as pretty JSON to stdout. */
  data(value: unknown): void;
  /** A line to stderr. */
  err(text: string): void;
  style: Styler;
  /** True once stdout's reader is gone (`| head`, a closed terminal): nothing more is printed there. */
  readonly isStdoutGone: boolean;
  /** The stdout stream itself, for the spinner (its write errors are already handled). */
  readonly stdout: NodeJS.WriteStream;
}

/** A stream cortex prints to. Once its reader is gone, writes are dropped: that never changes an outcome. */
export interface Sink {
  write(text: string): void;
  readonly isGone: boolean;
}

const SINKS = new WeakMap<NodeJS.WritableStream, Sink>();

/**
 * The sink of a stream (one per stream). A write to a pipe whose reader exited fails with EPIPE, to a
 * closed terminal with EIO; the stream then emits 'error', which without a listener would end
 * cortex with a stack trace in the middle of a run.
 */
export function sinkFor(stream: NodeJS.WritableStream & { destroyed?: boolean }): Sink {
  let sink = SINKS.get(stream);
  if (sink) return sink;
  let hasFailed = false;
  // Stays attached: writes issued before the first error was emitted fail too.
  stream.on('error', () => {
    hasFailed = true;
  });
  sink = {
    get isGone() {
      return hasFailed || stream.destroyed === true;
    },
    write(text) {
      if (!this.isGone) stream.write(text);
    },
  };
  SINKS.set(stream, sink);
  return sink;
}

export interface Styler {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

const PLAIN: Styler = { bold: (s) => s, dim: (s) => s, red: (s) => s, green: (s) => s, yellow: (s) => s, cyan: (s) => s };

export interface OutputOptions {
  json: boolean;
  colorFlag: boolean;
  verbose: boolean;
  env: Record<string, string | undefined>;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

export async function createOutput(o: OutputOptions): Promise<Output> {
  const stdout = sinkFor(o.stdout);
  const stderr = sinkFor(o.stderr);
  const isTTY = Boolean(o.stdout.isTTY);
  const color = !o.json && o.colorFlag && isTTY && o.env.NO_COLOR === undefined && o.env.TERM !== 'dumb';
  let style = PLAIN;
  if (color) {
    const { Chalk } = await import('chalk');
    const c: ChalkInstance = new Chalk({ level: 1 });
    style = { bold: c.bold, dim: c.dim, red: c.red, green: c.green, yellow: c.yellow, cyan: c.cyan };
  }
  return {
    json: o.json,
    color,
    isTTY,
    verbose: o.verbose,
    style,
    stdout: o.stdout,
    get isStdoutGone() {
      return stdout.isGone;
    },
    line: (text = '') => stdout.write(`${text}\n`),
    data: (value) => {
      if (!stdout.isGone) stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
    err: (text) => stderr.write(`${text}\n`),
  };
}
