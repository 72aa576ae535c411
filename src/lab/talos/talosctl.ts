import { callContextFromEnv, latencyMs, recordInvocation, shouldFail, type CallContext } from '../lab-dir.js';
import { bool, list, parseFlags, UsageError, usageText, type Parsed } from './cobra.js';
import { labKube } from './kube-api.js';
import { readTalos } from './state.js';
import { CommandError, delay, GLOBAL_FLAGS, unavailable, type Command, type Ctx, type Io, type StandInResult } from './command.js';
import { genConfigCmd, genSecretsCmd } from './gen.js';
import { applyConfigCmd, bootstrapCmd, etcdMembersCmd, etcdSnapshotCmd, getCmd, healthCmd, kubeconfigCmd, resetCmd, rollbackCmd, upgradeCmd, versionCmd } from './node-commands.js';

const GROUPS: Record<string, { short: string; commands: Record<string, Command> }> = {
  gen: { short: 'Generate CAs, certificates, and private keys', commands: { config: genConfigCmd, secrets: genSecretsCmd } },
  etcd: { short: 'Manage etcd', commands: { snapshot: etcdSnapshotCmd, members: etcdMembersCmd } },
};

const COMMANDS: Record<string, Command> = {
  'apply-config': applyConfigCmd,
  apply: applyConfigCmd,
  bootstrap: bootstrapCmd,
  health: healthCmd,
  kubeconfig: kubeconfigCmd,
  upgrade: upgradeCmd,
  rollback: rollbackCmd,
  reset: resetCmd,
  version: versionCmd,
  get: getCmd,
  g: getCmd,
};

const ROOT_COMMANDS: Array<[string, string]> = [
  ['apply-config', 'Apply a new configuration to a node'],
  ['bootstrap', 'Bootstrap the etcd cluster on the specified node.'],
  ['etcd', 'Manage etcd'],
  ['gen', 'Generate CAs, certificates, and private keys'],
  ['get', "Get a specific resource or list of resources (use 'talosctl get rd' to see all available resource types)."],
  ['health', 'Check cluster health'],
  ['kubeconfig', 'Download the admin kubeconfig from the node'],
  ['reset', 'Reset a node'],
  ['rollback', 'Rollback a node to the previous installation'],
  ['upgrade', 'Upgrade Talos on the target node'],
  ['version', 'Prints the version'],
];

/** Indexes of the command words in argv (global flags and their values may come first). */
function commandWords(argv: readonly string[], depth: number): number[] {
  const valued = new Set(['--talosconfig', '--context', '--nodes', '--endpoints', '--cluster', '-n', '-e']);
  const out: number[] = [];
  for (let i = 0; i < argv.length && out.length < depth; i++) {
    const a = argv[i] as string;
    if (a === '--') break;
    if (a.startsWith('-')) {
      if (valued.has(a)) i++;
      continue;
    }
    out.push(i);
  }
  return out;
}

function rootUsage(): string {
  return usageText({ path: 'talosctl', use: 'talosctl', flags: [], globals: GLOBAL_FLAGS, subcommands: ROOT_COMMANDS });
}

function commandUsage(cmd: Command): string {
  return usageText({ path: cmd.path, use: cmd.use, flags: cmd.flags, globals: GLOBAL_FLAGS, ...(cmd.aliases ? { aliases: cmd.aliases } : {}) });
}

/** Runs one talosctl invocation against the lab state. Never throws. */
export async function runTalosctl(argv: readonly string[], env: NodeJS.ProcessEnv, options: { cwd?: string; kubeUrl?: string } = {}): Promise<StandInResult> {
  const io: Io = { out: [], err: [] };
  const finish = (code: number): StandInResult => ({
    stdout: io.out.length > 0 ? `${io.out.join('\n')}\n` : '',
    stderr: io.err.length > 0 ? `${io.err.join('\n')}\n` : '',
    exitCode: code,
  });
  let call: CallContext;
  try {
    call = callContextFromEnv(env);
  } catch (e) {
    io.err.push((e as Error).message);
    return finish(1);
  }
  recordInvocation(call, 'talosctl', argv);
  const words = commandWords(argv, 2);
  const first = words[0] !== undefined ? (argv[words[0]] as string) : undefined;
  let cmd: Command | undefined;
  let used = words.slice(0, 1);
  if (first === undefined) {
    if (argv.includes('-h') || argv.includes('--help')) {
      io.out.push(rootUsage().trimEnd());
      return finish(0);
    }
    io.err.push(`A CLI for out-of-band management of Kubernetes nodes created by Talos\n\n${rootUsage().trimEnd()}`);
    return finish(0);
  }
  const group = GROUPS[first];
  if (group) {
    const sub = words[1] !== undefined ? (argv[words[1]] as string) : undefined;
    cmd = sub ? group.commands[sub] : undefined;
    used = words.slice(0, 2);
    if (!cmd) {
      const usage = usageText({ path: `talosctl ${first}`, use: first, flags: first === 'gen' ? [{ name: 'force', short: 'f', type: 'bool', usage: 'will overwrite existing files' }] : [], globals: GLOBAL_FLAGS, subcommands: Object.entries(group.commands).map(([n, c]) => [n, c.short]) });
      if (!sub) {
        io.out.push(`${group.short}\n\n${usage.trimEnd()}`);
        return finish(0);
      }
      io.err.push(`unknown command "${sub}" for "talosctl ${first}"`, '', usage.trimEnd());
      return finish(1);
    }
  } else {
    cmd = COMMANDS[first];
    if (!cmd) {
      io.err.push(`unknown command "${first}" for "talosctl"`, '', rootUsage().trimEnd());
      return finish(1);
    }
  }
  const rest = argv.filter((_, i) => !used.includes(i));
  const flags = [...cmd.flags, ...(group && first === 'gen' ? [{ name: 'force', short: 'f', type: 'bool' as const, usage: 'will overwrite existing files' }] : []), ...GLOBAL_FLAGS, { name: 'help', short: 'h', type: 'bool' as const }];
  let p: Parsed;
  try {
    p = parseFlags(rest, flags);
    if (bool(p, 'help')) {
      io.out.push(`${cmd.short}\n\n${commandUsage(cmd).trimEnd()}`);
      return finish(0);
    }
    const argErr = cmd.args?.(p.positionals.length);
    if (argErr) throw new UsageError(argErr);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err.push(e.message, '', commandUsage(cmd).trimEnd());
    return finish(1);
  }
  io.err.push(...p.warnings);
  const ctx: Ctx = { call, lab: call.lab, p, io, env, kube: labKube(call, options.kubeUrl), cwd: options.cwd ?? process.cwd() };
  try {
    if (!cmd.local && cmd !== versionCmd && cmd !== getCmd && shouldFail(call.lab, call.actionId, call.attempt)) {
      const node = list(p, 'nodes')[0] ?? list(p, 'endpoints')[0] ?? '127.0.0.1';
      await delay(latencyMs(call.lab, 20));
      throw new CommandError(`${failurePrefix(cmd, node)}${unavailable(node)}`);
    }
    await cmd.run(ctx);
    return finish(0);
  } catch (e) {
    if (!(e instanceof CommandError)) {
      io.err.push(`${(e as Error).message}`);
      return finish(1);
    }
    io.err.push(e.message);
    if (e.usage) io.err.push('', commandUsage(cmd).trimEnd());
    return finish(1);
  }
}

function failurePrefix(cmd: Command, node: string): string {
  switch (cmd) {
    case bootstrapCmd:
      return 'error executing bootstrap: ';
    case applyConfigCmd:
      return 'error applying new configuration: ';
    case kubeconfigCmd:
      return 'error copying: ';
    case etcdSnapshotCmd:
      return 'error reading file: ';
    case upgradeCmd:
      return 'error during upgrade: ';
    case rollbackCmd:
      return `error executing rollback on node ${node}: `;
    case resetCmd:
      return 'error executing reset: ';
    case healthCmd:
      return 'healthcheck error: ';
    default:
      return '';
  }
}

export { readTalos };
