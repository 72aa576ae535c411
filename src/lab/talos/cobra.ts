/**
 * A small cobra/pflag look-alike for the stand-in CLIs: the same accepted forms (`--f v`,
 * `--f=v`, `-f v`, `-fv`, `-f=v`, bool flags with optional `=true|false`, `--` ends flags, flags
 * between positionals) and the same error texts (`unknown flag: --foo`, `unknown shorthand flag:
 * 'x' in -x`, `flag needs an argument: --file`, `invalid argument ...`).
 */

export type FlagType = 'bool' | 'string' | 'strings' | 'stringArray' | 'duration' | 'int';

export interface FlagSpec {
  name: string;
  short?: string;
  type: FlagType;
  default?: string | boolean | number | string[];
  /** pflag NoOptDefVal: the value of a bare `--flag` for a non-bool flag (helm 4 `--wait`). */
  noOptValue?: string;
  /** Printed as `Flag --x has been deprecated, <message>` on stderr when used. */
  deprecated?: string;
  usage?: string;
  hidden?: boolean;
  /** Checks a string value; returns an error text (after `invalid argument "v" for "--flag" flag: `). */
  validate?: (value: string) => string | undefined;
}

export class UsageError extends Error {}

export interface Parsed {
  values: Map<string, unknown>;
  /** Flags given on the command line. */
  set: Set<string>;
  positionals: string[];
  warnings: string[];
}

/** Go time.ParseDuration, in milliseconds. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let pos = 0;
  const sign = text.startsWith('-') ? -1 : 1;
  const body = text.replace(/^[+-]/, '');
  if (!body) return undefined;
  re.lastIndex = 0;
  while (pos < body.length) {
    re.lastIndex = pos;
    const m = re.exec(body);
    if (!m || m.index !== pos) return undefined;
    total += Number(m[1]) * (unit[m[2] as string] as number);
    pos = re.lastIndex;
  }
  return sign * total;
}

function convert(spec: FlagSpec, raw: string, shown: string): unknown {
  const bad = (why: string) => new UsageError(`invalid argument "${raw}" for "${shown}" flag: ${why}`);
  switch (spec.type) {
    case 'bool': {
      if (/^(1|t|T|TRUE|true|True)$/.test(raw)) return true;
      if (/^(0|f|F|FALSE|false|False)$/.test(raw)) return false;
      throw bad(`strconv.ParseBool: parsing "${raw}": invalid syntax`);
    }
    case 'int': {
      if (!/^[+-]?\d+$/.test(raw)) throw bad(`strconv.ParseInt: parsing "${raw}": invalid syntax`);
      return Number(raw);
    }
    case 'duration': {
      const ms = parseGoDuration(raw);
      if (ms === undefined) throw bad(/^\d+$/.test(raw) ? `time: missing unit in duration "${raw}"` : `time: invalid duration "${raw}"`);
      return ms;
    }
    default: {
      const why = spec.validate?.(raw);
      if (why) throw bad(why);
      return raw;
    }
  }
}

function shownName(spec: FlagSpec): string {
  return spec.short ? `-${spec.short}, --${spec.name}` : `--${spec.name}`;
}

function assign(p: Parsed, spec: FlagSpec, raw: string): void {
  const value = convert(spec, raw, shownName(spec));
  if (spec.type === 'strings' || spec.type === 'stringArray') {
    const prev = p.set.has(spec.name) ? ((p.values.get(spec.name) as string[]) ?? []) : [];
    const add = spec.type === 'strings' ? raw.split(',').filter((s) => s !== '') : [raw];
    p.values.set(spec.name, [...prev, ...add]);
  } else {
    p.values.set(spec.name, value);
  }
  if (spec.deprecated && !p.set.has(spec.name)) p.warnings.push(`Flag --${spec.name} has been deprecated, ${spec.deprecated}`);
  p.set.add(spec.name);
}

/** Parses argv against the flags a command accepts (its own and the inherited ones). */
export function parseFlags(args: readonly string[], specs: readonly FlagSpec[]): Parsed {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short as string, s]));
  const p: Parsed = { values: new Map(), set: new Set(), positionals: [], warnings: [] };
  for (const s of specs) if (s.default !== undefined) p.values.set(s.name, s.default);
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') {
      p.positionals.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const spec = byName.get(name);
      if (!spec) throw new UsageError(`unknown flag: --${name}`);
      if (eq >= 0) assign(p, spec, a.slice(eq + 1));
      else if (spec.type === 'bool') assign(p, spec, 'true');
      else if (spec.noOptValue !== undefined) assign(p, spec, spec.noOptValue);
      else if (i + 1 < args.length) assign(p, spec, args[++i] as string);
      else throw new UsageError(`flag needs an argument: --${name}`);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      // Shorthand: -n 1.2.3.4, -n1.2.3.4, -n=1.2.3.4, -iv (bools combined).
      let j = 1;
      while (j < a.length) {
        const c = a[j] as string;
        const spec = byShort.get(c);
        if (!spec) throw new UsageError(`unknown shorthand flag: '${c}' in ${a}`);
        const rest = a.slice(j + 1);
        if (spec.type === 'bool') {
          if (rest.startsWith('=')) {
            assign(p, spec, rest.slice(1));
            break;
          }
          assign(p, spec, 'true');
          j++;
          continue;
        }
        if (rest.length > 0) assign(p, spec, rest.startsWith('=') ? rest.slice(1) : rest);
        else if (spec.noOptValue !== undefined) assign(p, spec, spec.noOptValue);
        else if (i + 1 < args.length) assign(p, spec, args[++i] as string);
        else throw new UsageError(`flag needs an argument: '${c}' in -${c}`);
        break;
      }
      continue;
    }
    p.positionals.push(a);
  }
  return p;
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values.get(name);
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function list(p: Parsed, name: string): string[] {
  const v = p.values.get(name);
  return Array.isArray(v) ? (v as string[]) : [];
}

export function bool(p: Parsed, name: string): boolean {
  return p.values.get(name) === true;
}

export function ms(p: Parsed, name: string): number {
  const v = p.values.get(name);
  return typeof v === 'number' ? v : 0;
}

function typeWord(s: FlagSpec): string {
  switch (s.type) {
    case 'bool':
      return '';
    case 'strings':
    case 'stringArray':
      return 'strings';
    case 'duration':
      return 'duration';
    case 'int':
      return 'int';
    default:
      return 'string';
  }
}

function flagLines(specs: readonly FlagSpec[]): string[] {
  const rows = specs
    .filter((s) => !s.hidden && !s.deprecated)
    .map((s) => {
      const left = `${s.short ? `-${s.short}, ` : '    '}--${s.name}${typeWord(s) ? ` ${typeWord(s)}` : ''}`;
      const def = s.default !== undefined && s.default !== '' && s.default !== false && !(Array.isArray(s.default) && s.default.length === 0) ? ` (default ${typeof s.default === 'string' ? `"${s.default}"` : Array.isArray(s.default) ? `[${s.default.join(',')}]` : String(s.default)})` : '';
      return [left, `${s.usage ?? ''}${def}`] as const;
    });
  const width = Math.max(0, ...rows.map(([l]) => l.length));
  return rows.map(([l, r]) => `  ${l.padEnd(width)}   ${r}`.trimEnd());
}

/** cobra's usage template (UsageString) for a command. */
export function usageText(o: { path: string; use: string; flags: readonly FlagSpec[]; globals: readonly FlagSpec[]; subcommands?: Array<[string, string]>; aliases?: string[] }): string {
  const out = ['Usage:'];
  if (o.subcommands && o.subcommands.length > 0) out.push(`  ${o.path} [command]`);
  else out.push(`  ${o.path.split(' ').slice(0, -1).concat(o.use).join(' ').trim()}`);
  if (o.aliases?.length) out.push('', 'Aliases:', `  ${[o.path.split(' ').pop(), ...o.aliases].join(', ')}`);
  if (o.subcommands && o.subcommands.length > 0) {
    const w = Math.max(...o.subcommands.map(([n]) => n.length));
    out.push('', 'Available Commands:', ...o.subcommands.map(([n, d]) => `  ${n.padEnd(w)} ${d}`));
  }
  const own = [...o.flags, { name: 'help', short: 'h', type: 'bool' as const, usage: `help for ${o.path.split(' ').pop()}` }];
  out.push('', 'Flags:', ...flagLines(own));
  if (o.globals.length > 0) out.push('', 'Global Flags:', ...flagLines(o.globals));
  if (o.subcommands && o.subcommands.length > 0) out.push('', `Use "${o.path} [command] --help" for more information about a command.`);
  return `${out.join('\n')}\n`;
}
