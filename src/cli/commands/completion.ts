import { ExitCode, UsageError } from '../../errors.js';
import type { CommandContext } from '../context.js';
import { completionScript, SHELLS, type Shell } from '../completion.js';

/** `cortex completion bash|zsh|fish`: the script that makes the shell complete cortex. */
export async function completion(ctx: CommandContext, args: unknown[]): Promise<number> {
  const shell = args[0] as string;
  if (!(SHELLS as readonly string[]).includes(shell)) throw new UsageError(`completion: no script for ${shell}; give one of ${SHELLS.join(', ')}`);
  ctx.out.stdout.write(completionScript(shell as Shell));
  return ExitCode.OK;
}
