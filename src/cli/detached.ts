import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CommandContext } from './context.js';

/** The cortex entry point of this installation (dist/cli/main.js). */
export const CLI_ENTRY = fileURLToPath(new URL('./main.js', import.meta.url));

/** Starts `cortex <args>` on the same root as a detached process that outlives this one. */
export function spawnDetached(ctx: CommandContext, args: string[]): number | undefined {
  const child = spawn(process.execPath, [CLI_ENTRY, '--root', ctx.root.dir, ...args], {
    detached: true,
    stdio: 'ignore',
    cwd: ctx.cwd,
    env: { ...(ctx.env as NodeJS.ProcessEnv), NO_COLOR: '1' },
  });
  child.unref();
  return child.pid;
}
