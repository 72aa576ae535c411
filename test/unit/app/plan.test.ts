import { describe, expect, it } from 'vitest';
import { configDigest, planStartRequest, secretLeaves, type PlanDocument } from '../../../src/app/plan.js';
import { resolveConfig } from '../../../src/config/config.js';
import { resolveParameters } from '../../../src/definitions/parameters.js';
import { ExitCode, UsageError } from '../../../src/errors.js';
import type { WorkflowDefinition } from '../../../src/definitions/types.js';

const def: WorkflowDefinition = {
  workflow_id: 'wf',
  workflow_name: 'wf',
  version: '1.0.0',
  parameters: {
    credentials: { type: 'object', required: true, properties: { user: { type: 'string' }, password: { type: 'string', secret: true } } },
    keys: { type: 'array', items: { type: 'string', secret: true }, default: [] },
    token: { type: 'string', secret: true },
    replicas: { type: 'integer', default: 2 },
  },
  phases: [{ phase_id: 'p', contractor: 'infrastructure-contractor', actions: [{ action_id: 'a', action: 'execute_command', parameters: { command: ['true'] } }] }],
};

function plan(parameters: Record<string, unknown>, secrets: string[]): PlanDocument {
  return {
    plan_format: 1,
    created_at: '2026-01-01T00:00:00Z',
    created_by: { user: 'u', host: 'h' },
    cortex_version: '0.0.0',
    workflow: { workflow_id: 'wf', workflow_name: 'wf', version: '1.0.0', path: 'workflows/wf.yaml', hash: `sha256:${'0'.repeat(64)}` },
    parameters,
    secret_parameters: Object.fromEntries(secrets.map((p) => [p, 'scrypt$16384$8$1$AA==$AA=='])),
    config: { path: null, digest: `sha256:${'0'.repeat(64)}` },
    phases: [],
  };
}

describe('plans and secret parameters', () => {
  it('finds every secret value by JSON pointer: nested properties and array items too', () => {
    const params = resolveParameters(def, { values: { credentials: { user: 'ops', password: 'pw-1' }, keys: ['k1', 'k2'], token: 't' } });
    expect([...secretLeaves(def, params)]).toEqual([
      ['/credentials/password', 'pw-1'],
      ['/keys/0', 'k1'],
      ['/keys/1', 'k2'],
      ['/token', 't'],
    ]);
  });

  it('run --plan takes the plan\'s values without its secrets, and asks for each secret again (exit 2, by name)', () => {
    const p = plan({ credentials: { user: 'ops', password: '***' }, keys: [], token: '***', replicas: 3 }, ['/credentials/password', '/token']);
    let err: unknown;
    try {
      planStartRequest(p, 'plan.json', { assignments: ['token=t'] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(ExitCode.INVALID_INPUT);
    expect((err as Error).message).toContain('secret parameter(s) credentials.password');
    expect((err as UsageError).hint).toBe('cortex run --plan plan.json -p credentials.password=...');

    const req = planStartRequest(p, 'plan.json', { assignments: ['token=t', 'credentials.password=pw'] });
    expect(req.values).toEqual({ credentials: { user: 'ops' }, keys: [], replicas: 3 });
    // The -p values land inside the plan's object, as they do for a run without a plan.
    expect(resolveParameters(def, { values: req.values ?? {}, assignments: req.assignments ?? [] })).toEqual({ credentials: { user: 'ops', password: 'pw' }, keys: [], token: 't', replicas: 3 });
    // A whole object given again covers its secret properties.
    expect(() => planStartRequest(p, 'plan.json', { assignments: ['token=t', 'credentials={"user":"ops","password":"pw"}'] })).not.toThrow();
  });

  it('refuses a plan of another workflow', () => {
    expect(() => planStartRequest(plan({}, []), 'plan.json', { workflowId: 'other', assignments: [] })).toThrow(/the plan is for workflow wf, not other/);
  });

  it('the config digest follows the resolved configuration, not where it was read from', () => {
    const a = resolveConfig({ defaults: { action_timeout_seconds: 30 } }, {}, '/one/config.yaml');
    expect(configDigest(a)).toBe(configDigest(resolveConfig({ defaults: { action_timeout_seconds: 30 } }, {}, '/two/config.yaml')));
    expect(configDigest(a)).not.toBe(configDigest(resolveConfig({ defaults: { action_timeout_seconds: 31 } }, {}, '/one/config.yaml')));
    expect(configDigest(a)).not.toBe(configDigest(resolveConfig({ defaults: { action_timeout_seconds: 30 } }, { CORTEX_PVESH: 'ssh root@pve01 pvesh' }, '/one/config.yaml')));
  });
});
