import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { UsageError } from './errors.js';
import { EMBEDDED_ROOT } from './paths.js';

export type RootSource = 'flag' | 'env' | 'cwd' | 'home';

export interface ResolvedRoot {
  dir: string;
  source: RootSource;
  /** True when the directory lies inside an installed package (node_modules): cortex must not write there. */
  isReadOnlyPackage: boolean;
}

export interface RootInputs {
  flag?: string;
  env: Record<string, string | undefined>;
  cwd: string;
  home: string;
}

/**
 * The coordination directory: --root, else $CORTEX_HOME, else ./coordination when present,
 * else ~/.cortex (created with the built-in workflows on first use by ensureRoot).
 */
export function resolveRoot(inputs: RootInputs): ResolvedRoot {
  let dir: string;
  let source: RootSource;
  if (inputs.flag !== undefined && inputs.flag !== '') {
    dir = resolve(inputs.cwd, inputs.flag);
    source = 'flag';
  } else if (inputs.env.CORTEX_HOME) {
    dir = resolve(inputs.cwd, inputs.env.CORTEX_HOME);
    source = 'env';
  } else if (isDir(join(inputs.cwd, 'coordination'))) {
    dir = join(inputs.cwd, 'coordination');
    source = 'cwd';
  } else {
    dir = join(inputs.home, '.cortex');
    source = 'home';
  }
  return { dir, source, isReadOnlyPackage: dir.split(sep).includes('node_modules') };
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Refuses a root no command can use: one that is not a directory, or a --root / $CORTEX_HOME
 * that does not exist (a typo must not read as "nothing here"). ~/.cortex may be missing: it is
 * created on first use. Throws UsageError (exit 2).
 */
export function assertRootUsable(root: ResolvedRoot): void {
  if (isDir(root.dir)) return;
  if (existsSync(root.dir)) throw new UsageError(`coordination directory ${root.dir} is not a directory`, { hint: 'give --root (or CORTEX_HOME) a directory' });
  if (root.source === 'flag' || root.source === 'env') {
    throw new UsageError(`coordination directory ${root.dir} does not exist`, { hint: `create it with: cortex init ${root.dir}` });
  }
}

/**
 * Makes sure the root exists. ~/.cortex is created and seeded with the built-in workflows and
 * config on first use; a --root or $CORTEX_HOME that does not exist is an error (a typo must not
 * silently start an empty root).
 */
export async function ensureRoot(root: ResolvedRoot): Promise<void> {
  if (isDir(root.dir)) return;
  if (existsSync(root.dir)) throw new UsageError(`coordination directory ${root.dir} is not a directory`);
  if (root.source !== 'home') {
    throw new UsageError(`coordination directory ${root.dir} does not exist`, {
      hint: `create it with: cortex init ${root.dir}`,
    });
  }
  await seedRoot(root.dir);
}

/** What `cortex init` wrote once, relative to the root: a built-in listed here and now missing was removed on purpose. */
export const INIT_MARKER = '.cortex-init.json';

interface InitMarker {
  version: 1;
  /** Root-relative paths of the built-in files init wrote (or found) in this root. */
  written: string[];
  updated_at: string;
}

export interface SeedResult {
  /** Absolute paths written now. */
  written: string[];
  /** Root-relative built-ins left as they were (they exist). */
  kept: string[];
  /** Root-relative built-ins not written: removed since init wrote them, or the root predates the marker. */
  notRestored: string[];
}

/** Root-relative paths of the shipped built-ins: workflows, templates, config.yaml. */
async function builtinFiles(): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  const out: string[] = [];
  for (const sub of ['workflows', join('workflows', 'templates')]) {
    for (const name of (await readdir(join(EMBEDDED_ROOT, sub))).sort()) if (/\.(json|ya?ml)$/.test(name)) out.push(join(sub, name));
  }
  if (existsSync(join(EMBEDDED_ROOT, 'config.yaml'))) out.push('config.yaml');
  return out;
}

function readMarker(dir: string): InitMarker | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, INIT_MARKER), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as Partial<InitMarker>;
    if (Array.isArray(value.written) && value.written.every((w) => typeof w === 'string')) return { version: 1, written: value.written, updated_at: String(value.updated_at ?? '') };
  } catch {
    // reported below
  }
  throw new UsageError(`${join(dir, INIT_MARKER)} is not what cortex init writes`, { hint: 'restore it from version control, or remove it (then init adds no built-in that is missing)' });
}

/**
 * Puts the built-in workflows, templates and default config in a coordination directory
 * (folders 0700, files 0600) and records them in INIT_MARKER. Never overwrites a file, and never
 * recreates a built-in the operator removed (listed in the marker, or any missing one in a root
 * that is not empty and has no marker), unless `force`: then every built-in is written afresh.
 */
export async function seedRoot(dir: string, options: { force?: boolean } = {}): Promise<SeedResult> {
  const force = options.force ?? false;
  if (existsSync(dir) && !isDir(dir)) throw new UsageError(`${dir} is not a directory`, { hint: 'cortex init takes a directory (new or existing)' });
  const isFresh = !existsSync(dir) || readdirSync(dir).length === 0;
  const marker = readMarker(dir);
  // Only init and first use write here: every read-only command resolves its root through this
  // module, and the atomic writer brings node:crypto with it, node:fs/promises its stream and
  // readline modules (issue 14, status start-up).
  const [{ mkdirPrivate, writeFileAtomic }, { readFile }] = await Promise.all([import('./adapters/atomic-file.js'), import('node:fs/promises')]);
  await mkdirPrivate(join(dir, 'workflows', 'templates'), { root: dir });
  const result: SeedResult = { written: [], kept: [], notRestored: [] };
  const recorded = new Set(marker?.written ?? []);
  for (const rel of await builtinFiles()) {
    const target = join(dir, rel);
    const exists = existsSync(target);
    if (!force && exists) {
      result.kept.push(rel);
      // A root from before the marker: what is there now is the baseline.
      if (!marker) recorded.add(rel);
      continue;
    }
    if (!force && (recorded.has(rel) || (!marker && !isFresh))) {
      result.notRestored.push(rel);
      continue;
    }
    await writeFileAtomic(target, await readFile(join(EMBEDDED_ROOT, rel), 'utf8'), 0o600, { root: dir });
    result.written.push(target);
    recorded.add(rel);
  }
  if (!marker || result.written.length > 0) {
    const next: InitMarker = { version: 1, written: [...recorded].sort(), updated_at: new Date().toISOString() };
    await writeFileAtomic(join(dir, INIT_MARKER), `${JSON.stringify(next, null, 2)}\n`, 0o600, { root: dir });
  }
  return result;
}
