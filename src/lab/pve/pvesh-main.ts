/** Entry of the lab's `pvesh` (imported by <lab>/bin/pvesh): argv in, stdout/stderr/exit code out. */
import { runPvesh } from './pvesh.js';

// No top-level await: the build bundles this entry as CommonJS (scripts/build-standins.mjs).
// A rejection ends the process with its stack and exit code 1, as an awaited one did.
void runPvesh(process.argv.slice(2), process.env).then((result) => {
  if (result.stdout) process.stdout.write(result.stdout);
  if (result.stderr) process.stderr.write(result.stderr);
  process.exitCode = result.exitCode;
});
