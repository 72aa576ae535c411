/**
 * The one-file bundles of the stand-in tools (scripts/build-standins.mjs) and when the lab may use
 * one: only while every file it was bundled from is unchanged (same SHA-256 as at the build). A
 * build with tsc alone after an edit, or an updated dependency, leaves the bundle stale: the lab
 * then runs the stand-in's modules in dist/ as before.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { PACKAGE_ROOT } from '../paths.js';

/** The manifest in dist/: per tool its entry, its bundle and the hash of each file bundled. */
export const STANDIN_MANIFEST = 'lab-standins.json';

/** The bundle of `tool`, in dist/ (beside paths.js, so PACKAGE_ROOT is the same inside it). */
export function standinBundleName(tool: string): string {
  return `lab-standin-${tool}.cjs`;
}

interface Manifest {
  version: number;
  tools: Record<string, { entry: string; bundle: string; inputs: Record<string, string> }>;
}

function readManifest(dist: string): Manifest | undefined {
  try {
    const m = JSON.parse(readFileSync(join(dist, STANDIN_MANIFEST), 'utf8')) as Manifest;
    return m.version === 1 && m.tools && typeof m.tools === 'object' ? m : undefined;
  } catch {
    return undefined;
  }
}

function sha256(path: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return undefined;
  }
}

/** A manifest path (relative to the package, '/'-separated) as a file path, if it stays inside. */
function inside(root: string, path: string): string | undefined {
  const full = resolve(root, ...path.split('/'));
  const r = relative(root, full);
  return r && !r.startsWith('..') && !isAbsolute(r) ? full : undefined;
}

/**
 * The file each stand-in shim imports, by tool (`tools`: tool -> its entry module): the tool's
 * bundle when the manifest has one built from that entry and from files all unchanged since, else
 * the entry. A file several bundles share is hashed once.
 */
export function standinModules(tools: Readonly<Record<string, string>>, root: string = PACKAGE_ROOT): Record<string, string> {
  const dist = join(root, 'dist');
  const manifest = readManifest(dist);
  const hashes = new Map<string, string | undefined>();
  const hashOf = (file: string) => {
    if (!hashes.has(file)) hashes.set(file, sha256(file));
    return hashes.get(file);
  };
  const out: Record<string, string> = {};
  for (const [tool, entry] of Object.entries(tools)) {
    const spec = manifest?.tools[tool];
    const bundle = spec ? join(dist, standinBundleName(tool)) : undefined;
    const fresh =
      spec !== undefined &&
      bundle !== undefined &&
      spec.entry === relative(root, entry).split(sep).join('/') &&
      spec.bundle === standinBundleName(tool) &&
      existsSync(bundle) &&
      Object.keys(spec.inputs ?? {}).length > 0 &&
      Object.entries(spec.inputs).every(([path, hash]) => {
        const file = inside(root, path);
        return file !== undefined && hashOf(file) === hash;
      });
    out[tool] = fresh ? bundle : entry;
  }
  return out;
}
