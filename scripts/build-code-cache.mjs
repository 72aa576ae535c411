#!/usr/bin/env node
// Makes V8's code cache for the program bundle (scripts/build-bundles.mjs runs it after writing
// the bundle's manifest): dist/program-bundle.v8cache, and the manifest's `code_cache`, which
// bin/cortex.js reads. A command compiles the ~1 MB of chunks it loads at every start (~40 ms of
// CPU for a run, with the functions it compiles lazily); with the cache V8 deserializes their
// bytecode instead (BENCHMARKS.md). The status bundle has none: plain status loads 3 small chunks,
// and measured no faster with a cache.
//
// How: this process loads the bundle as bin/cortex.js does with a cache (each chunk, and each
// precompiled validator of dist/validators/ it loads, compiled by vm.Script, the same wrapper and
// options), runs one ordinary command on a temporary root (a run of one `true` action), then loads
// every other chunk of the bundle (their top level), and asks V8 for each file's cache: it holds
// every function compiled so far. The cache is made for this Node (process.version, arch:
// bin/cortex.js uses it nowhere else), for each chunk's text by the SHA-256 its manifest records
// (checked here against the file compiled), for each validator's file by its stat. A file with an
// import() has none (hasDynamicImport). It is an optimisation only: a failure leaves the manifest
// without `code_cache` (reported), and the commands compile from the source as before.
//
// Usage: node scripts/build-code-cache.mjs PACKAGE_ROOT program-bundle WORK_DIR   (WORK_DIR: an empty
// folder for the warm-up's root and home, which the caller removes)
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import vm from 'node:vm';
import { parseAst } from 'rolldown/parseAst';

const [root, prefix, work] = process.argv.slice(2);
if (!root || prefix !== 'program-bundle' || !work) throw new Error('usage: node scripts/build-code-cache.mjs PACKAGE_ROOT program-bundle WORK_DIR');
const dist = join(root, 'dist');
// The warm-up run must reach nothing of the machine that builds: not a queue (CORTEX_QUEUE_URL
// would send it to the workers), not a coordination directory, a kubeconfig or a home of its own.
// build-bundles.mjs starts this process with PATH alone; run by hand, the rest goes here.
for (const name of Object.keys(process.env)) if (/^(CORTEX_|KUBECONFIG$|TALOSCONFIG$)/.test(name)) delete process.env[name];
process.env.HOME = work;
const manifestFile = join(dist, `${prefix}.json`);
const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
const importModuleDynamically = vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
if (importModuleDynamically === undefined) {
  console.log(`dist: ${prefix}: no code cache (this Node, ${process.version}, has no vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER)`);
  process.exit(0);
}

// As bin/cortex.js's wrapChunk: another text or other options and V8 rejects the cache there.
const wrapChunk = (source) => `(function (exports, require, module, __filename, __dirname) { ${source}\n});`;
/**
 * True when `source` holds an import() (an ImportExpression, not the word in a comment). Node 20
 * loses the import callback of functions that come from a code cache: their import() throws
 * ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING (`cortex init` did, its import('node:fs/promises')), so
 * such a file gets no cache.
 */
function hasDynamicImport(source) {
  const walk = (node) => {
    if (Array.isArray(node)) return node.some(walk);
    if (node === null || typeof node !== 'object') return false;
    if (node.type === 'ImportExpression') return true;
    return Object.values(node).some(walk);
  };
  return walk(parseAst(source));
}

const scripts = new Map();
const compile = Module.prototype._compile;
Module.prototype._compile = function compileForCodeCache(content, filename) {
  const name = filename.slice(dist.length + 1);
  const listed = manifest.files[`dist/${name}`];
  // The chunks (the manifest vouches for them) and the precompiled validators (by their stat).
  if (!filename.startsWith(`${dist}/`) || !(listed || /^validators\/[\w.-]+\.cjs$/.test(name)) || hasDynamicImport(content)) return compile.call(this, content, filename);
  // The text compiled is the file's as it is now and, for a chunk, as the manifest records it:
  // a build that rewrote it meanwhile makes no cache (V8 checks only a text's length).
  const { size, mtimeMs, ctimeMs, ino } = statSync(filename);
  const sha256 = createHash('sha256').update(content).digest('hex');
  const now = statSync(filename);
  if (sha256 !== createHash('sha256').update(readFileSync(filename)).digest('hex') || now.mtimeMs !== mtimeMs || now.ctimeMs !== ctimeMs || now.ino !== ino) {
    throw new Error(`${filename} changed while its code cache was made`);
  }
  if (listed && sha256 !== listed.sha256) throw new Error(`${filename} changed since its manifest was written`);
  const script = new vm.Script(wrapChunk(content), { filename, importModuleDynamically });
  scripts.set(name, listed ? { script, sha256 } : { script, sha256, stat: { size, mtimeMs, ctimeMs, ino } });
  return script.runInThisContext({ displayErrors: true }).call(this.exports, this.exports, createRequire(filename), this, filename, dirname(filename));
};

const require = createRequire(import.meta.url);
const bundle = require(join(dist, manifest.bundle));
mkdirSync(join(work, 'workflows'), { recursive: true });
// The command's own output is not the build's.
const write = process.stdout.write;
process.stdout.write = () => true;
writeFileSync(
  join(work, 'workflows', 'warm.yaml'),
  'workflow_id: warm\nworkflow_name: warm\nversion: 1.0.0\nphases:\n  - phase_id: p\n    contractor: infrastructure-contractor\n    actions:\n      - { action_id: a0, action: execute_command, parameters: { command: ["true"] } }\n',
);
let code;
try {
  code = await bundle.startProgram(['--root', work, 'run', 'warm']);
} finally {
  process.stdout.write = write;
}
if (code !== 0) throw new Error(`the command run to warm the cache exited ${code}`);
// Every other chunk's top level.
for (const file of Object.keys(manifest.modules)) if (!scripts.has(file.slice('dist/'.length))) require(join(root, file));

const parts = [];
const chunks = {};
let offset = 0;
for (const [name, { script, sha256, stat }] of [...scripts].sort(([a], [b]) => (a < b ? -1 : 1))) {
  const data = script.createCachedData();
  chunks[name] = { offset, length: data.length, sha256, ...(stat && { stat }) };
  parts.push(data);
  offset += data.length;
}
const cacheFile = join(dist, `${prefix}.v8cache`);
const temp = `${cacheFile}.${process.pid}.tmp`;
writeFileSync(temp, Buffer.concat(parts));
renameSync(temp, cacheFile);
const s = statSync(cacheFile);
manifest.code_cache = { file: `dist/${prefix}.v8cache`, node: process.version, arch: process.arch, size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, ino: s.ino, chunks };
const manifestTemp = `${manifestFile}.${process.pid}.tmp`;
writeFileSync(manifestTemp, `${JSON.stringify(manifest, null, 2)}\n`);
renameSync(manifestTemp, manifestFile);
console.log(`dist: ${prefix}: code cache of ${scripts.size} chunks, ${Math.round(s.size / 1024)} KB`);
// The run's handles (its lock's timers) must not keep the build waiting.
process.exit(0);
