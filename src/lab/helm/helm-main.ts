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
// No top-level await: the build bundles this entry as CommonJS (scripts/build-standins.mjs).
// A rejection ends the process with its stack and exit code 1, as an awaited one did.
void runHelm(process.argv.slice(2), process.env, { stdin }).then((result) => {
  if (result.stdout) process.stdout.write(result.stdout);
  if (result.stderr) process.stderr.write(result.stderr);
  process.exitCode = result.exitCode;
});
