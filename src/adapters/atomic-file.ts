import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces `path` with `data` so that a reader or a crash sees either the old or the new
 * content, never a mix: temp file in the same directory, fsync, rename, fsync the directory.
 * Creates parent directories. Throws the underlying fs error (the temp file is removed).
 */
export async function writeFileAtomic(path: string, data: string, mode?: number): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(temp, 'wx', mode);
    try {
      await fh.writeFile(data, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDir(dir);
}

/**
 * Appends one line (a newline is added when missing) with O_APPEND in a single write, then
 * fsyncs; concurrent appenders on a local file system never interleave inside a line.
 */
export async function appendLine(path: string, line: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const buf = Buffer.from(line.endsWith('\n') ? line : `${line}\n`, 'utf8');
  const fh = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o644);
  try {
    let offset = 0;
    // One write() in practice; the loop only guards against a short write.
    while (offset < buf.length) {
      const { bytesWritten } = await fh.write(buf, offset, buf.length - offset);
      offset += bytesWritten;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes a rename durable; some file systems refuse to open or fsync directories, so best effort. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Durability of the directory entry is a bonus, not a correctness requirement.
  }
}
