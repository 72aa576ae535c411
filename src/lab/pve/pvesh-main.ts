/** Entry of the lab's `pvesh` (imported by <lab>/bin/pvesh): argv in, stdout/stderr/exit code out. */
import { runPvesh } from './pvesh.js';

const result = await runPvesh(process.argv.slice(2), process.env);
if (result.stdout) process.stdout.write(result.stdout);
if (result.stderr) process.stderr.write(result.stderr);
process.exitCode = result.exitCode;
