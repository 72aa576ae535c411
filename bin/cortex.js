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

const { readFileSync, statSync } = require('node:fs');
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

/** The bundle dist/<name>.cjs (its exports) while it is fresh; else undefined. */
function freshBundle(name) {
  try {
    const manifest = JSON.parse(readFileSync(join(dist, `${name}.json`), 'utf8'));
    return isBundleFresh(name, manifest) ? require(join(dist, manifest.bundle)) : undefined;
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
