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
    line: (text = '') => void o.stdout.write(`${text}\n`),
    data: (value) => void o.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    err: (text) => void o.stderr.write(`${text}\n`),
  };
}
