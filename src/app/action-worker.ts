/**
 * Queue mode, the contractor worker's side: one action job is one attempt of one action, run
 * here with this host's tools, configuration and secrets. No coordination directory is read or
 * written: `${secrets.NAME}` references are resolved from this host, everything reported back
 * (outputs, errors, invocations, debug lines) is masked here first.
 */
import { ActionFailedError, InterruptedError } from '../errors.js';
import { loadCatalogue } from '../contractors/load-catalogue.js';
import { createImplementationRegistry } from '../contractors/registry.js';
import { checkParameters, errorInfo } from '../engine/attempt.js';
import { createRuntime, disposeRuntime } from '../engine/runtime.js';
import type { EngineDeps } from '../engine/deps.js';
import type { AttemptRecord } from '../model/records.js';
import type { ActionJob, ActionJobResult, ActionProgress } from '../ports/action-queue.js';
import type { App } from './context.js';
import { loadRootConfig } from './prepare.js';

const REFERENCE = /\$\{\s*secrets\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}/g;

/** Secret values this worker loaded, by name; a missing or unsafe one fails the attempt (not retryable). */
async function loadSecrets(deps: EngineDeps, names: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of names) {
    const v = await deps.secrets.get(name);
    if (v === undefined) {
      throw new ActionFailedError(`secret "${name}" is not set on this worker's host`, { errorCode: 'secret_missing', retryable: false, hint: `set ${deps.secrets.describe(name)} where the worker runs` });
    }
    if (v.length < 4) throw new ActionFailedError(`secret "${name}" is shorter than 4 characters and cannot be masked safely`, { errorCode: 'secret_unsafe', retryable: false });
    deps.masker.add(v);
    out.set(name, v);
  }
  return out;
}

/** Replaces `${secrets.NAME}` (names the definition gave only) in every string of `value`. */
function substitute(value: unknown, secrets: Map<string, string>): unknown {
  if (typeof value === 'string') return value.replace(REFERENCE, (whole, name: string) => secrets.get(name) ?? whole);
  if (Array.isArray(value)) return value.map((v) => substitute(v, secrets));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, secrets)]));
  return value;
}

/**
 * Runs one action job. Never throws for the action's own failure: the result says how it ended.
 * `signal` stops it (the worker stops, or the execution was cancelled): outcome `interrupted`.
 */
export async function runActionJob(app: App, job: ActionJob, ctx: { signal: AbortSignal; progress: (p: ActionProgress) => Promise<void> }): Promise<ActionJobResult> {
  const log: string[] = [];
  const session = await app.sessions.open({ ...(job.lab ? { lab: job.lab } : {}), emit: () => undefined });
  const deps = session.deps;
  const worker = { host: deps.identity.host, pid: deps.identity.pid };
  const attempt: AttemptRecord = { attempt: job.attempt, status: 'running', started_at: deps.clock.now().toISOString(), ...(job.cookie ? { process_cookie: job.cookie } : {}) };
  const facts = () => ({
    ...(attempt.invocations ? { invocations: attempt.invocations } : {}),
    ...(attempt.requests ? { requests: attempt.requests } : {}),
    ...(attempt.exit_code !== undefined ? { exit_code: attempt.exit_code } : {}),
    ...(attempt.signal !== undefined ? { signal: attempt.signal } : {}),
    ...(job.debug ? { log } : {}),
    worker,
  });
  try {
    for (const v of (await deps.secrets.all?.()) ?? []) deps.masker.add(v);
    const config = session.config(await loadRootConfig(app));
    const catalogue = await loadCatalogue(app.root.dir);
    const spec = catalogue.get(job.contractor, job.action);
    const impl = spec && spec.kind !== 'person' && spec.kind !== 'plan' ? await createImplementationRegistry().get(spec) : undefined;
    if (!spec || !impl) {
      throw new ActionFailedError(`${job.contractor}/${job.action} cannot run on this worker (${spec ? 'no implementation here' : 'not in its catalogue'})`, { errorCode: 'not_implemented', retryable: false });
    }
    const secrets = await loadSecrets(deps, job.secretNames);
    const params = substitute(job.params, secrets) as Record<string, unknown>;
    checkParameters(spec, params);
    const observed: Record<string, unknown> = { ...(job.observed ?? {}) };
    const rt = createRuntime({
      deps,
      config,
      executionId: job.executionId,
      workflowId: job.workflowId,
      phaseId: job.phaseId,
      actionId: job.actionId,
      contractor: job.contractor,
      action: job.action,
      params,
      attempt,
      timeoutMs: job.timeoutMs,
      signal: ctx.signal,
      debug: (m) => {
        if (job.debug) log.push(deps.masker.mask(m));
      },
      evaluateCondition: () => {
        throw new ActionFailedError(`${job.action} evaluates conditions, which a contractor worker cannot (no execution record here)`, { errorCode: 'not_supported_on_worker', retryable: false });
      },
      // What the action observes reaches the execution record before it changes anything.
      observed: { get: () => observed, persist: () => ctx.progress({ observed: deps.masker.maskValue(observed) }) },
    });
    try {
      const outputs = await impl.run(rt);
      // Masked here: a secret of this host never leaves it, not even to later actions' expressions.
      return { outcome: 'ok', outputs: deps.masker.maskCutValues(deps.masker.maskValue(outputs)), ...facts() };
    } finally {
      disposeRuntime(rt);
    }
  } catch (e) {
    if (e instanceof InterruptedError || (ctx.signal.aborted && !(e instanceof ActionFailedError && e.errorCode === 'action_timeout'))) {
      return { outcome: 'interrupted', ...facts() };
    }
    const info = errorInfo(e);
    const error = { ...info, message: deps.masker.mask(info.message), ...(info.hint ? { hint: deps.masker.mask(info.hint) } : {}) };
    return { outcome: e instanceof ActionFailedError ? 'failed' : 'errored', error, ...facts() };
  } finally {
    await session.stop().catch(() => undefined);
  }
}
