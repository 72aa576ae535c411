import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { reportError, type CliIO } from '../../../src/cli/run-command.js';

/** The error Node itself throws for `act` (a real one, not a hand-made object). */
function thrownBy(act: () => void): unknown {
  try {
    act();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

async function report(e: unknown, json = false): Promise<{ exit: number; stderr: string }> {
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (c: Buffer) => (text += c.toString()));
  const io = { stderr, stdout: new PassThrough(), env: {}, argv: [] } as unknown as CliIO;
  const exit = await reportError(e, io, json, false);
  await new Promise((r) => setImmediate(r));
  return { exit, stderr: text };
}

describe('reportError: the file system refusing a write is the machine, not a bug', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cortex-report-error-'));

  it('a folder where a file is renamed to: one line naming both paths and what it means, exit 4, no stack', async () => {
    mkdirSync(join(dir, 'stats.json'));
    writeFileSync(join(dir, '.stats.tmp'), '{}');
    const e = thrownBy(() => renameSync(join(dir, '.stats.tmp'), join(dir, 'stats.json')));
    const { exit, stderr } = await report(e);
    expect(exit).toBe(4);
    expect(stderr.split('\n')[0]).toBe(`CORTEX_ENVIRONMENT: cannot rename ${join(dir, '.stats.tmp')} -> ${join(dir, 'stats.json')}: EISDIR (a folder is where a file belongs)`);
    expect(stderr).toMatch(/^hint: fix what is at that path/m);
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(stderr).not.toContain('This is a bug in cortex');
  });

  it('under --json: the same as one JSON line', async () => {
    const e = thrownBy(() => writeFileSync(join(dir, 'no-such', 'x'), ''));
    // ENOENT is not one of them: a path of cortex's own that vanished may be a bug.
    expect((await report(e)).exit).toBe(70);
    writeFileSync(join(dir, 'file'), '');
    const notDir = thrownBy(() => writeFileSync(join(dir, 'file', 'x'), ''));
    const { exit, stderr } = await report(notDir, true);
    expect(exit).toBe(4);
    expect(JSON.parse(stderr)).toEqual({ error: { code: 'CORTEX_ENVIRONMENT', message: `cannot open ${join(dir, 'file', 'x')}: ENOTDIR (a file is where a folder belongs)`, exit_code: 4, hint: expect.stringMatching(/^fix what is at that path/) } });
  });

  it('any other error stays a bug: its stack and the request to report it, exit 70', async () => {
    const { exit, stderr } = await report(new TypeError("Cannot read properties of undefined (reading 'x')"));
    expect(exit).toBe(70);
    expect(stderr).toContain('This is a bug in cortex');
    rmSync(dir, { recursive: true, force: true });
  });
});
