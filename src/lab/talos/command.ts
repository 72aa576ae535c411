import type { CallContext } from '../lab-dir.js';
import type { FlagSpec, Parsed } from './cobra.js';
import type { LabKube } from './kube-api.js';

/** Shared shapes of the talosctl stand-in commands. */
export interface StandInResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** A failure talosctl reports on stderr (exit 1). `usage` adds the command's usage text. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly usage = false,
  ) {
    super(message);
  }
}

export interface Io {
  out: string[];
  err: string[];
}

export interface Ctx {
  call: CallContext;
  lab: string;
  p: Parsed;
  io: Io;
  env: NodeJS.ProcessEnv;
  kube: LabKube | undefined;
  cwd: string;
}

export interface Command {
  path: string;
  use: string;
  short: string;
  aliases?: string[];
  flags: FlagSpec[];
  /** Checks the positional arguments; returns cobra's error text. */
  args?: (n: number) => string | undefined;
  /** Local commands (gen, config) never reach a node, so failure injection does not apply. */
  local?: boolean;
  run(ctx: Ctx): Promise<void>;
}

export const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'cluster', type: 'string', usage: 'Cluster to connect to if a proxy endpoint is used.' },
  { name: 'context', type: 'string', usage: 'Context to be used in command' },
  { name: 'endpoints', short: 'e', type: 'strings', default: [], usage: 'override default endpoints in Talos configuration' },
  { name: 'nodes', short: 'n', type: 'strings', default: [], usage: 'target the specified nodes' },
  { name: 'talosconfig', type: 'string', usage: "The path to the Talos configuration file. Defaults to 'TALOSCONFIG' env variable if set, otherwise '$HOME/.talos/config' and '/var/run/secrets/talos.dev/config' in order." },
];

export const exactArgs = (n: number) => (got: number) => (got === n ? undefined : `accepts ${n} arg(s), received ${got}`);
export const noArgs = (got: number) => (got === 0 ? undefined : `accepts 0 arg(s), received ${got}`);
export const maxArgs = (n: number) => (got: number) => (got <= n ? undefined : `accepts at most ${n} arg(s), received ${got}`);

export function delay(msec: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, msec)));
}

export function unavailable(host: string, how = 'connection refused'): string {
  return `rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp ${host}:50000: connect: ${how}"`;
}

