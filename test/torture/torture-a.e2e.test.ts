import { tortureSuite } from './torture.js';

// kill -9 at random moments, then resume: 30 kill points over parts A and B (run in parallel), in
// chains of 3 (a run and two of its resumes killed, then a resume to the end). Seeds come from
// CORTEX_TORTURE_SEED (default 20261125) and are printed with each chain.
tortureSuite('A', 0);
