import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cortex, PROJECT, removeRoot } from './helpers.js';

// "Every example in the README runs." The README's ```sh blocks are examples: each line that
// runs cortex (`cortex ...`, `npx cortex ...`, the quick start's `npm install && npx cortex ...`)
// is run, in document order, against the built CLI in a coordination directory made by
// `cortex init`, and must exit as its comment says (`# exit N ...`; 0 otherwise). `<id>` stands
// for the newest execution. A block that needs real infrastructure is fenced ```text, or marked
// with `<!-- not run: why -->` on the line before it. Other lines (npm test, node bench/...)
// are development commands, not examples of cortex, and are not run here.

const README = readFileSync(join(PROJECT, 'README.md'), 'utf8');

interface Block {
  lang: string;
  line: number;
  body: string[];
  /** The reason of a `<!-- not run: ... -->` marker just before it. */
  notRun?: string;
}

function blocks(text: string): Block[] {
  const lines = text.split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i] as string);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] as string); i++) body.push(lines[i] as string);
    const marker = /^<!-- not run: (.+) -->$/.exec(lines[start - 1] ?? '');
    out.push({ lang: open[1] as string, line: start + 1, body, ...(marker ? { notRun: marker[1] as string } : {}) });
  }
  return out;
}

/** The command and its comment: `cortex run x --simulate   # exit 1: why`. */
function splitComment(line: string): { command: string; comment: string } {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1] as string))) return { command: line.slice(0, i).trim(), comment: line.slice(i + 1).trim() };
  }
  return { command: line.trim(), comment: '' };
}

/** Words as a POSIX shell splits them (quotes group; no expansion). Shell operators are refused. */
function words(command: string): string[] {
  if (/[|;&<>`]|\$\(/.test(command.replace(/'[^']*'|"[^"]*"|<id>/g, ''))) throw new Error(`not a plain command (pipes, redirections, substitutions do not run here): ${command}`);
  const out: string[] = [];
  for (const m of command.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? (m[3] as string));
  return out;
}

interface Example {
  line: number;
  text: string;
  argv: string[];
  exit: number;
}

/** The cortex invocations of the README's runnable blocks, in order. */
function examples(): Example[] {
  const out: Example[] = [];
  for (const b of blocks(README)) {
    if (b.lang !== 'sh' && b.lang !== 'bash') continue;
    if (b.notRun) continue;
    b.body.forEach((raw, k) => {
      const { command, comment } = splitComment(raw);
      const m = /^(?:npm install && )?(?:npx )?cortex (.*)$/.exec(command);
      if (!m) return;
      const exit = /^exit (\d+)/.exec(comment);
      out.push({ line: b.line + k + 1, text: command, argv: words(m[1] as string), exit: exit ? Number(exit[1]) : 0 });
    });
  }
  return out;
}

let dir: string;
let root: string;
const env = { CORTEX_CRONTAB: '/nonexistent/crontab' };

/** The newest execution under the root (active or history), by its start time. */
function newestExecution(): string {
  const recs: Array<{ id: string; started: string }> = [];
  for (const where of ['active', 'history']) {
    let names: string[] = [];
    try {
      names = readdirSync(join(root, 'workflows', where));
    } catch {
      continue;
    }
    for (const n of names.filter((x) => /^workflow-.*\.json$/.test(x))) {
      const rec = JSON.parse(readFileSync(join(root, 'workflows', where, n), 'utf8')) as { execution_id: string; started_at: string };
      recs.push({ id: rec.execution_id, started: rec.started_at });
    }
  }
  recs.sort((a, b) => a.started.localeCompare(b.started));
  const last = recs[recs.length - 1];
  if (!last) throw new Error('an example uses <id> before any run');
  return last.id;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cortex-readme-'));
  root = join(dir, 'coordination-root');
  const init = await cortex(['init', root], { cwd: dir, env });
  expect(init.exitCode, init.stderr).toBe(0);
});
afterAll(() => removeRoot(dir));

describe('README', () => {
  it('opens with the two quick-start commands', () => {
    const first = blocks(README)[0] as Block;
    expect(first.lang).toBe('sh');
    const commands = first.body.map((l) => splitComment(l).command);
    expect(commands).toEqual(['npm install && npx cortex run deploy-monitoring-stack --simulate', 'npm test']);
    expect(first.line).toBeLessThan(15);
  });

  it('every runnable block is plain cortex commands; the others say why they are not run', () => {
    const all = examples();
    expect(all.length).toBeGreaterThanOrEqual(8);
    for (const b of blocks(README).filter((x) => (x.lang === 'sh' || x.lang === 'bash') && x.notRun)) expect(b.notRun!.length, `README.md:${b.line}`).toBeGreaterThan(3);
  });

  it('each cortex command of the commands table exists in cortex --help', async () => {
    const help = await cortex(['--help'], { cwd: dir, env });
    const listed = new Set([...help.stdout.slice(help.stdout.indexOf('Commands:')).matchAll(/^ {2}(\S+)/gm)].map((m) => m[1] as string));
    const section = README.slice(README.indexOf('## Commands'), README.indexOf('\n## ', README.indexOf('## Commands') + 1));
    const named = [...section.matchAll(/^\| `cortex ([a-z]+)/gm)].map((m) => m[1] as string);
    expect(named.length).toBeGreaterThan(20);
    expect(named.filter((c) => !listed.has(c))).toEqual([]);
    // And the other way round: every command is in the table (help is the built-in one).
    expect([...listed].filter((c) => c !== 'help' && !named.includes(c))).toEqual([]);
  });

  it('every example runs and exits as documented', async () => {
    const failures: string[] = [];
    for (const ex of examples()) {
      const argv = ex.argv.map((w) => (w === '<id>' ? newestExecution() : w));
      const res = await cortex(argv, { cwd: dir, env: { ...env, CORTEX_HOME: root }, timeoutMs: 180_000 });
      if (res.exitCode !== ex.exit) failures.push(`README.md:${ex.line}: ${ex.text}: exit ${res.exitCode}, documented ${ex.exit}\n${res.stderr.slice(-800)}`);
    }
    expect(failures).toEqual([]);
  }, 600_000);
});
