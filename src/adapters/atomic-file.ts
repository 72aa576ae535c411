import { randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

// Synchronous system calls on purpose: each one is a few microseconds, while the promise API
// costs a thread-pool round trip per call, which dominated the per-action overhead.

/**
 * Replaces `path` with `data` so that a reader or a crash sees either the old or the new
 * content, never a mix: temp file in the same directory, fsync, rename. (`durableDir` also
 * fsyncs the directory so the rename itself survives a power cut; the execution record skips
 * it: the next write repeats the whole state anyway.)
 * Creates parent directories. Throws the underlying fs error (the temp file is removed).
 */
export async function writeFileAtomic(path: string, data: string, mode?: number, options: { durableDir?: boolean } = {}): Promise<void> {
  writeFileAtomicSync(path, data, mode, options);
}

/** Creates a directory (and its parents) owner-only: 0700, narrowed further by a stricter umask. */
export function mkdirPrivateSync(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

export async function mkdirPrivate(dir: string): Promise<void> {
  mkdirPrivateSync(dir);
}

export function writeFileAtomicSync(path: string, data: string, mode = 0o600, options: { durableDir?: boolean } = {}): void {
  const dir = dirname(path);
  mkdirPrivateSync(dir);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = openSync(temp, 'wx', mode);
    try {
      writeAll(fd, Buffer.from(data, 'utf8'));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // already gone
    }
    throw error;
  }
  if (options.durableDir) syncDir(dir);
}

function writeAll(fd: number, buf: Buffer): void {
  let offset = 0;
  // One write() in practice; the loop only guards against a short write.
  while (offset < buf.length) offset += writeSync(fd, buf, offset, buf.length - offset);
}

/**
 * Appends one line (a newline is added when missing) with O_APPEND in a single write;
 * concurrent appenders on a local file system never interleave inside a line. `durable`
 * fsyncs too (the audit trail and the metrics ledger); logs skip it.
 */
export async function appendLine(path: string, line: string, options: { durable?: boolean } = {}): Promise<void> {
  mkdirPrivateSync(dirname(path));
  const buf = Buffer.from(line.endsWith('\n') ? line : `${line}\n`, 'utf8');
  const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
  try {
    writeAll(fd, buf);
    if (options.durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Creates `path` empty (0600, its folder 0700) unless it exists; an existing file is left as it is. */
export async function touchPrivate(path: string): Promise<void> {
  mkdirPrivateSync(dirname(path));
  closeSync(openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600));
}

/** Makes a rename durable; some file systems refuse to open or fsync directories, so best effort. */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Durability of the directory entry is a bonus, not a correctness requirement.
  }
}
