import { ExitCode } from '../../errors.js';
import type { CommandContext } from '../context.js';
import { printStructured, listFormat } from '../render/format.js';
import { versionInfo, versionLine } from '../version.js';

/** `cortex version [-o json|yaml]`: the package version, the commit it was built from, and Node's version. */
export async function version(ctx: CommandContext, _args: unknown[], opts: { output?: string }): Promise<number> {
  const info = versionInfo();
  const format = listFormat(ctx.out, opts, ['json', 'yaml']);
  if (format === 'json' || format === 'yaml') await printStructured(ctx.out, format, info);
  else ctx.out.line(versionLine(info));
  return ExitCode.OK;
}
