import { describe, expect, it } from 'vitest';
import { parseSince } from '../../../src/cli/since.js';

const NOW = new Date('2026-11-25T12:00:00Z');

describe('parseSince (history --since)', () => {
  it('reads durations back from now, units combined', () => {
    expect(parseSince('30m', NOW).toISOString()).toBe('2026-11-25T11:30:00.000Z');
    expect(parseSince('1h30m', NOW).toISOString()).toBe('2026-11-25T10:30:00.000Z');
    expect(parseSince('7d', NOW).toISOString()).toBe('2026-11-18T12:00:00.000Z');
    expect(parseSince('2w', NOW).toISOString()).toBe('2026-11-11T12:00:00.000Z');
    expect(parseSince('45s', NOW).toISOString()).toBe('2026-11-25T11:59:15.000Z');
  });

  it('reads dates (midnight UTC) and times with their zone', () => {
    expect(parseSince('2026-11-20', NOW).toISOString()).toBe('2026-11-20T00:00:00.000Z');
    expect(parseSince('2026-11-20T19:00:00Z', NOW).toISOString()).toBe('2026-11-20T19:00:00.000Z');
    expect(parseSince('2026-11-20T19:00:00.250+02:00', NOW).toISOString()).toBe('2026-11-20T17:00:00.250Z');
  });

  it.each(['', '2', 'h', '2 hours', '-2h', '2026-13-45', '2026-11-20T19:00', 'yesterday'])('refuses %j (exit 2, naming the forms)', (text) => {
    expect(() => parseSince(text, NOW)).toThrow(expect.objectContaining({ code: 'CORTEX_USAGE', exitCode: 2, message: expect.stringContaining('30m, 2h, 1h30m, 7d, 2w') }));
  });
});
