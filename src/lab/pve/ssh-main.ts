/** Entry of the lab's `ssh` (imported by <lab>/bin/ssh): argv in, stdout/stderr/exit code out. */
import { runSsh } from './ssh.js';

const result = await runSsh(process.argv.slice(2), process.env);
if (result.stdout) process.stdout.write(result.stdout);
if (result.stderr) process.stderr.write(result.stderr);
process.exitCode = result.exitCode;
