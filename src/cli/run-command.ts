// Running one command handler once its arguments are known: shared by the commander program
// (program.ts) and the fast path of `cortex status` (fast-status.ts), which must behave the same.
import { CortexError, ExitCode, InternalError, DefinitionInvalidError, environmentErrorOf } from '../errors.js';
import { assertRootUsable, resolveRoot } from '../root.js';
import { createOutput, sinkFor } from './output.js';
import type { CommandContext } from './context.js';

export interface CliIO {
  argv: string[];
  env: Record<string, string | undefined>;
  cwd: string;
  home: string;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

export interface GlobalOptions {
  root?: string;
  json?: boolean;
  color?: boolean;
  verbose?: boolean;
}

export type Handler = (ctx: CommandContext, args: unknown[], opts: Record<string, unknown>) => Promise<number>;

/** What the catch of a command needs to report an error the way the command's options asked. */
export interface CommandRun {
  globals: GlobalOptions;
  isJson: boolean;
}

/**
 * Builds the command's context (output, root) and runs its handler; returns its exit code.
 * `run.globals` and `run.isJson` are set as soon as they are known, for reportError.
 */
export async function runHandler(
  io: CliIO,
  run: CommandRun,
  command: { name: string; globals: GlobalOptions; opts: Record<string, unknown>; args: unknown[]; handler: Handler },
  signal: AbortSignal,
): Promise<number> {
  const globals = command.globals;
  run.globals = globals;
  const out = await createOutput({
    // `-o json` is `--json` (plan's `-o` is its file: --out).
    json: Boolean(globals.json) || command.opts.output === 'json',
    colorFlag: globals.color !== false,
    verbose: Boolean(globals.verbose),
    env: io.env,
    stdout: io.stdout,
    stderr: io.stderr,
  });
  run.isJson = out.json;
  const root = resolveRoot({ flag: globals.root, env: io.env, cwd: io.cwd, home: io.home });
  // init creates the root; doctor reports on it.
  if (!['init', 'doctor'].includes(command.name)) assertRootUsable(root);
  const ctx: CommandContext = { root, out, env: io.env, cwd: io.cwd, argv: io.argv, command: command.name, signal };
  return command.handler(ctx, command.args, command.opts);
}

/** Prints an error (one line, a hint; JSON under --json; a stack only for a bug or --verbose); its exit code. */
export async function reportError(e: unknown, io: CliIO, json: boolean, verbose: boolean): Promise<number> {
  const stderr = sinkFor(io.stderr);
  const err = e instanceof CortexError ? e : (environmentErrorOf(e) ?? new InternalError(e instanceof Error ? e.message : String(e), { cause: e }));
  if (json) {
    const body: Record<string, unknown> = { code: err.code, message: err.message, exit_code: err.exitCode };
    if (err.hint) body.hint = err.hint;
    if (err instanceof DefinitionInvalidError) body.issues = err.issues;
    stderr.write(`${JSON.stringify({ error: body })}\n`);
  } else {
    const color = Boolean(io.stderr.isTTY) && io.env.NO_COLOR === undefined && !io.argv.includes('--no-color') && io.env.TERM !== 'dumb';
    const red = color ? (s: string) => `\u001b[31m${s}\u001b[39m` : (s: string) => s;
    stderr.write(`${red(`${err.code}:`)} ${err.message}\n`);
    if (err.hint) stderr.write(`hint: ${err.hint}\n`);
  }
  if (err instanceof InternalError) {
    const cause = err.cause instanceof Error ? err.cause : err;
    stderr.write(`${cause.stack ?? String(cause)}\nThis is a bug in cortex; please report it with the command you ran.\n`);
  } else if (verbose) {
    let c: unknown = err;
    while (c instanceof Error) {
      stderr.write(`${c.stack ?? c.message}\n`);
      c = c.cause;
    }
  }
  return err.exitCode;
}

/** The catch of a command: its error reported the way its options (or, before they were parsed, argv) ask. */
export function reportCommandError(e: unknown, io: CliIO, run: CommandRun): Promise<number> {
  return reportError(e, io, run.isJson || Boolean(run.globals.json ?? io.argv.includes('--json')), Boolean(run.globals.verbose ?? io.argv.includes('--verbose')));
}

const INTERRUPTING_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Runs `body` with an AbortSignal that SIGINT, SIGTERM and SIGHUP abort (the command then stops
 * its tools and saves its state); a second SIGINT exits at once (130).
 */
export async function withInterrupts<T>(body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      controller.abort(new Error(sig));
      return;
    }
    // A second Ctrl-C forces the exit. A repeated SIGTERM or SIGHUP does not (a closing terminal
    // can deliver SIGHUP more than once): the state must still be saved.
    if (sig === 'SIGINT') process.exit(ExitCode.INTERRUPTED);
  };
  // SIGHUP: the terminal was closed; stop as for SIGTERM (tools stopped, state saved, exit 130).
  for (const sig of INTERRUPTING_SIGNALS) process.on(sig, onSignal);
  try {
    return await body(controller.signal);
  } finally {
    for (const sig of INTERRUPTING_SIGNALS) process.off(sig, onSignal);
  }
}
