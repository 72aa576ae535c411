/**
 * Builds an ActionRuntime for adapter tests the way the engine does (src/engine/run-workflow.ts
 * attemptAction): fake deps, resolved config, the spec's defaults applied to the parameters.
 */
import { resolveConfig, type ConfigFile } from '../../../src/config/config.js';
import type { ActionRuntime } from '../../../src/contractors/action-impl.js';
import type { ActionSpec } from '../../../src/model/catalogue.js';
import { compileSchema, describeAjvError, selectAjvErrors } from '../../../src/definitions/schemas.js';
import type { AttemptRecord } from '../../../src/model/records.js';
import { createRuntime, disposeRuntime } from '../../../src/engine/runtime.js';
import { fakeDeps } from '../../fakes/fakes.js';
import { LabRoutingHttpClient } from '../../../src/lab/routing-http-client.js';
import { SIMULATE_MAX_LOAD_SECONDS } from '../../../src/lab/start-lab.js';

export type TestDeps = ReturnType<typeof fakeDeps>;

export interface MakeRuntimeOptions {
  /** Validate the parameters against this spec and apply its defaults (as the engine does). */
  spec?: ActionSpec;
  deps?: TestDeps;
  config?: ConfigFile;
  env?: Record<string, string | undefined>;
  executionId?: string;
  workflowId?: string;
  phaseId?: string;
  actionId?: string;
  attempt?: number;
  /** As under --simulate: the lab's HTTP client (passes the action's identity as headers) and config. */
  simulate?: boolean;
  timeoutMs?: number;
}

export interface TestRuntime {
  rt: ActionRuntime;
  deps: TestDeps;
  attempt: AttemptRecord;
  dispose(): void;
}

/** Schema-checks params (with defaults) against a spec; throws listing the problems. */
export function checkParams(spec: ActionSpec, params: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(params);
  const validate = compileSchema(spec.parameters, { useDefaults: true });
  if (!validate(copy)) {
    const problems = selectAjvErrors(validate.errors ?? []).map((e) => {
      const d = describeAjvError(e);
      return `${d.pointer || '/'} ${d.message}`;
    });
    throw new Error(`invalid parameters for ${spec.name}: ${problems.join('; ')}`);
  }
  return copy;
}

export function makeRuntime(params: Record<string, unknown>, options: MakeRuntimeOptions = {}): TestRuntime {
  const deps = options.deps ?? fakeDeps();
  const resolved = options.spec ? checkParams(options.spec, params) : params;
  const attempt: AttemptRecord = { attempt: options.attempt ?? 1, status: 'running', started_at: deps.clock.now().toISOString() };
  const config = resolveConfig(options.config ?? {}, options.env ?? {}, null);
  if (options.simulate) {
    // The lab is a swap of ports, as src/compose.ts does it.
    deps.http = new LabRoutingHttpClient(deps.http, undefined) as unknown as typeof deps.http;
    config.defaults.maxLoadTestSeconds = SIMULATE_MAX_LOAD_SECONDS;
  }
  const rt = createRuntime({
    deps,
    config,
    executionId: options.executionId ?? 'test-exec-0001',
    workflowId: options.workflowId ?? 'test-workflow',
    phaseId: options.phaseId ?? 'test-phase',
    actionId: options.actionId ?? 'test-action',
    contractor: options.spec?.contractor ?? 'test-contractor',
    action: options.spec?.name ?? 'test_action',
    params: resolved,
    attempt,
    timeoutMs: options.timeoutMs ?? 600_000,
    signal: new AbortController().signal,
    debug: () => undefined,
    evaluateCondition: () => true,
  });
  return { rt, deps, attempt, dispose: () => disposeRuntime(rt) };
}
