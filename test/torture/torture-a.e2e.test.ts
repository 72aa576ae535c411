import { tortureSuite } from './torture.js';

// kill -9 at random moments, then resume: 30 kill points over parts A and B (run in parallel);
// by default in chains of 3: a run and two of its resumes killed in a row (CORTEX_TORTURE_CHAIN=1:
// single kills; see torture.ts). Seeds come
// from CORTEX_TORTURE_SEED (default 20261125) and are printed with each trial.
tortureSuite('A', 0);
