import { existsSync } from 'node:fs';
import { callContextFromEnv, latencyMs, recordInvocation, shouldFail, type CallContext } from '../lab-dir.js';
import { parseFlags, str, UsageError, type Parsed } from '../talos/cobra.js';
import { labKube } from '../talos/kube-api.js';
import type { StandInResult } from '../talos/command.js';
import { delay, globalFlags, HelmError, type HelmCommand, type HelmCtx } from './common.js';
import { installCommand, upgradeCommand } from './install.js';
import { historyCommand, listCommand, repoCommand, rollbackCommand, statusCommand, uninstallCommand, versionCommand } from './releases.js';
import { helmMajorOf, helmMinorOf, readHelm } from './state.js';

const COMMANDS: HelmCommand[] = [upgradeCommand, installCommand, uninstallCommand, rollbackCommand, statusCommand, historyCommand, listCommand, versionCommand, repoCommand];

function find(word: string): HelmCommand | undefined {
  return COMMANDS.find((c) => c.name === word || c.aliases?.includes(word));
}

/** Index of the command word (global flags with values may come first). */
function commandIndex(argv: readonly string[], valued: Set<string>): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') return -1;
    if (a.startsWith('-')) {
      if (valued.has(a)) i++;
      continue;
    }
    return i;
  }
  return -1;
}

/** What a mutating command prints when --simulate-fail targets it. */
function injectedFailure(cmd: HelmCommand): string {
  switch (cmd.name) {
    case 'upgrade':
      return 'UPGRADE FAILED: context deadline exceeded';
    case 'install':
      return 'INSTALLATION FAILED: context deadline exceeded';
    case 'uninstall':
      return 'uninstallation completed with 1 error(s): context deadline exceeded';
    default:
      return 'context deadline exceeded';
  }
}

/** Runs one helm invocation against the lab state and API server. Never throws. */
export async function runHelm(argv: readonly string[], env: NodeJS.ProcessEnv, options: { cwd?: string; stdin?: () => string; kubeUrl?: string } = {}): Promise<StandInResult> {
  const out: string[] = [];
  const err: string[] = [];
  const finish = (code: number): StandInResult => ({ stdout: out.length > 0 ? `${out.join('\n')}\n` : '', stderr: err.length > 0 ? `${err.join('\n')}\n` : '', exitCode: code });
  let call: CallContext;
  try {
    call = callContextFromEnv(env);
  } catch (e) {
    err.push(`Error: ${(e as Error).message}`);
    return finish(1);
  }
  recordInvocation(call, 'helm', argv);
  const state = readHelm(call.lab);
  const major = helmMajorOf(state);
  const minor = helmMinorOf(state);
  const globals = globalFlags(major);
  const valued = new Set(globals.filter((g) => g.type !== 'bool').flatMap((g) => [`--${g.name}`, ...(g.short ? [`-${g.short}`] : [])]));
  const idx = commandIndex(argv, valued);
  if (idx < 0) {
    if (argv.some((a) => a === '-h' || a === '--help') || argv.length === 0) {
      out.push('The Kubernetes package manager', '', 'Usage:', '  helm [command]');
      return finish(0);
    }
  }
  const word = idx >= 0 ? (argv[idx] as string) : '';
  const cmd = find(word);
  if (!cmd) {
    err.push(`Error: unknown command "${word}" for "helm"`, "Run 'helm --help' for usage.");
    return finish(1);
  }
  let p: Parsed;
  try {
    p = parseFlags(
      argv.filter((_, i) => i !== idx),
      [...cmd.flags(major, minor), ...globals, { name: 'help', short: 'h', type: 'bool' }],
    );
    if (p.values.get('help') === true) {
      out.push(`Usage:\n  helm ${cmd.use}`);
      return finish(0);
    }
    const argErr = cmd.args?.(p.positionals.length);
    if (argErr) throw new UsageError(argErr);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    // helm sets SilenceUsage: a flag or argument error is one `Error:` line.
    err.push(`Error: ${e.message}`);
    return finish(1);
  }
  err.push(...p.warnings);
  const ctx: HelmCtx = {
    call,
    lab: call.lab,
    p,
    out,
    err,
    kube: labKube(call, options.kubeUrl),
    cwd: options.cwd ?? process.cwd(),
    stdin: options.stdin ?? (() => ''),
    major,
    minor,
  };
  try {
    const kubeconfig = str(p, 'kubeconfig');
    if (cmd.cluster && kubeconfig && !existsSync(kubeconfig)) throw new HelmError(`Kubernetes cluster unreachable: stat ${kubeconfig}: no such file or directory`);
    if (cmd.mutating && cmd !== upgradeCommand && cmd !== installCommand && shouldFail(call.lab, call.actionId, call.attempt)) {
      await delay(latencyMs(call.lab, 30));
      throw new HelmError(injectedFailure(cmd));
    }
    await cmd.run(ctx);
    return finish(0);
  } catch (e) {
    err.push(`Error: ${(e as Error).message}`);
    return finish(1);
  }
}
