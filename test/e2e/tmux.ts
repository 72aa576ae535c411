import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../helpers/wait.js';

/**
 * An interactive bash in a real pseudo-terminal (a private tmux server), for what only a terminal
 * shows: spinners, Ctrl-C through the line discipline, SIGHUP when the terminal closes.
 */
export class Terminal {
  private constructor(
    private readonly dir: string,
    private readonly socket: string,
  ) {}

  /** Starts bash (no rc files, prompt "tty> ") with exactly `env` (plus PATH, HOME and TERM). */
  static async open(env: Record<string, string>): Promise<Terminal> {
    const dir = mkdtempSync(join(tmpdir(), 'cortex-tty-'));
    const t = new Terminal(dir, join(dir, 'sock'));
    const vars = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? dir, TERM: 'xterm-256color', PS1: 'tty> ', ...env };
    const shell = ['env', '-i', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`), 'bash', '--norc', '--noprofile', '-i'];
    try {
      await t.tmux(['-f', '/dev/null', 'new-session', '-d', '-x', '200', '-y', '50', '-s', 'cortex', shell.map(shq).join(' ')]);
      await waitFor(async () => (await t.screen()).includes('tty>'), { what: 'the shell prompt', timeoutMs: 20_000, intervalMs: 100, detail: () => t.screen() });
    } catch (e) {
      await t.close();
      throw e;
    }
    return t;
  }

  private async tmux(args: string[]): Promise<string> {
    return (await execa('tmux', ['-S', this.socket, ...args], { env: { ...process.env, TMUX: '' } })).stdout;
  }

  /** Types one command line and presses Enter. */
  async type(line: string): Promise<void> {
    await this.tmux(['send-keys', '-t', 'cortex', '-l', line]);
    await this.tmux(['send-keys', '-t', 'cortex', 'Enter']);
  }

  /** Types text without pressing Enter (to press Tab after it). */
  async write(text: string): Promise<void> {
    await this.tmux(['send-keys', '-t', 'cortex', '-l', '--', text]);
  }

  /** Presses keys by tmux name (C-c). */
  async press(key: string): Promise<void> {
    await this.tmux(['send-keys', '-t', 'cortex', key]);
  }

  /** What the terminal shows now; with `escapes`, with the SGR sequences of its colours and attributes. */
  async screen(options: { escapes?: boolean } = {}): Promise<string> {
    return this.tmux(['capture-pane', '-p', ...(options.escapes ? ['-e'] : []), '-t', 'cortex']);
  }

  /** The terminal device (/dev/pts/N), for `stty -F`. */
  async device(): Promise<string> {
    return this.tmux(['display-message', '-p', '-t', 'cortex', '#{pane_tty}']);
  }

  /** The line discipline's flags now, as `stty -a` prints them (isig or -isig, ...). */
  async sttyFlags(): Promise<string[]> {
    return (await execa('stty', ['-a', '-F', await this.device()])).stdout.split(/[\s;]+/);
  }

  /** Closes the terminal as a terminal emulator's window does (its shell gets SIGHUP); idempotent. */
  async close(): Promise<void> {
    await this.tmux(['kill-server']).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function shq(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
