import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, cortex, tempRoot } from './helpers.js';
import { Terminal } from './tmux.js';
import { waitFor } from '../helpers/wait.js';

// cortex completion bash, sourced by a real interactive bash in a pseudo-terminal, completing
// on Tab as an operator would: commands, workflow ids, execution ids.

const dirs: string[] = [];
const terminals: Terminal[] = [];
afterEach(async () => {
  await Promise.all(terminals.splice(0).map((t) => t.close()));
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A directory holding `cortex`, the built CLI, for PATH. */
function binDir(): string {
  const bin = mkdtempSync(join(tmpdir(), 'cortex-bin-'));
  dirs.push(bin);
  writeFileSync(join(bin, 'cortex'), `#!/bin/sh\nexec node ${CLI} "$@"\n`);
  chmodSync(join(bin, 'cortex'), 0o755);
  return bin;
}

describe('cortex completion bash', () => {
  it('completes commands, workflow ids and execution ids on Tab in an interactive bash', async () => {
    const r = tempRoot({
      'workflows/nightly-backup.yaml': `workflow_id: nightly-backup
workflow_name: nightly backup
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: a, action: execute_command, parameters: { command: ["true"] } }
`,
    });
    dirs.push(r);
    const ran = await cortex(['run', 'nightly-backup', '--json'], { root: r });
    expect(ran.exitCode, ran.stderr).toBe(0);
    const id = (JSON.parse(ran.stdout) as { execution_id: string }).execution_id;

    const t = await Terminal.open({ NO_COLOR: '1', PATH: `${binDir()}:${process.env.PATH ?? '/usr/bin:/bin'}`, CORTEX_HOME: r });
    terminals.push(t);
    await t.type('source <(cortex completion bash); echo "SOURCED=$?"');
    await waitFor(async () => (await t.screen()).includes('SOURCED=0'), { what: 'the completion script to load', timeoutMs: 20_000, intervalMs: 100, detail: () => t.screen() });
    const lineShows = (re: RegExp, what: string) => waitFor(async () => re.test(await t.screen()), { what, timeoutMs: 30_000, intervalMs: 100, detail: () => t.screen() });
    // A unique command prefix completes, then a workflow id (from CORTEX_HOME, as commands resolve it).
    await t.write('cortex hist');
    await t.press('Tab');
    // (tmux drops the trailing space the completion adds.)
    await lineShows(/tty> cortex history$/m, 'hist to complete to history');
    await t.write('--workflow night');
    await t.press('Tab');
    await lineShows(/tty> cortex history --workflow nightly-backup$/m, 'the workflow id');
    await t.press('C-u');
    await lineShows(/tty>\s*$/, 'the emptied command line');

    // An execution id, completed from its first letters; run as completed, it is the real one.
    await t.write('cortex logs ni');
    await t.press('Tab');
    await lineShows(new RegExp(`tty> cortex logs ${id}$`, 'm'), 'the execution id');
    await t.type('; echo "EXIT=$?"');
    await lineShows(/EXIT=0/, 'cortex logs to run');
    expect(await t.screen()).toMatch(new RegExp(`execution=${id} phase=p action=a event=end status=completed`));

    // Two Tabs on an empty word list every command.
    await t.type('clear');
    await lineShows(/^tty>\s*$/, 'the cleared screen');
    await t.write('cortex ');
    await t.press('Tab');
    await t.press('Tab');
    await lineShows(/completion\s.*\n?.*/, 'the command list');
    const listing = await t.screen();
    for (const c of ['approve', 'completion', 'history', 'logs', 'status', 'version']) expect(listing).toMatch(new RegExp(`\\b${c}\\b`));
  }, 120_000);

  it('cortex completion with an unknown shell exits 2', async () => {
    const res = await cortex(['completion', 'tcsh']);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(/'tcsh' is invalid.*bash, zsh, fish/s);
    const bash = await cortex(['completion', 'bash']);
    expect(bash.exitCode).toBe(0);
    expect(bash.stdout).toMatch(/^complete .*-F _cortex cortex/m);
  });
});
