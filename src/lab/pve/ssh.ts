/**
 * The lab's `ssh`: for command lines like `tools.pvesh: [ssh, root@pve01, pvesh]`. Like OpenSSH
 * it joins the words after the destination with spaces and has the "remote" shell (bash, root's
 * shell on Proxmox VE) parse the result again: quoting, escapes, `$` expansions (the remote
 * environment is empty), comments, and commands separated by `;`, `&&`, `||` and newlines, with
 * bash's messages for what cannot run (`bash: line 1: x: command not found`, exit 127; a syntax
 * error, exit 2). So an argument that was not quoted for the remote shell is mangled here as it
 * would be on the node. Only the lab's pvesh (also as /usr/bin/pvesh, or after sudo) runs; nothing
 * is executed by a real shell, and redirections, pipes, background jobs, command substitution
 * and brace expansion are refused rather than simulated.
 */
import { callContextFromEnv, recordInvocation } from '../lab-dir.js';
import { runPvesh, type PveshResult } from './pvesh.js';

/** ssh options that take an argument (ssh(1), OpenSSH 9). */
const WITH_ARG = new Set('BbcDEeFIiJLlmOoPpQRSWw'.split(''));
const FLAGS = new Set('46AaCfGgKkMNnqsTtVvXxYy'.split(''));

export type SshArgs = { destination: string; command: string } | { error: string };

/** Splits ssh's own options and destination from the remote command (joined with spaces). */
export function parseSshArgs(argv: readonly string[]): SshArgs {
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    for (let j = 1; j < a.length; j++) {
      const c = a[j] as string;
      if (WITH_ARG.has(c)) {
        if (j === a.length - 1) i++;
        if (i >= argv.length) return { error: `option requires an argument -- ${c}` };
        break;
      }
      if (!FLAGS.has(c)) return { error: `unknown option -- ${c}` };
    }
  }
  const destination = argv[i];
  if (destination === undefined) return { error: 'usage: ssh [options] destination [command [argument ...]]' };
  const command = argv.slice(i + 1).join(' ');
  return { destination, command };
}

export interface ShellCommand {
  words: string[];
  /** What follows the command: run the next one always, only on success, only on failure. */
  then: ';' | '&&' | '||';
}

export class ShellSyntaxError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

const REFUSED = (what: string) => new ShellSyntaxError(`lab ssh: ${what} is not simulated in the lab`, 255);
const UNEXPECTED = (token: string) => new ShellSyntaxError(`bash: -c: line 1: syntax error near unexpected token \`${token}'`, 2);

/** Parses a command line as bash does (the subset above): the simple commands, in order. */
export function parseShell(line: string): ShellCommand[] {
  const commands: ShellCommand[] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  const endWord = () => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = (then: ShellCommand['then'], token: string) => {
    endWord();
    if (words.length === 0) {
      if (token === '\n' || token === 'end') return;
      throw UNEXPECTED(token);
    }
    commands.push({ words, then });
    words = [];
  };
  const expand = (i: number): { text: string; next: number } => {
    const rest = line.slice(i + 1);
    if (rest.startsWith('(') || rest.startsWith('{(')) throw REFUSED('command substitution');
    const braced = /^\{([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])\}/.exec(rest);
    if (braced) return { text: '', next: i + 1 + braced[0].length };
    const named = /^([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])/.exec(rest);
    if (named) return { text: '', next: i + 1 + (named[1] as string).length };
    return { text: '$', next: i + 1 };
  };
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new ShellSyntaxError("bash: -c: line 1: unexpected EOF while looking for matching `''", 2);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      inWord = true;
      i++;
      for (;;) {
        if (i >= line.length) throw new ShellSyntaxError('bash: -c: line 1: unexpected EOF while looking for matching `"\'', 2);
        const d = line[i] as string;
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\\' && i + 1 < line.length && '$`"\\\n'.includes(line[i + 1] as string)) {
          if (line[i + 1] !== '\n') word += line[i + 1];
          i += 2;
        } else if (d === '$') {
          const e = expand(i);
          word += e.text;
          i = e.next;
        } else if (d === '`') throw REFUSED('command substitution');
        else {
          word += d;
          i++;
        }
      }
    } else if (c === '\\') {
      if (line[i + 1] === '\n') i += 2;
      else {
        if (i + 1 < line.length) word += line[i + 1];
        inWord = true;
        i += 2;
      }
    } else if (c === ' ' || c === '\t') {
      endWord();
      i++;
    } else if (c === '#' && !inWord) {
      const nl = line.indexOf('\n', i);
      i = nl < 0 ? line.length : nl;
    } else if (c === '\n' || c === ';') {
      if (c === ';' && line[i + 1] === ';') throw UNEXPECTED(';;');
      endCommand(';', c === ';' ? ';' : '\n');
      i++;
    } else if (c === '&' || c === '|') {
      if (line[i + 1] === c) {
        endCommand(c === '&' ? '&&' : '||', c + c);
        i += 2;
      } else throw REFUSED(c === '&' ? 'a background job (&)' : 'a pipe (|)');
    } else if (c === '(' || c === ')') {
      throw UNEXPECTED(c);
    } else if (c === '<' || c === '>') {
      throw REFUSED('a redirection');
    } else if (c === '`') {
      throw REFUSED('command substitution');
    } else if (c === '$') {
      const e = expand(i);
      word += e.text;
      inWord = inWord || e.text !== '';
      i = e.next;
    } else if (c === '{' && !inWord && /^\{[^\s{}]*,[^\s{}]*\}/.test(line.slice(i))) {
      throw REFUSED('brace expansion');
    } else if (c === '~' && !inWord && (i + 1 >= line.length || /[\s/;&|]/.test(line[i + 1] as string))) {
      word += '/root';
      inWord = true;
      i++;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  endCommand(';', 'end');
  return commands;
}

/** The remote command after `sudo [-opts]`, and whether it is the lab's pvesh. */
function programOf(words: string[]): { rest: string[]; isPvesh: boolean; name: string } {
  let w = words;
  if (w[0] === 'sudo' || w[0] === '/usr/bin/sudo') {
    w = w.slice(1);
    while (w[0]?.startsWith('-')) w = w.slice(1);
  }
  const name = w[0] ?? '';
  return { rest: w.slice(1), isPvesh: /(^|\/)pvesh$/.test(name), name };
}

/** One `ssh` invocation against the lab. */
export async function runSsh(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<PveshResult> {
  try {
    recordInvocation(callContextFromEnv(env), 'ssh', argv);
  } catch (e) {
    return { stdout: '', stderr: `${(e as Error).message}\n`, exitCode: 255 };
  }
  const parsed = parseSshArgs(argv);
  if ('error' in parsed) return { stdout: '', stderr: `${parsed.error}\n`, exitCode: 255 };
  if (!parsed.command.trim()) return { stdout: '', stderr: 'lab ssh: an interactive session is not simulated in the lab: give a command\n', exitCode: 255 };
  let commands: ShellCommand[];
  try {
    commands = parseShell(parsed.command);
  } catch (e) {
    if (e instanceof ShellSyntaxError) return { stdout: '', stderr: `${e.message}\n`, exitCode: e.exitCode };
    throw e;
  }
  let stdout = '';
  let stderr = '';
  let exitCode = 0;
  let skip = false;
  for (const cmd of commands) {
    if (!skip) {
      const p = programOf(cmd.words);
      if (p.isPvesh) {
        const r = await runPvesh(p.rest, env);
        stdout += r.stdout;
        stderr += r.stderr;
        exitCode = r.exitCode;
      } else {
        stderr += `bash: line 1: ${p.name}: command not found\n`;
        exitCode = 127;
      }
    }
    skip = (cmd.then === '&&' && exitCode !== 0) || (cmd.then === '||' && exitCode === 0);
  }
  return { stdout, stderr, exitCode };
}
