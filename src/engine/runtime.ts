import { ActionFailedError, InterruptedError } from '../errors.js';
import type { ActionRuntime, NestedActionRequest, ToolOptions } from '../contractors/action-impl.js';
import type { ResolvedConfig, ToolName } from '../config/config.js';
import type { HttpRequest, HttpResponse } from '../ports/http-client.js';
import { HttpTransportError } from '../ports/http-client.js';
import type { ProcessResult } from '../ports/process-runner.js';
import type { EngineDeps } from './deps.js';
import type { AttemptRecord } from '../model/records.js';
import { toolCommandLine } from '../model/remote-shell.js';

/** Requests kept per attempt in the execution record. */
export const MAX_RECORDED_REQUESTS = 100;
/** Tool invocations kept per attempt in the execution record. */
export const MAX_RECORDED_INVOCATIONS = 100;

export function tail(text: string, bytes: number): string {
  if (text.length <= bytes) return text;
  return `…${text.slice(text.length - bytes + 1)}`;
}

export interface RuntimeInit {
  deps: EngineDeps;
  config: ResolvedConfig;
  executionId: string;
  workflowId: string;
  phaseId: string;
  actionId: string;
  contractor: string;
  action: string;
  params: Record<string, unknown>;
  attempt: AttemptRecord;
  timeoutMs: number;
  /** The execution's abort signal (Ctrl-C, cancel). */
  signal: AbortSignal;
  debug: (message: string) => void;
  evaluateCondition: (condition: string) => boolean;
  /**
   * Where rt.remember keeps what the action observed (the action record's `observed`), and how
   * to make it durable before the action goes on.
   */
  observed?: { get: () => Record<string, unknown>; persist: () => Promise<void> };
  /** Runs another action as one step of this one (plans); absent where steps cannot run. */
  nested?: (request: NestedActionRequest, parent: { remainingMs: () => number; signal: AbortSignal }) => Promise<Record<string, unknown>>;
  /** Process cookie for the tools (default: the attempt's process_cookie). */
  cookie?: string;
}

/** Builds the ActionRuntime for one attempt: deadline, recording and masking of every call. */
export function createRuntime(init: RuntimeInit): ActionRuntime {
  const { deps, config, attempt } = init;
  const startedAt = deps.clock.now().getTime();
  const deadline = startedAt + init.timeoutMs;
  const timeout = new AbortController();
  // The deadline goes through the Clock (real time, never shortened by the lab); disposing the
  // runtime cancels it.
  const disposed = new AbortController();
  deps.clock.timer(init.timeoutMs, disposed.signal).then(
    () => timeout.abort(new Error('action timeout')),
    () => undefined,
  );
  const signal = AbortSignal.any([init.signal, timeout.signal]);
  const remainingMs = () => Math.max(0, deadline - deps.clock.now().getTime());
  const tailBytes = config.defaults.outputTailBytes;
  // Plan steps run under their parent attempt's cookie, so that one cookie finds all its tools.
  const cookie = init.cookie ?? attempt.process_cookie;

  const checkStop = () => {
    if (init.signal.aborted) throw new InterruptedError('interrupted');
    if (timeout.signal.aborted || remainingMs() <= 0) {
      throw new ActionFailedError(`timed out after ${Math.round(init.timeoutMs / 1000)}s`, { errorCode: 'action_timeout', retryable: true });
    }
  };

  const exec = async (command: string, args: readonly string[], options: ToolOptions = {}, shown?: string[]): Promise<ProcessResult> => {
    checkStop();
    const argv = shown ?? [command, ...args];
    const masked = argv.map((a) => deps.masker.mask(a));
    deps.emit({ kind: 'command', phaseId: init.phaseId, actionId: init.actionId, argv: masked });
    init.debug(`$ ${masked.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}`);
    const inv: NonNullable<AttemptRecord['invocations']>[number] = { command: masked };
    if ((attempt.invocations ??= []).length < MAX_RECORDED_INVOCATIONS) attempt.invocations.push(inv);
    const result = await deps.runner.run(command, args, {
      cwd: options.cwd,
      // Tools (and the lab's stand-ins) learn which execution, action and attempt they serve.
      env: {
        ...(options.env ?? {}),
        CORTEX_EXECUTION_ID: init.executionId,
        CORTEX_WORKFLOW_ID: init.workflowId,
        CORTEX_ACTION_ID: init.actionId,
        CORTEX_ATTEMPT: String(attempt.attempt),
      },
      input: options.input,
      ...(cookie !== undefined ? { cookie } : {}),
      timeoutMs: Math.max(1, Math.min(remainingMs(), options.timeoutMs ?? Number.POSITIVE_INFINITY)),
      killGraceMs: config.defaults.killGraceSeconds * 1000,
      signal,
    });
    if (result.truncated) {
      // The runner kept only the tail of a long output: a secret cut there leaves its end.
      result.stdout = deps.masker.maskCutStart(result.stdout);
      result.stderr = deps.masker.maskCutStart(result.stderr);
    }
    inv.exit_code = result.exitCode;
    inv.signal = result.signal;
    inv.duration_ms = Math.round(result.durationMs);
    if (result.timedOut) inv.timed_out = true;
    // Masked before cutting: a cut never leaves part of a secret.
    if (result.stdout) inv.stdout_tail = deps.masker.tail(result.stdout, tailBytes);
    if (result.stderr) inv.stderr_tail = deps.masker.tail(result.stderr, tailBytes);
    attempt.exit_code = result.exitCode;
    attempt.signal = result.signal;
    init.debug(`exit ${result.exitCode ?? result.signal} in ${inv.duration_ms} ms${result.stderr ? `\nstderr: ${inv.stderr_tail}` : ''}${result.stdout ? `\nstdout: ${inv.stdout_tail}` : ''}`);
    if (result.spawnError) {
      const notFound = result.spawnError.code === 'ENOENT';
      throw new ActionFailedError(
        notFound ? `${command}: command not found` : `${command}: cannot run (${result.spawnError.code})`,
        {
          errorCode: notFound ? 'tool_not_found' : 'tool_not_executable',
          retryable: false,
          hint: notFound ? `install ${command} or set its command line in config.yaml (tools:)` : `check the permissions of ${command}`,
        },
      );
    }
    if (result.aborted && init.signal.aborted) throw new InterruptedError('interrupted');
    if (result.timedOut && remainingMs() <= 0) {
      throw new ActionFailedError(`${command} timed out after ${Math.round(init.timeoutMs / 1000)}s (process group killed)`, {
        errorCode: 'action_timeout',
        retryable: true,
        exitStatus: result.exitCode,
        signal: result.signal,
        stderrTail: deps.masker.tail(result.stderr, tailBytes),
      });
    }
    return result;
  };

  const rt: ActionRuntime = {
    executionId: init.executionId,
    workflowId: init.workflowId,
    phaseId: init.phaseId,
    actionId: init.actionId,
    contractor: init.contractor,
    action: init.action,
    params: init.params,
    attempt: attempt.attempt,
    config,
    signal,
    tool: (name: ToolName, args, options) => {
      // Through ssh the remote shell re-parses the words: they are quoted for it.
      const argv = toolCommandLine(config.tools[name], args);
      const [cmd, ...rest] = argv as [string, ...string[]];
      return exec(cmd, rest, options, argv);
    },
    exec: (command, args, options) => exec(command, args, options),
    http: async (req: HttpRequest): Promise<HttpResponse> => {
      checkStop();
      const maskedUrl = deps.masker.mask(req.url);
      const info: NonNullable<AttemptRecord['requests']>[number] = { method: req.method, url: maskedUrl };
      // A load test makes thousands of requests: the record keeps the first ones only.
      if ((attempt.requests ??= []).length < MAX_RECORDED_REQUESTS) attempt.requests.push(info);
      init.debug(`${req.method} ${maskedUrl}${req.body ? `\n${deps.masker.tail(req.body, tailBytes)}` : ''}`);
      const started = deps.clock.now().getTime();
      try {
        const res = await deps.http.request({
          ...req,
          context: { executionId: init.executionId, actionId: init.actionId, attempt: attempt.attempt },
          timeoutMs: Math.max(1, Math.min(remainingMs(), req.timeoutMs ?? config.defaults.httpTimeoutSeconds * 1000)),
          signal,
        });
        info.status = res.status;
        info.duration_ms = Math.round(res.durationMs);
        deps.emit({ kind: 'request', phaseId: init.phaseId, actionId: init.actionId, method: req.method, url: maskedUrl, status: res.status });
        init.debug(`-> ${res.status} in ${info.duration_ms} ms\n${deps.masker.tail(res.body, tailBytes)}`);
        return res;
      } catch (e) {
        info.status = null;
        info.duration_ms = deps.clock.now().getTime() - started;
        deps.emit({ kind: 'request', phaseId: init.phaseId, actionId: init.actionId, method: req.method, url: maskedUrl, status: null });
        if (init.signal.aborted) throw new InterruptedError('interrupted');
        if (e instanceof HttpTransportError) {
          if (e.code === 'timeout' || e.code === 'aborted') checkStop();
          throw new ActionFailedError(`${req.method} ${maskedUrl}: ${deps.masker.mask(e.message)}`, {
            errorCode: e.code === 'timeout' ? 'http_timeout' : e.code === 'tls' ? 'http_tls_failed' : 'http_unreachable',
            // A certificate that does not match the pinned CA or fingerprint will not match next time either.
            retryable: e.code !== 'invalid_url' && e.code !== 'tls',
          });
        }
        throw e;
      }
    },
    secret: async (name) => {
      const v = await deps.secrets.get(name);
      if (v === undefined) {
        throw new ActionFailedError(`secret "${name}" is not set`, { errorCode: 'secret_missing', retryable: false, hint: `set ${deps.secrets.describe(name)}` });
      }
      deps.masker.add(v);
      return v;
    },
    sleep: async (ms) => {
      checkStop();
      try {
        await deps.clock.sleep(Math.min(ms, remainingMs()), signal);
      } catch {
        checkStop();
      }
      checkStop();
    },
    now: () => deps.clock.now(),
    remainingMs,
    scratchDir: () => deps.scratchDir(init.executionId),
    files: deps.files.forAction(init.executionId, init.actionId),
    debug: init.debug,
    evaluateCondition: init.evaluateCondition,
    remember: async <T>(key: string, observe: () => Promise<T>): Promise<T> => {
      const store = init.observed;
      if (!store) return observe();
      const seen = store.get();
      if (Object.prototype.hasOwnProperty.call(seen, key)) return seen[key] as T;
      const value = await observe();
      // Recorded (masked by the store) before the action may change anything.
      seen[key] = value === undefined ? null : deps.masker.maskValue(value);
      await store.persist();
      return value;
    },
    ...(init.nested
      ? {
          runNested: (req: NestedActionRequest) => {
            checkStop();
            return (init.nested as NonNullable<RuntimeInit['nested']>)(req, { remainingMs, signal: init.signal });
          },
        }
      : {}),
  };
  // The deadline must not outlive the attempt; callers invoke dispose through the symbol below.
  // With a reason of its own: abort() without one builds a DOMException (and its stack) per attempt.
  (rt as ActionRuntime & { [DISPOSE]?: () => void })[DISPOSE] = () => disposed.abort(DISPOSED);
  return rt;
}

export const DISPOSE = Symbol('dispose');
/** Why an attempt's deadline timer was cancelled (seen by nothing: the timer's rejection is ignored). */
const DISPOSED = new Error('attempt ended');

export function disposeRuntime(rt: ActionRuntime): void {
  (rt as ActionRuntime & { [DISPOSE]?: () => void })[DISPOSE]?.();
}
