import { ActionFailedError, InterruptedError } from '../errors.js';
import { resolveValue } from '../definitions/expression-eval.js';
import type { ActionDef, PhaseDef, RollbackStepDef } from '../definitions/types.js';
import type { ActionSpec } from '../model/catalogue.js';
import type { ActionRecord, ErrorInfo, ExecutionRecord, RollbackStepRecord } from '../model/records.js';
import type { Execution } from './run-workflow.js';
import { COMPENSATION_RETRY, runAttempts } from './attempt.js';

interface CompletedAction {
  phase: PhaseDef;
  def: ActionDef;
  rec: ActionRecord;
}

function completedActions(exec: Execution, phaseIds?: Set<string>): CompletedAction[] {
  const out: CompletedAction[] = [];
  for (const phase of exec.def.phases) {
    if (phaseIds && !phaseIds.has(phase.phase_id)) continue;
    const pr = exec.record.phases.find((p) => p.phase_id === phase.phase_id);
    for (const def of phase.actions) {
      const rec = pr?.actions.find((a) => a.action_id === def.action_id);
      if (rec?.status === 'completed') out.push({ phase, def, rec });
    }
  }
  // Newest first: by finish time, then by definition order reversed.
  return out
    .map((c, i) => ({ c, i }))
    .sort((a, b) => (b.c.rec.finished_at ?? '').localeCompare(a.c.rec.finished_at ?? '') || b.i - a.i)
    .map((x) => x.c);
}

/** Actions that were running when the execution stopped (their outcome is unknown). */
function stoppedActions(exec: Execution, phaseIds?: Set<string>): CompletedAction[] {
  const out: CompletedAction[] = [];
  for (const phase of exec.def.phases) {
    if (phaseIds && !phaseIds.has(phase.phase_id)) continue;
    const pr = exec.record.phases.find((p) => p.phase_id === phase.phase_id);
    for (const def of phase.actions) {
      const rec = pr?.actions.find((a) => a.action_id === def.action_id);
      if (rec && (rec.status === 'interrupted' || rec.status === 'running')) out.push({ phase, def, rec });
    }
  }
  return out.reverse();
}

/** The compensation step for one completed action, or a reason it has none. */
function compensationStep(exec: Execution, c: CompletedAction): RollbackStepRecord | { none: string } {
  const spec = exec.ctx.catalogue.get(c.phase.contractor, c.def.action);
  if (c.def.compensation === false) return { none: 'compensation: false in the definition' };
  const template = c.def.compensation ? { action: c.def.compensation.action, parameters: c.def.compensation.parameters ?? {} } : spec?.compensation;
  if (!template) return { none: 'changes nothing that needs undoing' };
  return {
    step_id: `undo-${c.def.action_id}`,
    kind: 'compensation',
    for_action: c.def.action_id,
    for_phase: c.phase.phase_id,
    contractor: c.phase.contractor,
    action: template.action,
    status: 'pending',
    attempts: [],
  };
}

function participated(exec: Execution, contractor: string): boolean {
  return exec.record.phases.some((p) => p.contractor === contractor && p.status !== 'pending' && p.status !== 'skipped');
}

/**
 * The ordered steps of a rollback. Workflow scope: the rollback procedure in the order given
 * (an id compensates that phase's completed actions; an inline step runs when its contractor
 * took part), then the compensations of actions stopped mid-run (when they need no outputs the
 * action did not record; otherwise they are named in not_undone), then those of every other
 * completed action, newest first. Phase scope: the same for that phase's actions. Steps already done by an earlier rollback
 * of this execution are kept (and not repeated).
 */
export function planRollback(exec: Execution, scope: 'workflow' | 'phase', phaseId?: string): { steps: RollbackStepRecord[]; notUndone: string[] } {
  const previous = new Map((exec.record.rollback?.steps ?? []).map((s) => [s.step_id, s]));
  const steps: RollbackStepRecord[] = [];
  const notUndone: string[] = [];
  const seen = new Set<string>();
  const add = (s: RollbackStepRecord) => {
    if (seen.has(s.step_id)) return;
    seen.add(s.step_id);
    steps.push(previous.get(s.step_id) ?? s);
  };
  const compensate = (list: CompletedAction[]) => {
    for (const c of list) {
      const step = compensationStep(exec, c);
      if ('none' in step) continue;
      add(step);
    }
  };
  // Actions stopped mid-run (cancel, a signal, a crash) may have left part of their change. Their
  // compensation runs when it needs nothing the action did not get to record; otherwise the
  // rollback names them for the operator.
  const undoStopped = (phaseIds?: Set<string>) => {
    for (const c of stoppedActions(exec, phaseIds)) {
      const step = compensationStep(exec, c);
      if ('none' in step) {
        if (!c.rec.idempotent || step.none !== 'changes nothing that needs undoing') notUndone.push(`${c.def.action_id} (${c.def.action}) was stopped mid-run and has no compensation (${step.none}): check what it may have left`);
        continue;
      }
      const spec = exec.ctx.catalogue.get(c.phase.contractor, c.def.action);
      const template = c.def.compensation || spec?.compensation;
      const needsOutputs = (spec?.compensation?.requires_outputs ?? []).length > 0 || /\boutput\./.test(JSON.stringify(template ? template.parameters ?? {} : {}));
      if (needsOutputs) {
        notUndone.push(`${c.def.action_id} (${c.def.action}) was stopped mid-run before it recorded what ${step.action} needs to undo it: check what it may have left`);
        continue;
      }
      add({ ...step, step_id: `undo-${c.def.action_id}` });
    }
  };
  if (scope === 'phase' && phaseId) {
    undoStopped(new Set([phaseId]));
    compensate(completedActions(exec, new Set([phaseId])));
  } else {
    const ids = new Set(exec.def.phases.map((p) => p.phase_id));
    for (const entry of exec.def.rollback_procedure?.phases ?? []) {
      if (typeof entry === 'string') {
        const target = ids.has(entry) ? entry : entry.replace(/-rollback$/, '');
        compensate(completedActions(exec, new Set([target])));
        continue;
      }
      if (!participated(exec, entry.contractor)) continue;
      for (const a of inlineActions(entry)) {
        add({ step_id: `procedure-${entry.phase_id}${entry.actions ? `-${a.action_id}` : ''}`, kind: 'procedure', for_phase: entry.phase_id, contractor: entry.contractor, action: a.action, status: 'pending', attempts: [] });
      }
    }
    undoStopped();
    compensate(completedActions(exec));
  }
  for (const c of completedActions(exec, scope === 'phase' && phaseId ? new Set([phaseId]) : undefined)) {
    const spec = exec.ctx.catalogue.get(c.phase.contractor, c.def.action);
    if (spec?.kind === 'plan') notUndone.push(`${c.def.action_id} (${c.def.action}): its steps changed other systems and have no automatic undo`);
  }
  return { steps, notUndone };
}

function inlineActions(entry: RollbackStepDef): ActionDef[] {
  return entry.actions ?? [{ action_id: entry.phase_id, action: entry.action as string, parameters: entry.parameters ?? {}, ...(entry.timeout ? { timeout: entry.timeout } : {}) }];
}

/** The parameters of a step, resolved now (compensations read the original input and outputs). */
async function stepParameters(exec: Execution, step: RollbackStepRecord): Promise<Record<string, unknown>> {
  if (step.kind === 'procedure') {
    const entry = exec.def.rollback_procedure?.phases.find((e): e is RollbackStepDef => typeof e !== 'string' && e.phase_id === step.for_phase);
    const action = entry ? inlineActions(entry).find((a) => a.action === step.action) : undefined;
    const raw = action?.parameters ?? {};
    await exec.loadSecrets(raw);
    return resolveValue(raw, exec.resolver()) as Record<string, unknown>;
  }
  const phase = exec.def.phases.find((p) => p.phase_id === step.for_phase) as PhaseDef;
  const def = phase.actions.find((a) => a.action_id === step.for_action) as ActionDef;
  const rec = exec.record.phases.find((p) => p.phase_id === phase.phase_id)?.actions.find((a) => a.action_id === def.action_id);
  const spec = exec.ctx.catalogue.get(phase.contractor, def.action);
  // The original input is re-resolved from the definition: the record's copy has secrets masked.
  const usedFallback = rec?.attempts.at(-1)?.fallback && def.retry?.fallback_parameters;
  const rawInput = usedFallback ? { ...(def.parameters ?? {}), ...(def.retry?.fallback_parameters ?? {}) } : (def.parameters ?? {});
  await exec.loadSecrets(rawInput);
  const input = resolveValue(rawInput, exec.resolver()) as Record<string, unknown>;
  const outputs = rec?.outputs ?? {};
  const template = def.compensation ? def.compensation : spec?.compensation;
  const missing = (spec?.compensation?.requires_outputs ?? []).filter((k) => outputs[k] === undefined || outputs[k] === null);
  if (!def.compensation && missing.length) {
    throw new ActionFailedError(`cannot undo ${def.action_id}: it recorded no ${missing.join(', ')}`, { errorCode: 'compensation_inputs_missing', retryable: false });
  }
  return resolveValue((template as { parameters?: Record<string, unknown> }).parameters ?? {}, exec.resolver({ input, output: outputs })) as Record<string, unknown>;
}

async function runStep(exec: Execution, step: RollbackStepRecord): Promise<void> {
  const spec: ActionSpec | undefined = exec.ctx.catalogue.get(step.contractor, step.action);
  const impl = spec ? await exec.ctx.impls.get(spec) : undefined;
  step.started_at ??= exec.now();
  step.status = 'running';
  await exec.persist();
  const failWith = async (error: ErrorInfo) => {
    step.status = 'failed';
    step.error = { ...error, message: exec.deps.masker.mask(error.message) };
    step.finished_at = exec.now();
    step.retry_command = `cortex rollback ${exec.record.execution_id}`;
    exec.deps.emit({ kind: 'rollback-step', stepId: step.step_id, action: step.action, status: 'failed', error: step.error.message });
    await exec.persist();
  };
  if (!spec || !impl) return failWith({ code: 'not_implemented', message: `no implementation of ${step.contractor}/${step.action}` });
  // A later `cortex rollback` retries a failed step with a fresh set of attempts.
  step.attempts_counted_from = step.attempts.length;
  const outcome = await runAttempts(exec, {
    target: step,
    spec,
    impl,
    phaseId: `rollback-${step.for_phase ?? 'procedure'}`,
    actionId: step.step_id,
    contractor: step.contractor,
    action: step.action,
    policy: COMPENSATION_RETRY,
    timeoutMs: exec.ctx.config.defaults.actionTimeoutSeconds * 1000,
    signal: exec.ctx.signal,
    parameters: () => stepParameters(exec, step),
    debug: () => undefined,
  });
  delete step.attempts_counted_from;
  if (outcome.kind === 'ok') {
    step.outputs = outcome.outputs;
    step.status = 'completed';
    delete step.error;
    step.finished_at = exec.now();
    exec.deps.emit({ kind: 'rollback-step', stepId: step.step_id, action: step.action, status: 'completed' });
    await exec.persist();
    return;
  }
  if (outcome.kind === 'interrupted') {
    step.status = 'pending';
    await exec.persist();
    throw new InterruptedError('interrupted during rollback');
  }
  return failWith(outcome.error);
}

/**
 * Runs (or continues) a rollback of the execution. Progress is recorded step by step, so a
 * rollback interrupted by a crash continues where it stopped when run again; a failed step does
 * not stop the others. Workflow scope ends the execution rolled_back or rollback_failed; phase
 * scope (rollback_deployment) leaves it failed.
 */
export async function runRollback(exec: Execution, scope: 'workflow' | 'phase', reason: string, phaseId?: string, requestedBy?: string): Promise<void> {
  const rec: ExecutionRecord = exec.record;
  const { steps, notUndone } = planRollback(exec, scope, phaseId);
  const priorScope = rec.rollback?.scope;
  rec.rollback = {
    status: 'running',
    reason,
    scope: scope === 'workflow' || priorScope === 'workflow' ? scope : 'phase',
    ...(requestedBy ? { requested_by: requestedBy } : {}),
    started_at: rec.rollback?.started_at ?? exec.now(),
    finished_at: null,
    steps,
    ...(notUndone.length ? { not_undone: notUndone } : {}),
  };
  if (scope === 'workflow') rec.status = 'rolling_back';
  rec.rollback_required = true;
  exec.deps.emit({ kind: 'rollback-start', reason, steps: steps.filter((s) => s.status !== 'completed').length });
  await exec.persist();
  for (const step of steps) {
    if (step.status === 'completed' || step.status === 'skipped') continue;
    await runStep(exec, step);
  }
  const failed = steps.filter((s) => s.status === 'failed');
  rec.rollback.status = failed.length ? 'failed' : 'completed';
  rec.rollback.finished_at = exec.now();
  if (failed.length) {
    rec.rollback.not_undone = [...notUndone, ...failed.map((s) => `${s.step_id} (${s.action}${s.for_action ? ` for ${s.for_action}` : ''}): ${s.error?.message ?? 'failed'}`)];
  }
  if (scope === 'workflow') {
    rec.status = failed.length ? 'rollback_failed' : 'rolled_back';
    rec.status_reason = failed.length
      ? `rollback failed for ${failed.length} step(s); fix the cause and run cortex rollback ${rec.execution_id} again (it retries only what is not undone)`
      : `rolled back: ${reason}`;
  }
  rec.rollback_required = scope !== 'workflow' || failed.length > 0 ? true : false;
  await exec.persist();
}
