/** Entry of the lab's `helm` (run by <lab>/bin/helm): argv in, stdout/stderr/exit code out. */
import { readFileSync } from 'node:fs';
import { runHelm } from './helm.js';

const result = await runHelm(process.argv.slice(2), process.env, { stdin: () => readFileSync(0, 'utf8') });
if (result.stdout) process.stdout.write(result.stdout);
if (result.stderr) process.stderr.write(result.stderr);
process.exitCode = result.exitCode;
