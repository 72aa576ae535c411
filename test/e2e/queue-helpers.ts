/** Queue mode e2e: a root whose config names a private Redis, cortex workers as child processes. */
import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, cleanEnv, cortex, PROJECT, readActive, readJson, RECORD_FILE, tempRoot } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A lab workflow (--simulate) whose actions leave evidence: `mark` and `done` each create one new
 * file per run under marks/ (so a second run shows), `work` holds the execution for a while. The
 * three execute_command actions are not idempotent; check_node_capacity (the lab's pvesh) is.
 */
export function queueLabWorkflow(root: string): string {
  return `workflow_id: queue-lab
workflow_name: queue lab
version: 1.0.0
concurrency: 50
parameters:
  hold: { type: string, default: "1" }
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - action_id: capacity
        action: check_node_capacity
        parameters: { node: pve-01, storage: local-lvm, cores: 1, memory_mb: 512, disk_gb: 4, count: 1 }
      - { action_id: mark, action: execute_command, parameters: { command: [mktemp, "${root}/marks/\${execution_id}.mark.XXXXXX"] } }
      - { action_id: work, action: execute_command, parameters: { command: [sleep, "\${parameters.hold}"] } }
      - { action_id: done, action: execute_command, parameters: { command: [mktemp, "${root}/marks/\${execution_id}.done.XXXXXX"] } }
`;
}

/** A temporary root with the queue-lab workflow and config.yaml naming the queue (short job locks). */
export function queueRoot(url: string, lockSeconds = 2): string {
  const root = tempRoot({});
  mkdirSync(join(root, 'marks'));
  writeFileSync(join(root, 'workflows', 'queue-lab.yaml'), queueLabWorkflow(root));
  writeFileSync(
    join(root, 'workflows', 'queue-approve.yaml'),
    `workflow_id: queue-approve
workflow_name: queue approve
version: 1.0.0
phases:
  - phase_id: first
    contractor: infrastructure-contractor
    actions:
      - { action_id: mark, action: execute_command, parameters: { command: [mktemp, "${root}/marks/\${execution_id}.mark.XXXXXX"] } }
  - phase_id: second
    contractor: infrastructure-contractor
    requires_approval: true
    actions:
      - { action_id: done, action: execute_command, parameters: { command: [mktemp, "${root}/marks/\${execution_id}.done.XXXXXX"] } }
triggers:
  - { type: webhook, id: hook, path: queue-approve, auth: { type: none } }
`,
  );
  writeFileSync(join(root, 'config.yaml'), `queue: { url: "${url}", lock_seconds: ${lockSeconds} }\n`);
  return root;
}

/** How many times each execution ran `mark` and `done` (files under marks/). */
export function marks(root: string): Map<string, { mark: number; done: number }> {
  const out = new Map<string, { mark: number; done: number }>();
  for (const name of readdirSync(join(root, 'marks'))) {
    const m = /^(.*)\.(mark|done)\.[A-Za-z0-9]+$/.exec(name);
    if (!m) continue;
    const e = out.get(m[1] as string) ?? { mark: 0, done: 0 };
    e[m[2] as 'mark' | 'done']++;
    out.set(m[1] as string, e);
  }
  return out;
}

export interface Worker {
  proc: ResultPromise;
  pid: number;
  output(): string;
}

/** Starts `cortex worker` and waits until it says it takes jobs. */
export async function startWorker(root: string, args: string[] = []): Promise<Worker> {
  const proc = execa('node', [CLI, '--root', root, 'worker', ...args], { env: cleanEnv(), extendEnv: false, reject: false, cwd: PROJECT, stdin: 'ignore', all: true });
  let out = '';
  proc.all?.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(() => /: taking .* jobs/.test(out) || proc.exitCode !== null, { what: 'the worker to take jobs', timeoutMs: 60_000, detail: () => out });
  if (proc.exitCode !== null) throw new Error(`the worker exited: ${out}`);
  return { proc, pid: proc.pid as number, output: () => out };
}

export async function stopWorker(w: Worker): Promise<void> {
  if (w.proc.exitCode !== null || w.proc.signalCode) return;
  w.proc.kill('SIGTERM');
  await w.proc;
}

export interface Rec {
  execution_id: string;
  status: string;
  status_reason?: string;
  process?: { pid: number };
  current_action?: string | null;
  /** Where the record was read: an ended execution is done (ledger counted) once in history/. */
  where?: 'active' | 'history';
  phases: Array<{ actions: Array<{ action_id: string; status: string; attempts: Array<{ status: string; started_at?: string }> }> }>;
}

/**
 * Every record, active and history, as cortex sees it: an active record with its journal applied
 * (the file alone can lag the run by up to a second, and a killed process's for good).
 */
export function allRecords(root: string): Map<string, Rec> {
  const out = new Map<string, Rec>();
  for (const where of ['active', 'history']) {
    const dir = join(root, 'workflows', where);
    if (!existsSync(dir)) continue;
    for (const id of readdirSync(dir).flatMap((n) => RECORD_FILE.exec(n)?.[1] ?? [])) {
      try {
        const r = where === 'active' ? readActive<Rec>(root, id) : readJson<Rec>(join(dir, `workflow-${id}.json`));
        if (!r) continue;
        out.set(r.execution_id, { ...r, where: where as Rec['where'] });
      } catch {
        // being replaced (atomic rename): read it next time
      }
    }
  }
  return out;
}

/** Execution ids in the metrics ledger, one per line. */
export function ledgerIds(root: string): string[] {
  const p = join(root, 'workflows', 'metrics', 'executions.jsonl');
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { execution_id: string }).execution_id);
}

export const ID_RE = /queue-lab-\d{8}T\d{6}Z-[0-9a-f]{4}/;

/** `cortex run queue-lab --simulate --detach`: the execution id. */
export async function detachRun(root: string, lab: string, args: string[] = []): Promise<string> {
  const r = await cortex(['run', 'queue-lab', '--simulate', '--lab', lab, '--detach', ...args], { root });
  if (r.exitCode !== 0) throw new Error(`run --detach exited ${r.exitCode}: ${r.stdout}${r.stderr}`);
  return ID_RE.exec(r.stdout)?.[0] as string;
}

/**
 * Seeds the lab before executions share it: two sessions seeding a fresh lab at once race (one
 * can read the state while the other rewrites it), which is the lab's problem, not the queue's.
 */
export async function seedLab(root: string, lab: string): Promise<void> {
  const r = await cortex(['lab', 'reset', '--lab', lab], { root });
  if (r.exitCode !== 0) throw new Error(`cortex lab reset exited ${r.exitCode}: ${r.stderr}`);
}
