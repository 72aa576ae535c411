import { describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { basename, dirname } from 'node:path';

describe('the test run', () => {
  it('keeps its temporary files in one directory of its own (removed when the run ends), one for all three projects', () => {
    expect(basename(tmpdir())).toMatch(/^cortex-tests-/);
    expect(process.env.TMPDIR).toBe(tmpdir());
    expect(process.env.CORTEX_TESTS_TMPDIR).toBe(tmpdir());
    // not nested in another run directory (each project runs the global setup)
    expect(basename(dirname(tmpdir()))).not.toMatch(/^cortex-tests-/);
  });
});
