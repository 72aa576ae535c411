#!/usr/bin/env node
// The only module that reads process.argv/env and sets the exit code.
import { homedir } from 'node:os';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  // Fast path: no module loading beyond fs (version.ts reads package.json and dist/build-info.json).
  const { versionInfo, versionLine } = await import('./version.js');
  // A reader that went away (EPIPE) is not an error of cortex.
  process.stdout.on('error', () => undefined);
  process.stdout.write(`${versionLine(versionInfo())}\n`);
} else {
  const { runCli } = await import('./program.js');
  const { closeHungUpTerminalsAtExit } = await import('./hangup.js');
  closeHungUpTerminalsAtExit();
  process.exitCode = await runCli({
    argv,
    env: process.env,
    cwd: process.cwd(),
    home: homedir(),
    stdout: process.stdout,
    stderr: process.stderr,
  });
}
