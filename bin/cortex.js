#!/usr/bin/env node
// The `cortex` command (package.json "bin"). CommonJS (bin/package.json), so that a command starts
// without Node's ES module loader (issue 14): it runs the CommonJS bundles of the program
// (scripts/build-bundles.mjs) while they are fresh. `cortex status` in its plain forms runs from the
// status bundle (its ~25 modules: status within 1.3x `node -e 0`); everything else, and status in
// the forms that bundle declines, from the program bundle. A bundle that is missing, damaged or
// stale is not run: the command then runs the ES program, dist/cli/main.js, as before.
'use strict';

// serve drives many runs at once: their fsyncs wait on libuv's thread pool (4 threads by default,
// sized when first used). First thing: Node 20's ES loader reads dist/cli/main.js with the pool.
if (process.argv.includes('serve') && process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = '16';

const { closeSync, constants, fstatSync, openSync, readFileSync, readSync, statSync } = require('node:fs');
const { join } = require('node:path');

const packageRoot = join(__dirname, '..');
const dist = join(packageRoot, 'dist');

/**
 * At most this many bytes of files whose stat differs from the manifest's are read and hashed. A
 * file or two rewritten with the same content (a rebuild, a `touch`) is checked by its SHA-256;
 * a package whose every file has another stat (a copy, an npm install: the manifest has the build
 * machine's inodes and times) would mean reading and hashing all of it, 4.8 MB for the program
 * bundle (0.6 MB of it the packages bundled), ~85 ms, more than the bundle saves: such a
 * package runs the ES program at once (the status bundle, 0.27 MB, stays within it). An npm
 * install or update in node_modules/ alone (new inodes for the packages bundled) passes it too:
 * the ES program runs until the next build.
 */
const HASH_AT_MOST_BYTES = 512 * 1024;

/**
 * True when the manifest dist/<name>.json vouches for the bundle dist/<name>.cjs: every file it
 * lists (the bundle's own, every module of dist/ bundled and every file of the packages bundled,
 * under node_modules/: scripts/build-bundles.mjs) is unchanged since the build. A file's stat as
 * recorded (size, mtime, ctime, inode: what git's index compares) means unchanged; a file with
 * another stat (a copy, a rebuild with tsc) is read and must have the recorded SHA-256, within
 * HASH_AT_MOST_BYTES in all, else the bundle is not taken as fresh. A file missing is not
 * fresh either: cortex installed as a dependency whose packages went to a parent folder's
 * node_modules/ (hoisted) runs the ES program, which loads them from there.
 */
function isBundleFresh(name, manifest) {
  if (manifest.version !== 1 || manifest.bundle !== `${name}.cjs` || typeof manifest.files !== 'object' || manifest.files === null) return false;
  const files = Object.entries(manifest.files);
  if (!files.some(([path]) => path === `dist/${manifest.bundle}`)) return false;
  const toHash = [];
  let bytes = 0;
  for (const [path, want] of files) {
    // Only files of this package's dist/ and node_modules/ (the packages bundled), by plain relative names.
    if (!/^(dist|node_modules)\/[\w.@/-]+$/.test(path) || path.split('/').includes('..')) return false;
    // Concatenated, not path.join()ed: the name is checked plain above, and join, run cold (its
    // code not yet compiled) for each of the ~580 files of the program bundle, cost ~12 ms of CPU.
    const file = `${packageRoot}/${path}`;
    const s = statSync(file, { throwIfNoEntry: false });
    if (!s || !s.isFile() || s.size !== want.size) return false;
    if (s.mtimeMs === want.mtimeMs && s.ctimeMs === want.ctimeMs && s.ino === want.ino) continue;
    bytes += s.size;
    if (bytes > HASH_AT_MOST_BYTES) return false;
    toHash.push([file, want.sha256]);
  }
  if (toHash.length === 0) return true;
  const { createHash } = require('node:crypto');
  return toHash.every(([file, sha256]) => createHash('sha256').update(readFileSync(file)).digest('hex') === sha256);
}

/**
 * The function a chunk of a bundle is compiled as, with V8's code cache: the same text and options
 * as where the cache was made (scripts/build-code-cache.mjs), or V8 rejects the cache (and
 * compiles from the source, as without one).
 */
const wrapChunk = (source) => `(function (exports, require, module, __filename, __dirname) { ${source}\n});`;

/**
 * Compiles the chunks of a fresh bundle, and the precompiled validators it loads, with V8's code
 * cache that the build made for them (scripts/build-code-cache.mjs: dist/<name>.v8cache, the
 * functions a run compiled, with their bytecode), instead of from the source alone: ~35 ms less of
 * a run's start (BENCHMARKS.md). Used only where it was made for: this Node (its V8), a chunk with
 * the SHA-256 the manifest vouches for (isBundleFresh) and, as it is compiled, the stat the
 * manifest records (size, mtime, ctime, inode), a validator with the stat it had, and the cache
 * file unchanged since the build by its stat; it is never hashed, and one that differs is not read. V8 itself rejects a cache of other flags (NODE_OPTIONS):
 * the file compiles from its source, as every file the build did not load.
 */
function useCodeCache(manifest) {
  const cache = manifest.code_cache;
  const vm = require('node:vm');
  const importModuleDynamically = vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
  if (typeof cache !== 'object' || cache === null || importModuleDynamically === undefined) return;
  if (cache.node !== process.version || cache.arch !== process.arch || typeof cache.chunks !== 'object' || cache.chunks === null) return;
  if (typeof cache.file !== 'string' || !/^dist\/[\w.-]+\.v8cache$/.test(cache.file)) return;
  const byFile = new Map();
  for (const [name, chunk] of Object.entries(cache.chunks)) {
    if (!/^(validators\/)?[\w.-]+\.cjs$/.test(name) || typeof chunk !== 'object' || chunk === null) continue;
    const listed = manifest.files[`dist/${name}`];
    if (listed ? listed.sha256 !== chunk.sha256 : typeof chunk.stat !== 'object' || chunk.stat === null) continue;
    const { offset, length } = chunk;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0 || offset + length > cache.size) continue;
    byFile.set(`${dist}/${name}`, { offset, length, stat: listed ?? chunk.stat });
  }
  // Node's policies (--experimental-policy) check a file's integrity in the compile this replaces.
  if (byFile.size === 0 || /--experimental-policy/.test(`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`)) return;
  // Each file's part is read when it is compiled (a command loads a part of them; reading all, 1.5
  // MB, cost ~5 ms), from this descriptor: the file whose stat was checked, even if a build
  // replaces it meanwhile. Open for the process's life, closed on exec (libuv's O_CLOEXEC).
  let fd;
  try {
    // Not opened unless it is the file of the build (a FIFO there would block the open), and then
    // without blocking, should another have taken its place meanwhile.
    if (!sameStat(statSync(`${packageRoot}/${cache.file}`, { throwIfNoEntry: false }), cache)) return;
    fd = openSync(`${packageRoot}/${cache.file}`, constants.O_RDONLY | constants.O_NONBLOCK);
    if (!sameStat(fstatSync(fd), cache)) throw new Error('not the cache of the build');
  } catch {
    if (fd !== undefined) closeSync(fd);
    return;
  }
  const Module = require('node:module');
  const compile = Module.prototype._compile;
  // Node's own compile for every other file (the packages kept external, the validators without a cache).
  Module.prototype._compile = function compileWithCodeCache(content, filename) {
    const entry = byFile.get(filename);
    // Checked again as it is compiled: a chunk a build replaced since the command started (a
    // lazy one, required late) is not the text the cache was made from.
    if (entry === undefined || !sameStat(statSync(filename, { throwIfNoEntry: false }), entry.stat)) return compile.call(this, content, filename);
    byFile.delete(filename);
    const cachedData = Buffer.allocUnsafe(entry.length);
    try {
      if (readSync(fd, cachedData, 0, entry.length, entry.offset) !== entry.length) throw new Error('short read');
    } catch {
      return compile.call(this, content, filename);
    }
    const script = new vm.Script(wrapChunk(content), { filename, cachedData, importModuleDynamically });
    // Rejected for V8's flags or version, which are the same for every other file: none is read.
    if (script.cachedDataRejected) byFile.clear();
    const chunk = script.runInThisContext({ displayErrors: true });
    return chunk.call(this.exports, this.exports, Module.createRequire(filename), this, filename, filename.slice(0, filename.lastIndexOf('/')));
  };
}

/** True when `s` (a stat, or undefined) has the size, mtime, ctime and inode recorded in `want`. */
function sameStat(s, want) {
  return s !== undefined && s.isFile() && s.size === want.size && s.mtimeMs === want.mtimeMs && s.ctimeMs === want.ctimeMs && s.ino === want.ino;
}

/** The bundle dist/<name>.cjs (its exports) while it is fresh; else undefined. */
function freshBundle(name) {
  try {
    const manifest = JSON.parse(readFileSync(join(dist, `${name}.json`), 'utf8'));
    if (!isBundleFresh(name, manifest)) return undefined;
    useCodeCache(manifest);
    return require(join(dist, manifest.bundle));
  } catch {
    return undefined;
  }
}

/** The command's exit code, or undefined when neither bundle can run it. */
function fromBundles(argv) {
  // Only a command line naming status can be a plain status; others do not even read its manifest.
  const status = argv.includes('status') ? freshBundle('status-bundle') : undefined;
  const run = status?.startFastStatus(argv);
  if (run) return run;
  return freshBundle('program-bundle')?.startProgram(argv);
}

const run = fromBundles(process.argv.slice(2));
if (run) run.then((code) => (process.exitCode = code));
else import('../dist/cli/main.js');
