import { tortureSuite } from './torture.js';

// kill -9 at random moments, then resume: 30 trials over parts A and B (run in parallel).
// Seeds come from CORTEX_TORTURE_SEED (default 20261125) and are printed with each trial.
tortureSuite('A', 0);
