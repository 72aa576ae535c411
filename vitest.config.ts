import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Three projects, each runnable alone (`vitest run --project unit`); `vitest run` runs them all.
// e2e and torture run the built CLI in dist/: build first (`npm test` and the test:* scripts do).
export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // One temporary directory for the whole run, removed at its end (test/global-setup.ts).
    globalSetup: ['test/global-setup.ts'],
    // Vitest's default on 2 cores is one worker, so the whole suite ran one file at a time while an
    // e2e file mostly waits on one CLI process (one core): two files at a time use both cores.
    maxWorkers: Math.max(2, availableParallelism()),
    env: { NO_COLOR: '1', FORCE_COLOR: '0' },
    projects: [
      // isolate: false: a worker imports the source once for all its unit files instead of once per
      // file (module loading was about half of the unit project's time). Unit tests keep no state in
      // modules between files: no vi.mock, no env or cwd changes; fake timers are restored.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], isolate: false } },
      // An e2e test runs the CLI several times: its default bound is a hang guard, not a speed check.
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 60_000 } },
      // kill -9 and resume, many trials: the slowest part of the suite.
      { extends: true, test: { name: 'torture', include: ['test/torture/**/*.test.ts'] } },
    ],
  },
});
