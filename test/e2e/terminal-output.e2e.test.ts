import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
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

describe('a spinner on a terminal', () => {
  it('shows its elapsed time as it runs, and the plan step running; finished steps stay as lines above it', async () => {
    const r = tempRoot();
    roots.push(r);
    const go = join(r, 'go');
    writeFileSync(
      join(r, 'workflows', 'plan.yaml'),
      `workflow_id: plan
workflow_name: plan
version: 1.0.0
phases:
  - phase_id: fix
    contractor: security-master
    actions:
      - action_id: remediate
        action: execute_remediation_plan
        parameters:
          steps:
            - { step_id: first, contractor: infrastructure-contractor, action: execute_command, parameters: { command: ["true"] } }
            - { step_id: second, contractor: infrastructure-contractor, action: execute_command, parameters: { command: [sh, -c, 'while [ ! -e "$0" ]; do sleep 0.1; done', '${go}'] }, timeout: 600 }
            - { step_id: third, contractor: infrastructure-contractor, action: execute_command, parameters: { command: ["true"] } }
`,
    );
    const t = await Terminal.open({ NO_COLOR: '1' });
    terminals.push(t);
    await t.type(`node ${CLI} --root ${r} run plan; echo "EXIT=$?"`);
    const elapsedOf = (screen: string) => /remediate execute_remediation_plan step second \((\d+(?:\.\d)?)s\)/.exec(screen)?.[1];
    const first = await waitFor(async () => elapsedOf(await t.screen()), { what: 'the spinner of remediate at step second, with its elapsed time', timeoutMs: 30_000, intervalMs: 100, detail: () => t.screen() });
    // The elapsed time moves on while the step runs.
    await waitFor(async () => { const now = elapsedOf(await t.screen()); return now !== undefined && Number(now) > Number(first); }, { what: `the elapsed time to move past ${first}s`, timeoutMs: 30_000, intervalMs: 200, detail: () => t.screen() });
    expect(await t.screen()).toMatch(/^ {3}✔ step first infrastructure\/execute_command completed in /m);
    writeFileSync(go, '');
    const screen = await waitFor(async () => { const s = await t.screen(); return /EXIT=0/.test(s) ? s : undefined; }, { what: 'the run to end', timeoutMs: 30_000, intervalMs: 100, detail: () => t.screen() });
    const lines = screen.split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(at(/^ {3}✔ step first /)).toBeGreaterThan(-1);
    expect(at(/^ {3}✔ step second /)).toBeGreaterThan(at(/^ {3}✔ step first /));
    expect(at(/^ {3}✔ step third /)).toBeGreaterThan(at(/^ {3}✔ step second /));
    expect(at(/^✔ remediate execute_remediation_plan completed in /)).toBeGreaterThan(at(/^ {3}✔ step third /));
  }, 120_000);
});

// A terminal that reports no width: `script` gives its command a pty of 0 columns and 0 rows when
// its own input is not a terminal (CI wrappers, capture scripts), and `docker run -t` does for a
// moment. ora divides by the width: its clear() looped forever at 100% CPU writing erase
// sequences, deaf to SIGTERM (a synchronous loop), until the memory ran out. Each run here is under
// `timeout -s KILL`, so that a regression fails the test instead of running away.
describe('a terminal that reports no width', () => {
  it('a run on a 0-column terminal prints plain lines and ends', async () => {
    const r = tempRoot();
    roots.push(r);
    writeFileSync(
      join(r, 'workflows', 'fast.yaml'),
      'workflow_id: fast\nworkflow_name: fast\nversion: 1.0.0\nphases:\n  - phase_id: p\n    contractor: infrastructure-contractor\n    actions:\n      - { action_id: quick, action: execute_command, parameters: { command: ["true"] } }\n',
    );
    const t = await Terminal.open({ NO_COLOR: '1' });
    terminals.push(t);
    await t.type('stty cols 0 rows 0; stty size');
    await waitFor(async () => /^0 0$/m.test(await t.screen()), { what: 'the terminal to report 0 rows and 0 columns', timeoutMs: 10_000, intervalMs: 100, detail: () => t.screen() });
    await t.type(`timeout -s KILL 60 node ${CLI} --root ${r} run fast; echo "EXIT=$?"`);
    const screen = await waitFor(async () => { const s = await t.screen(); return /EXIT=\d+/.test(s) ? s : undefined; }, { what: 'the run to end', timeoutMs: 70_000, intervalMs: 200, detail: () => t.screen() });
    expect(screen).toMatch(/EXIT=0/);
    // The lines of a capture (timestamp first), not a spinner.
    expect(screen).toMatch(/^\d\d:\d\d:\d\d {3}ok {4}quick execute_command completed in /m);
    expect(screen).not.toMatch(/✔/);
  }, 120_000);

  it('a spinner whose terminal is resized to 0 columns while it runs goes on, and the run ends', async () => {
    const r = slowRoot();
    const t = await Terminal.open({ NO_COLOR: '1' });
    terminals.push(t);
    await t.type(`timeout -s KILL 60 node ${CLI} --root ${r} run slow; echo "EXIT=$?"`);
    const log = join(r, 'masters/infrastructure/logs/contractor.log');
    await waitFor(async () => /nap execute_command/.test(await t.screen()) && existsSync(log) && readFileSync(log, 'utf8').includes('action=nap event=start'), {
      what: 'the spinner of nap',
      timeoutMs: 30_000,
      intervalMs: 100,
      detail: () => t.screen(),
    });
    // The pty's size changes from outside, as a terminal emulator's does: the run gets SIGWINCH.
    await execa('stty', ['-F', await t.device(), 'cols', '0', 'rows', '0']);
    // A few frames of the spinner at that width (it draws one every 80 ms).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    writeFileSync(join(r, 'go'), '');
    const screen = await waitFor(async () => { const s = await t.screen(); return /EXIT=\d+/.test(s) ? s : undefined; }, { what: 'the run to end', timeoutMs: 70_000, intervalMs: 200, detail: () => t.screen() });
    expect(screen).toMatch(/EXIT=0/);
    expect(screen).toMatch(/✔ nap execute_command completed/);
  }, 120_000);
});

describe('spinners one after another', () => {
  it('leave nothing behind on stdout: the erase sequences stay a few per action over 30 actions, not growing with each', async () => {
    const r = tempRoot();
    roots.push(r);
    const actions = Array.from({ length: 30 }, (_, i) => `      - { action_id: a${i}, action: execute_command, parameters: { command: ["true"] } }`).join('\n');
    writeFileSync(join(r, 'workflows', 'many.yaml'), `workflow_id: many\nworkflow_name: many\nversion: 1.0.0\nphases:\n  - phase_id: p\n    contractor: infrastructure-contractor\n    actions:\n${actions}\n`);
    // script(1) gives the run a real pty (sized by stty); its bytes come out on script's stdout.
    const res = await execa('timeout', ['-s', 'KILL', '60', 'script', '-qec', 'stty cols 120 rows 40; exec node "$CLI" --root "$ROOT" run many', '/dev/null'], {
      env: { ...process.env, CLI, ROOT: r, NO_COLOR: '1' },
      stdin: 'ignore',
      reject: false,
      encoding: 'buffer',
    });
    expect(res.exitCode).toBe(0);
    const out = Buffer.from(res.stdout).toString('utf8');
    expect(out, out.slice(0, 400)).toMatch(/✔ a29 execute_command completed/);
    const ESC = String.fromCharCode(27);
    // ora's clear() writes ESC[1G; each spinner hook left on stdout's write added one more to every later write.
    const erase = out.split(`${ESC}[1G`).length - 1;
    expect(erase).toBeLessThanOrEqual(4 * 30);
    expect(out).not.toContain(`${ESC}[1G${ESC}[1G${ESC}[1G`);
  }, 120_000);
});
