/** Entry of the lab's `talosctl` (run by <lab>/bin/talosctl): argv in, stdout/stderr/exit code out. */
import { runTalosctl } from './talosctl.js';

const result = await runTalosctl(process.argv.slice(2), process.env);
if (result.stdout) process.stdout.write(result.stdout);
if (result.stderr) process.stderr.write(result.stderr);
process.exitCode = result.exitCode;
