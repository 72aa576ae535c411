/**
 * Every temporary file of a test run lives under one directory, removed when the run ends:
 * TMPDIR points there for the test workers and, through them, for every cortex, lab stand-in and
 * tool they start (os.tmpdir() reads it at each call). Tests create their roots with mkdtemp in
 * tmpdir() and not all of them remove them; before, each full run left thousands of directories
 * in /tmp (CORTEX_KEEP_TMP=1 keeps them, to look at after a failure).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  // Each project of the config runs this setup: the first one makes the directory, the others use it.
  if (process.env.CORTEX_TESTS_TMPDIR) return () => undefined;
  const dir = mkdtempSync(join(tmpdir(), 'cortex-tests-'));
  process.env.TMPDIR = dir;
  process.env.CORTEX_TESTS_TMPDIR = dir;
  return () => {
    delete process.env.CORTEX_TESTS_TMPDIR;
    if (process.env.CORTEX_KEEP_TMP === '1') {
      console.log(`test files kept in ${dir}`);
      return;
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };
}
