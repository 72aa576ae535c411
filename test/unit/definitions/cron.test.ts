import { describe, expect, it } from 'vitest';
import { CronSchedule, formatLocal, offsetMinutes } from '../../../src/definitions/cron.js';

const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');
const runs = (expr: string, tz: string, from: string, to: string) => new CronSchedule(expr, tz).runsBetween(new Date(from), new Date(to)).map(iso);

describe('offsets', () => {
  it('reads the zone offset at an instant (wall clock = UTC + offset)', () => {
    expect(offsetMinutes('Europe/Berlin', Date.parse('2026-03-29T00:59:59Z'))).toBe(60);
    expect(offsetMinutes('Europe/Berlin', Date.parse('2026-03-29T01:00:00Z'))).toBe(120);
    expect(offsetMinutes('America/New_York', Date.parse('2026-11-01T05:59:00Z'))).toBe(-240);
    expect(offsetMinutes('America/New_York', Date.parse('2026-11-01T06:00:00Z'))).toBe(-300);
    expect(offsetMinutes('Asia/Kolkata', Date.parse('2026-11-25T00:00:00Z'))).toBe(330);
    expect(formatLocal(new Date('2026-03-29T01:00:00Z'), 'Europe/Berlin')).toBe('2026-03-29T03:00:00+02:00');
    expect(formatLocal(new Date('2026-11-01T06:30:00Z'), 'America/New_York')).toBe('2026-11-01T01:30:00-05:00');
  });
});

describe('fixed-time jobs follow Vixie cron across DST (once per day)', () => {
  // Spring forward: US 2026-03-08 02:00 -> 03:00; EU 2026-03-29 02:00 -> 03:00.
  it('30 2 * * * runs once, right after the change, on the spring-forward day', () => {
    expect(runs('30 2 * * *', 'America/New_York', '2026-03-07T12:00:00Z', '2026-03-09T12:00:00Z')).toEqual(['2026-03-08T07:00:00Z', '2026-03-09T06:30:00Z']);
    expect(runs('30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', '2026-03-30T12:00:00Z')).toEqual(['2026-03-29T01:00:00Z', '2026-03-30T00:30:00Z']);
  });

  // Fall back: US 2026-11-01 02:00 -> 01:00 (01:xx twice); EU 2026-10-25 03:00 -> 02:00 (02:xx twice).
  it('30 2 * * * runs once on the fall-back day (the first of the two 02:30s in Berlin)', () => {
    expect(runs('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', '2026-10-26T12:00:00Z')).toEqual(['2026-10-25T00:30:00Z', '2026-10-26T01:30:00Z']);
    expect(runs('30 2 * * *', 'America/New_York', '2026-10-31T12:00:00Z', '2026-11-02T12:00:00Z')).toEqual(['2026-11-01T07:30:00Z', '2026-11-02T07:30:00Z']);
    // New York repeats 01:xx: a 01:30 job runs only at its first occurrence (EDT).
    expect(runs('30 1 * * *', 'America/New_York', '2026-10-31T12:00:00Z', '2026-11-02T12:00:00Z')).toEqual(['2026-11-01T05:30:00Z', '2026-11-02T06:30:00Z']);
  });

  it('lists and ranges count as fixed-time: skipped times run once after the gap, repeated ones once', () => {
    const s = new CronSchedule('0,30 2 * * *', 'Europe/Berlin');
    expect(s.fixedTime).toBe(true);
    expect(runs('0,30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', '2026-03-29T12:00:00Z')).toEqual(['2026-03-29T01:00:00Z']);
    expect(runs('0,30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', '2026-10-25T12:00:00Z')).toEqual(['2026-10-25T00:00:00Z', '2026-10-25T00:30:00Z']);
    expect(new CronSchedule('@daily', 'UTC').fixedTime).toBe(true);
    expect(new CronSchedule('@hourly', 'UTC').fixedTime).toBe(false);
  });
});

describe('interval jobs follow the wall clock', () => {
  it('*/30 * * * * skips the spring-forward gap', () => {
    expect(runs('*/30 * * * *', 'America/New_York', '2026-03-08T06:15:00Z', '2026-03-08T08:00:00Z')).toEqual([
      '2026-03-08T06:30:00Z', // 01:30 EST
      '2026-03-08T07:00:00Z', // 03:00 EDT (02:00 and 02:30 do not exist)
      '2026-03-08T07:30:00Z',
      '2026-03-08T08:00:00Z',
    ]);
  });

  it('*/30 * * * * runs in both passes of the fall-back hour', () => {
    expect(runs('*/30 * * * *', 'America/New_York', '2026-11-01T04:45:00Z', '2026-11-01T07:00:00Z')).toEqual([
      '2026-11-01T05:00:00Z', // 01:00 EDT
      '2026-11-01T05:30:00Z', // 01:30 EDT
      '2026-11-01T06:00:00Z', // 01:00 EST
      '2026-11-01T06:30:00Z', // 01:30 EST
      '2026-11-01T07:00:00Z', // 02:00 EST
    ]);
    // Berlin repeats 02:xx: 02:00 and 02:30 CEST, then 02:00 and 02:30 CET.
    expect(runs('*/30 * * * *', 'Europe/Berlin', '2026-10-24T23:45:00Z', '2026-10-25T02:00:00Z')).toEqual([
      '2026-10-25T00:00:00Z',
      '2026-10-25T00:30:00Z',
      '2026-10-25T01:00:00Z',
      '2026-10-25T01:30:00Z',
      '2026-10-25T02:00:00Z',
    ]);
  });

  it('*/30 2 * * * has no run on the spring-forward day in Berlin', () => {
    expect(runs('*/30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', '2026-03-30T12:00:00Z')).toEqual(['2026-03-30T00:00:00Z', '2026-03-30T00:30:00Z']);
  });

  it('is monotonic and gap-free around both 2026 changes in both zones', () => {
    for (const [tz, from, to] of [
      ['America/New_York', '2026-03-07T00:00:00Z', '2026-03-10T00:00:00Z'],
      ['America/New_York', '2026-10-31T00:00:00Z', '2026-11-03T00:00:00Z'],
      ['Europe/Berlin', '2026-03-28T00:00:00Z', '2026-03-31T00:00:00Z'],
      ['Europe/Berlin', '2026-10-24T00:00:00Z', '2026-10-27T00:00:00Z'],
    ] as const) {
      const list = new CronSchedule('*/15 * * * *', tz).runsBetween(new Date(from), new Date(to));
      // Every 15 minutes of real time: interval jobs neither burst nor stall (3 days = 288 runs).
      expect(list).toHaveLength(288);
      for (let i = 1; i < list.length; i++) expect(list[i]!.getTime() - list[i - 1]!.getTime()).toBe(15 * 60_000);
    }
  });
});

describe('expressions', () => {
  it('reads five fields in the zone; day-of-month and day-of-week are ORed as in Vixie cron', () => {
    expect(runs('0 9 * * 1-5', 'Asia/Kolkata', '2026-11-27T00:00:00Z', '2026-12-01T00:00:00Z')).toEqual(['2026-11-27T03:30:00Z', '2026-11-30T03:30:00Z']);
    expect(runs('0 12 1 * mon', 'UTC', '2026-11-25T00:00:00Z', '2026-12-08T00:00:00Z')).toEqual(['2026-11-30T12:00:00Z', '2026-12-01T12:00:00Z', '2026-12-07T12:00:00Z']);
    expect(iso(new CronSchedule('@weekly', 'UTC').nextRun(new Date('2026-11-25T00:00:00Z'))!)).toBe('2026-11-29T00:00:00Z');
  });

  it('refuses what cron cannot run', () => {
    expect(() => new CronSchedule('61 * * * *')).toThrow(/minute/);
    expect(() => new CronSchedule('* * * * * *')).toThrow(/five fields/);
    expect(() => new CronSchedule('@reboot')).toThrow(/not supported/);
    expect(() => new CronSchedule('* * * * *', 'Mars/Olympus')).toThrow(/time zone/);
    expect(new CronSchedule('0 0 30 2 *').nextRun(new Date('2026-01-01T00:00:00Z'))).toBeNull();
  });

  it('finds the last run of a long window quickly', () => {
    const s = new CronSchedule('* * * * *', 'Europe/Berlin');
    const t = performance.now();
    expect(iso(s.lastRunBetween(new Date('2026-01-01T00:00:00Z'), new Date('2026-04-01T00:00:30Z'))!)).toBe('2026-04-01T00:00:00Z');
    expect(iso(new CronSchedule('0 0 1 1 *', 'Europe/Berlin').lastRunBetween(new Date('2020-03-01T00:00:00Z'), new Date('2026-04-01T00:00:00Z'))!)).toBe('2025-12-31T23:00:00Z');
    expect(performance.now() - t).toBeLessThan(1000);
  });
});
