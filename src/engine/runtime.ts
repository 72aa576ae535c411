import { ActionFailedError, InterruptedError } from '../errors.js';
import type { ActionRuntime, ImplementationRegistry, NestedActionRequest, ToolOptions } from '../contractors/action-impl.js';
import type { Catalogue } from '../contractors/types.js';
import { compileSchema, describeAjvError, selectAjvErrors } from '../definitions/schemas.js';
import type { ResolvedConfig, ToolName } from '../config/config.js';
import type { HttpRequest, HttpResponse } from '../ports/http-client.js';
import { HttpTransportError } from '../ports/http-client.js';
import type { ProcessResult } from '../ports/process-runner.js';
import type { EngineDeps } from './deps.js';
import type { ActionRecord, AttemptRecord, ErrorInfo } from './records.js';

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
  simulate: boolean;
  /** Multiplies rt.sleep (see RunContext.sleepScale). */
  sleepScale?: number;
  onChange: () => void;
  debug: (message: string) => void;
  evaluateCondition: (condition: string) => boolean;
  /**
   * Lets the action run other actions as steps (rt.runNested): the catalogue and registry to find
   * them, and the parent action record's `steps` list where each step is recorded.
   */
  nested?: { catalogue: Catalogue; impls: ImplementationRegistry; steps: () => ActionRecord[] };
  /** Process cookie for the tools (default: the attempt's process_cookie). */
  cookie?: string;
}

/** Builds the ActionRuntime for one attempt: deadline, recording and masking of every call. */
export function createRuntime(init: RuntimeInit): ActionRuntime {
  const { deps, config, attempt } = init;
  const startedAt = deps.clock.now().getTime();
  const deadline = startedAt + init.timeoutMs;
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new Error('action timeout')), init.timeoutMs);
  timer.unref?.();
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
    inv.exit_code = result.exitCode;
    inv.signal = result.signal;
    inv.duration_ms = Math.round(result.durationMs);
    if (result.timedOut) inv.timed_out = true;
    if (result.stdout) inv.stdout_tail = deps.masker.mask(tail(result.stdout, tailBytes));
    if (result.stderr) inv.stderr_tail = deps.masker.mask(tail(result.stderr, tailBytes));
    attempt.exit_code = result.exitCode;
    attempt.signal = result.signal;
    init.debug(`exit ${result.exitCode ?? result.signal} in ${inv.duration_ms} ms${result.stderr ? `\nstderr: ${deps.masker.mask(tail(result.stderr, tailBytes))}` : ''}${result.stdout ? `\nstdout: ${deps.masker.mask(tail(result.stdout, tailBytes))}` : ''}`);
    init.onChange();
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
        stderrTail: deps.masker.mask(tail(result.stderr, tailBytes)),
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
    simulate: init.simulate,
    tool: (name: ToolName, args, options) => {
      const prefix = config.tools[name];
      const [cmd, ...rest] = prefix as [string, ...string[]];
      return exec(cmd, [...rest, ...args], options, [...prefix, ...args]);
    },
    exec: (command, args, options) => exec(command, args, options),
    http: async (req: HttpRequest): Promise<HttpResponse> => {
      checkStop();
      const maskedUrl = deps.masker.mask(req.url);
      const info: NonNullable<AttemptRecord['requests']>[number] = { method: req.method, url: maskedUrl };
      // A load test makes thousands of requests: the record keeps the first ones only.
      if ((attempt.requests ??= []).length < MAX_RECORDED_REQUESTS) attempt.requests.push(info);
      init.debug(`${req.method} ${maskedUrl}${req.body ? `\n${deps.masker.mask(tail(req.body, tailBytes))}` : ''}`);
      const started = deps.clock.now().getTime();
      try {
        const res = await deps.http.request({
          ...req,
          ...(init.simulate
            ? { headers: { ...(req.headers ?? {}), 'x-cortex-execution': init.executionId, 'x-cortex-action': init.actionId, 'x-cortex-attempt': String(attempt.attempt) } }
            : {}),
          timeoutMs: Math.max(1, Math.min(remainingMs(), req.timeoutMs ?? config.defaults.httpTimeoutSeconds * 1000)),
          signal,
        });
        info.status = res.status;
        info.duration_ms = Math.round(res.durationMs);
        deps.emit({ kind: 'request', phaseId: init.phaseId, actionId: init.actionId, method: req.method, url: maskedUrl, status: res.status });
        init.debug(`-> ${res.status} in ${info.duration_ms} ms\n${deps.masker.mask(tail(res.body, tailBytes))}`);
        return res;
      } catch (e) {
        info.status = null;
        info.duration_ms = deps.clock.now().getTime() - started;
        deps.emit({ kind: 'request', phaseId: init.phaseId, actionId: init.actionId, method: req.method, url: maskedUrl, status: null });
        if (init.signal.aborted) throw new InterruptedError('interrupted');
        if (e instanceof HttpTransportError) {
          if (e.code === 'timeout' || e.code === 'aborted') checkStop();
          throw new ActionFailedError(`${req.method} ${maskedUrl}: ${deps.masker.mask(e.message)}`, {
            errorCode: e.code === 'timeout' ? 'http_timeout' : 'http_unreachable',
            retryable: e.code !== 'invalid_url',
          });
        }
        throw e;
      } finally {
        init.onChange();
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
        await deps.clock.sleep(Math.min(ms * (init.sleepScale ?? 1), remainingMs()), signal);
      } catch {
        checkStop();
      }
      checkStop();
    },
    now: () => deps.clock.now(),
    remainingMs,
    scratchDir: () => deps.scratchDir(init.executionId),
    debug: init.debug,
    evaluateCondition: init.evaluateCondition,
    ...(init.nested ? { runNested: (req: NestedActionRequest) => runNested(init, req, remainingMs, checkStop) } : {}),
  };
  // The timer must not outlive the attempt; callers invoke dispose through the symbol below.
  (rt as ActionRuntime & { [DISPOSE]?: () => void })[DISPOSE] = () => clearTimeout(timer);
  return rt;
}

/**
 * One plan step: validated against its spec, run with a child runtime (its own attempt record
 * inside the step's record, action id `<parent>/<step>` so the lab and tools can tell steps
 * apart), recorded in the parent action's `steps`. A step run again (the parent retried) gets a
 * new attempt in the same step record.
 */
async function runNested(init: RuntimeInit, req: NestedActionRequest, remainingMs: () => number, checkStop: () => void): Promise<Record<string, unknown>> {
  checkStop();
  const { deps } = init;
  const nested = init.nested as NonNullable<RuntimeInit['nested']>;
  const iso = () => deps.clock.now().toISOString();
  const steps = nested.steps();
  let rec = steps.find((s) => s.action_id === req.stepId);
  if (!rec) {
    rec = { action_id: req.stepId, action: req.action, contractor: req.contractor, status: 'pending', attempts: [] };
    steps.push(rec);
  }
  rec.action = req.action;
  rec.contractor = req.contractor;
  rec.status = 'running';
  rec.started_at ??= iso();
  delete rec.error;
  const attempt: AttemptRecord = { attempt: rec.attempts.length + 1, status: 'running', started_at: iso() };
  rec.attempts.push(attempt);
  const startedMs = deps.clock.now().getTime();
  const where = `step "${req.stepId}" (${req.contractor}/${req.action})`;
  try {
    const spec = nested.catalogue.get(req.contractor, req.action);
    if (!spec) throw new ActionFailedError(`${where}: no such action in the catalogue`, { errorCode: 'unknown_action', retryable: false });
    if (spec.kind === 'person' || spec.kind === 'plan') {
      throw new ActionFailedError(`${where}: a ${spec.kind} action cannot run as a plan step`, { errorCode: 'step_not_runnable', retryable: false });
    }
    rec.idempotent = spec.idempotent;
    const params = JSON.parse(JSON.stringify(req.params ?? {})) as Record<string, unknown>;
    const validate = compileSchema(spec.parameters, { useDefaults: true });
    if (!validate(params)) {
      const problems = selectAjvErrors(validate.errors ?? []).map((e) => {
        const d = describeAjvError(e);
        return `${d.pointer || '/'} ${d.message}`;
      });
      throw new ActionFailedError(`${where}: invalid parameters: ${problems.join('; ')}`, { errorCode: 'invalid_parameters', retryable: false });
    }
    rec.parameters = deps.masker.maskValue(params);
    const impl = await nested.impls.get(spec);
    if (!impl) throw new ActionFailedError(`${where}: no implementation`, { errorCode: 'not_implemented', retryable: false });
    const child = createRuntime({
      ...init,
      actionId: `${init.actionId}/${req.stepId}`,
      contractor: req.contractor,
      action: req.action,
      params,
      attempt,
      cookie: init.cookie ?? init.attempt.process_cookie,
      timeoutMs: Math.max(1, Math.min(req.timeoutMs ?? Number.POSITIVE_INFINITY, remainingMs())),
      debug: (m) => init.debug(`[${req.stepId}] ${m}`),
      nested: undefined,
    });
    try {
      const outputs = await impl.run(child);
      attempt.status = 'succeeded';
      rec.status = 'completed';
      rec.outputs = deps.masker.maskValue(outputs);
      return outputs;
    } finally {
      disposeRuntime(child);
    }
  } catch (e) {
    const info: ErrorInfo =
      e instanceof ActionFailedError
        ? { code: e.errorCode, message: deps.masker.mask(e.message), ...(e.hint ? { hint: e.hint } : {}), retryable: e.retryable }
        : e instanceof InterruptedError
          ? { code: 'interrupted', message: e.message }
          : { code: 'internal_error', message: deps.masker.mask(e instanceof Error ? e.message : String(e)) };
    const status = e instanceof InterruptedError ? 'interrupted' : e instanceof ActionFailedError ? 'failed' : 'errored';
    attempt.status = status;
    attempt.error = info;
    rec.status = status;
    rec.error = info;
    throw e;
  } finally {
    attempt.finished_at = iso();
    attempt.duration_seconds = Math.round((deps.clock.now().getTime() - startedMs) / 10) / 100;
    rec.finished_at = attempt.finished_at;
    rec.duration_seconds = attempt.duration_seconds;
    init.onChange();
  }
}

export const DISPOSE = Symbol('dispose');

export function disposeRuntime(rt: ActionRuntime): void {
  (rt as ActionRuntime & { [DISPOSE]?: () => void })[DISPOSE]?.();
}
