import { afterAll, describe, expect, it } from 'vitest';
import { cortex, removeRoot } from './helpers.js';
import { labRoot, labSnapshot } from './lab-helpers.js';
import { trial } from './torture.js';

// kill -9 at random moments, then resume: 30 trials over torture-a and torture-b (run in
// parallel). Seeds come from CORTEX_TORTURE_SEED (default below) and are printed.
const BASE_SEED = Number(process.env.CORTEX_TORTURE_SEED ?? 20261125);
const TRIALS = Number(process.env.CORTEX_TORTURE_TRIALS ?? 15);
const OFFSET = 0;

const r = labRoot();
afterAll(() => removeRoot(r.root));

describe('torture: kill -9 and resume (part A)', () => {
  it(`${TRIALS} trials from seed ${BASE_SEED + OFFSET}`, async () => {
    const reset = await cortex(['lab', 'reset', '--lab', r.lab], { root: r.root });
    expect(reset.exitCode).toBe(0);
    const start = labSnapshot(r.lab);
    const ref = await cortex(['run', 'deploy-monitoring-stack', '--simulate', '--lab', r.lab], { root: r.root, timeoutMs: 120_000 });
    expect(ref.exitCode, ref.stdout.slice(-1000)).toBe(0);
    const reference = labSnapshot(r.lab);
    const outcomes: string[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const seed = BASE_SEED + OFFSET + i;
      const res = await trial(r.root, r.lab, seed, reference, start);
      outcomes.push(`seed ${seed}: killed after ${res.killAfterActions} actions -> ${res.outcome}`);
    }
    console.log(outcomes.join('\n'));
  }, 900_000);
});
