/**
 * Builds an ActionRuntime for adapter tests the way the engine does (src/engine/run-workflow.ts
 * attemptAction): fake deps, resolved config, the spec's defaults applied to the parameters.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FsActionFileStore } from '../../../src/adapters/fs-action-files.js';
import { resolveConfig, type ConfigFile } from '../../../src/config/config.js';
import type { ActionRuntime } from '../../../src/contractors/action-impl.js';
import type { ActionSpec } from '../../../src/model/catalogue.js';
import { getPath, resolveValue } from '../../../src/definitions/expression-eval.js';
import { compileSchema, describeAjvError, selectAjvErrors } from '../../../src/definitions/schemas.js';
import type { AttemptRecord } from '../../../src/model/records.js';
import { createRuntime, disposeRuntime } from '../../../src/engine/runtime.js';
import { fakeDeps } from '../../fakes/fakes.js';
import { LabRoutingHttpClient } from '../../../src/lab/routing-http-client.js';
import { SIMULATE_MAX_LOAD_SECONDS } from '../../../src/lab/start-lab.js';

export type TestDeps = ReturnType<typeof fakeDeps>;

/**
 * The file ports of a real coordination root, wired as src/deps.ts does: the actions' files
 * (FsActionFileStore) and the scratch dir `<root>/state/scratch/<execution_id>` (0700).
 */
export function fsFilePorts(root: string): Pick<TestDeps, 'files' | 'scratchDir'> {
  return {
    files: new FsActionFileStore(root),
    scratchDir: async (executionId) => {
      const dir = join(root, 'state', 'scratch', executionId);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      return dir;
    },
  };
}

export interface MakeRuntimeOptions {
  /** Validate the parameters against this spec and apply its defaults (as the engine does). */
  spec?: ActionSpec;
  deps?: TestDeps;
  /** Files and scratch dir on the real file system under this coordination root (default: the in-memory fakes). */
  root?: string;
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
  /**
   * The action record's `observed` map as the engine hands it to rt.remember. Give two runtimes
   * the same store to play a re-run of one action (a retry, or a resume after kill -9).
   */
  observed?: ObservationStore;
}

/** What rt.remember keeps for one action record, and how often it was made durable. */
export interface ObservationStore {
  get(): Record<string, unknown>;
  persist(): Promise<void>;
  /** The map as last persisted (a crash loses what was recorded but not persisted). */
  readonly persisted: Record<string, unknown>;
}

/** An empty store for one action record; `persist` snapshots the map, as the engine's durable write does. */
export function observationStore(initial: Record<string, unknown> = {}): ObservationStore {
  const live: Record<string, unknown> = structuredClone(initial);
  let persisted: Record<string, unknown> = structuredClone(initial);
  return {
    get: () => live,
    persist: async () => {
      persisted = structuredClone(live);
    },
    get persisted() {
      return persisted;
    },
  };
}

/**
 * A kill -9 of the first attempt: call `mark()` where the action makes its change (in a fake
 * tool's or service's handler); `disk()` is then the `observed` map the execution record held at
 * that moment, which `cortex resume` hands to the next attempt.
 */
export function killPoint(store: ObservationStore): { mark(): void; disk(): Record<string, unknown> } {
  let disk: Record<string, unknown> | undefined;
  return {
    mark: () => {
      disk ??= structuredClone(store.persisted);
    },
    disk: () => {
      if (!disk) throw new Error('the first attempt never reached its kill point');
      return structuredClone(disk);
    },
  };
}

/**
 * The compensation `cortex rollback` would run for an action that completed with `output`: the
 * spec's template rendered with `${input.x}`/`${output.y}` and checked against the compensating
 * action's schema (defaults applied).
 */
export function compensationFor(specs: readonly ActionSpec[], name: string, input: Record<string, unknown>, output: Record<string, unknown>): { action: string; spec: ActionSpec; params: Record<string, unknown> } {
  const forward = specs.find((s) => s.name === name);
  if (!forward?.compensation) throw new Error(`${name} has no compensation`);
  const comp = forward.compensation;
  const spec = specs.find((s) => s.name === comp.action);
  if (!spec) throw new Error(`no spec ${comp.action}`);
  const rendered = resolveValue(comp.parameters, (path) => {
    const [root, ...rest] = path;
    return getPath(root === 'input' ? input : root === 'output' ? output : undefined, rest) ?? null;
  }) as Record<string, unknown>;
  return { action: comp.action, spec, params: checkParams(spec, rendered) };
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
  const deps = options.deps ?? fakeDeps(options.root ? fsFilePorts(options.root) : {});
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
    ...(options.observed ? { observed: options.observed } : {}),
  });
  return { rt, deps, attempt, dispose: () => disposeRuntime(rt) };
}
