/**
 * The one path for running an attempt of anything: a workflow action, a compensation or
 * rollback-procedure step, a step of a plan. Resolves and checks the parameters, runs the
 * implementation with a runtime (deadline, recording, masking), classifies the failure
 * (failed: a tool said no; errored: cortex could not run it; interrupted: Ctrl-C, cancel) and
 * retries by one policy.
 */
import { ActionFailedError, ActionOutcomeUnknownError, CortexError, InterruptedError } from '../errors.js';
import type { ActionImpl, ImplementationRegistry, NestedActionRequest } from '../contractors/action-impl.js';
import type { ActionSpec, Catalogue } from '../model/catalogue.js';
import type { ResolvedConfig } from '../config/config.js';
import { ExpressionEvalError } from '../definitions/expression-eval.js';
import { ExpressionSyntaxError } from '../definitions/expression-parser.js';
import { compileSchema, describeAjvError, selectAjvErrors } from '../definitions/schemas.js';
import type { RetryPolicy as RetryDef } from '../definitions/types.js';
import type { EngineDeps } from './deps.js';
import type { ActionRecord, AttemptRecord, ErrorInfo } from '../model/records.js';
import { createRuntime, disposeRuntime } from './runtime.js';

/** How often a failed attempt runs again and how long cortex waits in between. */
export interface RetryPolicy {
  maxAttempts: number;
  delaySeconds: number;
  /** Each wait is the previous one times this. */
  backoff: number;
  /** The last attempt (or the one after a failure that retrying cannot fix) uses fallback parameters. */
  hasFallback: boolean;
}

/** A single attempt (plan steps: the plan action itself is what retries). */
export const NO_RETRY: RetryPolicy = { maxAttempts: 1, delaySeconds: 0, backoff: 1, hasFallback: false };

/** Compensations and rollback-procedure steps are idempotent: tried 3 times, waiting 1 s then 2 s. */
export const COMPENSATION_RETRY: RetryPolicy = { maxAttempts: 3, delaySeconds: 1, backoff: 2, hasFallback: false };

/** The policy of a definition's `retry:` block. */
export function retryPolicy(retry: RetryDef | undefined): RetryPolicy {
  return {
    maxAttempts: retry?.max_attempts ?? 1,
    delaySeconds: retry?.delay_seconds ?? 0,
    backoff: retry?.backoff ?? 1,
    hasFallback: Boolean(retry?.fallback_parameters),
  };
}

export function errorInfo(e: unknown): ErrorInfo {
  if (e instanceof ActionFailedError) {
    return { code: e.errorCode, message: e.message, ...(e.hint ? { hint: e.hint } : {}), retryable: e.retryable };
  }
  if (e instanceof CortexError) return { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  if (e instanceof ExpressionEvalError || e instanceof ExpressionSyntaxError) return { code: 'expression_error', message: e.message };
  return { code: 'internal_error', message: e instanceof Error ? e.message : String(e) };
}

/** What runs attempts: the execution, seen through what this module needs of it. */
export interface AttemptHost {
  readonly deps: EngineDeps;
  readonly config: ResolvedConfig;
  readonly catalogue: Catalogue;
  readonly impls: ImplementationRegistry;
  readonly executionId: string;
  readonly workflowId: string;
  /**
   * Writes the execution record (durably) with everything changed so far. `changed`: the only
   * records changed since the last persist besides the top-level fields (the journal's fast path).
   */
  persist(changed?: AttemptTarget | readonly AttemptTarget[]): Promise<void>;
  now(): string;
  evaluateCondition(condition: string): boolean;
}

/** Where attempts are recorded: an action record, a rollback step, a plan step. */
export interface AttemptTarget {
  attempts: AttemptRecord[];
  parameters?: Record<string, unknown>;
  observed?: Record<string, unknown>;
  attempts_counted_from?: number;
  steps?: ActionRecord[];
}

export interface AttemptRequest {
  target: AttemptTarget;
  spec: ActionSpec;
  impl: ActionImpl;
  phaseId: string;
  actionId: string;
  contractor: string;
  action: string;
  policy: RetryPolicy;
  timeoutMs: number;
  signal: AbortSignal;
  /** The parameters of one attempt, resolved (secrets loaded) but not yet checked against the spec. */
  parameters(fallback: boolean): Promise<Record<string, unknown>>;
  debug(message: string): void;
  /** Steps of a plan may run (execute_remediation_plan); plan steps themselves cannot nest. */
  allowSteps?: boolean;
  /**
   * The implementation runs on a contractor worker (queue mode): the parameters keep their
   * `${secrets.*}` references and are checked there, once resolved.
   */
  isDispatched?: boolean;
  /**
   * The record each persist names as changed: the target's action record (plan steps: their
   * parent's, which holds them); default the target itself.
   */
  changes?: AttemptTarget;
  /** The process cookie of the tools (plan steps: their parent attempt's); default a new one per attempt. */
  cookie?: string;
  onStart?(attempt: AttemptRecord): void | Promise<void>;
  onFailed?(attempt: AttemptRecord, error: ErrorInfo): void | Promise<void>;
  onRetry?(nextAttempt: number, delayMs: number, error: ErrorInfo): void;
}

export type AttemptOutcome =
  | { kind: 'ok'; outputs: Record<string, unknown> }
  | { kind: 'interrupted' }
  | { kind: 'failed'; error: ErrorInfo; errored: boolean; cause: unknown };

/** Checks resolved parameters against the spec (defaults applied); throws a non-retryable failure. */
export function checkParameters(spec: ActionSpec, params: Record<string, unknown>, where = 'parameters after resolution'): void {
  const validate = compileSchema(spec.parameters, { useDefaults: true });
  if (validate(params)) return;
  const problems = selectAjvErrors(validate.errors ?? []).map((e) => {
    const d = describeAjvError(e);
    return `${d.pointer || '/'} ${d.message}`;
  });
  throw new ActionFailedError(`${where} are invalid: ${problems.join('; ')}`, { errorCode: 'invalid_parameters', retryable: false });
}

function endAttempt(host: AttemptHost, attempt: AttemptRecord, status: AttemptRecord['status'], error?: ErrorInfo): void {
  attempt.status = status;
  attempt.finished_at = host.now();
  attempt.duration_seconds = Math.round((Date.parse(attempt.finished_at) - Date.parse(attempt.started_at)) / 10) / 100;
  if (error) attempt.error = { ...error, message: host.deps.masker.mask(error.message) };
}

function isInterruption(e: unknown, signal: AbortSignal): boolean {
  if (e instanceof InterruptedError) return true;
  // Aborted while failing: the abort caused it, unless the failure is the action's own timeout.
  return signal.aborted && !(e instanceof ActionFailedError && e.errorCode !== 'action_timeout');
}

/**
 * Runs attempts until one succeeds, the policy says stop, or the execution is interrupted.
 * Attempts cut short by an interruption do not count against maxAttempts; numbering goes on;
 * a resume that re-runs an action starts counting at `attempts_counted_from`.
 */
export async function runAttempts(host: AttemptHost, req: AttemptRequest): Promise<AttemptOutcome> {
  const { target, policy } = req;
  const changes = req.changes ?? target;
  const max = policy.maxAttempts;
  let used = target.attempts.slice(target.attempts_counted_from ?? 0).filter((a) => a.status !== 'interrupted').length;
  let jumpToFallback = false;
  let last: AttemptOutcome = { kind: 'failed', error: { code: 'not_run', message: 'no attempt left' }, errored: true, cause: new Error('no attempt left') };
  while (used < max) {
    used++;
    const fallback = policy.hasFallback && max > 1 && (used === max || jumpToFallback);
    if (jumpToFallback) used = max;
    // The cookie is recorded before any tool starts: a resume finds tools that outlived a crash by it.
    const attempt: AttemptRecord = { attempt: target.attempts.length + 1, status: 'running', started_at: host.now(), ...(fallback ? { fallback: true } : {}), process_cookie: req.cookie ?? host.deps.runner.newCookie() };
    target.attempts.push(attempt);
    await req.onStart?.(attempt);
    let params: Record<string, unknown>;
    try {
      params = await req.parameters(fallback);
      if (!req.isDispatched) checkParameters(req.spec, params);
    } catch (e) {
      const error = errorInfo(e);
      endAttempt(host, attempt, 'errored', error);
      await req.onFailed?.(attempt, error);
      await host.persist(changes);
      return { kind: 'failed', error, errored: true, cause: e };
    }
    target.parameters = host.deps.masker.maskValue(params);
    await host.persist(changes);
    const rt = createRuntime({
      deps: host.deps,
      config: host.config,
      executionId: host.executionId,
      workflowId: host.workflowId,
      phaseId: req.phaseId,
      actionId: req.actionId,
      contractor: req.contractor,
      action: req.action,
      params,
      attempt,
      timeoutMs: req.timeoutMs,
      signal: req.signal,
      debug: req.debug,
      evaluateCondition: (c) => host.evaluateCondition(c),
      observed: { get: () => (target.observed ??= {}), persist: () => host.persist(changes) },
      ...(req.allowSteps ? { nested: (step: NestedActionRequest, parent: { remainingMs: () => number; signal: AbortSignal }) => runPlanStep(host, req, attempt, step, parent) } : {}),
    });
    try {
      const outputs = await req.impl.run(rt);
      endAttempt(host, attempt, 'succeeded');
      return { kind: 'ok', outputs };
    } catch (e) {
      if (e instanceof ActionOutcomeUnknownError) {
        // As after a crash: the attempt stays `running`, so resume applies its rules to it.
        await host.persist(changes);
        return { kind: 'failed', error: errorInfo(e), errored: true, cause: e };
      }
      if (isInterruption(e, req.signal)) {
        endAttempt(host, attempt, 'interrupted', { code: 'interrupted', message: 'interrupted' });
        await host.persist(changes);
        return { kind: 'interrupted' };
      }
      const error = errorInfo(e);
      const errored = !(e instanceof ActionFailedError);
      endAttempt(host, attempt, errored ? 'errored' : 'failed', error);
      await req.onFailed?.(attempt, error);
      await host.persist(changes);
      last = { kind: 'failed', error, errored, cause: e };
      if (errored) return last;
      const retryable = error.retryable !== false;
      const hasFallbackLeft = policy.hasFallback && !fallback && max > 1;
      if (used >= max || (!retryable && !hasFallbackLeft)) return last;
      if (!retryable) jumpToFallback = true;
      const delayMs = Math.round(policy.delaySeconds * 1000 * policy.backoff ** (used - 1));
      req.onRetry?.(target.attempts.length + 1, delayMs, error);
      try {
        if (delayMs > 0) await host.deps.clock.sleep(delayMs, req.signal);
      } catch {
        return { kind: 'interrupted' };
      }
    } finally {
      disposeRuntime(rt);
    }
  }
  return last;
}

/**
 * One step of a plan: looked up in the catalogue, run by runAttempts with a single attempt (own
 * deadline, capped by the parent's), recorded in the parent's `steps` under its step id, with
 * action id `<parent>/<step>` so the lab and tools can tell steps apart. A step run again (the
 * parent retried) gets a new attempt in the same step record. Throws the step's failure.
 */
async function runPlanStep(
  host: AttemptHost,
  parent: AttemptRequest,
  parentAttempt: AttemptRecord,
  req: NestedActionRequest,
  limits: { remainingMs: () => number; signal: AbortSignal },
): Promise<Record<string, unknown>> {
  const steps = (parent.target.steps ??= []);
  let rec = steps.find((s) => s.action_id === req.stepId);
  if (!rec) {
    rec = { action_id: req.stepId, action: req.action, contractor: req.contractor, status: 'pending', attempts: [] };
    steps.push(rec);
  }
  const step = rec;
  step.action = req.action;
  step.contractor = req.contractor;
  step.status = 'running';
  step.started_at ??= host.now();
  delete step.error;
  const which = { phaseId: parent.phaseId, actionId: parent.actionId, stepId: req.stepId, contractor: req.contractor, action: req.action };
  host.deps.emit({ kind: 'step-start', ...which });
  const where = `step "${req.stepId}" (${req.contractor}/${req.action})`;
  const spec = host.catalogue.get(req.contractor, req.action);
  const impl = spec && spec.kind !== 'person' && spec.kind !== 'plan' ? await host.impls.get(spec) : undefined;
  const finish = (status: ActionRecord['status']) => {
    step.status = status;
    step.finished_at = host.now();
    const at = step.attempts.at(-1);
    step.duration_seconds = at?.duration_seconds ?? null;
    host.deps.emit({ kind: 'step-end', ...which, status, durationMs: (step.duration_seconds ?? 0) * 1000, ...(step.error ? { error: step.error.message } : {}) });
  };
  if (!spec || !impl) {
    const error = !spec
      ? new ActionFailedError(`${where}: no such action in the catalogue`, { errorCode: 'unknown_action', retryable: false })
      : spec.kind === 'person' || spec.kind === 'plan'
        ? new ActionFailedError(`${where}: a ${spec.kind} action cannot run as a plan step`, { errorCode: 'step_not_runnable', retryable: false })
        : new ActionFailedError(`${where}: no implementation`, { errorCode: 'not_implemented', retryable: false });
    const attempt: AttemptRecord = { attempt: step.attempts.length + 1, status: 'running', started_at: host.now() };
    step.attempts.push(attempt);
    endAttempt(host, attempt, 'failed', errorInfo(error));
    step.error = attempt.error as ErrorInfo;
    finish('failed');
    throw error;
  }
  step.idempotent = spec.idempotent;
  // Every attempt of the parent is a new round for the step.
  step.attempts_counted_from = step.attempts.length;
  const outcome = await runAttempts(host, {
    target: step,
    spec,
    impl,
    phaseId: parent.phaseId,
    actionId: `${parent.actionId}/${req.stepId}`,
    contractor: req.contractor,
    action: req.action,
    policy: NO_RETRY,
    changes: parent.changes ?? parent.target,
    ...(parentAttempt.process_cookie ? { cookie: parentAttempt.process_cookie } : {}),
    timeoutMs: Math.max(1, Math.min(req.timeoutMs ?? Number.POSITIVE_INFINITY, limits.remainingMs())),
    signal: limits.signal,
    parameters: async () => JSON.parse(JSON.stringify(req.params ?? {})) as Record<string, unknown>,
    debug: (m) => parent.debug(`[${req.stepId}] ${m}`),
  });
  if (outcome.kind === 'ok') {
    step.outputs = host.deps.masker.maskValue(outcome.outputs);
    finish('completed');
    return outcome.outputs;
  }
  if (outcome.kind === 'interrupted') {
    step.error = { code: 'interrupted', message: 'interrupted' };
    finish('interrupted');
    throw new InterruptedError('interrupted');
  }
  step.error = { ...outcome.error, message: host.deps.masker.mask(outcome.error.message) };
  finish(outcome.errored ? 'errored' : 'failed');
  // The plan action sees the step's own failure and words its message.
  throw outcome.cause instanceof Error ? outcome.cause : new Error(String(outcome.cause));
}
