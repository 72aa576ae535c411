#!/usr/bin/env node
// Bakes the git commit into dist/build-info.json at build time (npm run build, prepare), so that
// `cortex version` can name it where there is no .git (an installed package). Only this package's
// own checkout counts: inside another repository (node_modules of a project), the commit is unknown.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
const out = resolve(process.argv[3] ?? join(root, 'dist', 'build-info.json'));

function git(args) {
  return execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}

let info = { commit: 'unknown', dirty: null };
if (existsSync(join(root, '.git'))) {
  try {
    const commit = git(['rev-parse', 'HEAD']);
    if (/^[0-9a-f]{40}$/.test(commit)) info = { commit, dirty: git(['status', '--porcelain', '--untracked-files=no']) !== '' };
  } catch {
    // git missing or not a repository after all: unknown.
  }
}
mkdirSync(dirname(out), { recursive: true });
const temp = `${out}.${process.pid}.tmp`;
writeFileSync(temp, `${JSON.stringify(info)}\n`);
renameSync(temp, out);
