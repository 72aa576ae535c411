/**
 * What the read-only commands load (issue 14, the status row): `cortex status` must not load the
 * engine, ajv, yaml, the queue client or execa. Checked for both ways cortex starts: the ES
 * program (dist/cli/main.js: a module hook records every module it resolves) and bin/cortex.js,
 * which runs the CommonJS bundles of the program (scripts/build-bundles.mjs; Node's CommonJS loader
 * names each file it loads, NODE_DEBUG=module, and the bundle's manifest which modules each of its
 * files holds; the hook sees what they import() from node_modules). A regression (status-watch
 * importing app/drive.js pulled in the whole engine and made status 2.4x `node -e 0` instead of
 * 1.6x) shows as a name in the list, not as a timing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CLI, ES_CLI, PROJECT, cleanEnv, tempRoot, removeRoot } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'cortex-modules-'));
const roots: string[] = [];
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  roots.forEach(removeRoot);
});
writeFileSync(
  join(dir, 'hooks.mjs'),
  `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.CORTEX_TEST_MODULE_LOG, r.url + '\\n');
  return r;
}
`,
);
writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`);

/** Per file of the two bundles (dist/...cjs), the modules of dist/ it holds, as file URLs. */
function bundledModules(): Map<string, string[]> {
  const held = new Map<string, string[]>();
  for (const name of ['status-bundle', 'program-bundle']) {
    const manifest = JSON.parse(readFileSync(join(PROJECT, 'dist', `${name}.json`), 'utf8')) as { modules: Record<string, string[]> };
    for (const [file, modules] of Object.entries(manifest.modules)) held.set(join(PROJECT, file), modules.map((m) => pathToFileURL(join(PROJECT, m)).href));
  }
  return held;
}

const ENTRIES = { 'the ES program': ES_CLI, 'bin/cortex.js (the bundles)': CLI };

/** The URL of every module `entry` loads running `args` (node:NAME for a built-in). */
async function modulesOf(entry: string, args: string[]): Promise<string[]> {
  const log = join(dir, `modules-${args.join('_').replace(/\W/g, '')}.log`);
  writeFileSync(log, '');
  const viaBin = entry === CLI;
  const res = await execa('node', ['--import', pathToFileURL(join(dir, 'register.mjs')).href, entry, ...args], {
    env: cleanEnv({ CORTEX_TEST_MODULE_LOG: log, ...(viaBin ? { NODE_DEBUG: 'module' } : {}) }),
    extendEnv: false,
    reject: false,
  });
  expect(res.exitCode, res.stderr.slice(-2000)).toBe(0);
  const loaded = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  if (!viaBin) return loaded;
  const held = bundledModules();
  const files = [...res.stderr.matchAll(/load "([^"]+)"/g)].map((m) => m[1] as string);
  expect(
    files.filter((f) => held.has(f)),
    `${args.join(' ')}: bin/cortex.js ran a bundle (stale after tsc alone? npm run build)`,
  ).not.toEqual([]);
  expect(loaded.filter((u) => u.endsWith('/dist/cli/main.js')), 'bin/cortex.js did not fall back to the ES program').toEqual([]);
  const builtins = [...res.stderr.matchAll(/Module\._load REQUEST (\S+)/g)]
    .map((m) => (m[1] as string).replace(/^node:/, ''))
    .filter((m) => builtinModules.includes(m))
    .map((m) => `node:${m}`);
  return [...loaded, ...builtins, ...files.flatMap((f) => held.get(f) ?? [pathToFileURL(f).href])];
}

const HEAVY = [/\/node_modules\/(ajv|yaml|bullmq|ioredis|execa|ora)\//, /\/dist\/engine\/run-workflow\.js$/, /\/dist\/app\/drive\.js$/, /\/dist\/definitions\//];

describe.each(Object.entries(ENTRIES))('startup: what the read-only commands load, %s', (_, entry) => {
  it('cortex status (empty root, and --json) loads neither the engine nor ajv, yaml, the queue or execa', async () => {
    const root = tempRoot({});
    roots.push(root);
    for (const args of [['--root', root, 'status'], ['--root', root, 'status', '--json']]) {
      const loaded = await modulesOf(entry, args);
      expect(loaded.some((u) => u.endsWith('/dist/cli/commands/status.js')), 'the hook saw the status command').toBe(true);
      expect(loaded.filter((u) => HEAVY.some((h) => h.test(u))), args.join(' ')).toEqual([]);
    }
  });

  it('cortex status in its plain forms starts without commander or node:crypto (src/cli/fast-status.ts)', async () => {
    const root = tempRoot({});
    roots.push(root);
    for (const args of [['--root', root, 'status'], ['--root', root, 'status', '-o', 'wide', '--no-color']]) {
      const loaded = await modulesOf(entry, args);
      expect(loaded.some((u) => u.endsWith('/dist/cli/commands/status.js')), 'the hook saw the status command').toBe(true);
      expect(loaded.filter((u) => /\/node_modules\/commander\/|\/dist\/cli\/program\.js$|^node:crypto$/.test(u)), args.join(' ')).toEqual([]);
    }
    // Anything else still goes through the program (here: status --help).
    const help = await modulesOf(entry, ['--root', root, 'status', '--help']);
    expect(help.some((u) => /\/node_modules\/commander\//.test(u))).toBe(true);
  });

  it('cortex --version loads no command module', async () => {
    const loaded = await modulesOf(entry, ['--version']);
    expect(loaded.filter((u) => /\/dist\/cli\/commands\//.test(u) || HEAVY.some((h) => h.test(u)))).toEqual([]);
  });
});

/** The packages whose files Node's CommonJS loader read from node_modules (NODE_DEBUG=module), by name. */
function packagesFromNodeModules(stderr: string): string[] {
  const names = [...stderr.matchAll(/load "([^"]*\/node_modules\/[^"]+)"/g)].map((m) => {
    const under = (m[1] as string).slice((m[1] as string).lastIndexOf('/node_modules/') + '/node_modules/'.length).split('/');
    return (under[0] as string).startsWith('@') ? `${under[0]}/${under[1]}` : (under[0] as string);
  });
  return [...new Set(names)].sort();
}

/** What the files of the bundles bin/cortex.js loaded hold (manifest `modules`), as paths relative to the package. */
function heldByLoaded(stderr: string): string[] {
  const held = new Map<string, string[]>();
  for (const name of ['status-bundle', 'program-bundle']) {
    const manifest = JSON.parse(readFileSync(join(PROJECT, 'dist', `${name}.json`), 'utf8')) as { modules: Record<string, string[]> };
    for (const [file, modules] of Object.entries(manifest.modules)) held.set(join(PROJECT, file), modules);
  }
  return [...stderr.matchAll(/load "([^"]+)"/g)].flatMap((m) => held.get(m[1] as string) ?? []);
}

describe('startup: the packages a command loads (scripts/build-bundles.mjs bundles them)', () => {
  // ajv's runtime pieces are required by the precompiled validators (dist/validators/*.cjs), files
  // of their own: ajv stays external to the bundles.
  const EXTERNAL = ['ajv', 'ajv-formats', 'fast-deep-equal'];
  const many = `workflow_id: many
workflow_name: many
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: a0, action: execute_command, parameters: { command: ["true"] } }
`;
  const node = (entry: string, args: string[]) => execa('node', [entry, ...args], { env: cleanEnv({ NODE_DEBUG: 'module' }), extendEnv: false, reject: false, stdin: 'ignore' });

  it('bin/cortex.js: run, validate and --version load yaml, commander, proper-lockfile and croner from the program bundle, nothing from node_modules but ajv', async () => {
    const root = tempRoot({ 'workflows/many.yaml': many });
    roots.push(root);
    const cases: Array<[string[], RegExp[]]> = [
      [['run', 'many'], [/^node_modules\/yaml\/dist\/index\.js$/, /^node_modules\/commander\//, /^node_modules\/proper-lockfile\//, /^node_modules\/graceful-fs\//, /^node_modules\/croner\//]],
      [['validate'], [/^node_modules\/yaml\/dist\/index\.js$/, /^node_modules\/commander\//, /^node_modules\/croner\//]],
      [['--version'], [/^node_modules\/commander\//]],
    ];
    for (const [args, bundled] of cases) {
      const res = await node(CLI, ['--root', root, ...args]);
      expect(res.exitCode, res.stderr.slice(-2000)).toBe(0);
      expect(res.stderr, `${args.join(' ')}: bin/cortex.js ran the program bundle (stale after tsc alone? npm run build)`).toMatch(/load "[^"]*\/dist\/program-bundle\.cjs"/);
      expect(packagesFromNodeModules(res.stderr).filter((p) => !EXTERNAL.includes(p)), args.join(' ')).toEqual([]);
      const held = heldByLoaded(res.stderr);
      for (const b of bundled) expect(held.some((m) => b.test(m)), `${args.join(' ')}: a file of the bundle loaded holds ${b}`).toBe(true);
    }
  });

  it('a run of commands loads neither node:http, node:https nor node:tls (only a request that pins a certificate does), with either entry', async () => {
    // Node's own record of the built-ins it loaded, at exit.
    writeFileSync(join(dir, 'builtins.cjs'), "process.on('exit', () => process.stderr.write('BUILTINS ' + process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)).join(' ') + '\\n'));\n");
    for (const entry of [CLI, ES_CLI]) {
      const root = tempRoot({ 'workflows/many.yaml': many });
      roots.push(root);
      const res = await execa('node', ['-r', join(dir, 'builtins.cjs'), entry, '--root', root, 'run', 'many'], { env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore' });
      expect(res.exitCode, res.stderr.slice(-2000)).toBe(0);
      const builtins = (/^BUILTINS (.*)$/m.exec(res.stderr) as RegExpExecArray)[1]?.split(' ') ?? [];
      expect(builtins, 'the record of built-ins').toContain('child_process');
      expect(builtins.filter((m) => /^(http|https|tls|_http_client|_tls_wrap)$/.test(m)), entry).toEqual([]);
    }
  });

  it('the ES program (dist/cli/main.js) loads them from node_modules: what the bundle spares', async () => {
    const root = tempRoot({ 'workflows/many.yaml': many });
    roots.push(root);
    const res = await node(ES_CLI, ['--root', root, 'run', 'many']);
    expect(res.exitCode, res.stderr.slice(-2000)).toBe(0);
    expect(packagesFromNodeModules(res.stderr)).toEqual(expect.arrayContaining(['yaml', 'commander', 'proper-lockfile', 'graceful-fs', 'retry', 'signal-exit', ...EXTERNAL]));
  });
});
