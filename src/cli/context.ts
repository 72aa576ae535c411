import type { Output } from './output.js';
import type { ResolvedRoot } from '../root.js';
import type { DefinitionsMemo } from '../definitions/memo.js';

/** What every command receives: the resolved root, output and the process facts main.ts read. */
export interface CommandContext {
  root: ResolvedRoot;
  out: Output;
  env: Record<string, string | undefined>;
  cwd: string;
  argv: readonly string[];
  /** The command being run (run, resume, ...). */
  command: string;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  /** A long-lived command (serve): keeps what is loaded from unchanged definition files. */
  definitions?: DefinitionsMemo;
}
