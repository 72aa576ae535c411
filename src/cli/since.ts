import { UsageError } from '../errors.js';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/**
 * `--since`: a duration back from `now` (`90m`, `2h`, `1h30m`, `7d`, `2w`) or a time
 * (`2026-11-25`, `2026-11-25T19:00:00Z`). Anything else exits 2 with the accepted forms.
 */
export function parseSince(text: string, now: Date): Date {
  const t = text.trim();
  if (/^(\d+[smhdw])+$/.test(t)) {
    let seconds = 0;
    for (const [, n, unit] of t.matchAll(/(\d+)([smhdw])/g)) seconds += Number(n) * UNIT_SECONDS[unit!]!;
    return new Date(now.getTime() - seconds * 1000);
  }
  // A date or a date-time with its zone; a bare date is midnight UTC.
  if (/^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d))?$/.test(t)) {
    const at = new Date(t);
    if (!Number.isNaN(at.getTime())) return at;
  }
  throw new UsageError(`--since ${JSON.stringify(text)}: give a duration back from now (30m, 2h, 1h30m, 7d, 2w) or a time (2026-11-25, 2026-11-25T19:00:00Z)`);
}
