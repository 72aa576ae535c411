import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { closeSync, constants, existsSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, cleanEnv, cortex, listFiles, readJson, removeRoot, tempRoot } from './helpers.js';
import { labRoot } from './lab-helpers.js';
import { checkRootFiles } from './schema-check.js';

// A reader going away (`| head`, a pager quit early) never changes an execution's outcome and
// prints no stack trace: cortex stops writing there and carries on.

const roots: string[] = [];
let fifoDir: string;
let fifos = 0;
beforeAll(() => {
  fifoDir = mkdtempSync(join(tmpdir(), 'cortex-fifo-'));
});
afterAll(() => {
  roots.forEach(removeRoot);
  rmSync(fifoDir, { recursive: true, force: true });
});

/** The write end of a pipe whose reader has already gone: every write to it fails with EPIPE. */
async function pipeWithoutReader(): Promise<number> {
  const path = join(fifoDir, `p${fifos++}`);
  await execa('mkfifo', [path]);
  const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  closeSync(reader);
  return writer;
}

/** Runs the built CLI with stdout (and, with `stderrToo`, stderr) on a pipe nobody reads any more. */
async function cortexReaderGone(args: string[], root: string, stderrToo = false): Promise<{ exitCode: number | undefined; stderr: string }> {
  const fd = await pipeWithoutReader();
  try {
    const res = await execa('node', [CLI, '--root', root, ...args], {
      env: cleanEnv(),
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      stdout: fd,
      stderr: stderrToo ? fd : 'pipe',
      timeout: 60_000,
    });
    return { exitCode: res.exitCode, stderr: String(res.stderr ?? '') };
  } finally {
    closeSync(fd);
  }
}

interface Rec {
  execution_id: string;
  status: string;
}

function history(r: string): Rec[] {
  const dir = join(r, 'workflows', 'history');
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.json')).sort().map((n) => readJson<Rec>(join(dir, n))) : [];
}

function wf(id: string, body: string): Record<string, string> {
  return { [`workflows/${id}.yaml`]: `workflow_id: ${id}\nworkflow_name: ${id}\nversion: 1.0.0\n${body}` };
}

/** Many actions, so a run prints many lines; the last one fails when `fail` is set. */
function chatty(id: string, fail: boolean): Record<string, string> {
  const actions = Array.from({ length: 12 }, (_, i) => `      - { action_id: a${i}, action: execute_command, parameters: { command: [echo, "${i}"] } }`);
  if (fail) actions.push('      - { action_id: last, action: execute_command, parameters: { command: ["false"] } }');
  return wf(id, `phases:\n  - phase_id: p\n    contractor: infrastructure-contractor\n    actions:\n${actions.join('\n')}\n`);
}

describe('cortex run | head', () => {
  let lab: { root: string; stdout: string; stderr: string };
  beforeAll(async () => {
    const { root } = labRoot();
    roots.push(root);
    // As an operator types it; PIPESTATUS gives cortex's own exit code.
    const res = await execa('bash', ['-c', '"$0" "$1" --root "$2" run deploy-monitoring-stack --simulate | head -3; echo "cortex exit ${PIPESTATUS[0]}" >&2', 'node', CLI, root], {
      env: cleanEnv(),
      extendEnv: false,
      reject: false,
      timeout: 150_000,
    });
    lab = { root, stdout: res.stdout, stderr: res.stderr };
  }, 180_000);

  it('the lab run completes and is archived, exits 0, and prints no stack trace', () => {
    expect(lab.stdout.split('\n')).toHaveLength(3);
    expect(lab.stderr).toBe('cortex exit 0');
    expect(history(lab.root).map((r) => r.status)).toEqual(['completed']);
    expect(listFiles(join(lab.root, 'workflows', 'active'))).toEqual([]);
    expect(checkRootFiles(lab.root)).toEqual([]);
  });

  it('every command that prints keeps its exit code and prints no stack trace when stdout (and stderr) has no reader', async () => {
    // The execution of the run above, wherever it ended up.
    const [rec] = [...history(lab.root), ...listFiles(join(lab.root, 'workflows', 'active')).map((n) => readJson<Rec>(join(lab.root, 'workflows', 'active', n)))];
    const id = rec!.execution_id;
    const commands = [
      ['status'],
      ['status', id, '--json'],
      ['history'],
      ['logs', id],
      ['metrics', '--prometheus'],
      ['lab', 'show'],
      ['lab', 'show', '--requests', '--json'],
      ['show', 'deploy-monitoring-stack'],
      ['actions'],
      ['run', 'deploy-monitoring-stack', '--dry-run'],
      ['--help'],
      ['--version'],
      // An error: its message goes to stderr.
      ['status', 'no-such-execution-20260101T000000Z-0000'],
    ];
    const problems: string[] = [];
    for (const args of commands) {
      const cmd = `cortex ${args.join(' ')}`;
      const normal = await cortex(args, { root: lab.root });
      if (!normal.stdout && !normal.stderr) problems.push(`${cmd}: prints nothing, so it tests nothing`);
      const gone = await cortexReaderGone(args, lab.root);
      if (gone.exitCode !== normal.exitCode) problems.push(`${cmd} | (gone): exit ${gone.exitCode}, with a reader ${normal.exitCode}`);
      if (gone.stderr !== normal.stderr) problems.push(`${cmd} | (gone): stderr ${JSON.stringify(gone.stderr.slice(0, 300))}, with a reader ${JSON.stringify(normal.stderr.slice(0, 300))}`);
      const bothGone = await cortexReaderGone(args, lab.root, true);
      if (bothGone.exitCode !== normal.exitCode) problems.push(`${cmd} 2>&1 | (gone): exit ${bothGone.exitCode}, with a reader ${normal.exitCode}`);
    }
    expect(problems).toEqual([]);
  }, 180_000);
});

describe('cortex run with no reader from the start', () => {
  it.each([
    { fail: false, exitCode: 0, status: 'completed' },
    { fail: true, exitCode: 1, status: 'failed' },
  ])('a run that ends $status is archived as usual and exits $exitCode with stdout and stderr gone', async ({ fail, exitCode, status }) => {
    const r = tempRoot(chatty('chatty', fail));
    roots.push(r);
    const res = await cortexReaderGone(['run', 'chatty'], r, true);
    expect(res.exitCode).toBe(exitCode);
    expect(history(r).map((x) => x.status)).toEqual([status]);
    expect(listFiles(join(r, 'workflows', 'active'))).toEqual([]);
    // Nothing blocks the next run.
    const again = await cortex(['run', 'chatty'], { root: r });
    expect(again.exitCode, again.stderr).toBe(exitCode);
    expect(checkRootFiles(r)).toEqual([]);
  }, 60_000);
});
