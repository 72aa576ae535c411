/**
 * Issue 14: per-action steps go to an append-only journal (state/journal/workflow-<id>.journal);
 * the record file in workflows/active/ is rewritten from it within about a second. After a kill -9
 * the file may be behind, but every cortex command sees every step, and the next command that
 * takes the execution (resume) rewrites the file.
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { activeIds, afterAllCleanup, CLI, cleanEnv, cortex, killPid, pidInFile, tempRoot } from './helpers.js';
import { checkRootFiles } from './schema-check.js';
import { waitFor } from '../helpers/wait.js';

interface Rec {
  execution_id: string;
  status: string;
  phases: Array<{ status: string; actions: Array<{ action_id: string; status: string }> }>;
}

const { roots, orphans } = afterAllCleanup();

const QUICK = 20;

/** One phase: QUICK actions running `true`, then `block` (its first run blocks until killed), then two more. */
function setUp(): string {
  const r = tempRoot();
  roots.push(r);
  const blocked = join(r, 'blocked.pid');
  const quick = Array.from({ length: QUICK }, (_, i) => `      - { action_id: q${i}, action: execute_command, parameters: { command: ["true"] } }`);
  const block = `      - { action_id: block, action: execute_command, parameters: { command: ["sh", "-c", ${JSON.stringify(`[ -e '${blocked}' ] && exit 0; echo $$ > '${blocked}'; exec sleep 600`)}] } }`;
  const after = ['t1', 't2'].map((id) => `      - { action_id: ${id}, action: execute_command, parameters: { command: ["true"] } }`);
  const yaml = `workflow_id: lagging\nworkflow_name: lagging\nversion: 1.0.0\nphases:\n  - phase_id: p\n    contractor: infrastructure-contractor\n    actions:\n${[...quick, block, ...after].join('\n')}\n`;
  writeFileSync(join(r, 'workflows', 'lagging.yaml'), yaml);
  return r;
}

const statuses = (r: Rec) => r.phases[0]!.actions.map((a) => `${a.action_id}:${a.status}`);

describe('the execution journal after kill -9', () => {
  it('cortex status shows every step the file may lag; resume rewrites the file, then completes', async () => {
    const r = setUp();
    const child = execa('node', [CLI, '--root', r, 'run', 'lagging'], { env: cleanEnv(), extendEnv: false, reject: false, stdin: 'ignore' });
    const blocked = join(r, 'blocked.pid');
    const blockedPid = () => pidInFile(blocked);
    await waitFor(() => blockedPid() !== undefined || child.exitCode !== null, { what: 'the action "block" to start its tool', timeoutMs: 60_000, detail: () => `${child.exitCode ?? 'running'}` });
    expect(blockedPid(), 'the run ended before "block" ran').toBeDefined();
    orphans.push(blockedPid() as number);
    child.kill('SIGKILL');
    expect((await child).signal).toBe('SIGKILL');
    // The tool the killed process started runs on after a crash; it is ended here, so resume does not wait for it.
    killPid(orphans[0] as number);

    const id = activeIds(r)[0] as string;
    const recordFile = join(r, 'workflows', 'active', `workflow-${id}.json`);
    const journal = join(r, 'state', 'journal', `workflow-${id}.journal`);
    const file = JSON.parse(readFileSync(recordFile, 'utf8')) as Rec;
    const shown = await cortex(['status', id, '--json'], { root: r });
    expect(shown.exitCode, shown.stderr).toBe(0);
    const current = JSON.parse(shown.stdout) as Rec & { location: string; display_status: string };

    // cortex: exactly what ran. The attempt of "block" was journaled before its tool started.
    const expected = [...Array.from({ length: QUICK }, (_, i) => `q${i}:completed`), 'block:running', 't1:pending', 't2:pending'];
    expect(statuses(current)).toEqual(expected);
    expect(current.location).toBe('active');
    expect(current.display_status).toBe('interrupted');
    // The file: the same, or behind by the journal lines since its last rewrite (never ahead, never other).
    const journalLines = readFileSync(journal, 'utf8').split('\n').filter(Boolean).length - 1;
    const fileStatuses = statuses(file);
    if (journalLines === 0) expect(fileStatuses).toEqual(expected);
    else {
      expect(fileStatuses).not.toEqual(expected);
      fileStatuses.forEach((s, i) => {
        if (s.endsWith(':completed')) expect(expected[i]).toBe(s);
      });
    }
    expect(checkRootFiles(r)).toEqual([]);

    // resume takes the execution: the file is rewritten with every step first. "block" is not
    // idempotent, so this resume stops and asks (the record says paused, with the choice).
    const asked = await cortex(['resume', id], { root: r });
    expect(asked.stdout + asked.stderr).toContain('--retry-action block');
    const repaired = JSON.parse(readFileSync(recordFile, 'utf8')) as Rec;
    expect(statuses(repaired)).toEqual(expected);
    expect(repaired.status).toBe('paused');
    expect(readFileSync(journal, 'utf8').split('\n').filter(Boolean)).toHaveLength(1);

    const resumed = await cortex(['resume', id, '--retry-action', 'block'], { root: r });
    expect(resumed.exitCode, resumed.stdout + resumed.stderr).toBe(0);
    const done = JSON.parse(readFileSync(join(r, 'workflows', 'history', `workflow-${id}.json`), 'utf8')) as Rec;
    expect(done.status).toBe('completed');
    expect(statuses(done)).toEqual(expected.map((s) => s.replace(/:.*/, ':completed')));
    expect(existsSync(recordFile)).toBe(false);
    expect(existsSync(journal)).toBe(false);
    expect(checkRootFiles(r)).toEqual([]);
  }, 120_000);
});
