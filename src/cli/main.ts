#!/usr/bin/env node
// The only module that reads process.argv/env and sets the exit code.
import { homedir } from 'node:os';

const argv = process.argv.slice(2);
// serve drives many runs at once: their fsyncs wait on libuv's thread pool (4 threads by default,
// sized when first used, so here), where they would queue ahead of every file read.
if (argv.includes('serve') && process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = '16';
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  // Fast path: no module loading beyond fs (version.ts reads package.json and dist/build-info.json).
  const { versionInfo, versionLine } = await import('./version.js');
  // A reader that went away (EPIPE) is not an error of cortex.
  process.stdout.on('error', () => undefined);
  process.stdout.write(`${versionLine(versionInfo())}\n`);
} else {
  const { closeHungUpTerminalsAtExit } = await import('./hangup.js');
  closeHungUpTerminalsAtExit();
  const io = { argv, env: process.env, cwd: process.cwd(), home: homedir(), stdout: process.stdout, stderr: process.stderr };
  // `cortex status` in its plain forms starts without commander (fast-status.ts); the rest, and
  // every other command, through the program.
  const { parseFastStatus, runFastStatus } = await import('./fast-status.js');
  const fastStatus = parseFastStatus(argv);
  process.exitCode = fastStatus ? await runFastStatus(io, fastStatus) : await (await import('./program.js')).runCli(io);
}
