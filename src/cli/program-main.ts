// The cortex process: what it does with its command line. main.ts (the ES program, dist/cli/main.js)
// runs it; it is also the entry of the CommonJS bundle of the whole program that bin/cortex.js runs
// while it is fresh (scripts/build-bundles.mjs, issue 14), so both ways of starting cortex run this
// same code. No top-level await here: a CommonJS bundle cannot have one. Every module past the
// command line is imported lazily, so that `--version` loads none of the commands.

/**
 * Runs cortex with `argv` (the arguments after the script): its exit code. Like main.ts, it reads
 * the process's environment and writes to its stdout and stderr.
 */
export async function startProgram(argv: string[]): Promise<number> {
  // serve drives many runs at once: their fsyncs wait on libuv's thread pool (4 threads by default,
  // sized when first used), where they would queue ahead of every file read. Here it holds where
  // nothing used the pool yet: in the bundle bin/cortex.js requires (synchronous reads only). Node
  // 20's ES loader reads the entry module with the pool, so bin/cortex.js sets it too, first thing.
  if (argv.includes('serve') && process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = '16';
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    // Fast path: no module loading beyond fs (version.ts reads package.json and dist/build-info.json).
    const { versionInfo, versionLine } = await import('./version.js');
    // A reader that went away (EPIPE) is not an error of cortex.
    process.stdout.on('error', () => undefined);
    process.stdout.write(`${versionLine(versionInfo())}\n`);
    return 0;
  }
  // `cortex status` in its plain forms starts without commander (status-main.ts, fast-status.ts);
  // the rest, and every other command, through the program.
  const { processIO, startFastStatus } = await import('./status-main.js');
  const fastStatus = startFastStatus(argv);
  if (fastStatus) return fastStatus;
  const { closeHungUpTerminalsAtExit } = await import('./hangup.js');
  closeHungUpTerminalsAtExit();
  return (await import('./program.js')).runCli(processIO(argv));
}
