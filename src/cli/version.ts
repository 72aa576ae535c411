import { readFileSync } from 'node:fs';

/** What `cortex version` and `cortex --version` report. */
export interface VersionInfo {
  version: string;
  /** The git commit the build was made from, or "unknown" (no checkout at build time). */
  commit: string;
  /** Whether the checkout had uncommitted changes; null when unknown. */
  dirty: boolean | null;
  node: string;
}

function readJson(url: URL): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Reads package.json and dist/build-info.json (written by scripts/build-info.mjs); only node:fs is loaded. */
export function versionInfo(): VersionInfo {
  const pkg = readJson(new URL('../../package.json', import.meta.url));
  const build = readJson(new URL('../build-info.json', import.meta.url));
  const commit = typeof build?.commit === 'string' && /^[0-9a-f]{40}$/.test(build.commit) ? build.commit : 'unknown';
  return {
    version: typeof pkg?.version === 'string' ? pkg.version : 'unknown',
    commit,
    dirty: commit !== 'unknown' && typeof build?.dirty === 'boolean' ? build.dirty : null,
    node: process.version,
  };
}

/** `cortex 0.1.0 (commit 1a2b3c4d5e6f, node v20.19.0)`. */
export function versionLine(v: VersionInfo): string {
  const commit = v.commit === 'unknown' ? 'unknown' : `${v.commit.slice(0, 12)}${v.dirty ? '-dirty' : ''}`;
  return `cortex ${v.version} (commit ${commit}, node ${v.node})`;
}
