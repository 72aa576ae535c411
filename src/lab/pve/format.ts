/** pvesh output formats: json (one canonical line), json-pretty, yaml and the text table. */
import { createRequire } from 'node:module';

// yaml is loaded only for --output-format yaml: it is most of a short pvesh run's start-up time otherwise.
const require = createRequire(import.meta.url);

export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = canonical((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(canonical(v));
  return String(v);
}

function table(header: string[], rows: string[][], opts: { noborder: boolean; noheader: boolean }): string {
  const widths = header.map((h, i) => Math.max(opts.noheader ? 0 : h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(opts.noborder ? ' ' : ' │ ');
  if (opts.noborder) {
    return [...(opts.noheader ? [] : [line(header)]), ...rows.map(line)].map((l) => l.trimEnd()).join('\n');
  }
  const bar = (l: string, m: string, r: string, f: string) => `${l}${widths.map((w) => f.repeat(w + 2)).join(m)}${r}`;
  return [
    bar('┌', '┬', '┐', '─'),
    ...(opts.noheader ? [] : [`│ ${line(header)} │`, bar('╞', '╪', '╡', '═')]),
    ...rows.map((r) => `│ ${line(r)} │`),
    bar('└', '┴', '┘', '─'),
  ].join('\n');
}

export interface FormatOptions {
  outputFormat: string;
  noborder: boolean;
  noheader: boolean;
}

/** What pvesh prints for a result (without the trailing newline). */
export function formatResult(data: unknown, o: FormatOptions): string | undefined {
  switch (o.outputFormat) {
    case 'json':
      return JSON.stringify(canonical(data));
    case 'json-pretty':
      return JSON.stringify(canonical(data), null, 3);
    case 'yaml':
      return data === null ? undefined : (require('yaml') as typeof import('yaml')).stringify(canonical(data)).trimEnd();
    default: {
      if (data === null || data === undefined) return undefined;
      if (typeof data !== 'object') return String(data);
      if (Array.isArray(data)) {
        if (data.length === 0) return undefined;
        if (data.every((x) => x && typeof x === 'object' && !Array.isArray(x))) {
          const cols = [...new Set(data.flatMap((x) => Object.keys(x as object)))].sort();
          return table(cols, data.map((x) => cols.map((c) => cell((x as Record<string, unknown>)[c]))), o);
        }
        return data.map(cell).join('\n');
      }
      const obj = data as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      return table(['key', 'value'], keys.map((k) => [k, cell(obj[k])]), o);
    }
  }
}
