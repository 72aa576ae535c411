import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, closeSync, lstatSync, openSync, readdirSync, readFileSync, readSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsActionFileStore } from '../../../src/adapters/fs-action-files.js';
import type { ActionFiles } from '../../../src/ports/files.js';

const mode = (p: string) => statSync(p).mode & 0o777;

describe('FsActionFileStore', () => {
  let root: string;
  let files: ActionFiles;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'cortex-action-files-'));
    files = new FsActionFileStore(root).forAction('exec-1', 'act-1');
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes 0600 files in new 0700 directories, and replaces an existing file (mode too) without a temp file left', async () => {
    const file = join(root, 'out', 'deep', 'kubeconfig');
    await files.writePrivate(file, 'one\n');
    expect(readFileSync(file, 'utf8')).toBe('one\n');
    expect(mode(file)).toBe(0o600);
    expect(mode(join(root, 'out'))).toBe(0o700);
    expect(mode(join(root, 'out', 'deep'))).toBe(0o700);
    chmodSync(file, 0o644);
    await files.writePrivate(file, 'two\n');
    expect(readFileSync(file, 'utf8')).toBe('two\n');
    expect(mode(file)).toBe(0o600);
    expect(readdirSync(join(root, 'out', 'deep'))).toEqual(['kubeconfig']);
  });

  it('replaces the file by rename: a reader holding the old file still reads it whole', async () => {
    const file = join(root, 'pods.json');
    writeFileSync(file, 'old content');
    const fd = openSync(file, 'r');
    try {
      await files.writePrivate(file, 'new content, longer than the old one');
      const buf = Buffer.alloc(64);
      const n = readSync(fd, buf, 0, buf.length, 0);
      expect(buf.subarray(0, n).toString()).toBe('old content');
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(file, 'utf8')).toBe('new content, longer than the old one');
  });

  it('replaces a symlink at the target instead of writing through it', async () => {
    const elsewhere = join(root, 'elsewhere.txt');
    writeFileSync(elsewhere, 'untouched');
    const link = join(root, 'patch.yaml');
    symlinkSync(elsewhere, link);
    await files.writePrivate(link, 'machine: {}\n');
    expect(lstatSync(link).isSymbolicLink()).toBe(false);
    expect(readFileSync(link, 'utf8')).toBe('machine: {}\n');
    expect(readFileSync(elsewhere, 'utf8')).toBe('untouched');
  });

  it('makes private directories, narrows modes, tests existence and reads text', async () => {
    const dir = join(root, 'clusters', 'x');
    await files.mkdirPrivate(dir);
    expect(mode(dir)).toBe(0o700);
    chmodSync(dir, 0o755);
    await files.mkdirPrivate(dir);
    expect(mode(dir)).toBe(0o755);
    await files.chmodPrivate(dir);
    expect(mode(dir)).toBe(0o700);
    const f = join(dir, 'talosconfig');
    writeFileSync(f, 'context: x\n', { mode: 0o644 });
    await files.chmodPrivate(f);
    expect(mode(f)).toBe(0o600);
    expect(await files.exists(f)).toBe(true);
    expect(await files.exists(join(dir, 'kubeconfig'))).toBe(false);
    expect(await files.readText(f)).toBe('context: x\n');
    await expect(files.readText(join(dir, 'kubeconfig'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(files.chmodPrivate(join(dir, 'kubeconfig'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('gives each action its own owner-only artifacts folder, and the clusters folder of the root', async () => {
    const dir = await files.artifactsDir('forensics-worker-1');
    expect(dir).toBe(join(root, 'state', 'artifacts', 'exec-1', 'act-1', 'forensics-worker-1'));
    for (const d of [join(root, 'state'), join(root, 'state', 'artifacts'), join(root, 'state', 'artifacts', 'exec-1'), join(root, 'state', 'artifacts', 'exec-1', 'act-1'), dir]) expect(mode(d)).toBe(0o700);
    const other = new FsActionFileStore(root).forAction('exec-1', 'act-2');
    expect(await other.artifactsDir()).toBe(join(root, 'state', 'artifacts', 'exec-1', 'act-2'));
    expect(files.clustersDir()).toBe(join(root, 'clusters'));
    for (const bad of ['..', '.', 'a/b', '../../escape', '']) await expect(files.artifactsDir(bad)).rejects.toThrow(/one plain name/);
  });
});
