import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, cortex, listFiles, readJson, removeRoot, tempRoot } from './helpers.js';
import { checkRootFiles } from './schema-check.js';
import { Terminal } from './tmux.js';
import { waitFor } from '../helpers/wait.js';

// What only a real terminal shows: the spinner's effect on the line discipline, Ctrl-C typed at
// the keyboard, and the terminal going away.

const roots: string[] = [];
const terminals: Terminal[] = [];
afterEach(async () => {
  await Promise.all(terminals.splice(0).map((t) => t.close()));
});
afterAll(() => roots.forEach(removeRoot));

interface Rec {
  execution_id: string;
  status: string;
  status_reason?: string;
  phases: Array<{ actions: Array<{ action_id: string; status: string }> }>;
}

/** A workflow whose first action sleeps until the file `go` exists in the root. */
function slowRoot(): string {
  const r = tempRoot();
  roots.push(r);
  writeFileSync(
    join(r, 'workflows', 'slow.yaml'),
    `workflow_id: slow
workflow_name: slow
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: nap, action: execute_command, parameters: { command: [sh, -c, 'while [ ! -e "$0" ]; do sleep 0.1; done', '${join(r, 'go')}'] }, timeout: 600 }
      - { action_id: after, action: execute_command, parameters: { command: ["true"] } }
`,
  );
  return r;
}

async function openTerminal(): Promise<Terminal> {
  const t = await Terminal.open({ NO_COLOR: '1' });
  terminals.push(t);
  return t;
}

/** The one execution record in active/ (or history/). */
function onlyRecord(r: string): Rec | undefined {
  for (const dir of ['active', 'history']) {
    const p = join(r, 'workflows', dir);
    const names = existsSync(p) ? listFiles(p).filter((n) => n.endsWith('.json')) : [];
    if (names.length) return readJson<Rec>(join(p, names[0]!));
  }
  return undefined;
}

/** Until cortex shows the spinner of the sleeping action `nap` (and the tool has started). */
async function spinnerShows(t: Terminal, r: string): Promise<void> {
  const log = join(r, 'masters/infrastructure/logs/contractor.log');
  await waitFor(async () => /nap execute_command/.test(await t.screen()) && existsSync(log) && readFileSync(log, 'utf8').includes('action=nap event=start'), {
    what: 'the spinner of action nap',
    timeoutMs: 30_000,
    intervalMs: 100,
    detail: () => t.screen(),
  });
}

describe('cortex run on a terminal', () => {
  it('Ctrl-C while the spinner shows pauses the execution, exits 130, leaves the terminal sane; resume completes it', async () => {
    const r = slowRoot();
    const t = await openTerminal();
    const sttyAfter = join(r, 'stty-after.txt');
    await t.type(`node ${CLI} --root ${r} run slow; echo "EXIT=$?"; stty -a > ${sttyAfter}`);
    await spinnerShows(t, r);
    // The terminal must still turn Ctrl-C into SIGINT while the spinner runs.
    expect(await t.sttyFlags()).toContain('isig');

    await t.press('C-c');
    const exit = await waitFor(async () => /EXIT=(\d+)/.exec(await t.screen())?.[1], { what: 'cortex to exit after Ctrl-C', timeoutMs: 30_000, intervalMs: 100, detail: () => t.screen() });
    expect(exit).toBe('130');
    await waitFor(() => existsSync(sttyAfter) && readFileSync(sttyAfter, 'utf8').includes('isig'), { what: 'stty -a after cortex', timeoutMs: 20_000 });
    const after = readFileSync(sttyAfter, 'utf8').split(/[\s;]+/);
    expect(after).toEqual(expect.arrayContaining(['isig', 'icanon', 'echo']));
    expect(await t.screen()).not.toMatch(/Error|\n\s+at /);

    const rec = onlyRecord(r);
    expect(rec?.status).toBe('paused');
    expect(rec?.status_reason).toBe('interrupted by SIGINT');
    expect(rec?.phases[0]?.actions.map((a) => a.status)).toEqual(['interrupted', 'pending']);
    expect(checkRootFiles(r)).toEqual([]);

    writeFileSync(join(r, 'go'), '');
    // nap was cut short, so its effect is unknown: the operator says to run it again.
    const resumed = await cortex(['resume', rec!.execution_id, '--retry-action', 'nap'], { root: r });
    expect(resumed.exitCode, resumed.stdout + resumed.stderr).toBe(0);
    expect(readJson<Rec>(join(r, 'workflows', 'history', `workflow-${rec!.execution_id}.json`)).status).toBe('completed');
  }, 120_000);

  it('closing the terminal (SIGHUP) pauses the execution with the reason and exits 130', async () => {
    const r = slowRoot();
    const t = await openTerminal();
    const codeFile = join(r, 'exit-code');
    // sh ignores the hangup so that it can record cortex's exit code; cortex itself gets SIGHUP
    // from bash, as every job of a closed terminal does.
    await t.type(`sh -c 'trap "" HUP; node ${CLI} --root ${r} run slow; echo $? > ${codeFile}'`);
    await spinnerShows(t, r);
    await t.close();

    const code = await waitFor(() => existsSync(codeFile) && readFileSync(codeFile, 'utf8').trim(), { what: 'cortex to exit after the terminal closed', timeoutMs: 30_000, detail: () => JSON.stringify(onlyRecord(r), null, 1) });
    expect(code).toBe('130');
    const rec = onlyRecord(r);
    expect(rec?.status).toBe('paused');
    expect(rec?.status_reason).toMatch(/^interrupted by SIGHUP/);
    expect(rec?.phases[0]?.actions.map((a) => a.status)).toEqual(['interrupted', 'pending']);
    expect(checkRootFiles(r)).toEqual([]);
    const st = await cortex(['status'], { root: r });
    // paused, not "interrupted" (the state a vanished process leaves, which blocks the next run).
    expect(st.stdout).toMatch(new RegExp(`^${rec!.execution_id}\\s+slow\\s+paused\\s`, 'm'));
  }, 120_000);
});
