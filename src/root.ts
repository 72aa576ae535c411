import { existsSync, statSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { UsageError } from './errors.js';
import { mkdirPrivate, writeFileAtomic } from './adapters/atomic-file.js';
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

/** Creates a coordination directory holding the built-in workflows, templates and default config (folders 0700, files 0600). */
export async function seedRoot(dir: string): Promise<string[]> {
  await mkdirPrivate(join(dir, 'workflows', 'templates'), { root: dir });
  const copy = async (from: string, to: string) => writeFileAtomic(to, await readFile(from, 'utf8'), 0o600, { root: dir });
  const written: string[] = [];
  for (const sub of ['workflows', join('workflows', 'templates')]) {
    const from = join(EMBEDDED_ROOT, sub);
    for (const name of await readdir(from)) {
      if (!/\.(json|ya?ml)$/.test(name)) continue;
      const target = join(dir, sub, name);
      if (existsSync(target)) continue;
      await copy(join(from, name), target);
      written.push(target);
    }
  }
  const config = join(EMBEDDED_ROOT, 'config.yaml');
  if (existsSync(config) && !existsSync(join(dir, 'config.yaml'))) {
    await copy(config, join(dir, 'config.yaml'));
    written.push(join(dir, 'config.yaml'));
  }
  return written;
}
