import { closeSync, constants, fstatSync, fsync, fsyncSync, lstatSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { UnsafePathError } from '../errors.js';

// Synchronous system calls on purpose: each one is a few microseconds, while the promise API
// costs a thread-pool round trip per call, which dominated the per-action overhead.
// Except fsync and rename in a process that drives many things at once (serve): there a
// blocking fsync (milliseconds on a busy disk) would stop every other run and every HTTP answer.

let waitOnThreadPool = false;

/**
 * From now on the promise-returning writes of this process (writeFileAtomic, a durable
 * appendLine) wait for fsync and rename on the thread pool instead of blocking the event loop.
 * `cortex serve` calls it at start; one-run commands keep the cheaper synchronous calls.
 */
export function waitForDiskOffThread(): void {
  waitOnThreadPool = true;
}

function fsyncOffThread(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));
}

/**
 * Where a write is confined: `root` is the coordination directory (or the lab). Every folder
 * between it and the file must be a real folder, never a symbolic link, so a link planted in
 * the root cannot send a write outside it. The root itself may be reached through links.
 */
export interface Confinement {
  root?: string;
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/**
 * The folders from `root` (excluded) down to `dir` (included), outermost first; undefined when
 * `dir` is the root itself or not under it (nothing there is checked).
 */
function foldersUnder(root: string, dir: string): string[] | undefined {
  const rel = relative(root, dir);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return undefined;
  let current = root;
  return rel.split(sep).map((part) => (current = join(current, part)));
}

/**
 * Creates `dir` and its missing parents owner-only (0700, narrowed further by a stricter umask).
 * Under `root`, each existing folder between them is checked: a symbolic link or a file there
 * throws UnsafePathError and nothing is created below it.
 */
export function mkdirPrivateSync(dir: string, confinement: Confinement = {}): void {
  const root = confinement.root;
  const folders = root === undefined ? undefined : foldersUnder(root, dir);
  if (root === undefined || folders === undefined) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return;
  }
  for (const [i, current] of folders.entries()) {
    let st;
    try {
      st = lstatSync(current);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        // The root itself (and what leads to it) is taken as given: created when missing.
        if (i === 0) mkdirSync(root, { recursive: true, mode: 0o700 });
        mkdirSync(current, { mode: 0o700 });
        continue;
      } catch (e) {
        // Made by another process meanwhile: check what it is.
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        st = lstatSync(current);
      }
    }
    if (st.isSymbolicLink()) throw new UnsafePathError(current, 'is a symbolic link', root);
    if (!st.isDirectory()) throw new UnsafePathError(current, 'is not a directory', root);
  }
}

export async function mkdirPrivate(dir: string, confinement: Confinement = {}): Promise<void> {
  mkdirPrivateSync(dir, confinement);
}

/** Temp files created by this process so far: with the pid, what makes each name its own. */
let tempCount = 0;

/**
 * Creates the temp file a write goes through, beside `path`, exclusively (O_EXCL): it never
 * opens another writer's temp file, and on a clash (another host's process with the same pid on
 * a shared folder) it takes a new name. The name is the pid, a count and a random part; no
 * node:crypto, whose loading costs a short-lived process (a lab stand-in) ~9 ms.
 */
function createTemp(path: string, mode: number): { temp: string; fd: number } {
  const dir = dirname(path);
  for (let attempt = 0; ; attempt++) {
    const temp = join(dir, `.${basename(path)}.${process.pid}.${(++tempCount).toString(36)}${Math.random().toString(36).slice(2, 10)}.tmp`);
    try {
      return { temp, fd: openSync(temp, 'wx', mode) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 9) throw error;
    }
  }
}

function removeTemp(temp: string): void {
  try {
    unlinkSync(temp);
  } catch {
    // already gone
  }
}

/**
 * Replaces `path` with `data` so that a reader or a crash sees either the old or the new
 * content, never a mix: temp file in the same directory, fsync, rename. (`durableDir` also
 * fsyncs the directory so the rename itself survives a power cut; the execution record skips
 * it: the next write repeats the whole state anyway.) A symbolic link at `path` is replaced,
 * never followed. Creates parent directories (see mkdirPrivateSync for `root`).
 * Throws the underlying fs error (the temp file is removed), UnsafePathError for a link on the way.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600, options: { durableDir?: boolean; fsync?: boolean } & Confinement = {}): Promise<void> {
  if (!waitOnThreadPool) {
    writeFileAtomicSync(path, data, mode, options);
    return;
  }
  // The same steps as writeFileAtomicSync; fsync and rename wait on the thread pool.
  const dir = dirname(path);
  mkdirPrivateSync(dir, options);
  const { temp, fd } = createTemp(path, mode);
  try {
    try {
      writeAll(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      if (options.fsync !== false) await fsyncOffThread(fd);
    } finally {
      closeSync(fd);
    }
    await rename(temp, path);
  } catch (error) {
    removeTemp(temp);
    throw error;
  }
  if (options.durableDir) await syncDirOffThread(dir);
}

export function writeFileAtomicSync(path: string, data: string | Buffer, mode = 0o600, options: { durableDir?: boolean; fsync?: boolean } & Confinement = {}): void {
  const dir = dirname(path);
  mkdirPrivateSync(dir, options);
  const { temp, fd } = createTemp(path, mode);
  try {
    try {
      writeAll(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      if (options.fsync !== false) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    removeTemp(temp);
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
 * Opens `path` to append (created 0600), never through a symbolic link nor to anything but a
 * regular file (a FIFO): UnsafePathError. Folders as mkdirPrivateSync. The caller closes the descriptor.
 */
export function openAppendSync(path: string, confinement: Confinement = {}): number {
  mkdirPrivateSync(dirname(path), confinement);
  return openFileSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, confinement.root, 0o600);
}

/**
 * Opens the regular file `path` with `flags`, never through a symbolic link at it (UnsafePathError),
 * nor anything but a regular file: a FIFO planted there would block the open (a writer waits for a
 * reader; O_NONBLOCK: ENXIO instead) or the read of a journal's first line, in a system call that
 * no signal interrupts (Ctrl-C, SIGTERM: their handlers are JavaScript), and a device is not a
 * file cortex writes. O_NONBLOCK changes nothing for a regular file.
 */
function openFileSync(path: string, flags: number, root: string | undefined, mode?: number): number {
  let fd: number;
  try {
    fd = openSync(path, flags | constants.O_NOFOLLOW | constants.O_NONBLOCK, mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new UnsafePathError(path, 'is a symbolic link', root);
    if (code === 'ENXIO') throw new UnsafePathError(path, 'is not a regular file', root);
    throw error;
  }
  try {
    if (!fstatSync(fd).isFile()) throw new UnsafePathError(path, 'is not a regular file', root);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return fd;
}

/**
 * Appends one line (a newline is added when missing) with O_APPEND in a single write;
 * concurrent appenders on a local file system never interleave inside a line. `durable`
 * fsyncs too (the audit trail and the metrics ledger); logs skip it. A symbolic link at `path`
 * (or, under `root`, on the way to it) throws UnsafePathError: nothing is appended.
 */
export async function appendLine(path: string, line: string, options: { durable?: boolean } & Confinement = {}): Promise<void> {
  if (!waitOnThreadPool || !options.durable) {
    appendLineSync(path, line, options);
    return;
  }
  const buf = Buffer.from(line.endsWith('\n') ? line : `${line}\n`, 'utf8');
  return new Promise<void>((resolve, reject) => {
    let group = durableAppends.get(path);
    if (!group) durableAppends.set(path, (group = { waiting: [], confinement: options }));
    group.waiting.push({ buf, resolve, reject });
    if (group.waiting.length === 1 && !group.writing) void appendGroups(path, group);
  });
}

/** Durable lines waiting for their file (after waitForDiskOffThread), per path: see appendGroups. */
interface AppendGroup {
  waiting: Array<{ buf: Buffer; resolve: () => void; reject: (e: unknown) => void }>;
  confinement: Confinement;
  writing?: boolean;
}
const durableAppends = new Map<string, AppendGroup>();

/**
 * Group commit (serve: many runs recorded at once): the lines that arrive while one write and
 * fsync of the file is under way are appended together in one write (so another process's lines
 * never fall inside them) and made durable by one fsync. Each line's promise settles when its
 * own group is durable, or fails with it.
 */
async function appendGroups(path: string, group: AppendGroup): Promise<void> {
  group.writing = true;
  try {
    while (group.waiting.length) {
      const batch = group.waiting.splice(0);
      try {
        const fd = openAppendSync(path, group.confinement);
        try {
          writeAll(fd, batch.length === 1 ? (batch[0]?.buf as Buffer) : Buffer.concat(batch.map((b) => b.buf)));
          await fsyncOffThread(fd);
        } finally {
          closeSync(fd);
        }
        for (const b of batch) b.resolve();
      } catch (error) {
        for (const b of batch) b.reject(error);
      }
    }
  } finally {
    group.writing = false;
    durableAppends.delete(path);
  }
}

export function appendLineSync(path: string, line: string, options: { durable?: boolean } & Confinement = {}): void {
  const buf = Buffer.from(line.endsWith('\n') ? line : `${line}\n`, 'utf8');
  const fd = heldFd(path, options.root, '', () => openAppendSync(path, options)) as number;
  writeHeld(path, fd, buf, options.durable === true);
}

/**
 * Descriptors kept open between appends to the same file: a run appends two journal lines and
 * two contractor.log lines per action, and opening the path each time (the folder checks, open,
 * close) was a third of what an append cost (issue 14). A descriptor is used again only while
 * `path` is still, by lstat, the very file it was opened as (same device and inode), each folder
 * between the root and it still a real folder (lstat: a folder moved away and linked back leads to
 * the same file), opened for the same root and, for a journal, found with the same first line: a
 * file replaced (a journal rewritten whole, a log rotated) or removed, or a link put on the way,
 * makes the next append open the path anew with every check (and refuse a link). A held descriptor writes to the file it
 * opened; moved away whole since, that file still gets the line. Descriptors are opened
 * close-on-exec (libuv): tools never inherit them. At most HELD_MAX stay open, the least recently
 * used is closed first. Only synchronous writers use them: an fsync awaited on the thread pool
 * could otherwise find its descriptor closed (and its number reused) under it.
 */
const HELD_MAX = 16;
const held = new Map<string, { fd: number; dev: bigint; ino: bigint; root: string | undefined; header: string; folders: readonly string[] }>();

/** The held descriptor of `path` (see `held`), or `open()`'s new one (kept), or undefined when open() finds nothing. */
function heldFd(path: string, root: string | undefined, header: string, open: () => number | undefined): number | undefined {
  const h = held.get(path);
  if (h) {
    held.delete(path);
    let st;
    try {
      st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
    } catch {
      // Unreadable on the way (a folder replaced by a file, permissions): open() says what it is.
    }
    if (st?.isFile() && st.ino === h.ino && st.dev === h.dev && h.root === root && h.header === header && foldersStillReal(h.folders)) {
      held.set(path, h);
      return h.fd;
    }
    closeSync(h.fd);
  }
  const fd = open();
  if (fd === undefined) return undefined;
  try {
    const st = fstatSync(fd, { bigint: true });
    held.set(path, { fd, dev: st.dev, ino: st.ino, root, header, folders: (root === undefined ? undefined : foldersUnder(root, dirname(path))) ?? [] });
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  for (const [p, e] of held) {
    if (held.size <= HELD_MAX) break;
    held.delete(p);
    closeSync(e.fd);
  }
  return fd;
}

/**
 * True while every folder between the root and a held file (`folders`, listed when it was opened)
 * is still a real folder, not a symbolic link. The lstat of the file alone would not see one: a
 * folder moved away (out of the root, even) and linked back leads to the very same file, whose
 * held descriptor would then be written through a link. False sends the append back through
 * open(), whose checks refuse the link.
 */
function foldersStillReal(folders: readonly string[]): boolean {
  return folders.every((folder) => {
    try {
      return lstatSync(folder, { throwIfNoEntry: false })?.isDirectory() === true;
    } catch {
      return false;
    }
  });
}

/** Writes `buf` (and fsyncs it) through a held descriptor; one that fails is closed and dropped. */
function writeHeld(path: string, fd: number, buf: Buffer, sync: boolean): void {
  try {
    writeAll(fd, buf);
    if (sync) fsyncSync(fd);
  } catch (error) {
    if (held.get(path)?.fd === fd) {
      held.delete(path);
      closeSync(fd);
    }
    throw error;
  }
}

/** Opens `path` to append after checking that it starts with `header`; undefined when missing or starting otherwise. */
function openAfterHeader(path: string, header: string, confinement: Confinement): number | undefined {
  mkdirPrivateSync(dirname(path), confinement);
  let fd: number;
  try {
    fd = openFileSync(path, constants.O_RDWR | constants.O_APPEND, confinement.root);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  try {
    const expected = Buffer.from(header, 'utf8');
    const head = Buffer.alloc(expected.length);
    if (readSync(fd, head, 0, head.length, 0) === head.length && head.equals(expected)) return fd;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  closeSync(fd);
  return undefined;
}

/**
 * Appends one line (a newline is added when missing) in a single write to an existing file whose
 * content starts with `header`; returns false and writes nothing when the file is missing or
 * starts otherwise (another writer replaced it). Never through a symbolic link (UnsafePathError);
 * folders as mkdirPrivateSync. With `sync: true` the line is fsynced before it returns; with
 * `sync: false` it is only written (it reaches the page cache: a kill of this process keeps it, a
 * power loss may not) and the caller makes it durable later (syncFile, or an fsync of the same
 * file, which covers every write made to it before). The descriptor stays open for the next line
 * (see `held`), except while fsyncs wait on the thread pool.
 */
export async function writeLineAfterHeader(path: string, header: string, line: string, options: { sync: boolean } & Confinement): Promise<boolean> {
  const buf = Buffer.from(line.endsWith('\n') ? line : `${line}\n`, 'utf8');
  if (!waitOnThreadPool) {
    const fd = heldFd(path, options.root, header, () => openAfterHeader(path, header, options));
    if (fd === undefined) return false;
    writeHeld(path, fd, buf, options.sync);
    return true;
  }
  const fd = openAfterHeader(path, header, options);
  if (fd === undefined) return false;
  try {
    writeAll(fd, buf);
    if (options.sync) await fsyncOffThread(fd);
    return true;
  } finally {
    closeSync(fd);
  }
}

/**
 * Makes what was written to `path` durable (fsync; on the thread pool after waitForDiskOffThread).
 * Returns false when the file is gone (replaced or removed: what it held was superseded). Never
 * through a symbolic link (UnsafePathError).
 */
export async function syncFile(path: string): Promise<boolean> {
  let fd: number;
  try {
    fd = openFileSync(path, constants.O_RDONLY, undefined);
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
  try {
    if (waitOnThreadPool) await fsyncOffThread(fd);
    else fsyncSync(fd);
    return true;
  } finally {
    closeSync(fd);
  }
}

/** Creates `path` empty (0600, its folder 0700) unless it exists; an existing file is left as it is. */
export async function touchPrivate(path: string, confinement: Confinement = {}): Promise<void> {
  closeSync(openAppendSync(path, confinement));
}

/** syncDir with the fsync on the thread pool (see waitForDiskOffThread). */
async function syncDirOffThread(dir: string): Promise<void> {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return; // as syncDir: best effort
  }
  try {
    await fsyncOffThread(fd);
  } catch {
    // as syncDir: best effort
  } finally {
    closeSync(fd);
  }
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
