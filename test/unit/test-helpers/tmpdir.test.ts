import { describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { basename, dirname } from 'node:path';

describe('the test run', () => {
  it('keeps its temporary files in one directory of its own (removed when the run ends)', () => {
    expect(basename(tmpdir())).toMatch(/^cortex-tests-/);
    expect(process.env.TMPDIR).toBe(tmpdir());
    expect(dirname(tmpdir())).not.toBe(tmpdir());
  });
});
