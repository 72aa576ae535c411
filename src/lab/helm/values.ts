import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';

/** helm's coalescing of values: maps merge deeply, anything else is replaced. */
export function mergeValues(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? mergeValues(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

function typed(raw: string): unknown {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (raw === 'null') return null;
  if (/^-?(0|[1-9]\d*)$/.test(raw) && Number.isSafeInteger(Number(raw))) return Number(raw);
  return raw;
}

/** `--set a.b=1,c=x` (strvals, without list indexes): typed unless asString. */
export function parseSet(expr: string, asString: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const part of expr.split(/,(?=[^,=]+=)/)) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new Error(`key "${part}" has no value`);
    const keys = part.slice(0, eq).split('.');
    let cur = out;
    for (const k of keys.slice(0, -1)) cur = (cur[k] ??= {}) as Record<string, unknown>;
    const raw = part.slice(eq + 1);
    cur[keys[keys.length - 1] as string] = asString ? raw : typed(raw);
  }
  return out;
}

/** Values from -f files (`-` is stdin) and --set/--set-string, in helm's order. */
export function collectValues(files: readonly string[], sets: readonly string[], setStrings: readonly string[], stdin: () => string, cwd: string): Record<string, unknown> {
  let values: Record<string, unknown> = {};
  for (const f of files) {
    let text: string;
    if (f === '-') text = stdin();
    else {
      try {
        text = readFileSync(resolve(cwd, f), 'utf8');
      } catch {
        throw new Error(`open ${f}: no such file or directory`);
      }
    }
    let doc: unknown;
    try {
      doc = parse(text);
    } catch (e) {
      throw new Error(`failed to parse ${f}: error converting YAML to JSON: ${(e as Error).message.split('\n')[0]}`, { cause: e });
    }
    if (doc !== null && doc !== undefined) {
      if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`failed to parse ${f}: error unmarshaling JSON: json: cannot unmarshal array into Go value of type map[string]interface {}`);
      values = mergeValues(values, doc as Record<string, unknown>);
    }
  }
  for (const s of sets) values = mergeValues(values, parseSet(s, false));
  for (const s of setStrings) values = mergeValues(values, parseSet(s, true));
  return values;
}
