#!/usr/bin/env node
// Bundles the cortex program into CommonJS files at build time (npm run build, prepare), for
// bin/cortex.js, so that a command starts without Node's ES module loader, which resolved and
// compiled the ~200 modules of dist/ one by one (issue 14, BENCHMARKS.md). Two bundles:
// - the status bundle, dist/status-bundle*.cjs, from dist/cli/status-main.js: the plain forms of
//   `cortex status` (~25 modules);
// - the program bundle, dist/program-bundle*.cjs, from dist/cli/program-main.js: everything else.
// The modules a bundle imports lazily stay lazy: each lazy import is a chunk of its own, required
// only when reached.
//
// Packages (PACKAGES below). A package loaded from node_modules costs a resolution, a read and a
// compile per file (yaml: ~80 files, ~55 ms of CPU; the same code in one bundled file ~15 ms), so
// the packages a command loads at start are bundled too. Per bundle, a package is either bundled
// for all its chunks or external for all (an import of a package in neither list fails the
// build), so that one process never holds two copies of a package (its module-level state, its
// classes for instanceof): a package stays external when code outside the bundle loads it too.
// The program bundle holds
// - yaml (every run, validate, history: definitions are YAML), commander (every command but plain
//   status), croner (schedules: run, validate, history), proper-lockfile with graceful-fs, retry
//   and signal-exit (every run's locks). Plain CommonJS: no native code, no require() of a
//   variable, no __dirname, require.resolve or package.json read at run time (checked; commander's
//   __dirname and require.main are in comments and in executable subcommands, which cortex does
//   not use). graceful-fs patches node:fs once per process through a global Symbol.for queue,
//   shared by any other copy; nothing else here loads one.
// - chalk and ora with their dependencies (cli-cursor, restore-cursor, onetime, mimic-function,
//   signal-exit 4, cli-spinners, is-interactive, is-unicode-supported, log-symbols, yoctocolors,
//   stdin-discarder, string-width, get-east-asian-width, strip-ansi, ansi-regex): ES modules, imported
//   on a terminal (colours; a spinner per action), where Node's ES loader started for them alone
//   (~27 ms for chalk, ~90 ms for ora). No import.meta, no dynamic import, no file read.
// and keeps external
// - ajv, ajv-formats (and fast-deep-equal, fast-uri, ...): the precompiled validators
//   (dist/validators/*.cjs, files of their own that dist/definitions/schemas.js requires by path)
//   load ajv's runtime pieces from node_modules, and a schema compiled at run time loads ajv by a
//   createRequire'd require, which no bundler follows: a bundled ajv would be a second copy beside
//   those. The validators' pieces are 5 small files.
// - bullmq, ioredis: queue mode only (cortex worker, serve --queue, their lazy chunks), 2.5 MB of
//   modules a bundle would list and hash, and bullmq's msgpackr loads the optional native addon
//   msgpackr-extract by a createRequire'd require; ioredis is bullmq's peer (bullmq requires
//   node_modules' ioredis, which cortex's own Redis clients must then be too), so both stay
//   external.
// The status bundle holds chalk (status on a terminal) and keeps yaml and proper-lockfile external:
// plain status loads neither (yaml only for -o yaml or a person's draft, locks never), and with
// them its manifest would pass the 512 KB bin/cortex.js hashes at most, so that an installed copy
// (every stat differs) would no longer run status from it.
// Guards: an external package that needs (package.json dependencies, transitively) a package
// bundled, a module of dist/ that require()s a bundled package by a createRequire'd require, a
// precompiled validator that requires one, a bundled package that uses import.meta: each fails
// the build.
//
// dist/<bundle>.json lists the bundle's files and every file bundled, modules of dist/ and files of
// packages (node_modules/...), each with its SHA-256 and its stat (size, mtime, ctime, inode), and
// which modules each file of the bundle holds. bin/cortex.js runs a bundle only while every one of
// them is unchanged (the stat as recorded, or else the same SHA-256), so a build with tsc alone
// after an edit, or an npm update or a hand patch in node_modules, runs the ES modules of dist/ as
// before (they load the packages from node_modules), never a stale bundle. Packages are resolved
// without following symlinks (a linked node_modules is listed under node_modules/); a bundled
// package file outside this package's node_modules/ (hoisted to a parent folder, as when cortex is
// built inside another project) cannot be listed: the bundle then gets no manifest and the ES
// program runs.
//
// import.meta.url: a bundled module's own URL is what it locates files by (PACKAGE_ROOT, the JSON
// it requires, the lab's stand-in tools, package.json for --version). In a bundle that would be the
// chunk's; each module's is replaced by its original file's URL, computed when it runs from the
// chunk's __dirname (dist/: every chunk is in dist/ itself) and the module's path under dist/, so
// the package can be installed anywhere. Any other use of import.meta fails the build. Needs dist/
// (tsc) first.
//
// Usage: node scripts/build-bundles.mjs [PACKAGE_ROOT]   (default: this checkout)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { builtinModules } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';

const root = resolve(process.argv[2] ?? join(fileURLToPath(new URL('.', import.meta.url)), '..'));
const dist = join(root, 'dist');

const nodeModules = join(root, 'node_modules');

/** ora and what it needs (chalk too): a spinner per action on a terminal. */
const ORA = ['ora', 'chalk', 'cli-cursor', 'restore-cursor', 'onetime', 'mimic-function', 'signal-exit', 'cli-spinners', 'is-interactive', 'is-unicode-supported', 'log-symbols', 'yoctocolors', 'stdin-discarder', 'string-width', 'get-east-asian-width', 'strip-ansi', 'ansi-regex'];
/** proper-lockfile and what it needs (its own signal-exit 3). */
const LOCKS = ['proper-lockfile', 'graceful-fs', 'retry', 'signal-exit'];
/**
 * Per bundle, the packages bundled (with every package they import) and those kept external: the
 * header says why. A package a bundled module imports that is in neither list fails the build.
 */
const PACKAGES = {
  'status-bundle': { bundled: ['chalk'], external: ['yaml', ...LOCKS] },
  'program-bundle': { bundled: ['yaml', 'commander', 'croner', ...LOCKS, ...ORA], external: ['ajv', 'ajv-formats', 'bullmq', 'ioredis'] },
};

const rel = (path) => relative(root, path).split(sep).join('/');
/** The package a bare specifier names: `yaml`, `@scope/name`. */
const packageOf = (specifier) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
/** The package a bundled file of node_modules/ belongs to (the last node_modules/ of its path). */
const packageOfFile = (path) => packageOf(path.slice(path.lastIndexOf(`${sep}node_modules${sep}`) + `${sep}node_modules${sep}`.length).split(sep).join('/'));
/** The folder of package `name` as Node finds it from `from` (node_modules/ of it and its parents), or undefined. */
function packageDir(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}
/** The real folders of package `name` (from `from`) and of every package it needs, transitively. */
function packageClosure(name, from, seen = new Map()) {
  const dir = packageDir(name, from);
  if (!dir || seen.has(realpathSync(dir))) return seen;
  seen.set(realpathSync(dir), name);
  const pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  for (const dep of Object.keys({ ...pj.dependencies, ...pj.optionalDependencies, ...pj.peerDependencies })) packageClosure(dep, dir, seen);
  return seen;
}
/** The packages `code` loads by a require() of a literal name (in dist/: a createRequire'd require, which no bundler follows). */
const requiredPackages = (code) => [...code.matchAll(/\b\w*[rR]equire\w*\(\s*(['"])([^'"]+)\1\s*\)/g)].map((m) => m[2]).filter((s) => !s.startsWith('.') && !s.startsWith('#') && !isAbsolute(s) && !isBuiltin(s)).map(packageOf);
const isBuiltin = (specifier) => specifier.startsWith('node:') || builtinModules.includes(specifier);
/** What bin/cortex.js compares first: a file whose stat is unchanged is not read. */
function fingerprint(path) {
  const s = statSync(path);
  return { sha256: createHash('sha256').update(readFileSync(path)).digest('hex'), size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, ino: s.ino };
}
function writeAtomic(path, text) {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, path);
}

/**
 * A rolldown plugin: in each module of dist/, `import.meta.url` becomes the URL of the module's
 * own file, from the __dirname of the chunk it ends up in (dist/) and its path under dist/.
 */
function moduleUrls(label) {
  const URL_OF = '__cortexModuleUrl';
  return {
    name: 'cortex-module-urls',
    transform(code, id) {
      if (!code.includes('import.meta')) return null;
      if (!id.startsWith(dist + sep)) throw new Error(`${label}: ${id} uses import.meta: only modules of dist/ can (keep its package external: scripts/build-bundles.mjs)`);
      const path = relative(dist, id).split(sep).join('/');
      const out = code.replace(/\bimport\.meta\.url\b/g, `${URL_OF}(${JSON.stringify(path)})`);
      const left = /\bimport\.meta\b.{0,20}/.exec(out);
      if (left) throw new Error(`${label}: ${rel(id)} uses "${left[0]}": only import.meta.url can be bundled (scripts/build-bundles.mjs)`);
      // Imports are hoisted: the helper is defined before the module's own code runs.
      return {
        code: `import { pathToFileURL as ${URL_OF}_toURL } from 'node:url';\nimport { join as ${URL_OF}_join } from 'node:path';\nconst ${URL_OF} = (path) => ${URL_OF}_toURL(${URL_OF}_join(__dirname, path)).href;\n${out}`,
        map: null,
      };
    },
  };
}

/**
 * A rolldown plugin: a module of dist/ must not load a package bundled by a require() of its own
 * (createRequire): that would be node_modules' copy beside the bundle's.
 */
function noSecondCopies(label, bundled) {
  return {
    name: 'cortex-no-second-copies',
    transform(code, id) {
      if (!id.startsWith(dist + sep)) return null;
      const twice = requiredPackages(code).filter((p) => bundled.includes(p));
      if (twice.length > 0) throw new Error(`${label}: ${rel(id)} loads ${twice.join(', ')} by require(), a second copy beside the bundle's: import it (scripts/build-bundles.mjs)`);
      return null;
    },
  };
}

/**
 * Bundles dist/<entry> into dist/<prefix>.cjs and its chunks dist/<prefix>-*.cjs, then writes the
 * manifest dist/<prefix>.json.
 */
async function buildBundle({ label, entry: entryPath, prefix }) {
  const entry = join(dist, entryPath);
  const manifestFile = join(dist, `${prefix}.json`);
  // An old manifest must not vouch for files while they are rewritten (a command started meanwhile
  // runs the ES modules). Old chunks stay until replaced: a command started before the build may
  // still require one. Chunks no longer built go at the end.
  rmSync(manifestFile, { force: true });
  rmSync(join(dist, `${prefix}.v8cache`), { force: true });
  const { bundled, external } = PACKAGES[prefix];
  const both = bundled.filter((p) => external.includes(p));
  if (both.length > 0) throw new Error(`${label}: ${both.join(', ')} both bundled and external (PACKAGES of scripts/build-bundles.mjs)`);
  // An external package that needs a bundled one would load node_modules' copy of it beside the bundle's.
  for (const name of external) {
    for (const [dir, needed] of packageClosure(name, dist)) {
      if (bundled.includes(needed)) throw new Error(`${label}: ${name} (external) needs ${needed} (${dir}), which is bundled: two copies in one process (scripts/build-bundles.mjs)`);
    }
  }
  const undecided = new Set();
  const bundle = await rolldown({
    input: entry,
    platform: 'node',
    logLevel: 'warn',
    // Built-ins and the external packages are required at run time; the rest is bundled.
    external: (id, importer, isResolved) => {
      if (isResolved || id.startsWith('.') || id.startsWith('#') || isAbsolute(id) || id.startsWith('\0')) return false;
      if (isBuiltin(id)) return true;
      const name = packageOf(id);
      if (external.includes(name)) return true;
      if (!bundled.includes(name)) undecided.add(`${name} (imported by ${importer ? rel(importer) : '?'})`);
      return false;
    },
    // A package in a linked node_modules/ keeps its path under this package's node_modules/ (the
    // manifest lists it there), not its real one.
    resolve: { symlinks: false },
    plugins: [moduleUrls(label), noSecondCopies(label, bundled)],
  });
  const { output } = await bundle.generate({ format: 'cjs', entryFileNames: `${prefix}.cjs`, chunkFileNames: `${prefix}-[name].cjs` });
  await bundle.close();
  // (rolldown resolves, so calls `external`, while it generates)
  if (undecided.size > 0) throw new Error(`${label}: bundled or external? ${[...undecided].join(', ')}: decide in PACKAGES of scripts/build-bundles.mjs`);

  const files = [];
  const inputs = new Set();
  const outside = new Set();
  const packageFiles = new Map();
  const modules = {};
  for (const o of output) {
    if (o.type !== 'chunk') throw new Error(`${label}: unexpected asset ${o.fileName}`);
    // __dirname of every chunk must be dist/ (module URLs above).
    if (o.fileName.includes('/')) throw new Error(`${label}: chunk ${o.fileName} is not in dist/ itself`);
    writeAtomic(join(dist, o.fileName), `// generated by scripts/build-bundles.mjs from ${rel(entry)}: do not edit\n${o.code}`);
    files.push(o.fileName);
    modules[rel(join(dist, o.fileName))] = [];
    for (const id of o.moduleIds) {
      // rolldown's own runtime helpers are virtual modules, not files
      if (id.startsWith('\0') || id.startsWith('rolldown:')) continue;
      if (!id.startsWith(dist + sep)) {
        if (!id.includes(`${sep}node_modules${sep}`)) throw new Error(`${label}: ${id} is neither in dist/ nor in a package`);
        const name = packageOfFile(id);
        if (!bundled.includes(name)) throw new Error(`${label}: ${rel(id)} is of ${name}, not a package bundled (scripts/build-bundles.mjs)`);
        packageFiles.set(name, (packageFiles.get(name) ?? 0) + 1);
        if (!id.startsWith(nodeModules + sep)) outside.add(id);
        // The package's package.json too: its main and exports decide which of its files the ES
        // program loads (a patch that adds a file and points main at it changes no file bundled).
        const folder = id.slice(0, id.lastIndexOf(`${sep}node_modules${sep}`) + `${sep}node_modules${sep}`.length) + name.split('/').join(sep);
        if (existsSync(join(folder, 'package.json'))) inputs.add(join(folder, 'package.json'));
      }
      inputs.add(id);
      modules[rel(join(dist, o.fileName))].push(rel(id));
    }
  }
  if (prefix === 'program-bundle') {
    // The precompiled validators are files of their own, required by path at run time (dist/definitions/schemas.js).
    const validators = join(dist, 'validators');
    for (const f of existsSync(validators) ? readdirSync(validators) : []) {
      const twice = requiredPackages(readFileSync(join(validators, f), 'utf8')).filter((p) => bundled.includes(p));
      if (twice.length > 0) throw new Error(`${label}: dist/validators/${f} requires ${[...new Set(twice)].join(', ')}, which the bundle holds: two copies in one process`);
    }
  }
  const manifest = {
    version: 1,
    entry: rel(entry),
    bundle: `${prefix}.cjs`,
    // The bundle's own files and the files bundled: all must be unchanged for the bundle to run.
    files: Object.fromEntries([...files.map((f) => join(dist, f)), ...inputs].sort().map((f) => [rel(f), fingerprint(f)])),
    // Which modules each file of the bundle holds (for the tests of what a command loads).
    modules: Object.fromEntries(Object.entries(modules).sort(([a], [b]) => (a < b ? -1 : 1))),
  };
  const built = new Set(files);
  for (const f of readdirSync(dist)) if (f.startsWith(`${prefix}`) && f.endsWith('.cjs') && !built.has(f)) rmSync(join(dist, f), { force: true });
  const held = [...packageFiles].map(([name, n]) => `${name} ${n}`).join(', ');
  if (outside.size > 0) {
    // bin/cortex.js reads only files under dist/ and node_modules/ of this package: without a manifest the ES program runs.
    console.log(`dist: ${label} not used (no manifest): ${outside.size} files of the packages it holds are outside ${rel(nodeModules)}/ (hoisted?), e.g. ${[...outside][0]}`);
    return;
  }
  writeAtomic(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`dist: ${label}, ${files.length} files from ${inputs.size} modules${held ? ` (package files: ${held})` : ''}`);
  // V8's code cache of its chunks, in a process of its own (it runs a command of the bundle).
  if (prefix !== 'program-bundle') return;
  // Its environment is PATH alone (its run reaches no queue, root or home of the machine: the
  // script's header; no NODE_OPTIONS, whose V8 flags would make a cache V8 rejects without them),
  // and its folder is removed here, even when it was killed.
  const work = mkdtempSync(join(tmpdir(), 'cortex-code-cache-'));
  let made;
  try {
    made = spawnSync(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'build-code-cache.mjs'), realpathSync(root), prefix, work], {
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  if (made.status === 0) process.stdout.write(made.stdout);
  else console.log(`dist: ${label}: no code cache (scripts/build-code-cache.mjs ${made.error ? made.error.message : `exited ${made.status ?? made.signal}`}): ${`${made.stdout}${made.stderr}`.trim() || 'no output'}`);
}

await buildBundle({ label: 'status bundle', entry: 'cli/status-main.js', prefix: 'status-bundle' });
await buildBundle({ label: 'program bundle', entry: 'cli/program-main.js', prefix: 'program-bundle' });
