import { createCatalogue } from '../../../src/contractors/catalogue.js';
import { createImplementationRegistry } from '../../../src/contractors/registry.js';
import { resolveConfig } from '../../../src/config/config.js';
import type { LoadedWorkflow, WorkflowDefinition } from '../../../src/definitions/types.js';
import { Execution, newExecutionRecord, type RunContext } from '../../../src/engine/run-workflow.js';
import type { ExecutionRecord } from '../../../src/model/records.js';
import { fakeDeps } from '../../fakes/fakes.js';

export type TestDeps = ReturnType<typeof fakeDeps>;

export function loaded(def: WorkflowDefinition): LoadedWorkflow {
  return { definition: def, path: '/memory/workflows/test.json', displayPath: 'workflows/test.json', hash: `sha256:${'0'.repeat(64)}`, format: 'json' };
}

/** A workflow whose phases are lists of execute_command actions (`cmd` is the argv). */
export function workflow(phases: WorkflowDefinition['phases'], extra: Partial<WorkflowDefinition> = {}): WorkflowDefinition {
  return { workflow_id: 'wf', workflow_name: 'Test workflow', version: '1.0.0', phases, ...extra };
}

export function cmd(action_id: string, argv: string[], extra: Record<string, unknown> = {}) {
  return { action_id, action: 'execute_command', parameters: { command: argv }, timeout: 30, ...extra } as WorkflowDefinition['phases'][number]['actions'][number];
}

export function phase(phase_id: string, actions: WorkflowDefinition['phases'][number]['actions'], extra: Partial<WorkflowDefinition['phases'][number]> = {}) {
  return { phase_id, contractor: 'infrastructure-contractor', actions, ...extra } as WorkflowDefinition['phases'][number];
}

export interface Harness {
  deps: TestDeps;
  record: ExecutionRecord;
  ctx: RunContext;
  exec: Execution;
  run(): Promise<ExecutionRecord>;
}

export function harness(def: WorkflowDefinition, options: { params?: Record<string, unknown>; deps?: TestDeps; signal?: AbortSignal; record?: ExecutionRecord; resume?: RunContext['resume']; rollback?: RunContext['rollback'] } = {}): Harness {
  const deps = options.deps ?? fakeDeps();
  const l = loaded(def);
  const record =
    options.record ??
    newExecutionRecord({ executionId: 'wf-20261125T120000Z-abcd', loaded: l, parameters: options.params ?? {}, trigger: { type: 'manual', user: 'tester' }, now: deps.clock.now().toISOString() });
  const ctx: RunContext = {
    loaded: l,
    catalogue: createCatalogue(),
    impls: createImplementationRegistry(),
    config: resolveConfig({}, {}, null),
    env: { GIT_SHA: 'abc1234' },
    params: options.params ?? {},
    signal: options.signal ?? new AbortController().signal,
    debug: false,
    ...(options.resume ? { resume: options.resume } : {}),
    ...(options.rollback ? { rollback: options.rollback } : {}),
  };
  const exec = new Execution(deps, ctx, record);
  return { deps, record, ctx, exec, run: () => exec.run() };
}

export function actionRec(rec: ExecutionRecord, id: string) {
  for (const p of rec.phases) for (const a of p.actions) if (a.action_id === id) return a;
  throw new Error(`no action ${id}`);
}
