/** When the lab's shims use a stand-in's one-file bundle: only while it matches every file it was built from. */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { STANDIN_MANIFEST, standinBundleName, standinModules } from '../../../src/lab/standin-bundles.js';

const roots: string[] = [];
afterEach(() => roots.splice(0).forEach((r) => rmSync(r, { recursive: true, force: true })));

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** A package root with dist/: two tools sharing a module and one from node_modules, bundled and listed. */
function builtRoot(): { root: string; tools: Record<string, string>; write(path: string, text: string): void; manifest(m: unknown): void } {
  const root = mkdtempSync(join(tmpdir(), 'cortex-standins-'));
  roots.push(root);
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  const files: Record<string, string> = {
    'dist/lab/a/a-main.js': 'import "./shared.js";',
    'dist/lab/b/b-main.js': 'import "../a/shared.js";',
    'dist/lab/a/shared.js': 'export const x = 1;',
    'node_modules/dep/index.js': 'module.exports = 2;',
  };
  for (const [p, t] of Object.entries(files)) write(p, t);
  write(`dist/${standinBundleName('a')}`, '// a');
  write(`dist/${standinBundleName('b')}`, '// b');
  const manifest = (m: unknown) => write(`dist/${STANDIN_MANIFEST}`, JSON.stringify(m));
  const inputs = (...paths: string[]) => Object.fromEntries(paths.map((p) => [p, sha(files[p] as string)]));
  manifest({
    version: 1,
    tools: {
      a: { entry: 'dist/lab/a/a-main.js', bundle: standinBundleName('a'), inputs: inputs('dist/lab/a/a-main.js', 'dist/lab/a/shared.js', 'node_modules/dep/index.js') },
      b: { entry: 'dist/lab/b/b-main.js', bundle: standinBundleName('b'), inputs: inputs('dist/lab/b/b-main.js', 'dist/lab/a/shared.js') },
    },
  });
  return { root, tools: { a: join(root, 'dist/lab/a/a-main.js'), b: join(root, 'dist/lab/b/b-main.js') }, write, manifest };
}

describe('standinModules', () => {
  it('gives each tool its bundle while every file it was built from is unchanged', () => {
    const { root, tools } = builtRoot();
    expect(standinModules(tools, root)).toEqual({ a: join(root, 'dist', standinBundleName('a')), b: join(root, 'dist', standinBundleName('b')) });
  });

  it('gives the entry module of every tool built from a file changed since (a module or a dependency)', () => {
    const shared = builtRoot();
    shared.write('dist/lab/a/shared.js', 'export const x = 2;');
    expect(standinModules(shared.tools, shared.root)).toEqual(shared.tools);
    const dep = builtRoot();
    dep.write('node_modules/dep/index.js', 'module.exports = 3;');
    expect(standinModules(dep.tools, dep.root)).toEqual({ a: dep.tools.a, b: join(dep.root, 'dist', standinBundleName('b')) });
  });

  it('gives the entry module when a file it was built from, or the bundle, is gone', () => {
    const input = builtRoot();
    rmSync(join(input.root, 'dist/lab/a/shared.js'));
    expect(standinModules(input.tools, input.root)).toEqual(input.tools);
    const bundle = builtRoot();
    rmSync(join(bundle.root, 'dist', standinBundleName('b')));
    expect(standinModules(bundle.tools, bundle.root).b).toBe(bundle.tools.b);
  });

  it('gives the entry module without a manifest, with an unreadable one, or for a tool or entry it does not list', () => {
    const none = builtRoot();
    rmSync(join(none.root, 'dist', STANDIN_MANIFEST));
    expect(standinModules(none.tools, none.root)).toEqual(none.tools);
    const bad = builtRoot();
    bad.write(`dist/${STANDIN_MANIFEST}`, '{"version": 1, "tools": ');
    expect(standinModules(bad.tools, bad.root)).toEqual(bad.tools);
    const other = builtRoot();
    const c = join(other.root, 'dist/lab/c-main.js');
    const moved = join(other.root, 'dist/lab/a/moved-main.js');
    expect(standinModules({ c, a: moved }, other.root)).toEqual({ c, a: moved });
  });

  it('never trusts a manifest listing no files, or files outside the package', () => {
    const { root, tools, manifest } = builtRoot();
    manifest({ version: 1, tools: { a: { entry: 'dist/lab/a/a-main.js', bundle: standinBundleName('a'), inputs: {} } } });
    expect(standinModules(tools, root).a).toBe(tools.a);
    writeFileSync(join(dirname(root), 'outside.js'), 'x');
    manifest({ version: 1, tools: { a: { entry: 'dist/lab/a/a-main.js', bundle: standinBundleName('a'), inputs: { '../outside.js': sha('x') } } } });
    expect(standinModules(tools, root).a).toBe(tools.a);
    rmSync(join(dirname(root), 'outside.js'));
  });
});
