import { ActionFailedError } from '../../errors.js';
import { splitWords } from '../../config/config.js';
import type { ActionImpl } from '../action-impl.js';
import { tailText } from '../http-util.js';
import { SHELL_OPERATORS } from '../../definitions/command-template.js';

/** The argv an execute_command runs: an array as given, a string split into words (no shell). */
export function commandArgv(command: unknown): string[] {
  if (Array.isArray(command)) return command.map((w) => String(w));
  const text = String(command);
  let words: string[];
  try {
    words = splitWords(text);
  } catch (e) {
    throw new ActionFailedError(`cannot split command "${text}": ${(e as Error).message}`, { errorCode: 'invalid_parameters', retryable: false });
  }
  const op = words.find((w) => SHELL_OPERATORS.has(w) || /^\$\(|^`/.test(w));
  if (op !== undefined) {
    throw new ActionFailedError(`command "${text}" uses "${op}", a shell feature: cortex runs programs without a shell`, {
      errorCode: 'invalid_parameters',
      retryable: false,
      hint: 'give the command as an argument array, or put the pipeline in a script and run the script',
    });
  }
  if (words.length === 0) throw new ActionFailedError('empty command', { errorCode: 'invalid_parameters', retryable: false });
  return words;
}

/** Removes every trailing newline (\n or \r\n), as command substitution does. */
export function trimNewlines(text: string): string {
  return text.replace(/(\r?\n)+$/, '');
}

export const executeCommand: ActionImpl = {
  plan(params) {
    const argv = commandArgv(params.command);
    return [{ kind: 'command', tool: argv[0] as string, args: argv.slice(1), ...(params.working_directory ? { note: `in ${String(params.working_directory)}` } : {}) }];
  },
  async run(rt) {
    const p = rt.params as {
      command: string | string[];
      working_directory?: string;
      environment?: Record<string, string>;
      stdin?: string;
      expect_json?: boolean;
      success_exit_codes?: number[];
    };
    const [cmd, ...args] = commandArgv(p.command) as [string, ...string[]];
    const res = await rt.exec(cmd, args, {
      ...(p.working_directory ? { cwd: p.working_directory } : {}),
      ...(p.environment ? { env: p.environment } : {}),
      ...(p.stdin !== undefined ? { input: p.stdin } : {}),
    });
    const ok = res.exitCode !== null && (p.success_exit_codes ?? [0]).includes(res.exitCode);
    if (!ok) {
      const why = res.exitCode === null ? `killed by ${res.signal}` : `exit ${res.exitCode}`;
      const last = res.stderr.trim().split('\n').slice(-3).join(' | ');
      throw new ActionFailedError(`${cmd} failed (${why})${last ? `: ${last}` : ''}`, {
        errorCode: 'command_failed',
        retryable: true,
        exitStatus: res.exitCode,
        signal: res.signal,
        stderrTail: res.stderr.slice(-2000),
      });
    }
    let json: unknown = null;
    if (p.expect_json) {
      try {
        json = JSON.parse(res.stdout);
      } catch {
        throw new ActionFailedError(`${cmd} printed no valid JSON`, { errorCode: 'bad_output', retryable: false });
      }
    }
    // As a shell's $(…): trailing newlines go (a handoff of `hostname` is "vm", not "vm\n"); other whitespace stays.
    return { exit_code: res.exitCode, stdout: tailText(trimNewlines(res.stdout)), stderr: tailText(trimNewlines(res.stderr)), json };
  },
};
