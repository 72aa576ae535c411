#!/usr/bin/env node
// With status-main.ts (the plain forms of `cortex status`), the only module that reads
// process.argv/env; the only one that sets the exit code.
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
  // `cortex status` in its plain forms starts without commander (status-main.ts, fast-status.ts);
  // the rest, and every other command, through the program.
  const { processIO, startFastStatus } = await import('./status-main.js');
  const fastStatus = startFastStatus(argv);
  if (fastStatus) {
    process.exitCode = await fastStatus;
  } else {
    const { closeHungUpTerminalsAtExit } = await import('./hangup.js');
    closeHungUpTerminalsAtExit();
    process.exitCode = await (await import('./program.js')).runCli(processIO(argv));
  }
}
