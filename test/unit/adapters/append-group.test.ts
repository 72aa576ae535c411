import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appendLine, appendLineSync, waitForDiskOffThread } from '../../../src/adapters/atomic-file.js';
import { UnsafePathError } from '../../../src/errors.js';

// As in serve: durable appends wait for the disk on the thread pool, and those arriving together
// are written and fsynced as one group. (This file's module state only: vitest isolates files.)
waitForDiskOffThread();

const dir = mkdtempSync(join(tmpdir(), 'cortex-append-group-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('durable appends made at the same time (serve)', () => {
  it('each line lands whole, once, in the order asked, also with another writer appending meanwhile', async () => {
    const file = join(dir, 'audit.log');
    const asked = Array.from({ length: 200 }, (_, i) => `{"n":${i},"pad":"${'x'.repeat(i % 37)}"}`);
    const done = asked.map((l, i) => {
      if (i % 50 === 0) appendLineSync(file, `other-${i}`);
      return appendLine(file, l, { durable: true, root: dir });
    });
    await Promise.all(done);
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    expect(lines.filter((l) => l.startsWith('{'))).toEqual(asked);
    expect(lines.filter((l) => l.startsWith('other-'))).toEqual(['other-0', 'other-50', 'other-100', 'other-150']);
    expect(lines).toHaveLength(204);
  });

  it('a group that cannot be written fails each of its lines and appends none; the next group goes on', async () => {
    const file = join(dir, 'metrics.log');
    const elsewhere = join(dir, 'elsewhere.log');
    writeFileSync(elsewhere, '');
    symlinkSync(elsewhere, file);
    const outcomes = await Promise.allSettled([appendLine(file, 'a', { durable: true, root: dir }), appendLine(file, 'b', { durable: true, root: dir })]);
    expect(outcomes.map((o) => o.status === 'rejected' && o.reason instanceof UnsafePathError)).toEqual([true, true]);
    expect(readFileSync(elsewhere, 'utf8')).toBe('');
    rmSync(file);
    await appendLine(file, 'c', { durable: true, root: dir });
    expect(readFileSync(file, 'utf8')).toBe('c\n');
  });
});
