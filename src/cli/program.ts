import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { CortexError, ExitCode, InternalError, formatIssue, DefinitionInvalidError } from '../errors.js';
import { resolveRoot } from '../root.js';
import { createOutput } from './output.js';
import type { CommandContext } from './context.js';

export interface CliIO {
  argv: string[];
  env: Record<string, string | undefined>;
  cwd: string;
  home: string;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

interface GlobalOptions {
  root?: string;
  json?: boolean;
  color?: boolean;
  verbose?: boolean;
}

type Handler = (ctx: CommandContext, args: unknown[], opts: Record<string, unknown>) => Promise<number>;

function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** Collects repeatable options (-p k=v -p k2=v2). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Builds the commander program; each command lazily imports its module. */
export function buildProgram(io: CliIO, onRun: (h: Handler, args: unknown[], cmd: Command) => Promise<void>): Command {
  const program = new Command('cortex')
    .description('Workflow orchestrator for infrastructure operators: Proxmox (pvesh), Talos/Kubernetes (talosctl, kubectl, helm), n8n and notifications.')
    .version(version(), '-V, --version')
    .option('--root <dir>', 'coordination directory (default: $CORTEX_HOME, ./coordination, ~/.cortex)')
    .option('--json', 'machine-readable JSON output')
    .option('--no-color', 'no colour (also NO_COLOR=1)')
    .option('--verbose', 'more detail; stack traces on errors')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();

  const add = (
    name: string,
    description: string,
    examples: string[],
    load: () => Promise<Handler>,
    setup?: (c: Command) => void,
  ): Command => {
    const c = program.command(name).description(description);
    setup?.(c);
    if (examples.length) c.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
    c.action(async (...all: unknown[]) => {
      const cmd = all[all.length - 1] as Command;
      const args = all.slice(0, -2);
      await onRun(await load(), args, cmd);
    });
    return c;
  };

  add(
    'validate [targets...]',
    'validate workflow definitions (all of them when no file or id is given)',
    ['cortex validate', 'cortex validate deploy-monitoring-stack', 'cortex validate ./my-workflow.yaml --json'],
    async () => (await import('./commands/validate.js')).validate,
  );
  add(
    'list',
    'list the workflows in the coordination directory',
    ['cortex list', 'cortex list --templates --json'],
    async () => (await import('./commands/list.js')).list,
    (c) => c.option('--templates', 'include workflows/templates/'),
  );
  add(
    'show <workflow_id>',
    'show a workflow: parameters, phases, actions, handoffs, rollback',
    ['cortex show deploy-monitoring-stack', 'cortex show app-deployment --json'],
    async () => (await import('./commands/show.js')).show,
  );
  add(
    'actions [contractor]',
    'list the actions each contractor implements, with their parameters',
    ['cortex actions', 'cortex actions talos-contractor', 'cortex actions talos-contractor install_helm_chart'],
    async () => (await import('./commands/actions.js')).actions,
    (c) => c.argument('[action]', 'one action to describe in full'),
  );
  add(
    'run <workflow_id>',
    'run a workflow phase by phase (exit 0 completed or awaiting approval, 1 failed, 3 already running)',
    [
      'cortex run deploy-monitoring-stack',
      'cortex run app-deployment -p environment=staging -p replicas=2',
      'cortex run security-incident-response --params-file incident.yaml',
      'cortex run build-k8s-cluster --dry-run',
    ],
    async () => (await import('./commands/run.js')).run as Handler,
    (c) =>
      c
        .option('-p, --param <key=value>', 'set a parameter (repeatable; dotted keys set nested properties)', collect, [])
        .option('--params-file <file>', 'parameters from a JSON or YAML file')
        .option('--dry-run', 'print every command and request it would make; change nothing')
        .option('--debug', 'write full command lines and output tails to each contractor\'s debug.log'),
  );
  add(
    'status [execution_id]',
    'active executions, or the phase/action tree of one execution',
    ['cortex status', 'cortex status deploy-monitoring-stack-20261125T191154Z-1a2b', 'cortex status --json | jq .executions'],
    async () => (await import('./commands/status.js')).status,
  );
  add(
    'history [workflow_id]',
    'finished executions, newest first',
    ['cortex history', 'cortex history app-deployment --limit 5 --json'],
    async () => (await import('./commands/history.js')).history as Handler,
    (c) => c.option('--limit <n>', 'how many (default 20)'),
  );
  add(
    'logs <execution_id>',
    'contractor log lines of one execution',
    ['cortex logs deploy-monitoring-stack-20261125T191154Z-1a2b', 'cortex logs <id> --contractor talos-contractor --debug'],
    async () => (await import('./commands/logs.js')).logs as Handler,
    (c) => c.option('--contractor <name>', 'only this contractor').option('--debug', 'include debug.log lines'),
  );
  add(
    'init [dir]',
    'create a coordination directory with the built-in workflows and a default config',
    ['cortex init ~/ops/coordination'],
    async () => (await import('./commands/init.js')).init,
  );
  return program;
}

async function reportError(e: unknown, io: CliIO, json: boolean, verbose: boolean): Promise<number> {
  const err = e instanceof CortexError ? e : new InternalError(e instanceof Error ? e.message : String(e), { cause: e });
  if (json) {
    const body: Record<string, unknown> = { code: err.code, message: err.message, exit_code: err.exitCode };
    if (err.hint) body.hint = err.hint;
    if (err instanceof DefinitionInvalidError) body.issues = err.issues;
    io.stderr.write(`${JSON.stringify({ error: body })}\n`);
  } else {
    const color = Boolean(io.stderr.isTTY) && io.env.NO_COLOR === undefined;
    const red = color ? (s: string) => `\u001b[31m${s}\u001b[39m` : (s: string) => s;
    io.stderr.write(`${red(`${err.code}:`)} ${err.message}\n`);
    if (err.hint) io.stderr.write(`hint: ${err.hint}\n`);
  }
  if (err instanceof InternalError) {
    const cause = err.cause instanceof Error ? err.cause : err;
    io.stderr.write(`${cause.stack ?? String(cause)}\nThis is a bug in cortex; please report it with the command you ran.\n`);
  } else if (verbose) {
    let c: unknown = err;
    while (c instanceof Error) {
      io.stderr.write(`${c.stack ?? c.message}\n`);
      c = c.cause;
    }
  }
  return err.exitCode;
}

/** Parses argv, runs one command, and returns the exit code (never throws). */
export async function runCli(io: CliIO): Promise<number> {
  let exitCode: number = ExitCode.OK;
  let globals: GlobalOptions = {};
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) process.exit(ExitCode.INTERRUPTED);
    controller.abort(new Error(sig));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const program = buildProgram(io, async (handler, args, cmd) => {
    globals = cmd.optsWithGlobals() as GlobalOptions;
    const out = await createOutput({
      json: Boolean(globals.json),
      colorFlag: globals.color !== false,
      verbose: Boolean(globals.verbose),
      env: io.env,
      stdout: io.stdout,
      stderr: io.stderr,
    });
    const root = resolveRoot({ flag: globals.root, env: io.env, cwd: io.cwd, home: io.home });
    const ctx: CommandContext = { root, out, env: io.env, cwd: io.cwd, argv: io.argv, signal: controller.signal };
    exitCode = await handler(ctx, args, cmd.opts());
  });
  try {
    await program.parseAsync(io.argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return ExitCode.OK;
      if (e.code === 'commander.executeSubCommandAsync') return ExitCode.OK;
      return ExitCode.INVALID_INPUT;
    }
    return reportError(e, io, Boolean(globals.json ?? io.argv.includes('--json')), Boolean(globals.verbose ?? io.argv.includes('--verbose')));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return exitCode;
}

export { Option, formatIssue };
