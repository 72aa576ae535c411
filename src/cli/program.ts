import { Argument, Command, CommanderError, Option } from 'commander';
import { ExitCode, formatIssue } from '../errors.js';
import { sinkFor } from './output.js';
import { versionInfo, versionLine } from './version.js';
import { reportCommandError, runHandler, withInterrupts, type CliIO, type CommandRun, type GlobalOptions, type Handler } from './run-command.js';

export type { CliIO } from './run-command.js';

/** Collects repeatable options (-p k=v -p k2=v2). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `-o` of the listing commands (list, status, history, actions, schedule list); `-o json` is `--json`. */
function listOutputOption(): Option {
  return new Option('-o, --output <format>', 'table (the default), json, yaml, wide (more columns) or name (ids only)').choices(['table', 'json', 'yaml', 'wide', 'name']);
}

/** Builds the commander program; each command lazily imports its module. */
export function buildProgram(io: CliIO, onRun: (h: Handler, args: unknown[], cmd: Command) => Promise<void>): Command {
  const stdout = sinkFor(io.stdout);
  const stderr = sinkFor(io.stderr);
  // --json anywhere on the line: usage errors and --version answer in JSON too (runCli prints them).
  const isJson = io.argv.includes('--json');
  const program = new Command('cortex')
    .description('Workflow orchestrator for infrastructure operators: Proxmox (pvesh), Talos/Kubernetes (talosctl, kubectl, helm), n8n and notifications.')
    .version(isJson ? JSON.stringify(versionInfo()) : versionLine(versionInfo()), '-V, --version', 'the version, the commit it was built from, and Node\'s version')
    .option('--root <dir>', 'coordination directory (default: $CORTEX_HOME, ./coordination, ~/.cortex)')
    .option('--json', 'machine-readable JSON output')
    .option('--no-color', 'no colour (also NO_COLOR=1)')
    .option('--verbose', 'more detail; stack traces on errors')
    .showSuggestionAfterError(true)
    // `cortex run --help` lists --root, --json, --no-color and --verbose too.
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (s) => stdout.write(s),
      writeErr: (s) => stderr.write(s),
      // Under --json, runCli writes the error as JSON instead.
      outputError: (s, write) => {
        if (!isJson) write(s);
      },
    })
    .exitOverride();

  const simulateOptions = (c: Command) =>
    c
      .option('--simulate', 'run against the built-in lab instead of the real tools')
      .option('--lab <dir>', 'lab directory (default <root>/lab)')
      .option('--simulate-fail <action_id[:n]>', 'make that action fail in the lab (its first n attempts; all when n is omitted); repeatable', collect, [])
      .option('--simulate-latency <factor>', 'scale the lab\'s task and rollout durations');
  // reject and cancel --rollback run only a rollback: what they take is said in those words.
  const rollbackOnlyOptions = (c: Command, when: string) =>
    c
      .option('-p, --param <key=value>', `give a secret parameter again: the rollback${when} needs the secret parameters of the execution (they are not recorded)`, collect, [])
      .option('--debug', 'write debug.log for this rollback')
      .option('--lab <dir>', 'a simulated execution: lab directory (default the one it ran in)')
      .option('--simulate-fail <step_id[:n]>', `a simulated execution: make that rollback step fail in the lab${when}; repeatable`, collect, [])
      .addOption(new Option('--simulate', 'a simulated execution stays simulated (no effect)').hideHelp())
      .addOption(new Option('--simulate-latency <factor>', 'scale the lab\'s durations').hideHelp());
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
    ['cortex list', 'cortex list --templates --json', 'cortex list -o name'],
    async () => (await import('./commands/list.js')).list as Handler,
    (c) => c.option('--templates', 'include workflows/templates/').addOption(listOutputOption()),
  );
  add(
    'show <workflow_id>',
    'show a workflow: parameters, phases, actions, handoffs, rollback (given an execution id: its status)',
    ['cortex show deploy-monitoring-stack', 'cortex show app-deployment --json'],
    async () => (await import('./commands/show.js')).show,
  );
  add(
    'actions [contractor]',
    'list the actions each contractor implements, with their parameters',
    ['cortex actions', 'cortex actions talos-contractor -o wide', 'cortex actions talos-contractor -o name', 'cortex actions talos-contractor install_helm_chart -o yaml'],
    async () => (await import('./commands/actions.js')).actions as Handler,
    (c) =>
      c
        .argument('[action]', 'one action to describe in full')
        .addOption(listOutputOption()),
  );
  add(
    'plan <workflow_id>',
    'work out every command and request a run would make and save them, with the definition hash, parameters and config digest, for cortex run --plan',
    ['cortex plan app-deployment -p environment=production -o plan.json', 'cortex run --plan plan.json', 'cortex plan deploy-monitoring-stack --json | jq \'.phases[].actions[].steps\''],
    async () => (await import('./commands/plan.js')).plan as Handler,
    (c) =>
      c
        .option('-p, --param <key=value>', 'set a parameter (repeatable; dotted keys set nested properties)', collect, [])
        .option('--params-file <file>', 'parameters from a JSON or YAML file')
        .option('-o, --out <file>', 'save the plan to this file (mode 0600) for cortex run --plan'),
  );
  add(
    'run [workflow_id]',
    'run a workflow phase by phase, or a saved plan (exit 0 completed or awaiting approval, 1 failed, 3 already running or the plan is out of date)',
    [
      'cortex run deploy-monitoring-stack',
      'cortex run app-deployment -p environment=staging -p replicas=2',
      'cortex run security-incident-response --params-file incident.yaml',
      'cortex run build-k8s-cluster --dry-run',
      'cortex run --plan plan.json',
      'cortex run deploy-monitoring-stack --simulate --simulate-fail install-kube-prometheus-stack:1',
    ],
    async () => (await import('./commands/run.js')).run as Handler,
    (c) =>
      simulateOptions(
        c
          .option('-p, --param <key=value>', 'set a parameter (repeatable; dotted keys set nested properties)', collect, [])
          .option('--params-file <file>', 'parameters from a JSON or YAML file')
          .option('--dry-run', 'print every command and request it would make; change nothing')
          .option('--plan <file>', 'run a plan saved by cortex plan -o; refused (exit 3) if the definition, parameters or config changed since')
          .option('--debug', 'write full command lines and output tails to each contractor\'s debug.log')
          .option('--detach', 'queue mode: print the execution id once it is queued, do not follow it')
          .addOption(new Option('--trigger-info <json>', 'how the run was started (set by tick, trigger and serve)').hideHelp()),
      ),
  );
  const continueOptions = (c: Command) =>
    simulateOptions(c.option('-p, --param <key=value>', 'give a secret parameter again (secret values are not recorded)', collect, []).option('--debug', 'write debug.log for this run'));
  add(
    'resume <execution_id>',
    'continue a paused, interrupted or waiting execution from the first action that did not complete',
    ['cortex resume app-deployment-20261125T191154Z-1a2b', 'cortex resume <id> --retry-action deploy-app', 'cortex resume <id> --skip-action deploy-app'],
    async () => (await import('./commands/resume.js')).resume as Handler,
    (c) =>
      continueOptions(c)
        .option('--retry-action <action_id>', 'run again an action whose outcome is unknown (it was running when the process died), or the failed action that paused it')
        .option('--skip-action <action_id>', 'treat such an action as done and go on')
        .addOption(new Option('--ready-fd <fd>', 'write a line on this descriptor once the execution is held (set by serve, tick, trigger)').hideHelp()),
  );
  add(
    'rollback <execution_id>',
    'undo what an execution did: its rollback procedure, then the compensations of the completed actions, newest first',
    ['cortex rollback deploy-monitoring-stack-20261125T191154Z-1a2b', 'cortex rollback <id> --dry-run'],
    async () => (await import('./commands/rollback.js')).rollback as Handler,
    (c) => rollbackOnlyOptions(c, '').option('--dry-run', 'list the steps it would take'),
  );
  add(
    'approve <execution_id>',
    'approve the phase waiting for approval (or, with --action, a task for a person: its draft as is, or --data FILE) and continue',
    [
      'cortex approve <id> --comment "change window CHG-1234"',
      'cortex status <id>   # a waiting task shows its draft and the draft file',
      'cortex approve <id> --action review-findings',
      'cp <draft file> plan.yaml && $EDITOR plan.yaml && cortex approve <id> --action review-findings --data plan.yaml',
    ],
    async () => (await import('./commands/approve.js')).approve as Handler,
    (c) =>
      continueOptions(c)
        .option('--comment <text>', 'why (recorded in the execution and the audit trail)')
        .option('--action <action_id>', 'a task for a person instead of the phase approval (without --data: its draft as is)')
        .option('--data <file>', "that task's outputs from a JSON or YAML file, replacing the draft (checked before anything is recorded)")
        .option('--output <key=value>', 'one output of that task, over the draft or --data (repeatable; JSON values are parsed)', collect, []),
  );
  add(
    'reject <execution_id>',
    'reject the phase waiting for approval (the execution ends and what completed is rolled back), or a task for a person',
    ['cortex reject <id> --comment "not during the freeze"'],
    async () => (await import('./commands/approve.js')).reject as Handler,
    (c) => rollbackOnlyOptions(c, '').option('--comment <text>', 'why').option('--action <action_id>', 'reject a task for a person instead'),
  );
  add(
    'cancel <execution_id>',
    'stop an execution (in another process too) and record it cancelled',
    ['cortex cancel <id>', 'cortex cancel <id> --rollback'],
    async () => (await import('./commands/cancel.js')).cancel as Handler,
    (c) => rollbackOnlyOptions(c, ' (--rollback)').option('--rollback', 'then undo what it completed'),
  );
  add(
    'status [execution_id]',
    'active executions, or the phase/action tree of one execution',
    ['cortex status', 'cortex status deploy-monitoring-stack-20261125T191154Z-1a2b', 'cortex status -w <id>', 'cortex status -o wide', 'cortex status --json | jq .executions'],
    async () => (await import('./commands/status-watch.js')).statusOrWatch as Handler,
    (c) =>
      c
        .option('-w, --watch', 'refresh until the execution ends (without an id: until Ctrl-C)')
        .addOption(listOutputOption()),
  );
  add(
    'history [workflow_id]',
    'finished executions, newest first',
    ['cortex history', 'cortex history app-deployment --limit 5 --json', 'cortex history --status failed,rolled_back --since 7d -o wide', 'cortex history --workflow app-deployment -o name'],
    async () => (await import('./commands/history.js')).history as Handler,
    (c) =>
      c
        .option('--workflow <workflow_id>', 'only this workflow (as the argument)')
        .option('--status <status[,status]>', 'only executions that ended so: completed, failed, rolled_back, rollback_failed, cancelled')
        .option('--since <duration|time>', 'only executions started since: 30m, 2h, 7d, 2w, or 2026-11-25[T19:00:00Z]')
        .option('--limit <n>', 'how many, after the filters (default 20)')
        .addOption(listOutputOption()),
  );
  add(
    'logs <execution_id>',
    'contractor log lines of one execution',
    ['cortex logs deploy-monitoring-stack-20261125T191154Z-1a2b', 'cortex logs <id> --contractor talos-contractor --debug', 'cortex logs -f <id>'],
    async () => (await import('./commands/logs.js')).logs as Handler,
    (c) =>
      c
        .option('--contractor <name>', 'only this contractor')
        .option('--debug', 'include debug.log lines')
        .option('-f, --follow', 'then print new lines as they are written, until the execution ends (exit: the execution\'s) or Ctrl-C (130)'),
  );
  add(
    'metrics [workflow_id]',
    'per-workflow and per-contractor aggregates (also in Prometheus text format)',
    ['cortex metrics', 'cortex metrics --prometheus | promtool check metrics', 'cortex metrics --textfile /var/lib/prometheus/node-exporter/cortex.prom   # from cron, for node_exporter'],
    async () => (await import('./commands/metrics.js')).metrics as Handler,
    (c) =>
      c
        .option('--prometheus', 'Prometheus text exposition format')
        .option('--textfile <file.prom>', "write that format atomically to a file for node_exporter's textfile collector (mode 644)"),
  );
  add(
    'lab <show|reset>',
    'the --simulate lab: print its state (VMs, clusters, releases, requests received) or reset it',
    ['cortex lab show', 'cortex lab show --requests --json', 'cortex lab reset --lab /tmp/lab'],
    async () => (await import('./commands/lab.js')).lab as Handler,
    (c) => c.option('--lab <dir>', 'lab directory (default <root>/lab)').option('--requests', 'list every HTTP request the lab received'),
  );
  add(
    'doctor',
    'check the environment: tools and their versions, config, definitions, write access, stale locks, interrupted executions, expired approvals, secrets (exit 0 all well, 4 a problem)',
    ['cortex doctor', 'cortex doctor --json | jq \'.checks[] | select(.status != "ok")\'', 'CORTEX_PVESH="ssh root@pve01 pvesh" cortex doctor --timeout 10'],
    async () => (await import('./commands/doctor.js')).doctor as Handler,
    (c) => c.option('--timeout <seconds>', 'limit for each tool version check (default 5)'),
  );
  const runTargetOptions = (c: Command) =>
    c
      .option('--simulate', 'start the runs against the built-in lab (cortex run --simulate)')
      .option('--lab <dir>', 'lab directory of those runs (default <root>/lab)');
  add(
    'tick',
    'start the schedules that came due since the last tick, and expire approvals (cron runs this every minute)',
    ['cortex tick', 'cortex tick --now 2026-03-29T01:00:00Z --dry-run', 'cortex tick --json'],
    async () => (await import('./commands/tick.js')).tick as Handler,
    (c) =>
      runTargetOptions(
        c.option('--now <iso>', 'act as if it were this time (ISO 8601 with a zone)').option('--dry-run', 'show what would start; change nothing'),
      ),
  );
  add(
    'schedule <action>',
    'schedules: list (next runs in their time zone and UTC), install / uninstall the crontab block that runs cortex tick',
    ['cortex schedule list', 'cortex schedule list -o wide', 'cortex schedule list -o name', 'cortex schedule install', 'cortex schedule install --print', 'crontab -l', 'cortex schedule uninstall'],
    async () => (await import('./commands/schedule.js')).schedule as Handler,
    (c) =>
      c
        .addOption(listOutputOption())
        .option('--print', 'install: print the crontab block; change nothing')
        .option('--count <n>', 'list: how many next runs (default 3)')
        .option('--now <iso>', 'list: next runs after this time'),
  );
  add(
    'trigger',
    'match an event (Alertmanager, GitHub, Falco or generic JSON) against the triggers and start the matching runs',
    [
      'cortex trigger --source alertmanager --event alert.json',
      'cortex trigger --source github --github-event push --delivery 72d3162e --event push.json',
      'falco-output | cortex trigger --source falco --event -',
      'cortex trigger --source alertmanager --event alert.json --dry-run',
    ],
    async () => (await import('./commands/trigger.js')).trigger as Handler,
    (c) =>
      runTargetOptions(
        c
          .option('--source <source>', 'alertmanager, github, falco or generic')
          .option('--event <file>', 'the event payload (JSON); - reads stdin')
          .option('--github-event <name>', 'github: the X-GitHub-Event value (push, pull_request, ...)')
          .option('--delivery <id>', 'github: the X-GitHub-Delivery id; generic: an idempotency key (deduplicates)')
          .option('--path <path>', 'only the triggers with this webhook path')
          .option('--dry-run', 'show which triggers match and the parameters they would pass; start nothing')
          .option('--force', 'start even when this event was handled before'),
      ),
  );
  add(
    'serve',
    'HTTP receiver for Alertmanager, GitHub, Falco and generic webhooks: POST /webhook/<path> starts the matching runs',
    ['cortex serve', 'cortex serve --listen 0.0.0.0:8080', 'curl -s 127.0.0.1:8080/healthz'],
    async () => (await import('./commands/serve.js')).serve as Handler,
    (c) => runTargetOptions(c.option('--listen <host:port>', 'address to listen on (default config serve.listen, else 127.0.0.1:8080)')),
  );
  add(
    'version',
    'the cortex version, the git commit it was built from ("unknown" when built outside a checkout) and the Node.js version',
    ['cortex version', 'cortex version -o json'],
    async () => (await import('./commands/version.js')).version as Handler,
    (c) => c.addOption(new Option('-o, --output <format>', 'json or yaml').choices(['json', 'yaml'])),
  );
  add(
    'completion',
    'print the shell completion script (bash, zsh or fish): commands, flags, workflow ids and execution ids',
    ['source <(cortex completion bash)', 'cortex completion zsh > "${fpath[1]}/_cortex"', 'cortex completion fish > ~/.config/fish/completions/cortex.fish'],
    async () => (await import('./commands/completion.js')).completion as Handler,
    (c) => c.addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish'])),
  );
  add(
    'worker',
    'queue mode: take execution jobs (driven here; the coordination directory is shared by every worker) and contractor action jobs from the queue (config queue.url or CORTEX_QUEUE_URL)',
    ['CORTEX_QUEUE_URL=redis://127.0.0.1:6379/0 cortex worker', 'cortex worker --concurrency 8', 'cortex worker --contractor infrastructure-contractor'],
    async () => (await import('./commands/worker.js')).worker as Handler,
    (c) =>
      c
        .option('--concurrency <n>', 'jobs run at once by this worker, per queue (default 4)')
        .option('--contractor <name...>', "take only this contractor's action jobs, run with this host's tools and secrets (no coordination directory); repeatable")
        .option('--executions', 'take execution jobs (alone: no action jobs; with --contractor: as well)'),
  );
  add(
    'workers',
    'queue mode: the workers connected to the queue now (host, pid, what they take)',
    ['cortex workers', 'cortex workers --json'],
    async () => (await import('./commands/workers.js')).workers,
  );
  add(
    'init [dir]',
    'create a coordination directory with the built-in workflows and a default config',
    ['cortex init ~/ops/coordination', 'cortex init ~/ops/coordination --force'],
    async () => (await import('./commands/init.js')).init as Handler,
    (c) => c.option('--force', 'write every built-in afresh: overwrite existing copies and recreate the ones you removed'),
  );
  return program;
}

/** Parses argv, runs one command, and returns the exit code (never throws). */
export async function runCli(io: CliIO): Promise<number> {
  // What the completion scripts call on Tab: the words are whatever was typed, so commander
  // must not parse them. Candidates one a line; never an error message.
  if (io.argv[0] === '__complete') {
    try {
      const { complete } = await import('./completion.js');
      const found = await complete(buildProgram(io, async () => undefined), io.argv.slice(1), { env: io.env, cwd: io.cwd, home: io.home });
      if (found.length) sinkFor(io.stdout).write(`${found.join('\n')}\n`);
    } catch {
      // A completion that cannot be computed offers nothing (the shell falls back to files).
    }
    return ExitCode.OK;
  }
  const run: CommandRun = { globals: {}, isJson: false };
  return withInterrupts(async (signal) => {
    let exitCode: number = ExitCode.OK;
    const program = buildProgram(io, async (handler, args, cmd) => {
      const globals = cmd.optsWithGlobals() as GlobalOptions;
      exitCode = await runHandler(io, run, { name: cmd.name(), globals, opts: cmd.opts(), args, handler }, signal);
    });
    try {
      await program.parseAsync(io.argv, { from: 'user' });
    } catch (e) {
      if (e instanceof CommanderError) {
        if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return ExitCode.OK;
        if (e.code === 'commander.executeSubCommandAsync') return ExitCode.OK;
        if (io.argv.includes('--json')) {
          // The same shape as every other error under --json; commander's text without its "error: ",
          // its suggestion ("(Did you mean logs?)") as the hint.
          const [message = '', ...rest] = e.message.replace(/^error: /, '').split('\n');
          const suggestion = rest.join(' ').replace(/^\((.*)\)$/, '$1').trim();
          const body = { code: 'CORTEX_USAGE', message, exit_code: ExitCode.INVALID_INPUT, hint: suggestion || 'cortex <command> --help' };
          sinkFor(io.stderr).write(`${JSON.stringify({ error: body })}\n`);
        }
        return ExitCode.INVALID_INPUT;
      }
      return reportCommandError(e, io, run);
    }
    return exitCode;
  });
}

export { Option, formatIssue };
