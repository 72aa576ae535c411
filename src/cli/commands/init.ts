import { resolve } from 'node:path';
import { ExitCode, UsageError } from '../../errors.js';
import { INIT_MARKER, seedRoot } from '../../root.js';
import type { CommandContext } from '../context.js';

/**
 * `cortex init [DIR] [--force]`: a coordination directory seeded with the built-in workflows.
 * Run again, it adds only built-ins it never wrote there: no file is overwritten and no built-in
 * the operator removed comes back (with its triggers) unless --force.
 */
export async function init(ctx: CommandContext, args: unknown[], opts: { force?: boolean } = {}): Promise<number> {
  const dir = args[0] !== undefined ? resolve(ctx.cwd, args[0] as string) : ctx.root.dir;
  if (dir.split(/[\\/]/).includes('node_modules')) {
    throw new UsageError(`refusing to write into an installed package (${dir})`, { hint: 'give a directory of your own: cortex init ~/.cortex' });
  }
  const result = await seedRoot(dir, { force: Boolean(opts.force) });
  if (ctx.out.json) ctx.out.data({ root: dir, written: result.written, kept: result.kept, not_restored: result.notRestored });
  else {
    ctx.out.line(`coordination directory: ${dir}`);
    for (const w of result.written) ctx.out.line(`  created ${w}`);
    if (result.written.length === 0) ctx.out.line('  already initialised; nothing changed');
    if (result.notRestored.length) {
      ctx.out.line(`  not recreated (removed since init wrote them, or not recorded in ${INIT_MARKER}): ${result.notRestored.join(', ')}`);
      ctx.out.line('  cortex init --force writes every built-in afresh (overwriting your copies)');
    }
    ctx.out.line(`use it with --root ${dir} or CORTEX_HOME=${dir}`);
  }
  return ExitCode.OK;
}
