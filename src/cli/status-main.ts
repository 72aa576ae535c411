// `cortex status` in its plain forms (fast-status.ts), started from the process: what main.ts does
// for such a command line. It is also the entry of the one-file bundle of the status path that
// bin/cortex.js runs while it is fresh (scripts/build-bundles.mjs), so both ways of starting
// cortex run this same code. Like main.ts, it reads the process's arguments and environment.
import { homedir } from 'node:os';
import { closeHungUpTerminalsAtExit } from './hangup.js';
import { parseFastStatus, runFastStatus } from './fast-status.js';
import type { CliIO } from './run-command.js';

/** The command's view of this process. */
export function processIO(argv: string[]): CliIO {
  return { argv, env: process.env, cwd: process.cwd(), home: homedir(), stdout: process.stdout, stderr: process.stderr };
}

/**
 * Runs `cortex status` when `argv` (the arguments after the script) is one of the plain forms
 * fast-status.ts takes: the exit code (never throws). Undefined, with nothing done, for any other
 * command line.
 */
export function startFastStatus(argv: string[]): Promise<number> | undefined {
  const parsed = parseFastStatus(argv);
  if (!parsed) return undefined;
  closeHungUpTerminalsAtExit();
  return runFastStatus(processIO(argv), parsed);
}
