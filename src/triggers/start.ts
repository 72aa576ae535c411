/**
 * Starting runs for tick, trigger and serve: each run is a detached `cortex run` process of its
 * own (it outlives `serve` and `tick`, and a crash of one run touches nothing else).
 *
 * The execution id is chosen by the child (`cortex run` creates the record). To report it, the
 * starter watches workflows/active/ and workflows/history/ for a record of that workflow whose
 * `process.pid` is the child's pid (the record is written by that very process before any action
 * runs), for up to `waitMs`. If the child exits first without a record (invalid parameters, the
 * workflow already running: exit 3, ...), its exit code is reported and its output is in
 * <root>/state/runs.log (every started run's stdout and stderr are appended there).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appendLine } from '../adapters/atomic-file.js';
import { readJsonFile } from '../adapters/record-files.js';
import type { ExecutionRecord } from '../engine/records.js';
import { layout } from '../layout.js';

/** The cortex entry point of this installation (dist/cli/main.js). */
export const CLI_ENTRY = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface TriggerInfoArg {
  type: 'schedule' | 'webhook' | 'event';
  source: string;
  trigger_id: string;
  event_id: string;
  scheduled_for?: string;
}

export interface StartRequest {
  workflowId: string;
  /** `-p name=value` arguments. */
  assignments: string[];
  triggerInfo: TriggerInfoArg;
}

export interface StartResult {
  ok: boolean;
  executionId?: string;
  pid?: number;
  exitCode?: number | null;
  message?: string;
}

/** Starts one run; never throws (a failure is a result). Tests pass a fake. */
export type Starter = (req: StartRequest) => Promise<StartResult>;

export function runsLogPath(root: string): string {
  return join(layout(root).state, 'runs.log');
}

/** The argv (after node) of the detached `cortex run`. */
export function runArgs(root: string, req: StartRequest, options: { simulate?: boolean; lab?: string; entry?: string }): string[] {
  return [
    options.entry ?? CLI_ENTRY,
    '--root',
    root,
    'run',
    req.workflowId,
    ...req.assignments.flatMap((a) => ['-p', a]),
    '--trigger-info',
    JSON.stringify(req.triggerInfo),
    ...(options.simulate ? ['--simulate', ...(options.lab ? ['--lab', options.lab] : [])] : []),
  ];
}

const STAMP = /-(\d{8}T\d{6}Z)-[0-9a-f]{4}\.json$/;

function stampMs(name: string): number | undefined {
  const m = STAMP.exec(name);
  if (!m) return undefined;
  const s = m[1] as string;
  return Date.parse(`${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`);
}

/** Looks for the record a process wrote; `checked` remembers files that belong to someone else. */
function findRecord(root: string, workflowId: string, pid: number, sinceMs: number, checked: Set<string>): string | undefined {
  const l = layout(root);
  const prefix = `workflow-${workflowId}-`;
  for (const dir of [l.active, l.history]) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (!name.startsWith(prefix) || checked.has(path)) continue;
      const ms = stampMs(name);
      if (ms === undefined || ms < sinceMs - 2000) {
        checked.add(path);
        continue;
      }
      let rec: ExecutionRecord | undefined;
      try {
        rec = readJsonFile<ExecutionRecord>(path);
      } catch {
        continue;
      }
      if (!rec) continue;
      if (rec.process?.pid === pid && rec.workflow_id === workflowId) return rec.execution_id;
      checked.add(path);
    }
  }
  return undefined;
}

export interface ProcessStarterOptions {
  root: string;
  env: Record<string, string | undefined>;
  simulate?: boolean;
  lab?: string;
  /** How long to wait for the execution id (default 5000 ms). */
  waitMs?: number;
  /** Override of the CLI entry (tests). */
  entry?: string;
}

/** The real starter: a detached `node dist/cli/main.js --root R run ...` per run. */
export function createProcessStarter(options: ProcessStarterOptions): Starter {
  return async (req) => {
    const root = options.root;
    const logFile = runsLogPath(root);
    mkdirSync(layout(root).state, { recursive: true });
    const since = Date.now();
    let fd: number | undefined;
    let child;
    try {
      fd = openSync(logFile, 'a', 0o600);
      child = spawn(process.execPath, runArgs(root, req, options), {
        detached: true,
        stdio: ['ignore', fd, fd],
        cwd: root,
        env: { ...(options.env as NodeJS.ProcessEnv), NO_COLOR: '1', FORCE_COLOR: '0' },
      });
    } catch (e) {
      return { ok: false, message: `cannot start cortex run: ${(e as Error).message}` };
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    const pid = child.pid;
    let exitCode: number | null | undefined;
    let spawnError: Error | undefined;
    child.on('exit', (code, signal) => {
      exitCode = code ?? (signal ? 128 : null);
    });
    child.on('error', (e) => {
      spawnError = e;
    });
    child.unref();
    if (pid === undefined) {
      await new Promise((r) => setImmediate(r));
      return { ok: false, message: `cannot start cortex run: ${spawnError?.message ?? 'no process id'}` };
    }
    await appendLine(logFile, `${new Date().toISOString()} cortex: started pid ${pid}: run ${req.workflowId} (trigger ${req.triggerInfo.trigger_id}, event ${req.triggerInfo.event_id})`).catch(() => undefined);
    const checked = new Set<string>();
    const deadline = since + (options.waitMs ?? 5000);
    for (;;) {
      const exited = exitCode !== undefined;
      const id = findRecord(root, req.workflowId, pid, since, checked);
      if (id) return { ok: true, executionId: id, pid };
      if (exited) {
        return {
          ok: false,
          pid,
          exitCode: exitCode ?? null,
          message: `cortex run ${req.workflowId} exited with code ${exitCode} before creating an execution (exit 3: the workflow is already in progress; 2: invalid parameters); see ${logFile}`,
        };
      }
      if (Date.now() > deadline) return { ok: true, pid, message: `started (pid ${pid}); its execution record did not appear within ${options.waitMs ?? 5000} ms` };
      await new Promise((r) => setTimeout(r, 40));
    }
  };
}
