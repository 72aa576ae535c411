#!/usr/bin/env node
// The ES program (dist/cli/main.js): with bin/cortex.js, the only module that reads process.argv;
// the only one that sets the exit code. What it runs is program-main.ts, which the program bundle
// of bin/cortex.js runs too.
import { startProgram } from './program-main.js';

process.exitCode = await startProgram(process.argv.slice(2));
