/**
 * bin/cortex.js, the command operators run, serves `cortex status` in its plain forms from the
 * CommonJS bundle of the status path (scripts/build-status-bundle.mjs, issue 14) while every file
 * of dist/status-bundle.json is unchanged, and runs the program (dist/cli/main.js) otherwise.
 * Checked on a copy of the package (package.json, bin/, dist/, node_modules linked) whose bundle
 * this file builds, so that it can be made stale without touching the checkout's dist/. Which of
 * the two ran is read from Node's CommonJS loader (NODE_DEBUG=module names each file it loads).
 * Both processes run with the clock frozen (a preload), so that elapsed times print the same.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT, afterAllCleanup, cleanEnv, cortex, tempRoot } from './helpers.js';
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

async function run(entry: string, args: string[], env: Record<string, string> = {}): Promise<Ran> {
  const res = await execa('node', ['-r', FREEZE, entry, ...args], { env: cleanEnv(env), extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 });
  return { exitCode: res.exitCode, stdout: res.stdout, stderr: res.stderr };
}

/**
 * What ran `args` through bin/cortex.js: the program (dist/cli/main.js was imported) or else the
 * bundle (Node's loaders name each file they load; a form that fast-status does not take loads
 * the bundle, which declines it, and then the program).
 */
async function whichRan(args: string[]): Promise<'bundle' | 'program' | 'neither'> {
  const res = await run(BIN, args, { NODE_DEBUG: 'module,esm' });
  expect(res.stderr, 'NODE_DEBUG=module logged the loading of bin/cortex.js').toMatch(/bin\/cortex\.js/);
  if (/dist\/cli\/main\.js/.test(res.stderr)) return 'program';
  return /load "[^"]*\/dist\/status-bundle\.cjs"/.test(res.stderr) ? 'bundle' : 'neither';
}

async function buildBundle(): Promise<void> {
  const res = await execa('node', [join(PROJECT, 'scripts', 'build-status-bundle.mjs'), pkg], { env: cleanEnv(), extendEnv: false, reject: false });
  expect(res.exitCode, res.stderr).toBe(0);
  expect(res.stdout).toMatch(/status bundle, \d+ files from \d+ modules/);
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
  // The package copy: what bin/cortex.js needs, its bundle built from this copy's dist/.
  cpSync(join(PROJECT, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(PROJECT, 'bin'), join(pkg, 'bin'), { recursive: true });
  cpSync(join(PROJECT, 'dist'), join(pkg, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.map') && !/\/dist\/status-bundle/.test(src) });
  symlinkSync(join(PROJECT, 'node_modules'), join(pkg, 'node_modules'));
  await buildBundle();

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
      expect(await whichRan(args), form.join(' ')).toBe('bundle');
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

  it('on a terminal (colours: chalk is imported by the bundle from node_modules), the same bytes too', async () => {
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
    expect(await onTerminal(BIN, { NODE_DEBUG: 'module,esm' }).then((r) => /load "[^"]*\/dist\/status-bundle\.cjs"/.test(r.stdout) && !/dist\/cli\/main\.js/.test(r.stdout))).toBe(true);
  });

  it('anything else goes through the program, with the same output as dist/cli/main.js', async () => {
    for (const form of [['--version'], ['status', '--help'], ['status', '-o', 'tree'], ['--root=' + root, 'status'], ['history', '--json'], ['nosuch']]) {
      const args = form[0]?.startsWith('--root') || form[0] === '--version' ? form : ['--root', root, ...form];
      expect(await whichRan(args), form.join(' ')).toBe('program');
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
    expect(await whichRan(args)).toBe('bundle');
    expect((await run(BIN, args)).stdout).toBe('no active executions');
  });

  it('a missing, damaged or foreign manifest, a missing chunk: the program runs', async () => {
    const manifest = join(pkg, 'dist', 'status-bundle.json');
    const good = readFileSync(manifest, 'utf8');
    const parsed = JSON.parse(good) as { files: Record<string, { sha256: string }> };
    const chunk = Object.keys(parsed.files).find((f) => /^dist\/status-bundle-status.*\.cjs$/.test(f)) as string;
    expect(chunk, 'the manifest lists the chunk of the status command').toBeDefined();
    // A file outside dist/ listed with its true fingerprint: refused for its path alone.
    const outside = structuredClone(parsed) as { files: Record<string, unknown> };
    const pj = join(pkg, 'package.json');
    const st = statSync(pj);
    outside.files['dist/../package.json'] = { sha256: createHash('sha256').update(readFileSync(pj)).digest('hex'), size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
    const cases: Array<[string, () => void]> = [
      ['no manifest', () => renameSync(manifest, `${manifest}.away`)],
      ['not JSON', () => writeFileSync(manifest, good.slice(0, 100))],
      ['another version', () => writeFileSync(manifest, good.replace('"version": 1', '"version": 2'))],
      ['a path outside dist/', () => writeFileSync(manifest, JSON.stringify(outside))],
      ['a chunk missing', () => renameSync(join(pkg, chunk), join(pkg, `${chunk}.away`))],
    ];
    try {
      for (const [what, damage] of cases) {
        damage();
        expect(await whichRan(args), what).toBe('program');
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
    expect(await whichRan(args)).toBe('bundle');
  });
});
