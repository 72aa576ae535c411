import { INFRASTRUCTURE_SPECS } from '../../../../src/contractors/infrastructure/specs.js';
import type { ActionImpl } from '../../../../src/contractors/action-impl.js';
import type { ActionSpec } from '../../../../src/model/catalogue.js';
import { IMPLEMENTATIONS } from '../../../../src/contractors/infrastructure/index.js';
import type { ConfigFile } from '../../../../src/config/config.js';
import { makeRuntime, type ObservationStore } from '../runtime-helper.js';
import { depsWith, type PveFake } from './pve-fake.js';

export function spec(name: string): ActionSpec {
  const s = INFRASTRUCTURE_SPECS.find((x) => x.name === name);
  if (!s) throw new Error(`no spec ${name}`);
  return s;
}

export async function impl(name: string): Promise<ActionImpl> {
  const load = IMPLEMENTATIONS[name];
  if (!load) throw new Error(`no implementation of ${name}`);
  return load();
}

/** Runs an action against a scripted pvesh; returns outputs or the error, plus the argv seen. */
export async function runAction(name: string, params: Record<string, unknown>, fake: PveFake, options: { config?: ConfigFile; attempt?: number; observed?: ObservationStore } = {}) {
  const deps = depsWith(fake);
  const { rt, dispose } = makeRuntime(params, { spec: spec(name), deps, config: options.config ?? { proxmox: { task_poll_seconds: 1 } }, ...(options.attempt ? { attempt: options.attempt } : {}), ...(options.observed ? { observed: options.observed } : {}) });
  const action = await impl(name);
  try {
    const outputs = await action.run(rt);
    return { outputs, error: undefined, deps, calls: fake.calls };
  } catch (error) {
    return { outputs: undefined, error: error as Error & { errorCode?: string; retryable?: boolean }, deps, calls: fake.calls };
  } finally {
    dispose();
  }
}

import { getPath, resolveValue } from '../../../../src/definitions/expression-eval.js';
import { checkParams } from '../runtime-helper.js';

/**
 * Renders the spec's compensation template with the forward action's input and output (as the
 * engine's rollback does) and checks the compensating action's schema accepts the result.
 */
export function compensationOf(name: string, input: Record<string, unknown>, output: Record<string, unknown>): { action: string; params: Record<string, unknown> } {
  const s = spec(name);
  if (!s.compensation) throw new Error(`${name} has no compensation`);
  const rendered = resolveValue(s.compensation.parameters, (path) => {
    const [root, ...rest] = path;
    const src = root === 'input' ? input : root === 'output' ? output : undefined;
    return getPath(src, rest) ?? null;
  }) as Record<string, unknown>;
  return { action: s.compensation.action, params: checkParams(spec(s.compensation.action), rendered) };
}
