/**
 * Cron schedules read in an IANA time zone, with Vixie cron's daylight-saving rules.
 *
 * croner 10 (the installed version) computes the wall clock across DST changes incorrectly for
 * interval jobs (`*\/30 * * * *` goes backwards in a spring-forward gap and misses the second pass
 * of a fall-back hour). So croner is only asked about fixed UTC offsets (`utcOffset`, no DST
 * there), and the time zone's offset changes are handled here:
 *
 * - between two offset changes the offset is constant, so the runs are croner's runs at that offset;
 *   that alone makes every job follow the wall clock: in a spring-forward gap the skipped wall times
 *   do not exist, in a fall-back overlap the repeated wall times occur twice;
 * - Vixie's exception for *fixed-time* jobs (neither the minute nor the hour field starts with `*`,
 *   so `30 2 * * *`, `0,30 2 * * *`, `@daily`): a time skipped by a spring-forward runs once, right
 *   after the change (at the first instant of the new offset), and a time repeated by a fall-back
 *   runs only at its first occurrence.
 *
 * Offsets are read with Intl (the platform's tz database); a change of offset is located to the
 * minute by sampling every 6 hours and bisecting.
 */
import { Cron } from 'croner';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const SAMPLE_MS = 6 * HOUR;

const NICKNAMES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

export function isValidTimeZone(tz: string): boolean {
  if (typeof tz !== 'string' || tz === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** Offset of `tz` from UTC at instant `t` (ms), in minutes: wall clock = UTC + offset. */
export function offsetMinutes(tz: string, t: number): number {
  const parts = formatter(tz).formatToParts(new Date(t));
  const v: Record<string, string> = {};
  for (const p of parts) v[p.type] = p.value;
  let year = Number(v.year);
  if (v.era === 'BC' || v.era === 'B') year = 1 - year;
  const hour = Number(v.hour) % 24;
  const asUtc = Date.UTC(year, Number(v.month) - 1, Number(v.day), hour, Number(v.minute), Number(v.second));
  const whole = Math.floor(t / 1000) * 1000;
  return Math.round((asUtc - whole) / MINUTE);
}

/** `2026-03-29T03:00:00+02:00`: the instant as the wall clock of `tz` shows it. */
export function formatLocal(t: Date | number, tz: string): string {
  const ms = typeof t === 'number' ? t : t.getTime();
  const off = offsetMinutes(tz, ms);
  const wall = new Date(Math.floor(ms / 1000) * 1000 + off * MINUTE).toISOString().slice(0, 19);
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `${wall}${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/** The first whole-minute instant in (from, to] whose offset differs from `offset`, if any. */
function firstChange(tz: string, from: number, to: number, offset: number): number | undefined {
  let lo = from;
  while (lo < to) {
    const hi = Math.min(lo + SAMPLE_MS, to);
    if (offsetMinutes(tz, hi) !== offset) {
      let a = lo;
      let b = hi;
      while (b - a > 1000) {
        const mid = Math.floor((a + b) / 2);
        if (offsetMinutes(tz, mid) === offset) a = mid;
        else b = mid;
      }
      const minute = Math.floor(b / MINUTE) * MINUTE;
      return minute > from && offsetMinutes(tz, minute) !== offset ? minute : b;
    }
    lo = hi;
  }
  return undefined;
}

export class CronScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CronScheduleError';
  }
}

/** A cron expression (five fields or a nickname) read in one time zone. */
export class CronSchedule {
  /** The five fields croner evaluates (nicknames expanded). */
  readonly pattern: string;
  /** Vixie's fixed-time job: neither the minute nor the hour field starts with `*`. */
  readonly fixedTime: boolean;
  private readonly byOffset = new Map<number, Cron>();

  constructor(
    readonly expression: string,
    readonly timezone: string = 'UTC',
  ) {
    const trimmed = String(expression).trim();
    const lower = trimmed.toLowerCase();
    if (lower.startsWith('@')) {
      const expanded = NICKNAMES[lower];
      if (!expanded) throw new CronScheduleError(`"${trimmed}" is not supported (use @hourly, @daily, @midnight, @weekly, @monthly, @yearly or five fields)`);
      this.pattern = expanded;
    } else this.pattern = trimmed;
    const fields = this.pattern.split(/\s+/);
    if (fields.length !== 5) {
      throw new CronScheduleError(`expected five fields (minute hour day-of-month month day-of-week), got ${fields.length} in "${trimmed}"`);
    }
    if (!isValidTimeZone(timezone)) throw new CronScheduleError(`unknown IANA time zone "${timezone}"`);
    this.fixedTime = !(fields[0] as string).startsWith('*') && !(fields[1] as string).startsWith('*');
    try {
      this.cronAt(0);
    } catch (e) {
      throw new CronScheduleError(`bad cron expression "${trimmed}": ${(e as Error).message}`);
    }
  }

  private cronAt(offset: number): Cron {
    let c = this.byOffset.get(offset);
    if (!c) {
      c = new Cron(this.pattern, { paused: true, utcOffset: offset });
      this.byOffset.set(offset, c);
    }
    return c;
  }

  /** True when the wall time of instant `t` (offset `offset`) was already shown earlier (a fall-back overlap). */
  private isRepeated(t: number, offset: number): boolean {
    const before = offsetMinutes(this.timezone, t - 3 * HOUR);
    if (before <= offset) return false;
    return offsetMinutes(this.timezone, t - (before - offset) * MINUTE) === before;
  }

  /** The first run strictly after `after`, or null when there is none. */
  nextRun(after: Date | number): Date | null {
    let t = typeof after === 'number' ? after : after.getTime();
    for (let i = 0; i < 256; i++) {
      const offset = offsetMinutes(this.timezone, t + 1);
      const next = this.cronAt(offset).nextRun(new Date(t));
      const c = next ? next.getTime() : undefined;
      const change = firstChange(this.timezone, t, c ?? t + 400 * DAY, offset);
      if (change === undefined) {
        if (c === undefined) return null;
        if (this.fixedTime && this.isRepeated(c, offset)) {
          t = c;
          continue;
        }
        return new Date(c);
      }
      // The offset changes at `change`, before (or at) croner's answer for the old offset.
      const newOffset = offsetMinutes(this.timezone, change);
      if (this.fixedTime && newOffset > offset && c !== undefined && c < change + (newOffset - offset) * MINUTE) {
        // Its wall time fell into the spring-forward gap: Vixie runs it right after the change.
        return new Date(change);
      }
      t = change - 1;
    }
    return null;
  }

  /** The next `n` runs after `after`. */
  nextRuns(n: number, after: Date | number): Date[] {
    const out: Date[] = [];
    let t: Date | number = after;
    while (out.length < n) {
      const r = this.nextRun(t);
      if (!r) break;
      out.push(r);
      t = r;
    }
    return out;
  }

  /** Runs in (from, to], at most `limit` of them (oldest first). */
  runsBetween(from: Date | number, to: Date | number, limit = 10_000): Date[] {
    const end = typeof to === 'number' ? to : to.getTime();
    const out: Date[] = [];
    let t: Date | number = from;
    while (out.length < limit) {
      const r = this.nextRun(t);
      if (!r || r.getTime() > end) break;
      out.push(r);
      t = r;
    }
    return out;
  }

  /** The latest run in (from, to], found without walking the whole interval. */
  lastRunBetween(from: Date | number, to: Date | number): Date | null {
    const start = typeof from === 'number' ? from : from.getTime();
    const end = typeof to === 'number' ? to : to.getTime();
    for (const width of [HOUR, DAY, 32 * DAY, 400 * DAY, Infinity]) {
      const lo = Math.max(start, end - width);
      let last: Date | null = null;
      let t = lo;
      for (let i = 0; i < 2000; i++) {
        const r = this.nextRun(t);
        if (!r || r.getTime() > end) break;
        last = r;
        t = r.getTime();
      }
      if (last) return last;
      if (lo === start) return null;
    }
    return null;
  }
}
