/** Entry of the lab's `helm` (run by <lab>/bin/helm): argv in, stdout/stderr/exit code out. */
import { readFileSync } from 'node:fs';
import { runHelm } from './helm.js';

// stdin is read only for `-f -` (cortex then writes the values to it).
const stdin = (): string => {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
};
const result = await runHelm(process.argv.slice(2), process.env, { stdin });
if (result.stdout) process.stdout.write(result.stdout);
if (result.stderr) process.stderr.write(result.stderr);
process.exitCode = result.exitCode;
