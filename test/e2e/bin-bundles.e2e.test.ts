/**
 * bin/cortex.js, the command operators run, runs the CommonJS bundles of scripts/build-bundles.mjs
 * (issue 14) while every file of their manifests is unchanged: `cortex status` in its plain forms
 * from the status bundle (dist/status-bundle.json), everything else from the program bundle
 * (dist/program-bundle.json); the ES program (dist/cli/main.js) when a bundle is missing, damaged
 * or stale. The bundles hold the packages commands load at start (yaml, commander, chalk, ...), so
 * a changed file of such a package makes them stale too. Checked on a copy of the package
 * (package.json, bin/, dist/; node_modules/ a folder of links to the checkout's packages, but for
 * copies of yaml and chalk) whose bundles this file builds, so that they can be made stale without
 * touching the checkout's dist/ or node_modules/ (schemas/, upstream/ and coordination/ linked).
 * Which ran is read from Node's loaders (NODE_DEBUG=module,esm names each file they load). The
 * processes run with the clock frozen (a preload), so that elapsed times print the same.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PROJECT, afterAllCleanup, cleanEnv, copyEmbeddedRoot, cortex, tempRoot } from './helpers.js';
import { shq } from './tmux.js';

const left = afterAllCleanup();
const pkg = mkdtempSync(join(tmpdir(), 'cortex-bin-'));
left.roots.push(pkg);
const BIN = join(pkg, 'bin', 'cortex.js');
const MAIN = join(pkg, 'dist', 'cli', 'main.js');
const FREEZE = join(pkg, 'freeze-clock.cjs');
// Later than every record below: elapsed times of hours, the approval below past its deadline.
const NOW = new Date(Date.now() + 3 * 3600_000).toISOString();

writeFileSync(
  FREEZE,
  `const at = Date.parse(${JSON.stringify(NOW)});
const RealDate = Date;
globalThis.Date = class extends RealDate {
  constructor(...a) { if (a.length === 0) super(at); else super(...a); }
  static now() { return at; }
};
`,
);

interface Ran {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

async function run(entry: string, args: string[], env: Record<string, string> = {}, timeout = 60_000): Promise<Ran> {
  const res = await execa('node', ['-r', FREEZE, entry, ...args], { env: cleanEnv(env), extendEnv: false, reject: false, stdin: 'ignore', timeout });
  return { exitCode: res.exitCode, stdout: res.stdout, stderr: res.stderr };
}

type Runner = 'status bundle' | 'program bundle' | 'program' | 'neither';

/** Which ran, by what Node's loaders logged (NODE_DEBUG=module,esm) of bin/cortex.js in `pkgDir`. */
function ranFrom(stderr: string, pkgDir = pkg): Runner {
  expect(stderr, 'NODE_DEBUG=module logged the loading of bin/cortex.js').toContain(join(pkgDir, 'bin', 'cortex.js'));
  if (/dist\/cli\/main\.js/.test(stderr)) return 'program';
  // The program bundle is loaded only when the status bundle did not take the command line.
  if (stderr.includes(`load "${join(pkgDir, 'dist', 'program-bundle.cjs')}"`)) return 'program bundle';
  return stderr.includes(`load "${join(pkgDir, 'dist', 'status-bundle.cjs')}"`) ? 'status bundle' : 'neither';
}

/**
 * What ran `args` through bin/cortex.js: the ES program (dist/cli/main.js was imported), else the
 * program bundle, else the status bundle (a form that fast-status does not take loads the status
 * bundle, which declines it, and then the program bundle).
 */
async function whichRan(args: string[]): Promise<Runner> {
  return ranFrom((await run(BIN, args, { NODE_DEBUG: 'module,esm' })).stderr);
}

async function buildBundles(): Promise<void> {
  const res = await execa('node', [join(PROJECT, 'scripts', 'build-bundles.mjs'), pkg], { env: cleanEnv(), extendEnv: false, reject: false });
  expect(res.exitCode, res.stderr).toBe(0);
  expect(res.stdout).toMatch(/status bundle, \d+ files from \d+ modules/);
  expect(res.stdout).toMatch(/program bundle, \d+ files from \d+ modules/);
}

/** Replaces `from` by `to` in a file of the package copy; returns the undo. */
function edit(path: string, from: string, to: string): () => void {
  const file = join(pkg, path);
  const before = readFileSync(file, 'utf8');
  expect(before, `${path} contains ${from}`).toContain(from);
  writeFileSync(file, before.replace(from, to));
  return () => writeFileSync(file, before);
}

const root = tempRoot({
  'workflows/gated.yaml': `workflow_id: gated
workflow_name: gated
version: 1.0.0
phases:
  - phase_id: prepare
    contractor: infrastructure-contractor
    actions:
      - { action_id: first, action: execute_command, parameters: { command: ["true"] } }
  - phase_id: deploy
    contractor: infrastructure-contractor
    requires_approval: true
    approval_role: release_manager
    approval_timeout: 3600
    actions:
      - { action_id: second, action: execute_command, parameters: { command: ["true"] } }
`,
  'workflows/plain.yaml': `workflow_id: plain
workflow_name: plain
version: 1.0.0
phases:
  - phase_id: only
    contractor: infrastructure-contractor
    actions:
      - { action_id: one, action: execute_command, parameters: { command: ["true"] } }
`,
});
left.roots.push(root);
let awaiting = '';
let finished = '';
let interrupted = '';

beforeAll(async () => {
  // The package copy: what bin/cortex.js needs, its bundles built from this copy's dist/.
  cpSync(join(PROJECT, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(PROJECT, 'bin'), join(pkg, 'bin'), { recursive: true });
  cpSync(join(PROJECT, 'dist'), join(pkg, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.map') && !/\/dist\/(status|program)-bundle/.test(src) });
  // The packages: links, but for copies of two the tests below edit (yaml: in the program bundle
  // only; chalk: in both).
  mkdirSync(join(pkg, 'node_modules'));
  for (const name of readdirSync(join(PROJECT, 'node_modules'))) {
    if (name === 'yaml' || name === 'chalk') cpSync(join(PROJECT, 'node_modules', name), join(pkg, 'node_modules', name), { recursive: true });
    else symlinkSync(join(PROJECT, 'node_modules', name), join(pkg, 'node_modules', name));
  }
  // What the rest of an installed package holds (package.json "files"), for runs.
  for (const dir of ['schemas', 'upstream', 'coordination']) symlinkSync(join(PROJECT, dir), join(pkg, dir));
  await buildBundles();

  // A populated root: one execution awaiting an approval (past its deadline at the frozen clock),
  // one finished (in history/), one whose process on this host is gone, one unreadable record.
  expect((await cortex(['run', 'gated'], { root })).exitCode).toBe(0);
  expect((await cortex(['run', 'plain'], { root })).exitCode).toBe(0);
  const active = join(root, 'workflows', 'active');
  const [gatedFile] = readdirSync(active).filter((n) => n.startsWith('workflow-gated-'));
  const record = JSON.parse(readFileSync(join(active, gatedFile as string), 'utf8')) as Record<string, unknown> & { execution_id: string };
  awaiting = record.execution_id;
  finished = (readdirSync(join(root, 'workflows', 'history'))[0] as string).replace(/^workflow-|\.json$/g, '');
  interrupted = awaiting.replace(/-[0-9a-f]{4}$/, '-beef');
  const gone = { ...record, execution_id: interrupted, status: 'running', status_reason: undefined, process: { pid: 2 ** 22 + 7, host: hostname(), started_at: record.started_at } };
  writeFileSync(join(active, `workflow-${interrupted}.json`), JSON.stringify(gone));
  writeFileSync(join(active, 'workflow-gated-20260101T000000Z-dead.json'), '{ "not": "a record"');
  mkdirSync(join(root, 'workflows', 'history'), { recursive: true });
});

describe('bin/cortex.js status: from the bundle while it is fresh', () => {
  it('prints byte for byte what dist/cli/main.js prints (stdout, stderr, exit code), for each plain form', async () => {
    const forms = [
      ['status'],
      ['status', '--json'],
      ['status', '-o', 'wide'],
      ['status', '-o', 'yaml'],
      ['status', '-o', 'name'],
      ['--no-color', 'status', '--output', 'json'],
      ['status', awaiting],
      ['status', awaiting, '--json'],
      ['status', interrupted, '-o', 'yaml'],
      ['status', finished, '--verbose'],
      ['status', 'not-an-id'],
      ['status', 'gated-20260101T000000Z-0000'],
    ];
    for (const form of forms) {
      const args = ['--root', root, ...form];
      expect(await whichRan(args), form.join(' ')).toBe('status bundle');
      const [viaBin, viaMain] = [await run(BIN, args), await run(MAIN, args)];
      expect(viaBin, form.join(' ')).toEqual(viaMain);
    }
    // The root is as the forms expect: all four kinds are shown.
    const table = await run(BIN, ['--root', root, 'status']);
    expect(table.stdout).toContain('approval expired');
    expect(table.stdout).toContain(`cortex resume ${interrupted}`);
    expect(table.stderr).toMatch(/^unreadable record \S+\/workflow-gated-20260101T000000Z-dead\.json: /);
    expect((await run(BIN, ['--root', root, 'status', finished])).stdout).toContain('[history]');
  });

  it('a fresh bundle is checked by stat, and loads neither node:crypto nor node:fs/promises, yaml or proper-lockfile', async () => {
    // What keeps it fast (issue 14): the hashes are read only for a file whose stat changed, and
    // the bundle keeps the lazy imports of the status path lazy. An empty root: status reads a
    // run's journal with node:crypto (its line 1 names the record's SHA-256).
    const empty = tempRoot({});
    left.roots.push(empty);
    for (const form of [['status'], ['status', '--json']]) {
      const res = await run(BIN, ['--root', empty, ...form], { NODE_DEBUG: 'module,esm' });
      expect(res.stderr).toMatch(/load "[^"]*\/dist\/status-bundle\.cjs"/);
      const loaded = [...res.stderr.matchAll(/Module\._load REQUEST (\S+)/g)].map((m) => m[1]);
      expect(loaded.filter((m) => /^(node:)?(crypto|fs\/promises)$|yaml|proper-lockfile/.test(m as string)), form.join(' ')).toEqual([]);
    }
  });

  it('on a terminal (colours: chalk, which the bundle holds), the same bytes too', async () => {
    // script(1) (util-linux) gives the command a pseudo-terminal and copies what it prints.
    const onTerminal = async (entry: string, env: Record<string, string> = {}) => {
      const cmd = ['node', '-r', FREEZE, entry, '--root', root, 'status'].map(shq).join(' ');
      const { NO_COLOR: _, ...colour } = cleanEnv({ TERM: 'xterm-256color', ...env });
      const res = await execa('script', ['-qec', cmd, '/dev/null'], { env: colour, extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 });
      return { exitCode: res.exitCode, stdout: res.stdout };
    };
    const viaBin = await onTerminal(BIN);
    expect(viaBin.stdout, 'coloured').toContain('\u001b[31minterrupted\u001b[39m');
    expect(viaBin).toEqual(await onTerminal(MAIN));
    const debug = (await onTerminal(BIN, { NODE_DEBUG: 'module,esm' })).stdout;
    expect(debug).toMatch(/load "[^"]*\/dist\/status-bundle\.cjs"/);
    expect(debug).not.toMatch(/dist\/cli\/main\.js/);
    // chalk from the bundle: none of its files read from node_modules, and no ES module loaded at all.
    expect(debug).not.toContain('/node_modules/chalk/');
    expect(debug).not.toMatch(/^ESM \d+/m);
  });

  it('anything else goes through the program (its bundle), with the same output as dist/cli/main.js', async () => {
    for (const form of [['--version'], ['status', '--help'], ['status', '-o', 'tree'], ['--root=' + root, 'status'], ['history', '--json'], ['nosuch']]) {
      const args = form[0]?.startsWith('--root') || form[0] === '--version' ? form : ['--root', root, ...form];
      expect(await whichRan(args), form.join(' ')).toBe('program bundle');
      expect(await run(BIN, args), form.join(' ')).toEqual(await run(MAIN, args));
    }
  });
});

describe('bin/cortex.js status: a stale or damaged bundle never runs', () => {
  const empty = tempRoot({});
  left.roots.push(empty);
  const args = ['--root', empty, 'status'];

  it('a bundled module edited after the build: the program runs, with the edit', async () => {
    const undo = edit('dist/cli/commands/status.js', "'no active executions'", "'no active executions (edited)'");
    try {
      expect(await whichRan(args)).toBe('program');
      expect((await run(BIN, args)).stdout).toBe('no active executions (edited)');
    } finally {
      undo();
    }
  });

  it('an edit of the same size: its stat differs, its SHA-256 too, so the program runs', async () => {
    const undo = edit('dist/cli/commands/status.js', "'no active executions'", "'NO ACTIVE EXECUTIONS'");
    try {
      expect(await whichRan(args)).toBe('program');
      expect((await run(BIN, args)).stdout).toBe('NO ACTIVE EXECUTIONS');
    } finally {
      undo();
    }
  });

  it('files rewritten with the same content (a rebuild, a copy): checked by their SHA-256, the bundle runs', async () => {
    const file = join(pkg, 'dist', 'cli', 'commands', 'status.js');
    writeFileSync(file, readFileSync(file));
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(await whichRan(args)).toBe('status bundle');
    expect((await run(BIN, args)).stdout).toBe('no active executions');
  });

  it('a missing, damaged or foreign manifest, a missing chunk: the program runs (from its own bundle)', async () => {
    const manifest = join(pkg, 'dist', 'status-bundle.json');
    const good = readFileSync(manifest, 'utf8');
    const parsed = JSON.parse(good) as { files: Record<string, { sha256: string }> };
    const chunk = Object.keys(parsed.files).find((f) => /^dist\/status-bundle-status.*\.cjs$/.test(f)) as string;
    expect(chunk, 'the manifest lists the chunk of the status command').toBeDefined();
    // A file outside dist/ and node_modules/ listed with its true fingerprint: refused for its path alone.
    const pj = join(pkg, 'package.json');
    const st = statSync(pj);
    const withPath = (path: string) => {
      const outside = structuredClone(parsed) as { files: Record<string, unknown> };
      outside.files[path] = { sha256: createHash('sha256').update(readFileSync(pj)).digest('hex'), size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
      return JSON.stringify(outside);
    };
    const cases: Array<[string, () => void]> = [
      ['no manifest', () => renameSync(manifest, `${manifest}.away`)],
      ['not JSON', () => writeFileSync(manifest, good.slice(0, 100))],
      ['another version', () => writeFileSync(manifest, good.replace('"version": 1', '"version": 2'))],
      ['a path outside dist/', () => writeFileSync(manifest, withPath('dist/../package.json'))],
      ['a path outside node_modules/', () => writeFileSync(manifest, withPath('node_modules/../package.json'))],
      ['a path in neither', () => writeFileSync(manifest, withPath('package.json'))],
      ['an absolute path', () => writeFileSync(manifest, withPath(pj))],
      ['a chunk missing', () => renameSync(join(pkg, chunk), join(pkg, `${chunk}.away`))],
    ];
    try {
      for (const [what, damage] of cases) {
        damage();
        expect(await whichRan(args), what).toBe('program bundle');
        expect(await run(BIN, args), what).toEqual({ exitCode: 0, stdout: 'no active executions', stderr: '' });
        writeFileSync(manifest, good);
        try {
          renameSync(join(pkg, `${chunk}.away`), join(pkg, chunk));
        } catch {
          // only the last case moved it
        }
      }
    } finally {
      writeFileSync(manifest, good);
    }
    expect(await whichRan(args)).toBe('status bundle');
  });
});

describe('bin/cortex.js: every other command from the program bundle while it is fresh', () => {
  const empty = tempRoot({});
  left.roots.push(empty);
  const history = ['--root', empty, 'history'];

  it('runs a workflow and shows it; the ES program (dist/cli/main.js) does the same', async () => {
    for (const [entry, ran] of [
      [BIN, 'program bundle'],
      [MAIN, undefined],
    ] as const) {
      const r = tempRoot({ 'workflows/plain.yaml': readFileSync(join(root, 'workflows', 'plain.yaml'), 'utf8') });
      left.roots.push(r);
      const res = await run(entry, ['--root', r, 'run', 'plain'], { NODE_DEBUG: 'module,esm' });
      expect(res.exitCode, res.stderr.slice(-1500)).toBe(0);
      expect(res.stdout).toMatch(/^completed plain-\S+ in /m);
      if (ran) expect(ranFrom(res.stderr), 'bin/cortex.js run').toBe(ran);
      else expect(res.stderr, 'the ES program ran').toMatch(/dist\/cli\/main\.js/);
      const id = (/^completed (plain-\S+) in /m.exec(res.stdout) as RegExpExecArray)[1] as string;
      const shown = await run(entry, ['--root', r, 'status', id, '--json']);
      expect(shown.exitCode, shown.stderr).toBe(0);
      expect(JSON.parse(shown.stdout)).toMatchObject({ execution_id: id, status: 'completed' });
      expect((await run(entry, ['--root', r, 'history', '-o', 'name'])).stdout).toBe(id);
    }
  });

  it('a module of the program edited after the build (one the status bundle does not hold): the ES program runs, with the edit', async () => {
    expect(await whichRan(history)).toBe('program bundle');
    expect((await run(BIN, history)).stdout).toBe('no finished executions');
    for (const to of ['`no finished executions (edited)', '`NO FINISHED EXECUTIONS']) {
      const undo = edit('dist/cli/commands/history.js', '`no finished executions', to);
      try {
        expect(await whichRan(history), to).toBe('program');
        expect((await run(BIN, history)).stdout).toBe(to.slice(1));
        // The status bundle does not hold it: still fresh.
        expect(await whichRan(['--root', empty, 'status'])).toBe('status bundle');
      } finally {
        undo();
      }
    }
  });

  it('a chunk rewritten with the same content: checked by its SHA-256, the bundle runs', async () => {
    const manifest = JSON.parse(readFileSync(join(pkg, 'dist', 'program-bundle.json'), 'utf8')) as { modules: Record<string, string[]> };
    const [chunk] = Object.entries(manifest.modules).find(([, modules]) => modules.includes('dist/cli/commands/history.js')) as [string, string[]];
    const file = join(pkg, chunk);
    writeFileSync(file, readFileSync(file));
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(await whichRan(history)).toBe('program bundle');
    expect((await run(BIN, history)).stdout).toBe('no finished executions');
  });

  it('a missing, damaged or foreign manifest, a missing or damaged chunk: the ES program runs', async () => {
    const manifest = join(pkg, 'dist', 'program-bundle.json');
    const good = readFileSync(manifest, 'utf8');
    const parsed = JSON.parse(good) as { files: Record<string, unknown>; modules: Record<string, string[]> };
    const [chunk] = Object.entries(parsed.modules).find(([, modules]) => modules.includes('dist/cli/commands/history.js')) as [string, string[]];
    const outside = structuredClone(parsed);
    const pj = join(pkg, 'package.json');
    const st = statSync(pj);
    outside.files['dist/../package.json'] = { sha256: createHash('sha256').update(readFileSync(pj)).digest('hex'), size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
    const chunkText = readFileSync(join(pkg, chunk), 'utf8');
    const cases: Array<[string, () => void]> = [
      ['no manifest', () => rmSync(manifest)],
      ['not JSON', () => writeFileSync(manifest, good.slice(0, 100))],
      ['another version', () => writeFileSync(manifest, good.replace('"version": 1', '"version": 2'))],
      ["the status bundle's name", () => writeFileSync(manifest, good.replace('"bundle": "program-bundle.cjs"', '"bundle": "status-bundle.cjs"'))],
      ['a path outside dist/', () => writeFileSync(manifest, JSON.stringify(outside))],
      ['a chunk missing', () => rmSync(join(pkg, chunk))],
      ['a chunk of the same size, changed', () => writeFileSync(join(pkg, chunk), chunkText.replace('no finished executions', 'NO FINISHED EXECUTIONS'))],
    ];
    try {
      for (const [what, damage] of cases) {
        damage();
        expect(await whichRan(history), what).toBe('program');
        expect(await run(BIN, history), what).toEqual({ exitCode: 0, stdout: 'no finished executions', stderr: '' });
        writeFileSync(manifest, good);
        writeFileSync(join(pkg, chunk), chunkText);
      }
    } finally {
      writeFileSync(manifest, good);
      writeFileSync(join(pkg, chunk), chunkText);
    }
    expect(await whichRan(history)).toBe('program bundle');
  });

  it('installed elsewhere (the package moved after its build): --version and the lab (stand-in tools, JSON by import.meta.url) from the bundle', async () => {
    // The package copy moved: any path of the build left in the bundle now names nothing.
    // Renamed, so its files keep their stat (a copy's all differ: the next test).
    const moved = `${pkg}-moved`;
    renameSync(pkg, moved);
    try {
      const bin = join(moved, 'bin', 'cortex.js');
      // Not with the clock frozen (its preload is in the package copy, moved away); a run in the
      // lab waits on its stand-ins.
      const node = (args: string[], env: Record<string, string> = {}) =>
        execa('node', [bin, ...args], { env: cleanEnv(env), extendEnv: false, reject: false, stdin: 'ignore', timeout: 240_000 });
      const version = await node(['--version'], { NODE_DEBUG: 'module,esm' });
      expect(ranFrom(version.stderr, moved)).toBe('program bundle');
      expect((await node(['--version'])).stdout).toMatch(new RegExp(`^cortex ${JSON.parse(readFileSync(join(moved, 'package.json'), 'utf8')).version.replace(/\./g, '\\.')} `));
      const labRoot = copyEmbeddedRoot();
      left.roots.push(labRoot);
      const res = await node(['--root', labRoot, 'run', 'deploy-monitoring-stack', '--simulate'], { NODE_DEBUG: 'module,esm' });
      expect(res.exitCode, `${res.stdout.slice(-1500)}\n${res.stderr.split('\n').filter((l) => !/^(MODULE|ESM) \d+/.test(l)).join('\n').slice(-1500)}`).toBe(0);
      expect(ranFrom(res.stderr, moved)).toBe('program bundle');
      expect(res.stdout).toMatch(/^completed deploy-monitoring-stack-\S+ in /m);
      expect(res.stderr, 'nothing was loaded from where the package was built').not.toContain(`${pkg}/`);
    } finally {
      renameSync(moved, pkg);
    }
  });

  it('a copy of the package (every stat differs, as in an npm install): status from its bundle, checked by SHA-256; the rest from the ES program, the program bundle not read whole', async () => {
    const copy = `${pkg}-copy`;
    left.roots.push(copy);
    cpSync(pkg, copy, { recursive: true });
    const bin = join(copy, 'bin', 'cortex.js');
    const node = (args: string[]) => execa('node', [bin, ...args], { env: cleanEnv({ NODE_DEBUG: 'module,esm' }), extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 });
    const r = tempRoot();
    left.roots.push(r);
    const status = await node(['--root', r, 'status']);
    expect(ranFrom(status.stderr, copy)).toBe('status bundle');
    expect(status.stdout).toBe('no active executions');
    // The program bundle's files (3.7 MB) are beyond what is hashed: the ES program runs.
    const history = await node(['--root', r, 'history']);
    expect(ranFrom(history.stderr, copy)).toBe('program');
    expect(history.stdout).toBe('no finished executions');
    expect(history.exitCode).toBe(0);
  });
});

describe('bin/cortex.js: a package the bundles hold, changed in node_modules/ (an npm update, a hand patch), makes them stale', () => {
  const empty = tempRoot({});
  left.roots.push(empty);
  const yamlHistory = () => ['--root', root, 'history', '-o', 'yaml'];
  const YAML_INDEX = 'node_modules/yaml/dist/index.js';

  it('the manifests list the files of the packages bundled, under node_modules/', () => {
    const files = (name: string) => Object.keys((JSON.parse(readFileSync(join(pkg, 'dist', `${name}.json`), 'utf8')) as { files: Record<string, unknown> }).files);
    expect(files('program-bundle')).toEqual(expect.arrayContaining([YAML_INDEX, 'node_modules/yaml/package.json', 'node_modules/commander/index.js', 'node_modules/proper-lockfile/index.js', 'node_modules/chalk/source/index.js']));
    // The status bundle holds chalk (a terminal) but not yaml (plain status never loads it).
    expect(files('status-bundle')).toContain('node_modules/chalk/source/index.js');
    expect(files('status-bundle').filter((f) => f.startsWith('node_modules/yaml/'))).toEqual([]);
  });

  it('yaml edited: the ES program runs, with the edit (it loads yaml from node_modules); the status bundle, which does not hold yaml, still runs', async () => {
    expect(await whichRan(yamlHistory())).toBe('program bundle');
    const before = await run(BIN, yamlHistory());
    expect(before.stdout).toMatch(/^executions:\n/);
    const undo = edit(YAML_INDEX, 'exports.stringify = publicApi.stringify;', "exports.stringify = (...a) => '# edited\\n' + publicApi.stringify(...a);");
    try {
      expect(await whichRan(yamlHistory())).toBe('program');
      expect(await run(BIN, yamlHistory())).toEqual({ ...before, stdout: `# edited\n${before.stdout}` });
      // A run still works (definitions parsed by the edited yaml).
      const r = tempRoot({ 'workflows/plain.yaml': readFileSync(join(root, 'workflows', 'plain.yaml'), 'utf8') });
      left.roots.push(r);
      const res = await run(BIN, ['--root', r, 'run', 'plain'], { NODE_DEBUG: 'module,esm' });
      expect(res.exitCode, res.stderr.slice(-1500)).toBe(0);
      expect(ranFrom(res.stderr)).toBe('program');
      expect(res.stdout).toMatch(/^completed plain-\S+ in /m);
      expect(await whichRan(['--root', empty, 'status'])).toBe('status bundle');
    } finally {
      undo();
    }
  });

  it('an edit of the same size: its stat differs, its SHA-256 too, so the ES program runs', async () => {
    const undo = edit(YAML_INDEX, "'use strict';", '"use strict";');
    try {
      expect(await whichRan(yamlHistory())).toBe('program');
      expect((await run(BIN, yamlHistory())).stdout).toMatch(/^executions:\n/);
    } finally {
      undo();
    }
  });

  it("a package's package.json changed (main and exports pointed at another file, as a patch does): the ES program runs, with the patch", async () => {
    writeFileSync(join(pkg, 'node_modules/yaml/dist/patched.js'), "process.stderr.write('PATCHED-YAML\\n');\nmodule.exports = require('./index.js');\n");
    const manifest = join(pkg, 'node_modules/yaml/package.json');
    const before = readFileSync(manifest, 'utf8');
    const json = JSON.parse(before) as { main: string; exports: Record<string, unknown> };
    json.main = './dist/patched.js';
    json.exports['.'] = { types: './dist/index.d.ts', node: './dist/patched.js', default: './dist/patched.js' };
    writeFileSync(manifest, JSON.stringify(json, null, 2));
    try {
      expect(await whichRan(yamlHistory())).toBe('program');
      expect((await run(BIN, yamlHistory())).stderr).toContain('PATCHED-YAML');
    } finally {
      writeFileSync(manifest, before);
    }
  });

  it('a package file rewritten with the same content: checked by its SHA-256, the bundle runs', async () => {
    const file = join(pkg, YAML_INDEX);
    writeFileSync(file, readFileSync(file));
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(await whichRan(yamlHistory())).toBe('program bundle');
  });

  it('chalk edited (both bundles hold it): status runs as the ES program, and prints the same', async () => {
    const args = ['--root', empty, 'status'];
    expect(await whichRan(args)).toBe('status bundle');
    const undo = edit('node_modules/chalk/source/index.js', 'export default chalk;', 'export default chalk; // edited');
    try {
      expect(await whichRan(args)).toBe('program');
      expect(await run(BIN, args)).toEqual({ exitCode: 0, stdout: 'no active executions', stderr: '' });
    } finally {
      undo();
    }
    expect(await whichRan(args)).toBe('status bundle');
  });

  it('installed with its packages hoisted to a parent node_modules/ (none of its own): the files listed are missing, every command runs as the ES program, without error', async () => {
    const hoisted = mkdtempSync(join(tmpdir(), 'cortex-hoisted-'));
    left.roots.push(hoisted);
    const dir = join(hoisted, 'node_modules', 'cortex');
    cpSync(pkg, dir, { recursive: true, filter: (src) => src !== join(pkg, 'node_modules') });
    for (const name of readdirSync(join(PROJECT, 'node_modules'))) symlinkSync(join(PROJECT, 'node_modules', name), join(hoisted, 'node_modules', name));
    const bin = join(dir, 'bin', 'cortex.js');
    const r = tempRoot({ 'workflows/plain.yaml': readFileSync(join(root, 'workflows', 'plain.yaml'), 'utf8') });
    left.roots.push(r);
    const cases: Array<[string[], RegExp]> = [
      [['--root', r, 'status'], /^no active executions$/],
      [['--root', r, 'run', 'plain'], /^completed plain-\S+ in /m],
      [['--root', r, 'history', '-o', 'name'], /^plain-\S+$/m],
      [['--root', r, 'validate'], /^1 definition\(s\) valid$/m],
      [['--version'], /^cortex \d/],
    ];
    for (const [args] of cases) {
      const debug = await run(bin, args, { NODE_DEBUG: 'module,esm' });
      expect(ranFrom(debug.stderr, dir), args.join(' ')).toBe('program');
      // Not a byte of the package's bundles loaded.
      expect(debug.stderr, args.join(' ')).not.toMatch(/load "[^"]*\/dist\/(status|program)-bundle[^"]*\.cjs"/);
    }
    // Without NODE_DEBUG: nothing on stderr, each command did its work.
    for (const [args, out] of cases) {
      const res = await run(bin, args);
      expect(res.exitCode, `${args.join(' ')}: ${res.stderr}`).toBe(0);
      expect(res.stderr, args.join(' ')).toBe('');
      expect(res.stdout, args.join(' ')).toMatch(out);
    }
  });
});

describe("bin/cortex.js: V8's code cache of the program bundle (dist/program-bundle.v8cache, scripts/build-code-cache.mjs)", () => {
  const manifestFile = join(pkg, 'dist', 'program-bundle.json');
  const cacheFile = join(pkg, 'dist', 'program-bundle.v8cache');
  const OBSERVE = join(pkg, 'observe-code-cache.cjs');
  // Each script compiled with a cache, and whether V8 rejected it: one line on stderr at exit.
  writeFileSync(
    OBSERVE,
    `const vm = require('node:vm'); const Script = vm.Script; const used = [];
vm.Script = class extends Script { constructor(source, options) { super(source, options); if (options && options.cachedData) used.push({ file: options.filename, rejected: this.cachedDataRejected }); } };
process.on('exit', () => process.stderr.write('CODE-CACHE ' + JSON.stringify(used) + '\\n'));
`,
  );
  interface Used {
    file: string;
    rejected: boolean;
  }
  const validRoot = tempRoot({ 'workflows/plain.yaml': readFileSync(join(root, 'workflows', 'plain.yaml'), 'utf8') });
  left.roots.push(validRoot);
  const VALIDATE = ['--root', validRoot, 'validate'];

  /** `args` through bin/cortex.js (node with `nodeArgs` first): what it printed, and what it compiled with a cache. */
  async function observed(args: string[], nodeArgs: string[] = []): Promise<Ran & { used: Used[] }> {
    const res = await execa('node', [...nodeArgs, '-r', FREEZE, '-r', OBSERVE, BIN, ...args], { env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 });
    const line = /^CODE-CACHE (.*)$/m.exec(res.stderr);
    expect(line, res.stderr.slice(-1500)).not.toBeNull();
    return { exitCode: res.exitCode, stdout: res.stdout, stderr: res.stderr.replace(/^CODE-CACHE .*\n?/m, ''), used: JSON.parse((line as RegExpExecArray)[1] as string) as Used[] };
  }
  const shortName = (file: string) => file.slice(join(pkg, 'dist').length + 1);

  it('the build made it for this Node; validate and a run compile their chunks and the validators they load with it, none rejected, and print what the ES program prints', async () => {
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { code_cache: { node: string; arch: string; file: string; chunks: Record<string, unknown> } };
    expect(manifest.code_cache).toMatchObject({ node: process.version, arch: process.arch, file: 'dist/program-bundle.v8cache' });
    expect(Object.keys(manifest.code_cache.chunks)).toEqual(expect.arrayContaining(['program-bundle.cjs', 'validators/workflow.cjs']));
    const validated = await observed(VALIDATE);
    expect(validated.used.filter((u) => u.rejected)).toEqual([]);
    expect(validated.used.map((u) => shortName(u.file))).toEqual(expect.arrayContaining(['program-bundle.cjs', 'program-bundle-program.cjs', 'validators/workflow.cjs']));
    const es = await run(MAIN, VALIDATE);
    expect({ exitCode: validated.exitCode, stdout: validated.stdout, stderr: validated.stderr }).toEqual(es);
    expect(es.stdout).toMatch(/^1 definition\(s\) valid$/m);

    const r = tempRoot({ 'workflows/plain.yaml': readFileSync(join(root, 'workflows', 'plain.yaml'), 'utf8') });
    left.roots.push(r);
    const ran = await observed(['--root', r, 'run', 'plain']);
    expect(ran.exitCode, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/^completed plain-\S+ in /m);
    expect(ran.used.filter((u) => u.rejected)).toEqual([]);
    expect(ran.used.length).toBeGreaterThan(validated.used.length);
  });

  it("a cache that is not the build's is never read: the command runs from the bundle, compiled from the source, and prints the same", async () => {
    const bytes = readFileSync(cacheFile);
    const good = readFileSync(manifestFile, 'utf8');
    const expected = await run(BIN, VALIDATE);
    expect(expected.exitCode).toBe(0);
    type CodeCache = Record<string, unknown> & { chunks: Record<string, Record<string, unknown>> };
    // The cache file as built, and a manifest that vouches for it by its stat (after a case rewrote it).
    const asBuilt = (): { code_cache: CodeCache } => {
      rmSync(cacheFile, { force: true });
      writeFileSync(cacheFile, bytes);
      const { size, mtimeMs, ctimeMs, ino } = statSync(cacheFile);
      const manifest = JSON.parse(good) as { code_cache: CodeCache };
      Object.assign(manifest.code_cache, { size, mtimeMs, ctimeMs, ino });
      writeFileSync(manifestFile, JSON.stringify(manifest));
      return manifest;
    };
    const withCache = (change: (cache: CodeCache) => void) => () => {
      const manifest = asBuilt();
      change(manifest.code_cache);
      writeFileSync(manifestFile, JSON.stringify(manifest));
    };
    const none = (used: Used[]) => expect(used).toEqual([]);
    const cases: Array<[string, () => void, (used: Used[]) => void]> = [
      ['its bytes changed (the same size)', () => writeFileSync(cacheFile, Buffer.alloc(bytes.length, 7)), none],
      ['rewritten with the same bytes (a copy: it is never hashed)', () => writeFileSync(cacheFile, bytes), none],
      ['missing', () => rmSync(cacheFile), none],
      [
        'a FIFO (an open of it would wait for a writer)',
        () => {
          rmSync(cacheFile);
          execFileSync('mkfifo', [cacheFile]);
        },
        none,
      ],
      ['made by another Node', withCache((c) => (c.node = 'v20.0.0')), none],
      ['made for another architecture', withCache((c) => (c.arch = process.arch === 'x64' ? 'arm64' : 'x64')), none],
      ['a path outside dist/', withCache((c) => (c.file = 'dist/../package.json')), none],
      ['parts beyond the file', withCache((c) => Object.values(c.chunks).forEach((chunk) => (chunk.offset = bytes.length))), none],
      [
        "the entry's part made from another text (SHA-256)",
        withCache((c) => ((c.chunks['program-bundle.cjs'] as Record<string, unknown>).sha256 = '0'.repeat(64))),
        (used) => {
          expect(used.map((u) => shortName(u.file))).not.toContain('program-bundle.cjs');
          expect(used.map((u) => shortName(u.file))).toContain('program-bundle-program.cjs');
        },
      ],
    ];
    for (const [what, damage, check] of cases) {
      asBuilt();
      // With the cache as built, it is used: the case below changes only what it says.
      expect((await observed(VALIDATE)).used.length, what).toBeGreaterThan(10);
      damage();
      const res = await observed(VALIDATE);
      check(res.used);
      expect({ exitCode: res.exitCode, stdout: res.stdout, stderr: res.stderr }, what).toEqual(expected);
      expect(await whichRan(VALIDATE), what).toBe('program bundle');
    }
    await buildBundles();
  });

  it("the build's warm-up run reaches nothing of the machine that builds: not the queue, the coordination directory, the home or the kubeconfig its environment names", async () => {
    const machine = mkdtempSync(join(tmpdir(), 'cortex-builder-'));
    left.roots.push(machine);
    for (const dir of ['home', 'coordination', 'tmp']) mkdirSync(join(machine, dir));
    writeFileSync(join(machine, 'kubeconfig'), 'not: a kubeconfig\n');
    const res = await execa('node', [join(PROJECT, 'scripts', 'build-bundles.mjs'), pkg], {
      // A queue nowhere (a run would wait for it, or fail): before, the warm-up failed and the build went without a cache.
      env: cleanEnv({ CORTEX_QUEUE_URL: 'redis://127.0.0.1:1/0', CORTEX_HOME: join(machine, 'coordination'), HOME: join(machine, 'home'), KUBECONFIG: join(machine, 'kubeconfig'), TMPDIR: join(machine, 'tmp') }),
      extendEnv: false,
      reject: false,
      timeout: 120_000,
    });
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^dist: program-bundle: code cache of \d+ chunks, \d+ KB$/m);
    for (const dir of ['home', 'coordination', 'tmp']) expect(readdirSync(join(machine, dir)), `${dir} untouched, nothing left in it`).toEqual([]);
    expect((await observed(VALIDATE)).used.length).toBeGreaterThan(10);
  });

  it('npm pack leaves it out: an installed copy (every stat differs) could not use it', async () => {
    const res = await execa('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: PROJECT, env: cleanEnv(), extendEnv: false, reject: false });
    expect(res.exitCode, res.stderr).toBe(0);
    const files = (JSON.parse(res.stdout) as Array<{ files: Array<{ path: string }> }>)[0]?.files.map((f) => f.path) ?? [];
    expect(files).toContain('dist/program-bundle.json');
    expect(files.filter((f) => f.endsWith('.v8cache'))).toEqual([]);
  });

  it('a file with an import() has none (Node 20 loses the import callback of cached functions): cortex init, which imports node:fs/promises, works', async () => {
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { modules: Record<string, string[]>; code_cache: { chunks: Record<string, unknown> } };
    const [chunk] = Object.entries(manifest.modules).find(([, modules]) => modules.includes('dist/root.js')) as [string, string[]];
    expect(readFileSync(join(pkg, chunk), 'utf8')).toMatch(/\bimport\("node:fs\/promises"\)/);
    expect(Object.keys(manifest.code_cache.chunks)).not.toContain(chunk.slice('dist/'.length));
    const dir = join(mkdtempSync(join(tmpdir(), 'cortex-init-')), 'root');
    left.roots.push(dirname(dir));
    const res = await observed(['init', dir]);
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.used.length).toBeGreaterThan(5);
    expect(readdirSync(join(dir, 'workflows'))).toContain('deploy-monitoring-stack.json');
  });

  it('a validator or a chunk rewritten after the build (the same text, another stat) compiles from its text; the rest with the cache', async () => {
    for (const name of ['validators/workflow.cjs', 'program-bundle-program.cjs']) {
      const file = join(pkg, 'dist', name);
      writeFileSync(file, readFileSync(file));
    }
    const res = await observed(VALIDATE);
    expect(res.exitCode, res.stderr).toBe(0);
    expect(await whichRan(VALIDATE), 'the chunk has its SHA-256: the bundle is fresh').toBe('program bundle');
    const names = res.used.map((u) => shortName(u.file));
    expect(names).not.toContain('validators/workflow.cjs');
    expect(names).not.toContain('program-bundle-program.cjs');
    expect(names).toContain('program-bundle.cjs');
    await buildBundles();
  });

  it('V8 rejects it under other V8 flags: the first file compiles from its source, no other part is read, and the command prints the same', async () => {
    const res = await observed(VALIDATE, ['--stack-trace-limit=50']);
    expect(res.used).toEqual([expect.objectContaining({ rejected: true })]);
    expect({ exitCode: res.exitCode, stdout: res.stdout, stderr: res.stderr }).toEqual(await run(BIN, VALIDATE));
  });
});
