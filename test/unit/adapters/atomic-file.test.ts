import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendLine, mkdirPrivateSync, syncFile, writeFileAtomic, writeLineAfterHeader } from '../../../src/adapters/atomic-file.js';
import { UnsafePathError } from '../../../src/errors.js';

describe('writeFileAtomic', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cortex-atomic-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the content, creates parent directories and leaves no temp file', async () => {
    const file = join(dir, 'a', 'b', 'state.json');
    await writeFileAtomic(file, '{"x":1}\n');
    await writeFileAtomic(file, '{"x":2}\n');
    expect(await readFile(file, 'utf8')).toBe('{"x":2}\n');
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['state.json']);
  });

  it('applies the mode to a new file', async () => {
    const file = join(dir, 'secret.json');
    await writeFileAtomic(file, '{}', 0o600);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('removes the temp file and throws when the rename fails', async () => {
    const target = join(dir, 'is-a-dir');
    await mkdir(join(target, 'child'), { recursive: true });
    await expect(writeFileAtomic(target, 'data')).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(['is-a-dir']);
  });

  it('concurrent writers never produce a torn file', async () => {
    const file = join(dir, 'shared.json');
    const payload = (writer: number, n: number) =>
      `${JSON.stringify({ writer, n, filler: 'x'.repeat(64 * 1024 + writer * 1000) }, null, 2)}\n`;
    await writeFileAtomic(file, payload(0, 0));
    let isDone = false;
    let reads = 0;
    const reader = (async () => {
      while (!isDone) {
        const value = JSON.parse(await readFile(file, 'utf8')) as { writer: number; filler: string };
        expect(value.filler.length).toBe(64 * 1024 + value.writer * 1000);
        reads++;
      }
    })();
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let n = 0; n < 15; n++) await writeFileAtomic(file, payload(w + 1, n));
      }),
    );
    isDone = true;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect(await readdir(dir)).toEqual(['shared.json']);
  });
});

describe('appendLine', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cortex-append-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('adds a newline when missing and creates parent directories', async () => {
    const file = join(dir, 'logs', 'x.log');
    await appendLine(file, 'one');
    await appendLine(file, 'two\n');
    expect(await readFile(file, 'utf8')).toBe('one\ntwo\n');
  });

  it('concurrent appends never interleave inside a line', async () => {
    const file = join(dir, 'ledger.jsonl');
    await Promise.all(Array.from({ length: 60 }, (_, i) => appendLine(file, JSON.stringify({ i, pad: String(i).repeat(3000) }))));
    const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
    expect(lines).toHaveLength(60);
    const seen = lines.map((l) => (JSON.parse(l) as { i: number }).i).sort((a, b) => a - b);
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => i));
  });
});

/**
 * For each test of the describe it is called in: a temporary folder `base` holding the root and,
 * beside it (outside the root), `outside`. Read the fields in the tests, not when describing.
 */
function rootAndOutside(prefix: string): { base: string; root: string; outside: string } {
  const dirs = { base: '', root: '', outside: '' };
  beforeEach(async () => {
    dirs.base = await mkdtemp(join(tmpdir(), prefix));
    dirs.root = join(dirs.base, 'root');
    dirs.outside = join(dirs.base, 'outside');
    await mkdir(dirs.root);
    await mkdir(dirs.outside);
  });
  afterEach(async () => {
    await rm(dirs.base, { recursive: true, force: true });
  });
  return dirs;
}

describe('writes never follow a symbolic link out of the root', () => {
  const d = rootAndOutside('cortex-links-');

  it('appendLine refuses a link at the file (with or without a root) and appends nothing', async () => {
    await writeFile(join(d.outside, 'victim.log'), 'before\n');
    await mkdir(join(d.root, 'logs'));
    await symlink(join(d.outside, 'victim.log'), join(d.root, 'logs', 'contractor.log'));
    await expect(appendLine(join(d.root, 'logs', 'contractor.log'), 'x', { root: d.root })).rejects.toThrow(UnsafePathError);
    await expect(appendLine(join(d.root, 'logs', 'contractor.log'), 'x')).rejects.toThrow(/is a symbolic link/);
    expect(await readFile(join(d.outside, 'victim.log'), 'utf8')).toBe('before\n');
  });

  it('a linked folder between the root and the file is refused: no record lands outside', async () => {
    await mkdir(join(d.root, 'workflows'));
    await symlink(d.outside, join(d.root, 'workflows', 'history'));
    await expect(writeFileAtomic(join(d.root, 'workflows', 'history', 'workflow-x.json'), '{}', 0o600, { root: d.root })).rejects.toThrow(
      /refusing to write through .*workflows\/history: it is a symbolic link/,
    );
    await expect(appendLine(join(d.root, 'workflows', 'history', 'deeper', 'x.log'), 'x', { root: d.root })).rejects.toThrow(UnsafePathError);
    expect(() => mkdirPrivateSync(join(d.root, 'workflows', 'history', 'sub'), { root: d.root })).toThrow(UnsafePathError);
    expect(await readdir(d.outside)).toEqual([]);
  });

  it('the root itself may be reached through a link, and a link at the file is replaced, not followed', async () => {
    await symlink(d.root, join(d.base, 'root-link'));
    await writeFile(join(d.outside, 'target.json'), 'outside\n');
    await mkdir(join(d.root, 'state'));
    await symlink(join(d.outside, 'target.json'), join(d.root, 'state', 'dedup.json'));
    await writeFileAtomic(join(d.base, 'root-link', 'state', 'dedup.json'), '{}\n', 0o600, { root: join(d.base, 'root-link') });
    expect(await readFile(join(d.root, 'state', 'dedup.json'), 'utf8')).toBe('{}\n');
    expect((await lstat(join(d.root, 'state', 'dedup.json'))).isSymbolicLink()).toBe(false);
    expect(await readFile(join(d.outside, 'target.json'), 'utf8')).toBe('outside\n');
  });
});

/** The files this process has open, by path (Linux: /proc/self/fd). */
async function openFiles(): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) out.push(await readlink(join('/proc/self/fd', fd)).catch(() => ''));
  return out;
}

describe('appends keep their descriptor, only while the path is still the file they opened', () => {
  const d = rootAndOutside('cortex-held-');

  it('a file replaced or removed between two appends gets the next line at its path, not the old file', async () => {
    const log = join(d.root, 'logs', 'contractor.log');
    await appendLine(log, 'one', { root: d.root });
    expect(await openFiles()).toContain(log);
    // Rotated away (renamed), as logrotate does: the next line starts the new file.
    await rename(log, join(d.root, 'logs', 'contractor.log.1'));
    await appendLine(log, 'two', { root: d.root });
    expect(await readFile(join(d.root, 'logs', 'contractor.log.1'), 'utf8')).toBe('one\n');
    expect(await readFile(log, 'utf8')).toBe('two\n');
    // Replaced by a rename over it.
    await writeFile(join(d.root, 'logs', 'new'), 'fresh\n');
    await rename(join(d.root, 'logs', 'new'), log);
    await appendLine(log, 'three', { root: d.root });
    expect(await readFile(log, 'utf8')).toBe('fresh\nthree\n');
    await unlink(log);
    await appendLine(log, 'four', { root: d.root });
    expect(await readFile(log, 'utf8')).toBe('four\n');
  });

  it('a link put at the file or on the way after an append is refused at the next one: nothing lands outside', async () => {
    const log = join(d.root, 'logs', 'contractor.log');
    await appendLine(log, 'one', { root: d.root });
    await writeFile(join(d.outside, 'contractor.log'), 'victim\n');
    await unlink(log);
    await symlink(join(d.outside, 'contractor.log'), log);
    await expect(appendLine(log, 'two', { root: d.root })).rejects.toThrow(UnsafePathError);
    await rm(join(d.root, 'logs'), { recursive: true });
    await symlink(d.outside, join(d.root, 'logs'));
    await expect(appendLine(log, 'three', { root: d.root })).rejects.toThrow(UnsafePathError);
    expect(await readFile(join(d.outside, 'contractor.log'), 'utf8')).toBe('victim\n');
  });

  it('a FIFO planted at a log or a journal is refused (exit 4), never written to nor waited on', async () => {
    const log = join(d.root, 'logs', 'contractor.log');
    const journal = join(d.root, 'state', 'journal', 'x.journal');
    await mkdir(join(d.root, 'logs'), { recursive: true });
    await mkdir(join(d.root, 'state', 'journal'), { recursive: true });
    expect(spawnSync('mkfifo', [log, journal]).status).toBe(0);
    // With a reader at the other end (it would get the lines), then with none (the open would block
    // the whole process, deaf to Ctrl-C and SIGTERM).
    const reader = openSync(log, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      await expect(appendLine(log, 'one', { root: d.root })).rejects.toThrow(UnsafePathError);
      // Nothing came through it (0: no writer left; EAGAIN: a writer, no data).
      const read = (): number => {
        try {
          return readSync(reader, Buffer.alloc(64));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return 0;
          throw error;
        }
      };
      expect(read()).toBe(0);
    } finally {
      closeSync(reader);
    }
    await expect(appendLine(log, 'one', { root: d.root })).rejects.toThrow(/not a regular file/);
    await expect(writeLineAfterHeader(journal, 'base\n', 'a', { sync: true, root: d.root })).rejects.toThrow(/not a regular file/);
    await expect(syncFile(journal)).rejects.toThrow(/not a regular file/);
    expect((await openFiles()).filter((f) => f.startsWith(d.base))).toEqual([]);
  });

  it('a folder on the way moved away (out of the root) and linked back to after an append: the next one is refused, the moved file gets nothing', async () => {
    const log = join(d.root, 'logs', 'contractor.log');
    await appendLine(log, 'one', { root: d.root });
    // The same file, by lstat of its path, but now reached through a link, outside the root.
    await rename(join(d.root, 'logs'), join(d.outside, 'logs'));
    await symlink(join(d.outside, 'logs'), join(d.root, 'logs'));
    await expect(appendLine(log, 'two', { root: d.root })).rejects.toThrow(UnsafePathError);
    expect(await readFile(join(d.outside, 'logs', 'contractor.log'), 'utf8')).toBe('one\n');
    // A journal (held by writeLineAfterHeader), a folder further up linked back inside the root.
    const journal = join(d.root, 'state', 'journal', 'x.journal');
    await mkdir(join(d.root, 'state', 'journal'), { recursive: true });
    await writeFile(journal, 'base\n');
    expect(await writeLineAfterHeader(journal, 'base\n', 'a', { sync: true, root: d.root })).toBe(true);
    await rename(join(d.root, 'state'), join(d.root, 'state.real'));
    await symlink('state.real', join(d.root, 'state'));
    await expect(writeLineAfterHeader(journal, 'base\n', 'b', { sync: true, root: d.root })).rejects.toThrow(UnsafePathError);
    expect(await readFile(join(d.root, 'state.real', 'journal', 'x.journal'), 'utf8')).toBe('base\na\n');
    // Neither refused descriptor is left open.
    expect((await openFiles()).filter((f) => f.startsWith(d.base))).toEqual([]);
  });

  it('a folder on the way replaced by a file after an append: the next one is refused, and the old descriptor is closed', async () => {
    const log = join(d.root, 'logs', 'contractor.log');
    await appendLine(log, 'one', { root: d.root });
    await rm(join(d.root, 'logs'), { recursive: true });
    await writeFile(join(d.root, 'logs'), 'a file\n');
    await expect(appendLine(log, 'two', { root: d.root })).rejects.toThrow(/is not a directory/);
    expect((await openFiles()).filter((f) => f.startsWith(d.root))).toEqual([]);
  });

  it('a journal replaced by another writer (another first line) is not appended to, through a held descriptor or anew', async () => {
    const journal = join(d.root, 'state', 'journal', 'x.journal');
    await mkdir(join(d.root, 'state', 'journal'), { recursive: true });
    await writeFile(journal, 'base-1\n');
    expect(await writeLineAfterHeader(journal, 'base-1\n', 'a', { sync: true, root: d.root })).toBe(true);
    await writeFile(join(d.root, 'state', 'journal', 'tmp'), 'base-2\n');
    await rename(join(d.root, 'state', 'journal', 'tmp'), journal);
    expect(await writeLineAfterHeader(journal, 'base-1\n', 'b', { sync: false, root: d.root })).toBe(false);
    expect(await readFile(journal, 'utf8')).toBe('base-2\n');
    expect(await writeLineAfterHeader(journal, 'base-2\n', 'c', { sync: false, root: d.root })).toBe(true);
    expect(await readFile(journal, 'utf8')).toBe('base-2\nc\n');
  });

  it('a tool started meanwhile inherits none of them, and at most 16 stay open', async () => {
    const logs = Array.from({ length: 20 }, (_, i) => join(d.root, 'logs', `c${i}.log`));
    for (const log of logs) await appendLine(log, 'x', { root: d.root });
    const child = spawnSync('sh', ['-c', 'for f in /proc/self/fd/*; do readlink "$f"; done'], { encoding: 'utf8' });
    expect(child.stdout.split('\n').filter((f) => f.startsWith(d.root))).toEqual([]);
    const held = (await openFiles()).filter((f) => f.startsWith(d.root));
    expect(held.length).toBeGreaterThan(0);
    expect(held.length).toBeLessThanOrEqual(16);
    // The most recently used are the ones kept.
    expect(held).toContain(logs[19]);
  });
});
