import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { activeIds, CLI, cleanEnv, cortex, readActive, readJson, removeRoot, tempRoot } from './helpers.js';
import { checkRootFiles } from './schema-check.js';
import { startTicks } from '../proc.js';
import { waitFor } from '../helpers/wait.js';

const roots: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  roots.forEach(removeRoot);
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Gone = no such process, or a zombie (this sandbox's pid 1 does not reap orphans). */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

const activeFile = (r: string, id: string) => join(r, 'workflows', 'active', `workflow-${id}.json`);

interface Rec {
  execution_id: string;
  process: { pid: number; start_time?: number };
  phases: Array<{ actions: Array<{ action_id: string; status: string }> }>;
}

/** The active record, as cortex reads it (file and journal), once its `action` is recorded running. */
function runningRecord(r: string, action: string): Rec | undefined {
  for (const id of activeIds(r)) {
    try {
      const rec = readActive<Rec>(r, id);
      if (rec?.phases.some((p) => p.actions.some((a) => a.action_id === action && a.status === 'running'))) return rec;
    } catch {
      // being replaced
    }
  }
  return undefined;
}

/** Runs `wf` and kills cortex with SIGKILL once `action` is recorded running and `ready()`; returns the execution id. */
async function crashDuring(r: string, wf: string, action: string, ready: () => boolean = () => true): Promise<string> {
  const child = execa('node', [CLI, '--root', r, 'run', wf], { env: cleanEnv(), extendEnv: false, reject: false });
  try {
    const rec = await waitFor(
      () => {
        const running = runningRecord(r, action);
        return running && ready() ? running : undefined;
      },
      { what: `${action} to be recorded running (and ready to kill)`, timeoutMs: 20_000 },
    );
    return rec.execution_id;
  } finally {
    child.kill('SIGKILL');
    await child;
  }
}

describe.runIf(process.platform === 'linux')('a crashed execution whose pid was reused', () => {
  const steps = (r: string) => {
    const root = tempRoot({
      'workflows/steps.yaml': `workflow_id: steps
workflow_name: steps
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: slow, action: wait, parameters: { seconds: 60 } }
      - { action_id: two, action: execute_command, parameters: { command: [touch, "${r}"] } }
`,
    });
    roots.push(root);
    return root;
  };

  /**
   * The pid of the dead cortex now belongs to an unrelated process (a sleep started later). The
   * record is written whole with that pid, its journal applied and removed (what cortex does when
   * it writes a record whole): editing the file alone would orphan the journal's steps.
   */
  function reusePid(r: string, id: string): ChildProcess {
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    children.push(other);
    const rec = readActive<Rec>(r, id) as Rec;
    expect(rec.process.start_time).toEqual(expect.any(Number));
    expect(startTicks(other.pid as number)).not.toBe(rec.process.start_time);
    rec.process.pid = other.pid as number;
    writeFileSync(activeFile(r, id), `${JSON.stringify(rec, null, 2)}\n`);
    rmSync(join(r, 'state', 'journal', `workflow-${id}.journal`), { force: true });
    return other;
  }

  it('status says interrupted and resume carries on', async () => {
    const r = steps('/dev/null');
    const id = await crashDuring(r, 'steps', 'slow');
    const other = reusePid(r, id);
    const st = await cortex(['status'], { root: r });
    expect(st.stdout).toMatch(/interrupted/);
    const res = await cortex(['resume', id, '--skip-action', 'slow'], { root: r });
    expect(res.exitCode, res.stdout + res.stderr).toBe(0);
    expect(readJson<{ status: string }>(join(r, 'workflows', 'history', `workflow-${id}.json`)).status).toBe('completed');
    expect(isGone(other.pid as number)).toBe(false);
    expect(checkRootFiles(r)).toEqual([]);
  }, 60_000);

  it('cancel records it cancelled and never signals the unrelated process', async () => {
    const r = steps('/dev/null');
    const id = await crashDuring(r, 'steps', 'slow');
    const other = reusePid(r, id);
    const res = await cortex(['cancel', id], { root: r });
    expect(res.exitCode, res.stdout + res.stderr).toBe(0);
    expect(readJson<{ status: string }>(join(r, 'workflows', 'history', `workflow-${id}.json`)).status).toBe('cancelled');
    expect(isGone(other.pid as number)).toBe(false);
    expect(other.signalCode).toBeNull();
  }, 60_000);
});

describe.runIf(process.platform === 'linux')('tools that leave their process group', () => {
  it('a timeout stops a descendant that left the process group (setsid)', async () => {
    const r = tempRoot();
    roots.push(r);
    const pidFile = join(r, 'daemon.pid');
    writeFileSync(
      join(r, 'workflows', 'escape.yaml'),
      `workflow_id: escape
workflow_name: escape
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: daemon, action: execute_command, timeout: 1, parameters: { command: [sh, -c, 'setsid sleep 60 & echo $! > "$0"; wait', "${pidFile}"] } }
`,
    );
    const res = await cortex(['run', 'escape'], { root: r });
    expect(res.exitCode, res.stdout + res.stderr).toBe(1);
    const daemon = Number(readFileSync(pidFile, 'utf8'));
    expect(daemon).toBeGreaterThan(0);
    expect(isGone(daemon)).toBe(true);
  }, 60_000);

  it('after kill -9, resume does not start an action whose tools still run; cancel stops them', async () => {
    const r = tempRoot();
    roots.push(r);
    const pidFile = join(r, 'daemon.pid');
    const starts = join(r, 'starts.log');
    writeFileSync(
      join(r, 'workflows', 'hold.yaml'),
      `workflow_id: hold
workflow_name: hold
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: work, action: execute_command, parameters: { command: [sh, -c, 'echo start >> "$0"; setsid sleep 60 & echo $! > "$1"; wait', "${starts}", "${pidFile}"] } }
`,
    );
    const id = await crashDuring(r, 'hold', 'work', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '');
    const daemon = Number(readFileSync(pidFile, 'utf8'));
    children.push({ kill: () => process.kill(daemon, 'SIGKILL') } as unknown as ChildProcess);
    expect(isGone(daemon)).toBe(false);

    const res = await cortex(['resume', id, '--retry-action', 'work'], { root: r });
    expect(res.exitCode, res.stdout + res.stderr).toBe(3);
    const rec = readActive<{ status: string; status_reason: string; phases: Array<{ actions: Array<{ attempts: Array<{ process_cookie?: string }> }> }> }>(r, id)!;
    expect(rec.status).toBe('paused');
    expect(rec.status_reason).toContain(String(daemon));
    expect(rec.status_reason).toContain(`cortex resume ${id}`);
    expect(rec.phases[0]!.actions[0]!.attempts[0]!.process_cookie).toMatch(/^[0-9a-f]{24}$/);
    expect(readFileSync(starts, 'utf8')).toBe('start\n');
    expect(isGone(daemon)).toBe(false);
    expect(checkRootFiles(r)).toEqual([]);

    const cancel = await cortex(['cancel', id], { root: r });
    expect(cancel.exitCode, cancel.stdout + cancel.stderr).toBe(0);
    expect(isGone(daemon)).toBe(true);
    expect(readJson<{ status: string }>(join(r, 'workflows', 'history', `workflow-${id}.json`)).status).toBe('cancelled');
    expect(readFileSync(starts, 'utf8')).toBe('start\n');
  }, 90_000);
});
