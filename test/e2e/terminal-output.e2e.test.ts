import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, removeRoot, tempRoot } from './helpers.js';
import { Terminal } from './tmux.js';
import { waitFor } from '../helpers/wait.js';

// What a real terminal shows of a run: colours (or none under NO_COLOR / --no-color) on the
// spinner and its end symbols.

const roots: string[] = [];
const terminals: Terminal[] = [];
afterEach(async () => {
  await Promise.all(terminals.splice(0).map((t) => t.close()));
});
afterAll(() => roots.forEach(removeRoot));

/** A workflow whose action `nap` runs until the file `go` exists in the root. */
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
`,
  );
  return r;
}

/** A colour (foreground 30-37, 90-97, 256 or RGB) set by an SGR sequence. */
const ESC = String.fromCharCode(27);
const COLOUR = new RegExp(`${ESC}\\[(?:[0-9;]*;)?(?:3[0-8]|9[0-7])(?:;[0-9;]*)?m`);
/** ✔ in green. */
const GREEN_TICK = new RegExp(`${ESC}\\[[0-9;]*32m✔`);

interface Seen {
  /** The screen (with escapes) while the spinner ran. */
  spinning: string;
  /** The screen (with escapes) once the run ended. */
  done: string;
}

/** Types `line` (a cortex run of slow), lets nap finish once the spinner showed, and returns what the terminal showed. */
async function runOnce(t: Terminal, r: string, line: string): Promise<Seen> {
  rmSync(join(r, 'go'), { force: true });
  await t.type('clear');
  await t.type(`${line}; echo "EXIT=$?"`);
  const log = join(r, 'masters/infrastructure/logs/contractor.log');
  const starts = () => (existsSync(log) ? readFileSync(log, 'utf8').split('action=nap event=start').length - 1 : 0);
  const before = starts();
  await waitFor(async () => /nap execute_command/.test(await t.screen()) && starts() > before, { what: 'the spinner of nap', timeoutMs: 30_000, intervalMs: 100, detail: () => t.screen() });
  const spinning = await t.screen({ escapes: true });
  writeFileSync(join(r, 'go'), '');
  await waitFor(async () => /EXIT=0/.test(await t.screen()), { what: 'the run to end with exit 0', timeoutMs: 30_000, intervalMs: 100, detail: () => t.screen() });
  return { spinning, done: await t.screen({ escapes: true }) };
}

describe('colour on a terminal', () => {
  it('spinner and ✔ are coloured by default, and not at all under NO_COLOR=1 or --no-color', async () => {
    const r = slowRoot();
    const t = await Terminal.open({});
    terminals.push(t);
    const cortex = `node ${CLI} --root ${r}`;

    const coloured = await runOnce(t, r, `${cortex} run slow`);
    expect(coloured.spinning).toMatch(COLOUR);
    expect(coloured.done).toMatch(GREEN_TICK);

    for (const line of [`NO_COLOR=1 ${cortex} run slow`, `${cortex} run slow --no-color`, `${cortex} --no-color run slow`]) {
      const plain = await runOnce(t, r, line);
      expect(plain.spinning, line).not.toMatch(COLOUR);
      expect(plain.done, line).not.toMatch(COLOUR);
      expect(plain.done, line).toMatch(/^✔ nap execute_command completed/m);
    }
  }, 180_000);
});
