#!/usr/bin/env node
// The only module that reads process.argv/env and sets the exit code.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  // Fast path: no module loading beyond fs.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  // A reader that went away (EPIPE) is not an error of cortex.
  process.stdout.on('error', () => undefined);
  process.stdout.write(`${pkg.version}\n`);
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
