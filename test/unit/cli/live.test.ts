import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTail } from '../../../src/cli/commands/logs-follow.js';
import { fitLine } from '../../../src/cli/live.js';

const dir = mkdtempSync(join(tmpdir(), 'cortex-tail-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('createTail (logs -f)', () => {
  it('returns only whole lines: a torn last line waits for its newline', async () => {
    const path = join(dir, 'torn.log');
    const next = createTail(path);
    expect(await next()).toEqual([]);
    writeFileSync(path, 'one\ntw');
    expect(await next()).toEqual(['one']);
    expect(await next()).toEqual([]);
    appendFileSync(path, 'o\nthree ✔\n');
    expect(await next()).toEqual(['two', 'three ✔']);
    expect(await next()).toEqual([]);
  });

  it('reads a file that shrank (rotated or truncated) from its start', async () => {
    const path = join(dir, 'rotated.log');
    const next = createTail(path);
    writeFileSync(path, 'a long first line\nsecond\n');
    expect(await next()).toEqual(['a long first line', 'second']);
    writeFileSync(path, 'new\n');
    expect(await next()).toEqual(['new']);
  });
});

describe('fitLine (status -w on a terminal)', () => {
  it('cuts to the width with an ellipsis, not counting colour codes, and resets the colour it cut', () => {
    expect(fitLine('abcdef', 6)).toBe('abcdef');
    expect(fitLine('abcdefgh', 6)).toBe('abcde…');
    expect(fitLine('\u001b[36mabcdefgh\u001b[39m', 6)).toBe('\u001b[36mabcde…\u001b[0m');
    expect(fitLine('\u001b[36mabc\u001b[39m', 3)).toBe('\u001b[36mabc\u001b[39m');
  });
});
