/**
 * The runner's former name. cortex ran its tools through execa until issue 14 measured execa at
 * about twice the cost of a bare spawn per tool (BENCHMARKS.md, 2026-12-03); spawn-process-runner.ts
 * now does the same on child_process.spawn. test/unit/adapters/execa-process-runner.test.ts, the
 * runner's behaviour contract, runs unchanged against it through this name.
 */
export { SpawnProcessRunner as ExecaProcessRunner, type SpawnProcessRunnerOptions as ExecaProcessRunnerOptions } from './spawn-process-runner.js';
