import { UsageError } from '../../errors.js';
import type { Output } from '../output.js';

/** `-o` of the listing commands: table (the default), json, yaml, wide (more columns), name (ids only). */
export type ListFormat = 'table' | 'json' | 'yaml' | 'wide' | 'name';

/** The format asked for with `-o` (or `--json`), checked against what the command offers (exit 2 otherwise). */
export function listFormat(out: Output, opts: { output?: string }, offered: ReadonlyArray<Exclude<ListFormat, 'table'>>): ListFormat {
  const asked = opts.output;
  if (asked === undefined) return out.json ? 'json' : 'table';
  if (asked !== 'table' && !(offered as readonly string[]).includes(asked)) {
    throw new UsageError(`-o ${asked}: this command prints table (the default), ${offered.join(', ')}`);
  }
  // --json is -o json: any other -o beside it is a contradiction.
  if (out.json && asked !== 'json') throw new UsageError(`--json and -o ${asked} ask for two formats: give one`);
  return asked as ListFormat;
}

/** A value as JSON (the `--json` shape) or the same value as YAML. */
export async function printStructured(out: Output, format: 'json' | 'yaml', value: unknown): Promise<void> {
  if (format === 'json') {
    out.data(value);
    return;
  }
  const { stringify } = await import('yaml');
  out.line(stringify(value, { lineWidth: 0, aliasDuplicateObjects: false }).trimEnd());
}
