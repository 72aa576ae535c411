import { describe, expect, it } from 'vitest';
import { createCatalogue } from '../../../src/contractors/catalogue.js';
import { createImplementationRegistry } from '../../../src/contractors/registry.js';
import type { ImplementationRegistry } from '../../../src/contractors/action-impl.js';
import { assertImplemented, assertToolsPresent } from '../../../src/app/prepare.js';
import { resolveConfig } from '../../../src/config/config.js';
import { ExitCode, UsageError, ToolNotFoundError } from '../../../src/errors.js';
import type { WorkflowDefinition } from '../../../src/definitions/types.js';

const def: WorkflowDefinition = {
  workflow_id: 'wf',
  workflow_name: 'wf',
  version: '1.0.0',
  phases: [
    { phase_id: 'p', contractor: 'talos-contractor', actions: [{ action_id: 'a', action: 'install_helm_chart', parameters: {} }, { action_id: 'b', action: 'execute_command', parameters: { command: ['true'] } }] },
  ],
};

describe('before a run starts', () => {
  it('refuses a workflow with an action that has no implementation (exit 2, naming it)', () => {
    const catalogue = createCatalogue();
    const real = createImplementationRegistry();
    const missingHelm: ImplementationRegistry = { has: (spec) => spec.name !== 'install_helm_chart' && real.has(spec), get: (spec) => real.get(spec) };
    let err: unknown;
    try {
      assertImplemented(def, catalogue, missingHelm);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(ExitCode.INVALID_INPUT);
    expect((err as Error).message).toMatch(/talos-contractor\/install_helm_chart \(at p\/a\)/);
    expect(() => assertImplemented(def, catalogue, real)).not.toThrow();
  });

  it('refuses, with exit 4, a workflow whose tool is not installed', () => {
    const config = resolveConfig({ tools: { helm: ['/nonexistent/helm'] } }, {}, null);
    let err: unknown;
    try {
      assertToolsPresent(def, createCatalogue(), config, { PATH: '/usr/bin:/bin' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ToolNotFoundError);
    expect((err as ToolNotFoundError).exitCode).toBe(ExitCode.ENVIRONMENT);
    expect((err as Error).message).toMatch(/\/nonexistent\/helm \(for helm, used by p\/a\)/);
  });
});
