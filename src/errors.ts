/** Exit codes shared by every command. Documented in the README; scripts rely on them. */
export const ExitCode = {
  OK: 0,
  WORKFLOW_FAILED: 1,
  INVALID_INPUT: 2,
  CONFLICT: 3,
  ENVIRONMENT: 4,
  INTERNAL: 70,
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** One problem found in an input file: where it is and what was expected there. */
export interface Issue {
  /** File the problem is in (as given by the operator, or relative to the root). */
  file?: string;
  /** JSON pointer into the document, e.g. `/phases/0/actions/1/on_error`. */
  pointer?: string;
  line?: number;
  column?: number;
  message: string;
}

export function formatIssue(issue: Issue): string {
  let where = issue.file ?? '';
  if (issue.line !== undefined) where += `${where ? ':' : 'line '}${issue.line}:${issue.column ?? 1}`;
  const pointer = issue.pointer !== undefined ? ` ${issue.pointer || '/'}` : '';
  return `${where}${where ? ':' : ''}${pointer}${pointer ? ': ' : where ? ' ' : ''}${issue.message}`;
}

/**
 * A tool's stderr or a service's response body as part of a one-line message: each line trimmed,
 * blank ones dropped (a body's trailing newline, an HTML page's layout), joined with " | ", then
 * cut to `maxChars`.
 */
export function oneLine(text: string, maxChars = Number.POSITIVE_INFINITY): string {
  const line = text
    .split(/\r\n|\r|\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' | ');
  return line.length > maxChars ? line.slice(0, maxChars) : line;
}

/**
 * Base of every error cortex reports on purpose. `code` is stable (scripts may match it),
 * `exitCode` is what the process exits with, `hint` is the next thing to try.
 */
export abstract class CortexError extends Error {
  abstract readonly code: string;
  abstract readonly exitCode: ExitCode;
  readonly hint?: string;

  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.hint !== undefined) this.hint = options.hint;
  }
}

/** Wrong command-line usage: unknown option, missing argument, bad id. */
export class UsageError extends CortexError {
  readonly code = 'CORTEX_USAGE';
  readonly exitCode = ExitCode.INVALID_INPUT;
}

/** A definition, config or parameter file that cannot be used; lists every issue found. */
export class DefinitionInvalidError extends CortexError {
  readonly code: string;
  readonly exitCode = ExitCode.INVALID_INPUT;
  readonly issues: Issue[];

  constructor(issues: Issue[], options?: { code?: string; hint?: string; summary?: string }) {
    const body = issues.map(formatIssue);
    const message =
      options?.summary !== undefined
        ? [options.summary, ...body.map((l) => `  ${l}`)].join('\n')
        : body.length === 1
          ? (body[0] as string)
          : [`${issues.length} problems:`, ...body.map((l) => `  ${l}`)].join('\n');
    super(message, options?.hint === undefined ? undefined : { hint: options.hint });
    this.code = options?.code ?? 'CORTEX_DEFINITION_INVALID';
    this.issues = issues;
  }
}

/** Parameters given to a run do not satisfy the workflow's declarations. */
export class ParametersInvalidError extends DefinitionInvalidError {
  constructor(issues: Issue[], workflowId: string) {
    super(issues, {
      code: 'CORTEX_PARAMETERS_INVALID',
      summary: `invalid parameters for workflow "${workflowId}":`,
      hint: `cortex show ${workflowId} lists its parameters with types and defaults`,
    });
  }
}

/** The thing asked for does not exist (workflow id, execution id). */
export class NotFoundError extends CortexError {
  readonly code = 'CORTEX_NOT_FOUND';
  readonly exitCode = ExitCode.INVALID_INPUT;
}

/** A lock is held or an execution is in a state that does not allow the command. */
export class StateConflictError extends CortexError {
  readonly code = 'CORTEX_CONFLICT';
  readonly exitCode = ExitCode.CONFLICT;
}

/** `run --plan`: the definition, parameters, configuration or commands changed since the plan was made. */
export class PlanChangedError extends CortexError {
  readonly code = 'CORTEX_PLAN_CHANGED';
  readonly exitCode = ExitCode.CONFLICT;
}

/** A required tool is missing or not executable, or the environment is unusable. */
export class ToolNotFoundError extends CortexError {
  readonly code = 'CORTEX_TOOL_NOT_FOUND';
  readonly exitCode = ExitCode.ENVIRONMENT;
}

export class EnvironmentError extends CortexError {
  readonly code = 'CORTEX_ENVIRONMENT';
  readonly exitCode = ExitCode.ENVIRONMENT;
}

/** What the file system's refusals mean, for an operator: each is about the machine, not cortex. */
const ENVIRONMENT_ERRNOS: Readonly<Record<string, string>> = {
  EISDIR: 'a folder is where a file belongs',
  ENOTDIR: 'a file is where a folder belongs',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EIO: 'input/output error of the device',
  EMFILE: 'too many open files in this process',
  ENFILE: 'too many open files on this machine',
  ENAMETOOLONG: 'a name too long',
  EFBIG: 'file too large',
};

/** Whether `e` is a file-system error about the machine (a folder in the way, permissions, a full disk). */
export function isEnvironmentErrno(e: unknown): e is NodeJS.ErrnoException {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return e instanceof Error && typeof code === 'string' && Object.hasOwn(ENVIRONMENT_ERRNOS, code) && typeof (e as NodeJS.ErrnoException).path === 'string';
}

/**
 * A file-system error that reached the top of a command, as the operator needs it: the path, what
 * the code means, exit 4 (environment), no stack. Any other error is left as it is.
 */
export function environmentErrorOf(e: unknown): EnvironmentError | undefined {
  if (!isEnvironmentErrno(e)) return undefined;
  const { code, syscall, path, dest } = e as NodeJS.ErrnoException & { dest?: string };
  const where = typeof dest === 'string' ? `${path} -> ${dest}` : path;
  return new EnvironmentError(`cannot ${syscall ?? 'use'} ${where}: ${code} (${ENVIRONMENT_ERRNOS[code as string]})`, {
    hint: 'fix what is at that path (a folder or file in the way, its owner or mode, a full or read-only disk), then run the command again',
    cause: e,
  });
}

/**
 * A path cortex would write through is not what it must be: a symbolic link (or a file where a
 * folder belongs) inside the coordination directory, which could send a write outside it.
 * Nothing was written. Exit 4: the directory needs a person to look at it.
 */
export class UnsafePathError extends CortexError {
  readonly code = 'CORTEX_UNSAFE_PATH';
  readonly exitCode = ExitCode.ENVIRONMENT;

  constructor(
    readonly path: string,
    why: string,
    root?: string,
  ) {
    super(`refusing to write through ${path}: it ${why}${root ? ` (inside ${root}, where cortex follows no link)` : ''}`, {
      hint: `look at it (ls -l ${path}) and put the real file or folder there instead, or remove it`,
    });
  }
}

/** The workflow ran and failed; the record says why. */
export class WorkflowFailedError extends CortexError {
  readonly code = 'CORTEX_WORKFLOW_FAILED';
  readonly exitCode = ExitCode.WORKFLOW_FAILED;
}

/** Ctrl-C or SIGTERM stopped the command; state was saved. */
export class InterruptedError extends CortexError {
  readonly code = 'CORTEX_INTERRUPTED';
  readonly exitCode = ExitCode.INTERRUPTED;
}

/**
 * Queue mode: the worker that held a dispatched action died (or its job was lost) before
 * reporting; whether the action did its work is unknown. The engine pauses as after a crash.
 */
export class ActionOutcomeUnknownError extends CortexError {
  readonly code = 'CORTEX_ACTION_OUTCOME_UNKNOWN';
  readonly exitCode = ExitCode.WORKFLOW_FAILED;
}

/**
 * A tool or HTTP call that an action made did not succeed. Carries what an operator needs
 * to see (argv, exit code, stderr tail) and whether trying again may help.
 */
export class ActionFailedError extends CortexError {
  readonly code = 'CORTEX_ACTION_FAILED';
  readonly exitCode = ExitCode.WORKFLOW_FAILED;
  /** Domain error code recorded in metrics, e.g. `helm_install_failed`. */
  readonly errorCode: string;
  readonly retryable: boolean;
  readonly exitStatus?: number | null;
  readonly signal?: string | null;
  readonly stderrTail?: string;

  constructor(
    message: string,
    details: {
      errorCode: string;
      retryable?: boolean;
      exitStatus?: number | null;
      signal?: string | null;
      stderrTail?: string;
      hint?: string;
      cause?: unknown;
    },
  ) {
    super(message, { hint: details.hint, cause: details.cause });
    this.errorCode = details.errorCode;
    this.retryable = details.retryable ?? false;
    this.exitStatus = details.exitStatus;
    this.signal = details.signal;
    this.stderrTail = details.stderrTail;
  }
}

/** A bug in cortex: printed with its stack and a request to report it. */
export class InternalError extends CortexError {
  readonly code = 'CORTEX_INTERNAL';
  readonly exitCode = ExitCode.INTERNAL;
}

/** An error a queue worker met while driving a job, reported by the command that queued it. */
export class WorkerReportedError extends CortexError {
  constructor(
    readonly code: string,
    readonly exitCode: ExitCode,
    message: string,
    options?: { hint?: string },
  ) {
    super(message, options);
  }
}

for (const cls of [
  WorkerReportedError,
  UsageError,
  DefinitionInvalidError,
  ParametersInvalidError,
  NotFoundError,
  StateConflictError,
  PlanChangedError,
  ToolNotFoundError,
  EnvironmentError,
  UnsafePathError,
  WorkflowFailedError,
  InterruptedError,
  ActionFailedError,
  InternalError,
]) {
  Object.defineProperty(cls.prototype, 'name', { value: cls.name, enumerable: false });
}

export function isCortexError(e: unknown): e is CortexError {
  return e instanceof CortexError;
}
