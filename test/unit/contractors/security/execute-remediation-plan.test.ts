/**
 * execute_remediation_plan through the engine's one attempt path (runAttempts, whose runtime
 * runs plan steps): real catalogue and parameter validation, fake step implementations.
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../../src/config/config.js';
import type { ActionImpl, ActionRuntime, ImplementationRegistry } from '../../../../src/contractors/action-impl.js';
import { createCatalogue } from '../../../../src/contractors/catalogue.js';
import { IMPLEMENTATIONS } from '../../../../src/contractors/security/index.js';
import { SECURITY_SPECS } from '../../../../src/contractors/security/specs.js';
import type { ActionSpec } from '../../../../src/model/catalogue.js';
import type { ActionRecord } from '../../../../src/model/records.js';
import { NO_RETRY, runAttempts, type AttemptHost } from '../../../../src/engine/attempt.js';
import { ActionFailedError } from '../../../../src/errors.js';
import { FakeHttpClient, fakeDeps, MapSecretSource } from '../../../fakes/fakes.js';
import { checkParams } from '../runtime-helper.js';

const STEP_SECRET = 'step-secret-value-9999';

type StepFn = (rt: ActionRuntime) => Promise<Record<string, unknown>>;

function registry(fns: Record<string, StepFn>): ImplementationRegistry {
  return {
    has: (spec: ActionSpec) => `${spec.contractor}/${spec.name}` in fns,
    get: async (spec: ActionSpec) => {
      const fn = fns[`${spec.contractor}/${spec.name}`];
      return fn ? ({ run: fn, plan: () => [] } satisfies ActionImpl) : undefined;
    },
  };
}

const spec = SECURITY_SPECS.find((s) => s.name === 'execute_remediation_plan') as ActionSpec;

type TestDeps = ReturnType<typeof fakeDeps>;

/** One attempt of the plan action, as the engine runs it (runAttempts with the steps hook unless withHook is false). */
async function attemptPlan(deps: TestDeps, record: ActionRecord, params: Record<string, unknown>, fns: Record<string, StepFn>, options: { withHook?: boolean; timeoutMs?: number } = {}) {
  const host: AttemptHost = {
    deps,
    config: resolveConfig({}, {}, null),
    catalogue: createCatalogue(),
    impls: registry(fns),
    executionId: 'sec-20261125-0001',
    workflowId: 'security-incident-response',
    persist: async () => undefined,
    now: () => deps.clock.now().toISOString(),
    evaluateCondition: () => true,
  };
  const impl = await (IMPLEMENTATIONS.execute_remediation_plan as () => Promise<ActionImpl>)();
  const outcome = await runAttempts(host, {
    target: record,
    spec,
    impl,
    phaseId: 'remediation',
    actionId: 'coordinate-remediation',
    contractor: 'security-master',
    action: 'execute_remediation_plan',
    policy: NO_RETRY,
    timeoutMs: options.timeoutMs ?? 3_600_000,
    signal: new AbortController().signal,
    parameters: async () => structuredClone(params),
    debug: () => undefined,
    allowSteps: options.withHook !== false,
  });
  if (outcome.kind === 'ok') return { outputs: outcome.outputs };
  if (outcome.kind === 'failed' && outcome.cause instanceof ActionFailedError) return { error: outcome.cause };
  throw outcome.kind === 'failed' ? outcome.cause : new Error('interrupted');
}

async function runPlan(params: Record<string, unknown>, fns: Record<string, StepFn>, options: { withHook?: boolean; timeoutMs?: number } = {}) {
  const deps = fakeDeps({ http: new FakeHttpClient(() => ({ status: 200, body: '{}' })), secrets: new MapSecretSource({ STEP_SECRET }) });
  const record: ActionRecord = { action_id: 'coordinate-remediation', action: 'execute_remediation_plan', status: 'running', attempts: [] };
  checkParams(spec, params);
  const r = await attemptPlan(deps, record, params, fns, options);
  return { ...r, record, attempt: record.attempts[0] as NonNullable<ActionRecord['attempts'][number]>, deps };
}

const removeNode = { step_id: 'remove-node', contractor: 'talos-contractor', action: 'remove_nodes', parameters: { cluster: 'prod-k8s-01', nodes: ['worker-3'], reset: false }, timeout: 900, on_error: 'continue_phase' };
const destroy = { step_id: 'destroy-compromised', contractor: 'infrastructure-contractor', action: 'destroy_compromised_resource', parameters: { resource: 'worker-3', preserve_forensic_copy: true }, timeout: 900 };

describe('execute_remediation_plan', () => {
  it('runs each step as its contractor\'s action with its own runtime and records it in the action\'s steps', async () => {
    const seen: Array<{ actionId: string; contractor: string; action: string; params: Record<string, unknown>; remaining: number }> = [];
    const r = await runPlan(
      { plan: { summary: 'replace worker-3', new_detection_rules: ['r1'] }, steps: [removeNode, destroy] },
      {
        'talos-contractor/remove_nodes': async (rt) => {
          seen.push({ actionId: rt.actionId, contractor: rt.contractor, action: rt.action, params: rt.params, remaining: rt.remainingMs() });
          return { removed: ['worker-3'] };
        },
        'infrastructure-contractor/destroy_compromised_resource': async (rt) => {
          await rt.secret('STEP_SECRET');
          const res = await rt.http({ method: 'GET', url: `https://forensics.example/x?k=${STEP_SECRET}` });
          seen.push({ actionId: rt.actionId, contractor: rt.contractor, action: rt.action, params: rt.params, remaining: rt.remainingMs() });
          return { destroyed: res.status === 200, token: STEP_SECRET };
        },
      },
    );
    expect(r.error).toBeUndefined();
    expect(seen.map((s) => [s.actionId, s.contractor, s.action])).toEqual([
      ['coordinate-remediation/remove-node', 'talos-contractor', 'remove_nodes'],
      ['coordinate-remediation/destroy-compromised', 'infrastructure-contractor', 'destroy_compromised_resource'],
    ]);
    // Defaults of the step's spec are applied; its timeout caps its runtime.
    expect(seen[0]?.params).toMatchObject({ cluster: 'prod-k8s-01', nodes: ['worker-3'], reset: false });
    expect(seen[0]?.remaining).toBe(900_000);
    expect(r.outputs).toEqual({
      summary: {
        summary: 'replace worker-3',
        new_detection_rules: ['r1'],
        updated_thresholds: {},
        new_procedures: ['remove-node: talos-contractor remove_nodes', 'destroy-compromised: infrastructure-contractor destroy_compromised_resource'],
        steps: [
          { step_id: 'remove-node', contractor: 'talos-contractor', action: 'remove_nodes', status: 'completed', outputs: { removed: ['worker-3'] }, error: null },
          { step_id: 'destroy-compromised', contractor: 'infrastructure-contractor', action: 'destroy_compromised_resource', status: 'completed', outputs: { destroyed: true, token: STEP_SECRET }, error: null },
        ],
      },
      steps_completed: ['remove-node', 'destroy-compromised'],
      steps_failed: [],
    });
    const steps = r.record.steps ?? [];
    expect(steps.map((s) => [s.action_id, s.contractor, s.action, s.status, s.attempts.length])).toEqual([
      ['remove-node', 'talos-contractor', 'remove_nodes', 'completed', 1],
      ['destroy-compromised', 'infrastructure-contractor', 'destroy_compromised_resource', 'completed', 1],
    ]);
    // The step's request is in the step's attempt (masked), not in the parent's.
    expect(steps[1]?.attempts[0]?.requests).toEqual([{ method: 'GET', url: 'https://forensics.example/x?k=***', status: 200, duration_ms: 1 }]);
    expect(r.attempt.requests).toBeUndefined();
    expect(JSON.stringify(r.record)).not.toContain(STEP_SECRET);
  });

  it('continue_phase records the failure and goes on; fail_workflow (default) stops and fails the action', async () => {
    const fns: Record<string, StepFn> = {
      'talos-contractor/remove_nodes': async () => {
        throw new ActionFailedError('node worker-3 is not a member', { errorCode: 'node_not_found', retryable: false });
      },
      'infrastructure-contractor/destroy_compromised_resource': async () => {
        throw new ActionFailedError('pvesh task failed', { errorCode: 'pvesh_task_failed', retryable: true });
      },
      'infrastructure-contractor/provision_replacement_resource': async () => ({ vmid: 130 }),
    };
    const provision = { step_id: 'provision', contractor: 'infrastructure-contractor', action: 'provision_replacement_resource', parameters: { specs: { name: 'worker-3b' } } };
    const r = await runPlan({ steps: [removeNode, destroy, provision] }, fns);
    expect(r.error?.errorCode).toBe('remediation_step_failed');
    expect(r.error?.retryable).toBe(true);
    expect(r.error?.message).toBe('remediation step "destroy-compromised" failed: pvesh task failed; later steps were not run');
    expect((r.record.steps ?? []).map((s) => [s.action_id, s.status, s.error?.code])).toEqual([
      ['remove-node', 'failed', 'node_not_found'],
      ['destroy-compromised', 'failed', 'pvesh_task_failed'],
    ]);
  });

  it('alert_only failures end in steps_failed of a successful plan; the plan string becomes plan_location', async () => {
    const r = await runPlan(
      { plan: 's3://plans/p.json', steps: [{ ...destroy, on_error: 'alert_only' }] },
      {
        'infrastructure-contractor/destroy_compromised_resource': async () => {
          throw new ActionFailedError('gone', { errorCode: 'vm_not_found' });
        },
      },
    );
    expect(r.outputs).toMatchObject({ summary: { plan_location: 's3://plans/p.json' }, steps_completed: [], steps_failed: ['destroy-compromised'] });
  });

  it('invalid step parameters and unknown actions fail the step before anything runs', async () => {
    let ran = false;
    const fns: Record<string, StepFn> = {
      'talos-contractor/remove_nodes': async () => {
        ran = true;
        return {};
      },
    };
    const r = await runPlan({ steps: [{ contractor: 'talos-contractor', action: 'remove_nodes', parameters: { nodes: ['w'] }, on_error: 'continue_phase' }, { contractor: 'talos-contractor', action: 'no_such_action' }] }, fns);
    expect(ran).toBe(false);
    expect((r.record.steps ?? []).map((s) => [s.action_id, s.status, s.error?.code])).toEqual([
      // One attempt path for actions and steps: parameters that do not fit are 'errored' (cortex could not run it).
      ['step-1', 'errored', 'invalid_parameters'],
      ['step-2', 'failed', 'unknown_action'],
    ]);
    expect(r.record.steps?.[0]?.error?.message).toContain('missing required property "cluster"');
    expect(r.error?.message).toContain('step "step-2" (talos-contractor/no_such_action): no such action in the catalogue');
  });

  it('person actions cannot be plan steps', async () => {
    const r = await runPlan({ steps: [{ contractor: 'security-master', action: 'verify_remediation_complete', parameters: { checks: ['x'] } }] }, {});
    expect(r.error?.message).toContain('a person action cannot run as a plan step');
  });

  it('a retried plan appends attempts to the same step records', async () => {
    let calls = 0;
    const fns: Record<string, StepFn> = {
      'talos-contractor/remove_nodes': async () => {
        calls++;
        if (calls === 1) throw new ActionFailedError('transient', { errorCode: 'x', retryable: true });
        return {};
      },
    };
    const first = await runPlan({ steps: [{ ...removeNode, on_error: 'fail_workflow' }] }, fns);
    expect(first.error).toBeDefined();
    // Same record, second parent attempt (a new round of the parent's retry).
    first.record.attempts_counted_from = first.record.attempts.length;
    const second = await attemptPlan(first.deps, first.record, { steps: [removeNode] }, fns, { timeoutMs: 60_000 });
    expect(second.error).toBeUndefined();
    expect(first.record.steps?.map((s) => [s.action_id, s.status, s.attempts.map((a) => [a.attempt, a.status])])).toEqual([
      ['remove-node', 'completed', [[1, 'failed'], [2, 'succeeded']]],
    ]);
  });

  it('without the engine hook it fails clearly', async () => {
    const r = await runPlan({ steps: [destroy] }, {}, { withHook: false });
    expect(r.error?.errorCode).toBe('nested_actions_unsupported');
  });

  it('plan lists the steps; person actions have implementations that draft their outputs (the engine then waits for cortex approve)', async () => {
    const impl = await (IMPLEMENTATIONS.execute_remediation_plan as () => Promise<ActionImpl>)();
    const steps = impl.plan({ steps: [removeNode, destroy] }, { config: {} as never, executionId: 'e', workflowId: 'w', actionId: 'a', contractor: 'security-master' });
    expect(steps.map((s) => (s as { note: string }).note.split(':')[0])).toEqual(['step remove-node', 'step destroy-compromised']);
    expect(Object.keys(IMPLEMENTATIONS).sort()).toEqual(['execute_remediation_plan', 'review_investigation_findings', 'verify_remediation_complete']);
    expect(SECURITY_SPECS.filter((s) => s.kind === 'person').map((s) => s.name)).toEqual(['review_investigation_findings', 'verify_remediation_complete']);
  });
});
