import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { parseFastStatus } from '../../../src/cli/fast-status.js';
import { buildProgram, type CliIO } from '../../../src/cli/program.js';

/** What the commander program hands the status handler for this command line. */
async function viaProgram(argv: string[]): Promise<{ globals: unknown; opts: unknown; args: unknown[] }> {
  const io = { argv, env: {}, cwd: '/', home: '/nonexistent', stdout: process.stdout, stderr: process.stderr } as unknown as CliIO;
  let seen: { globals: unknown; opts: unknown; args: unknown[] } | undefined;
  const program = buildProgram(io, async (_handler, args, cmd: Command) => {
    seen = { globals: cmd.optsWithGlobals(), opts: cmd.opts(), args };
  });
  await program.parseAsync(argv, { from: 'user' });
  if (!seen) throw new Error(`the program ran no command for ${argv.join(' ')}`);
  return seen;
}

const ID = 'app-deployment-20261125T191154Z-1a2b';

describe('parseFastStatus (cortex status without commander)', () => {
  const taken: string[][] = [
    ['status'],
    ['status', ID],
    ['--root', '/r', 'status'],
    ['status', '--root', '/r'],
    ['--root', '', 'status'],
    ['--json', 'status', ID],
    ['status', '--no-color', '--verbose', ID],
    ['--verbose', '--json', '--json', 'status'],
    ...['table', 'json', 'yaml', 'wide', 'name'].flatMap((f) => [
      ['status', '-o', f],
      ['--root', '/r', 'status', ID, '--output', f],
    ]),
  ];

  it.each(taken)('takes %j and gives the handler what the program gives it', async (...argv: string[]) => {
    const fast = parseFastStatus(argv);
    expect(fast).toBeDefined();
    const program = await viaProgram(argv);
    // The program's globals include the command's own options (optsWithGlobals).
    expect({ ...fast!.globals, ...fast!.opts }).toEqual(program.globals);
    expect(fast!.opts).toEqual(program.opts);
    expect(fast!.args[0]).toEqual(program.args[0]);
    expect(program.args).toHaveLength(1);
  });

  it('leaves every other command line to the program', () => {
    const others: string[][] = [
      [],
      ['list'],
      ['stat'],
      ['history', 'status'],
      ['status', '-w'],
      ['status', '--watch', ID],
      ['status', '--help'],
      ['status', '-h'],
      ['help', 'status'],
      ['status', '--version'],
      ['status', '--'],
      ['status', '-'],
      ['--root=/r', 'status'],
      ['status', '--output=json'],
      ['status', '-ojson'],
      ['--root'],
      ['status', '--root'],
      ['--root', '--json', 'status'],
      ['--root', '/a', '--root', '/b', 'status'],
      ['-o', 'json', 'status'],
      ['status', '-o'],
      ['status', '-o', 'bogus'],
      ['status', '-o', 'json', '-o', 'yaml'],
      ['status', ID, 'another'],
      ['status', '--unknown'],
      ['__complete', 'status'],
    ];
    for (const argv of others) expect(parseFastStatus(argv), argv.join(' ')).toBeUndefined();
  });
});
