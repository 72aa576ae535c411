#!/usr/bin/env node
// The `cortex` command (package.json "bin"). CommonJS (bin/package.json): `cortex status` in its
// plain forms runs from the CommonJS bundle of the status path (scripts/build-status-bundle.mjs)
// while that bundle is fresh, without Node's ES module loader (issue 14: status within 1.3x
// `node -e 0`). Everything else, and status whenever the bundle is missing, damaged or stale,
// runs the program, dist/cli/main.js, as before.
'use strict';
const { readFileSync, statSync } = require('node:fs');
const { join } = require('node:path');

const dist = join(__dirname, '..', 'dist');

/**
 * True when dist/status-bundle.json vouches for the bundle: every file it lists (the bundle's own
 * and every module bundled) is unchanged since the build. A file's stat as recorded (size, mtime,
 * ctime, inode: what git's index compares) means unchanged; a file with another stat (a copy, a
 * rebuild with tsc) is read and must have the recorded SHA-256.
 */
function isBundleFresh(manifest) {
  if (manifest.version !== 1 || manifest.bundle !== 'status-bundle.cjs' || typeof manifest.files !== 'object' || manifest.files === null) return false;
  const files = Object.entries(manifest.files);
  if (!files.some(([path]) => path === `dist/${manifest.bundle}`)) return false;
  let createHash;
  return files.every(([path, want]) => {
    // Only files of dist/ itself, by plain relative names.
    if (!/^dist\/[\w./-]+$/.test(path) || path.split('/').includes('..')) return false;
    const file = join(dist, '..', path);
    const s = statSync(file, { throwIfNoEntry: false });
    if (!s || !s.isFile() || s.size !== want.size) return false;
    if (s.mtimeMs === want.mtimeMs && s.ctimeMs === want.ctimeMs && s.ino === want.ino) return true;
    createHash ??= require('node:crypto').createHash;
    return createHash('sha256').update(readFileSync(file)).digest('hex') === want.sha256;
  });
}

/** `cortex status` from the bundle: its exit code, or undefined when the program must run. */
function fastStatus(argv) {
  // Only a command line naming status can be one; others do not even read the manifest.
  if (!argv.includes('status')) return undefined;
  let bundle;
  try {
    const manifest = JSON.parse(readFileSync(join(dist, 'status-bundle.json'), 'utf8'));
    if (!isBundleFresh(manifest)) return undefined;
    bundle = require(join(dist, manifest.bundle));
  } catch {
    return undefined;
  }
  return bundle.startFastStatus(argv);
}

const argv = process.argv.slice(2);
const run = fastStatus(argv);
if (run) run.then((code) => (process.exitCode = code));
else import('../dist/cli/main.js');
