/**
 * execute_remediation_plan: runs `steps` in order, each an action of another contractor, through
 * rt.runNested (the engine validates the step's parameters against that action's schema, runs it
 * with its own runtime and deadline, and records it in this action's `steps`). on_error per step:
 * fail_workflow (default) stops the plan and fails the action; continue_phase, skip_action and
 * alert_only record the failure and go on. Steps are not compensated on rollback.
 */
import { ActionFailedError, InterruptedError } from '../../errors.js';
import type { ActionImpl, PlannedStep } from '../action-impl.js';

interface Step {
  step_id?: string;
  contractor: string;
  action: string;
  parameters?: Record<string, unknown>;
  timeout?: number;
  on_error?: 'fail_workflow' | 'continue_phase' | 'skip_action' | 'alert_only';
}

interface Params {
  plan?: Record<string, unknown> | string;
  steps: Step[];
}

interface StepResult {
  step_id: string;
  contractor: string;
  action: string;
  status: 'completed' | 'failed' | 'skipped';
  outputs: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
}

export function stepIds(steps: readonly Step[]): string[] {
  const seen = new Set<string>();
  return steps.map((s, i) => {
    let id = s.step_id ?? `step-${i + 1}`;
    // Duplicate ids would share one record: make them unique.
    for (let n = 2; seen.has(id); n++) id = `${s.step_id ?? `step-${i + 1}`}-${n}`;
    seen.add(id);
    return id;
  });
}

export const executeRemediationPlan: ActionImpl = {
  plan(params) {
    const p = params as unknown as Params;
    const ids = stepIds(p.steps);
    return p.steps.map(
      (s, i): PlannedStep => ({
        kind: 'wait',
        note: `step ${ids[i]}: ${s.contractor}/${s.action} ${JSON.stringify(s.parameters ?? {}).slice(0, 300)} (on_error ${s.on_error ?? 'fail_workflow'}${s.timeout ? `, timeout ${s.timeout}s` : ''}; its own commands are decided when it runs)`,
      }),
    );
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    if (!rt.runNested) {
      throw new ActionFailedError('this cortex engine cannot run plan steps (no nested action support)', { errorCode: 'nested_actions_unsupported', retryable: false });
    }
    const ids = stepIds(p.steps);
    const results: StepResult[] = [];
    let stop: { id: string; error: ActionFailedError } | undefined;
    for (const [i, s] of p.steps.entries()) {
      const id = ids[i] as string;
      const base = { step_id: id, contractor: s.contractor, action: s.action };
      if (stop) {
        results.push({ ...base, status: 'skipped', outputs: null, error: null });
        continue;
      }
      try {
        const outputs = await rt.runNested({
          stepId: id,
          contractor: s.contractor,
          action: s.action,
          params: s.parameters ?? {},
          ...(s.timeout ? { timeoutMs: s.timeout * 1000 } : {}),
        });
        results.push({ ...base, status: 'completed', outputs, error: null });
      } catch (e) {
        if (e instanceof InterruptedError || !(e instanceof ActionFailedError) || e.errorCode === 'action_timeout') throw e;
        results.push({ ...base, status: 'failed', outputs: null, error: { code: e.errorCode, message: e.message } });
        const onError = s.on_error ?? 'fail_workflow';
        rt.debug(`remediation step ${id} failed (${e.errorCode}); on_error ${onError}`);
        if (onError === 'fail_workflow') stop = { id, error: e };
      }
    }
    if (stop) {
      const done = results.filter((r) => r.status === 'completed').map((r) => r.step_id);
      throw new ActionFailedError(
        `remediation step "${stop.id}" failed: ${stop.error.message}${done.length ? ` (completed before it: ${done.join(', ')})` : ''}; later steps were not run`,
        { errorCode: 'remediation_step_failed', retryable: stop.error.retryable, ...(stop.error.hint ? { hint: stop.error.hint } : {}) },
      );
    }
    const planFields: Record<string, unknown> = typeof p.plan === 'string' ? { plan_location: p.plan } : p.plan && typeof p.plan === 'object' ? (p.plan as Record<string, unknown>) : {};
    // The incident template's post-incident phase reads these three keys of the summary; give
    // them from the plan when the reviewer wrote them there, else from what the steps did.
    const completed = results.filter((r) => r.status === 'completed');
    const applied = completed.flatMap((r) => {
      const a = (r.outputs as { applied?: unknown } | null)?.applied;
      return Array.isArray(a) ? a : [];
    });
    return {
      summary: {
        new_detection_rules: applied,
        updated_thresholds: {},
        new_procedures: completed.map((r) => `${r.step_id}: ${r.contractor} ${r.action}`),
        ...planFields,
        steps: results,
      },
      steps_completed: results.filter((r) => r.status === 'completed').map((r) => r.step_id),
      steps_failed: results.filter((r) => r.status === 'failed').map((r) => r.step_id),
    };
  },
};
