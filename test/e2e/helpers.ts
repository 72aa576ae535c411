import { afterAll } from 'vitest';
import { execa, type Result } from 'execa';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { waitFor } from '../helpers/wait.js';

export const PROJECT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/**
 * The command operators run (package.json "bin"): it runs the CommonJS bundles of the program while
 * they are fresh, else the ES program (bin-bundles.e2e.test.ts). The tests run what operators run.
 */
export const CLI = join(PROJECT, 'bin', 'cortex.js');
/** The ES program, which bin/cortex.js runs when its bundles are missing or stale. */
export const ES_CLI = join(PROJECT, 'dist', 'cli', 'main.js');

/** A temporary coordination directory, optionally seeded with definition files. */
export function tempRoot(files: Record<string, string> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'cortex-e2e-'));
  mkdirSync(join(root, 'workflows'), { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

export function copyEmbeddedRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'cortex-e2e-'));
  cpSync(join(PROJECT, 'coordination', 'workflows'), join(root, 'workflows'), {
    recursive: true,
    filter: (src) => !/\/(active|history|metrics|locks)(\/|$)/.test(src),
  });
  return root;
}

/**
 * The environment of a cortex process under test: this one's, without cortex's own settings and
 * those of the tools it runs, nor NODE_EXTRA_CA_CERTS. That one (set on the CI machines for their
 * registry proxy) makes Node build its whole root certificate store as it starts, about 40 ms of
 * CPU per process, and no test talks TLS through the system's certificates (the lab's HTTPS is
 * pinned to its own certificate).
 */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (/^(CORTEX_|KUBECONFIG$|TALOSCONFIG$|CI$|FORCE_COLOR$|NODE_EXTRA_CA_CERTS$)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

/** Runs the built CLI; never throws on a non-zero exit. */
/**
 * Runs the built CLI. `timeoutMs` (default 60 s) is a hang guard, not an expectation: a command
 * still running then is killed and the call throws saying so (instead of handing back the exit
 * code 130 of a run the guard interrupted, which reads like a defect of cortex).
 */
export async function cortex(args: string[], options: { root?: string; env?: Record<string, string>; input?: string; cwd?: string; timeoutMs?: number } = {}): Promise<Result> {
  const timeout = options.timeoutMs ?? 60_000;
  const res = await execa('node', [CLI, ...(options.root ? ['--root', options.root] : []), ...args], {
    env: cleanEnv(options.env),
    extendEnv: false,
    reject: false,
    cwd: options.cwd ?? PROJECT,
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' }),
    timeout,
  });
  if (res.timedOut) {
    throw new Error(`cortex ${args.join(' ')} was still running after ${timeout / 1000} s (the test's hang guard stopped it); output so far:\n${res.stdout.slice(-1500)}\n${res.stderr.slice(-500)}`);
  }
  return res;
}

/** Every file under a directory, relative paths. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

export function readJson<T = Record<string, unknown>>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** cortex's own reader of a record file and its journal (the built one): what every cortex command sees. */
const { readRecordFile } = (await import(pathToFileURL(join(PROJECT, 'dist', 'adapters', 'record-files.js')).href)) as {
  readRecordFile(path: string, journalPath?: string): { record: unknown } | undefined;
};

/** A record file's name in active/ or history/ (not the temp file of a write in progress, nor one a kill left). */
export const RECORD_FILE = /^workflow-(.+)\.json$/;

/**
 * Workflow `spoil`, whose one action puts a folder where its own record is moved at the end
 * (history/workflow-<id>.json): the archive's rename then fails with EISDIR. `triggers` is YAML
 * inserted before the phases.
 */
export function archiveBlockedWorkflow(root: string, triggers = ''): string {
  return `workflow_id: spoil
workflow_name: spoil
version: 1.0.0
${triggers}phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: spoil, action: execute_command, parameters: { command: [mkdir, -p, '${join(root, 'workflows', 'history')}/workflow-\${execution_id}.json'] } }
`;
}

/** The execution ids in the root's active/ directory, sorted (ids sort by start time). */
export function activeIds(root: string): string[] {
  const dir = join(root, 'workflows', 'active');
  return existsSync(dir) ? readdirSync(dir).flatMap((n) => RECORD_FILE.exec(n)?.[1] ?? []).sort() : [];
}

/**
 * An active record as cortex reads it: the file with its journal applied (the file alone lags a
 * running execution by up to a second, and a killed one's for good). Undefined when there is none
 * (or it was moved to history/ meanwhile).
 */
export function readActive<T>(root: string, id: string): T | undefined {
  return readRecordFile(join(root, 'workflows', 'active', `workflow-${id}.json`), join(root, 'state', 'journal', `workflow-${id}.journal`))?.record as T | undefined;
}

export function removeRoot(root: string): void {
  rmSync(root, { recursive: true, force: true });
}

/**
 * What a file's tests leave behind, cleared after them: the roots it pushes to `roots` are
 * removed, and the processes it pushes to `orphans` (tools a killed cortex left running) killed.
 */
export function afterAllCleanup(): { roots: string[]; orphans: number[] } {
  const left = { roots: [] as string[], orphans: [] as number[] };
  afterAll(() => {
    for (const pid of left.orphans) killPid(pid);
    left.roots.forEach(removeRoot);
  });
  return left;
}

/**
 * SIGKILL to one process, if it is still there. Throws for anything but a pid above 1: 0 is the
 * test's own process group (vitest and the CI script with it: seen when a pid file was read while
 * empty), -1 every process the user may signal.
 */
export function killPid(pid: number): void {
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`refusing to signal pid ${String(pid)}`);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The pid a tool wrote to `file` ("<digits>\n"), or undefined while the file is absent or not written whole. */
export function pidInFile(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const m = /^(\d+)\n$/.exec(readFileSync(file, 'utf8'));
  return m && Number(m[1]) > 1 ? Number(m[1]) : undefined;
}

export interface EndedRecord {
  execution_id: string;
  status: string;
  trigger: Record<string, string>;
  parameters: Record<string, unknown>;
}

/** Waits until the clock is past the approval deadline (approval.expires_at) of an execution awaiting approval. */
export async function waitPastApprovalDeadline(r: string, id: string): Promise<void> {
  const rec = readJson<{ phases: Array<{ approval?: { expires_at?: string | null } }> }>(join(r, 'workflows', 'active', `workflow-${id}.json`));
  const expires = rec.phases.map((p) => p.approval?.expires_at).find((e): e is string => Boolean(e));
  if (!expires) throw new Error(`execution ${id} records no approval deadline`);
  await waitFor(() => Date.now() > Date.parse(expires), { what: `the approval deadline ${expires} of ${id} to pass`, timeoutMs: Date.parse(expires) - Date.now() + 5000 });
}

/** Waits until `count` ended executions are in the root's history/ and returns them sorted by file name. */
export async function waitForHistory(r: string, count: number, timeoutMs = 15_000): Promise<EndedRecord[]> {
  const dir = join(r, 'workflows', 'history');
  const ended = () => (existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.json') && !n.startsWith('.')) : []);
  const names = await waitFor(() => (ended().length >= count ? ended() : undefined), {
    what: `${count} ended execution(s) in ${dir}`,
    timeoutMs,
    detail: () => `${ended().length} there`,
  });
  return names.sort().map((n) => readJson<EndedRecord>(join(dir, n)));
}
