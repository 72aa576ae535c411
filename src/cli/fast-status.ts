// `cortex status` without commander (issue 14: status on an empty root within 1.3x `node -e 0`;
// commander and the program's 20-odd command definitions were a quarter of its start-up). Only
// the plain forms are taken here; anything else (-w, --help, --root=DIR, an unknown or repeated
// option, a bad -o value, more than one id, ...) goes to the full program, which parses and
// reports it as before. The handler, its context and the error reporting are the program's own
// (run-command.ts), so the output and exit codes are the same.
import { reportCommandError, runHandler, withInterrupts, type CliIO, type CommandRun, type GlobalOptions, type Handler } from './run-command.js';

/** The values of `status -o` (program.ts listOutputOption). */
const OUTPUT_FORMATS: readonly string[] = ['table', 'json', 'yaml', 'wide', 'name'];

export interface FastStatusArgs {
  globals: GlobalOptions;
  opts: { output?: string };
  /** The execution id, when one was given. */
  args: string[];
}

/**
 * `status [EXECUTION_ID]` with --root DIR, --json, --no-color, --verbose (before or after the
 * command) and -o/--output FORMAT (after it), parsed as the program would; undefined for any
 * other command line.
 */
export function parseFastStatus(argv: readonly string[]): FastStatusArgs | undefined {
  const globals: GlobalOptions = { color: true };
  const opts: { output?: string } = {};
  const args: string[] = [];
  let isCommandSeen = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    switch (arg) {
      case '--json':
        globals.json = true;
        break;
      case '--verbose':
        globals.verbose = true;
        break;
      case '--no-color':
        globals.color = false;
        break;
      case '--root': {
        const value = argv[++i];
        if (value === undefined || value.startsWith('-') || globals.root !== undefined) return undefined;
        globals.root = value;
        break;
      }
      case '-o':
      case '--output': {
        const value = argv[++i];
        if (!isCommandSeen || value === undefined || !OUTPUT_FORMATS.includes(value) || opts.output !== undefined) return undefined;
        opts.output = value;
        break;
      }
      default:
        if (arg.startsWith('-')) return undefined;
        if (!isCommandSeen) {
          if (arg !== 'status') return undefined;
          isCommandSeen = true;
        } else {
          if (args.length > 0) return undefined;
          args.push(arg);
        }
    }
  }
  return isCommandSeen ? { globals, opts, args } : undefined;
}

/** Runs `cortex status` as the program would for these arguments; the exit code (never throws). */
export async function runFastStatus(io: CliIO, parsed: FastStatusArgs): Promise<number> {
  const run: CommandRun = { globals: {}, isJson: false };
  return withInterrupts(async (signal) => {
    try {
      const { status } = await import('./commands/status.js');
      return await runHandler(io, run, { name: 'status', globals: parsed.globals, opts: parsed.opts, args: [parsed.args[0]], handler: status as Handler }, signal);
    } catch (e) {
      return reportCommandError(e, io, run);
    }
  });
}
