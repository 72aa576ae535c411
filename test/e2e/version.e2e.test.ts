/**
 * `cortex version` and `--version` (issue 13): package version, the commit baked in at build time
 * (scripts/build-info.mjs; "unknown" without this package's own .git, as in a published package)
 * and the Node.js version.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT, cleanEnv } from './helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const VERSION = (JSON.parse(readFileSync(join(PROJECT, 'package.json'), 'utf8')) as { version: string }).version;

/** A copy of the built package (package.json, bin, dist, scripts) under `dir`, as npm would install it. */
function installedCopy(dir: string): string {
  mkdirSync(dir, { recursive: true });
  cpSync(join(PROJECT, 'package.json'), join(dir, 'package.json'));
  cpSync(join(PROJECT, 'bin'), join(dir, 'bin'), { recursive: true });
  cpSync(join(PROJECT, 'dist'), join(dir, 'dist'), { recursive: true, filter: (src) => !src.endsWith('build-info.json') });
  cpSync(join(PROJECT, 'scripts'), join(dir, 'scripts'), { recursive: true });
  symlinkSync(join(PROJECT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'cortex-version-'));
  dirs.push(d);
  return d;
}

/** The copy's `cortex` command (bin/cortex.js: its program bundle, which finds package.json from where it is). */
async function cli(pkg: string, args: string[]) {
  return execa('node', [join(pkg, 'bin', 'cortex.js'), ...args], { env: cleanEnv(), extendEnv: false, reject: false, cwd: pkg });
}

const nodeVersion = async () => (await execa('node', ['-p', 'process.version'])).stdout;

describe('cortex version', { timeout: 60_000 }, () => {
  it('names the commit of the checkout it was built in, in text, JSON and --version', async () => {
    const pkg = installedCopy(join(tmp(), 'cortex'));
    // Built from the project's checkout: its commit.
    await execa('node', [join(pkg, 'scripts', 'build-info.mjs'), PROJECT, join(pkg, 'dist', 'build-info.json')]);
    const head = (await execa('git', ['-C', PROJECT, 'rev-parse', 'HEAD'])).stdout;
    const node = await nodeVersion();
    const json = await cli(pkg, ['version', '-o', 'json']);
    expect(json.exitCode, json.stderr).toBe(0);
    const info = JSON.parse(json.stdout) as { version: string; commit: string; dirty: boolean | null; node: string };
    expect(info).toMatchObject({ version: VERSION, commit: head, node });
    expect(typeof info.dirty).toBe('boolean');
    const line = new RegExp(`^cortex ${VERSION.replace(/\./g, '\\.')} \\(commit ${head.slice(0, 12)}(-dirty)?, node ${node.replace(/\./g, '\\.')}\\)$`);
    for (const args of [['version'], ['--version'], ['-V']]) {
      const res = await cli(pkg, args);
      expect(res.exitCode, res.stderr).toBe(0);
      expect(res.stdout).toMatch(line);
    }
    // --json is -o json; yaml too.
    expect(JSON.parse((await cli(pkg, ['--json', 'version'])).stdout)).toEqual(info);
    expect((await cli(pkg, ['version', '-o', 'yaml'])).stdout).toContain(`commit: ${head}`);
  });

  it('says "unknown" when built where the package has no .git of its own (a published package, or inside another repository)', async () => {
    const outer = tmp();
    await execa('git', ['init', '-q', outer]);
    const pkg = installedCopy(join(outer, 'node_modules', 'cortex'));
    await execa('node', [join(pkg, 'scripts', 'build-info.mjs')]);
    const res = await cli(pkg, ['version', '-o', 'json']);
    expect(res.exitCode, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({ version: VERSION, commit: 'unknown', dirty: null, node: await nodeVersion() });
    expect((await cli(pkg, ['--version'])).stdout).toMatch(/^cortex \S+ \(commit unknown, node v\d+\.\d+\.\d+\)$/);
  });

  it('with no build-info at all (a plain tsc build) the commit is unknown too; -o wide is refused', async () => {
    const pkg = installedCopy(join(tmp(), 'cortex'));
    const res = await cli(pkg, ['version']);
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stdout).toContain('(commit unknown,');
    const wide = await cli(pkg, ['version', '-o', 'wide']);
    expect(wide.exitCode).toBe(2);
    expect(wide.stderr).toContain('Allowed choices are json, yaml');
  });
});
