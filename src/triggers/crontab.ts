/**
 * `cortex schedule install|uninstall`: one marked block in the user's crontab that runs
 * `cortex tick` every minute.
 *
 *   # BEGIN cortex (/abs/root)
 *   # cortex tick every minute; managed by `cortex schedule install|uninstall --root /abs/root`
 *   * * * * * /usr/bin/env PATH=... CORTEX_HOME=/abs/root NO_COLOR=1 /abs/node /abs/bin/cortex.js --root /abs/root tick >> /abs/root/state/cron.log 2>&1
 *   # END cortex (/abs/root)
 *
 * Choices:
 * - no variable lines (`PATH=`, `MAILTO=`): in a crontab a variable line applies to every line
 *   after it, so it would change the user's other jobs. The environment goes through
 *   `/usr/bin/env VAR=...` in our command instead, and all output is redirected to cron.log, so
 *   cron has nothing to mail (no MAILTO needed).
 * - absolute paths to node (process.execPath) and the entry; PATH holds node's directory, the
 *   directories of the configured tools, the installing shell's PATH (absolute entries, none
 *   inside node_modules: npx adds those) and the standard directories (cron's own PATH is
 *   /usr/bin:/bin).
 * - every word is single-quoted for /bin/sh when it needs it, and `%` (cron turns it into a
 *   newline) is written `\%`; a path with a newline is refused.
 * - Debian cron ignores CRON_TZ, so time zones are handled by tick, and the line is `* * * * *`.
 * - the crontab is read with `crontab -l` (exit 1 "no crontab for USER" = empty) and written with
 *   `crontab -` (argument arrays, no shell). CORTEX_CRONTAB replaces the `crontab` command
 *   (e.g. `crontab -u scratch`; tests point it at a fake).
 */
import { spawn } from 'node:child_process';
import { EnvironmentError, oneLine, UsageError } from '../errors.js';

export function beginMarker(root: string): string {
  return `# BEGIN cortex (${root})`;
}

export function endMarker(root: string): string {
  return `# END cortex (${root})`;
}

/** Quotes a word for /bin/sh when needed, and escapes `%` for cron. */
export function cronWord(word: string): string {
  if (/[\n\r\0]/.test(word)) throw new UsageError(`cannot put ${JSON.stringify(word)} in a crontab line (it contains a newline)`);
  const quoted = /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
  return quoted.replace(/%/g, '\\%');
}

export interface BlockInput {
  root: string;
  node: string;
  entry: string;
  /** PATH for the tick (joined with ':'). */
  path: string[];
}

/** The block (ending in a newline). */
export function buildBlock(b: BlockInput): string {
  const log = `${b.root}/state/cron.log`;
  const env = ['/usr/bin/env', `PATH=${b.path.join(':')}`, `CORTEX_HOME=${b.root}`, 'NO_COLOR=1'];
  const command = [...env, b.node, b.entry, '--root', b.root, 'tick'].map(cronWord).join(' ');
  return [
    beginMarker(b.root),
    `# cortex tick every minute; managed by \`cortex schedule install|uninstall --root ${b.root}\``,
    `* * * * * ${command} >> ${cronWord(log)} 2>&1`,
    endMarker(b.root),
    '',
  ].join('\n');
}

/** The PATH entries for the block: node's dir, the tools' dirs, the current PATH, the standard dirs. */
export function blockPath(nodeDir: string, toolDirs: string[], currentPath: string | undefined): string[] {
  const standard = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  const current = (currentPath ?? '').split(':').filter((d) => d.startsWith('/') && !d.includes('/node_modules/'));
  const out: string[] = [];
  for (const d of [nodeDir, ...toolDirs, ...current, ...standard]) if (d && !out.includes(d)) out.push(d);
  return out;
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Where our block is: [begin, end] line indexes, or undefined. Throws when it is unterminated. */
function findBlock(lines: string[], root: string): [number, number] | undefined {
  const begin = lines.indexOf(beginMarker(root));
  if (begin < 0) return undefined;
  const end = lines.indexOf(endMarker(root), begin + 1);
  if (end < 0) throw new UsageError(`the crontab has "${beginMarker(root)}" without "${endMarker(root)}"`, { hint: 'fix it with crontab -e, then run the command again' });
  return [begin, end];
}

/** The crontab with our block added, or replaced where it is. */
export function withBlock(current: string, block: string, root: string): { text: string; changed: boolean } {
  const lines = splitLines(current);
  const blockLines = splitLines(block);
  const at = findBlock(lines, root);
  let next: string[];
  if (at) {
    const [b, e] = at;
    next = [...lines.slice(0, b), ...blockLines, ...lines.slice(e + 1)];
  } else next = [...lines, ...blockLines];
  const text = next.length ? `${next.join('\n')}\n` : '';
  return { text, changed: text !== (lines.length ? `${lines.join('\n')}\n` : '') };
}

/** The crontab without our block. */
export function withoutBlock(current: string, root: string): { text: string; removed: boolean } {
  const lines = splitLines(current);
  const at = findBlock(lines, root);
  if (!at) return { text: lines.length ? `${lines.join('\n')}\n` : '', removed: false };
  const next = [...lines.slice(0, at[0]), ...lines.slice(at[1] + 1)];
  return { text: next.length ? `${next.join('\n')}\n` : '', removed: true };
}

/** Our block as it is in the crontab, or undefined. */
export function currentBlock(current: string, root: string): string | undefined {
  const lines = splitLines(current);
  try {
    const at = findBlock(lines, root);
    return at ? `${lines.slice(at[0], at[1] + 1).join('\n')}\n` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Syntax problems of a crontab text (what `crontab -n` would catch for our lines, which not every
 * cron has): the final newline, and each line is a comment, a variable or five time fields (or a
 * nickname) and a command.
 */
export function lintCrontab(text: string): string[] {
  const problems: string[] = [];
  if (text !== '' && !text.endsWith('\n')) problems.push('the last line must end with a newline');
  const element = (names: boolean) => {
    const v = names ? '(?:\\d{1,2}|[A-Za-z]{3})' : '\\d{1,2}';
    return `(?:\\*|${v}(?:-${v})?)(?:/\\d{1,2})?`;
  };
  const fieldRe = (names: boolean) => new RegExp(`^${element(names)}(?:,${element(names)})*$`);
  const fields = [fieldRe(false), fieldRe(false), fieldRe(false), fieldRe(true), fieldRe(true)];
  splitLines(text).forEach((line, i) => {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) return;
    if (/^[A-Za-z_][A-Za-z0-9_]*\s*=/.test(l)) return;
    const words = l.split(/\s+/);
    if (words[0]?.startsWith('@')) {
      if (!['@reboot', '@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'].includes(words[0])) problems.push(`line ${i + 1}: unknown ${words[0]}`);
      else if (words.length < 2) problems.push(`line ${i + 1}: no command`);
      return;
    }
    if (words.length < 6) {
      problems.push(`line ${i + 1}: expected five time fields and a command`);
      return;
    }
    words.slice(0, 5).forEach((w, k) => {
      if (!(fields[k] as RegExp).test(w)) problems.push(`line ${i + 1}: bad ${['minute', 'hour', 'day-of-month', 'month', 'day-of-week'][k]} "${w}"`);
    });
  });
  return problems;
}

export interface CrontabIO {
  /** The current crontab ('' when the user has none). */
  read(): Promise<string>;
  write(text: string): Promise<void>;
  describe(): string;
}

function run(argv: string[], input: string | undefined, env: Record<string, string | undefined>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd as string, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env as NodeJS.ProcessEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') reject(new EnvironmentError(`${cmd} not found`, { hint: 'install cron (apt-get install cron), or set CORTEX_CRONTAB to the crontab command to use' }));
      else reject(e);
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

/** The user's crontab through `crontab -l` / `crontab -` (or the CORTEX_CRONTAB command line). */
export function systemCrontab(command: string[], env: Record<string, string | undefined>): CrontabIO {
  return {
    describe: () => command.join(' '),
    read: async () => {
      const r = await run([...command, '-l'], undefined, env);
      if (r.code === 0) return r.stdout;
      if (/no crontab for/i.test(r.stderr)) return '';
      throw new EnvironmentError(`${[...command, '-l'].join(' ')} failed (exit ${r.code}): ${oneLine(r.stderr) || oneLine(r.stdout)}`);
    },
    write: async (text: string) => {
      const r = await run([...command, '-'], text, env);
      if (r.code !== 0) throw new EnvironmentError(`${[...command, '-'].join(' ')} failed (exit ${r.code}): ${oneLine(r.stderr) || oneLine(r.stdout)}`);
    },
  };
}
