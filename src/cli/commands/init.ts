import { resolve } from 'node:path';
import { ExitCode, UsageError } from '../../errors.js';
import { seedRoot } from '../../root.js';
import type { CommandContext } from '../context.js';

/** `cortex init [DIR]`: a coordination directory seeded with the built-in workflows. */
export async function init(ctx: CommandContext, args: unknown[]): Promise<number> {
  const dir = args[0] !== undefined ? resolve(ctx.cwd, args[0] as string) : ctx.root.dir;
  if (dir.split(/[\\/]/).includes('node_modules')) {
    throw new UsageError(`refusing to write into an installed package (${dir})`, { hint: 'give a directory of your own: cortex init ~/.cortex' });
  }
  const written = await seedRoot(dir);
  if (ctx.out.json) ctx.out.data({ root: dir, written });
  else {
    ctx.out.line(`coordination directory: ${dir}`);
    for (const w of written) ctx.out.line(`  created ${w}`);
    if (written.length === 0) ctx.out.line('  already initialised; nothing changed');
    ctx.out.line(`use it with --root ${dir} or CORTEX_HOME=${dir}`);
  }
  return ExitCode.OK;
}
