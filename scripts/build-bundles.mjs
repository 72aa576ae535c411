#!/usr/bin/env node
// Bundles the cortex program into CommonJS files at build time (npm run build, prepare), for
// bin/cortex.js, so that a command starts without Node's ES module loader, which resolved and
// compiled the ~200 modules of dist/ one by one (issue 14, BENCHMARKS.md). Two bundles:
// - the status bundle, dist/status-bundle*.cjs, from dist/cli/status-main.js: the plain forms of
//   `cortex status` (~25 modules);
// - the program bundle, dist/program-bundle*.cjs, from dist/cli/program-main.js: everything else.
// The modules a bundle imports lazily stay lazy: each lazy import is a chunk of its own, required
// only when reached. Packages (yaml, chalk, commander, ...) are not bundled: the chunks load them
// from node_modules.
//
// dist/<bundle>.json lists the bundle's files and every file bundled, each with its SHA-256 and
// its stat (size, mtime, ctime, inode), and which modules each file of the bundle holds. bin/cortex.js runs a bundle only while every one of them is
// unchanged (the stat as recorded, or else the same SHA-256), so a build with tsc alone after an
// edit runs the ES modules of dist/ as before, never a stale bundle.
//
// import.meta.url: a bundled module's own URL is what it locates files by (PACKAGE_ROOT, the JSON
// it requires, the lab's stand-in tools, package.json for --version). In a bundle that would be the
// chunk's; each module's is replaced by its original file's URL, computed when it runs from the
// chunk's __dirname (dist/: every chunk is in dist/ itself) and the module's path under dist/, so
// the package can be installed anywhere. Any other use of import.meta fails the build. Needs dist/
// (tsc) first.
//
// Usage: node scripts/build-bundles.mjs [PACKAGE_ROOT]   (default: this checkout)
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';

const root = resolve(process.argv[2] ?? join(fileURLToPath(new URL('.', import.meta.url)), '..'));
const dist = join(root, 'dist');

const rel = (path) => relative(root, path).split(sep).join('/');
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
      if (!id.startsWith(dist + sep)) throw new Error(`${label}: ${id} is outside dist/`);
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
  const bundle = await rolldown({
    input: entry,
    platform: 'node',
    logLevel: 'warn',
    // Packages load from node_modules (node built-ins are external on platform node anyway).
    external: (id) => !id.startsWith('.') && !isAbsolute(id) && !id.startsWith('\0'),
    plugins: [moduleUrls(label)],
  });
  const { output } = await bundle.generate({ format: 'cjs', entryFileNames: `${prefix}.cjs`, chunkFileNames: `${prefix}-[name].cjs` });
  await bundle.close();

  const files = [];
  const inputs = new Set();
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
      if (!id.startsWith(dist + sep)) throw new Error(`${label}: ${id} is outside dist/ (packages must stay external)`);
      inputs.add(id);
      modules[rel(join(dist, o.fileName))].push(rel(id));
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
  writeAtomic(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`dist: ${label}, ${files.length} files from ${inputs.size} modules`);
}

await buildBundle({ label: 'status bundle', entry: 'cli/status-main.js', prefix: 'status-bundle' });
await buildBundle({ label: 'program bundle', entry: 'cli/program-main.js', prefix: 'program-bundle' });
