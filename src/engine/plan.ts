import type { ImplementationRegistry, PlannedStep } from '../contractors/action-impl.js';
import type { Catalogue } from '../model/catalogue.js';
import type { ResolvedConfig } from '../config/config.js';
import { evaluateCondition, resolveValue, type Resolver } from '../definitions/expression-eval.js';
import { phaseCondition, type LoadedWorkflow } from '../definitions/types.js';
import type { ExecutionRecord } from '../model/records.js';
import { createResolver } from './scope.js';

export interface PlannedAction {
  phase_id: string;
  contractor: string;
  action_id: string;
  action: string;
  on_error: string;
  timeout_seconds: number;
  retry?: { max_attempts: number; fallback: boolean };
  /** The action's condition and what it evaluates to now ('unknown' when it needs run-time values). */
  condition?: { expression: string; value: boolean | 'unknown' };
  parameters: Record<string, unknown>;
  steps: PlannedStep[];
  error?: string;
}

export interface PlannedPhase {
  phase_id: string;
  contractor: string;
  condition?: { expression: string; value: boolean | 'unknown' };
  requires_approval?: boolean | 'unknown';
  actions: PlannedAction[];
  handoff_to?: string;
}

/**
 * A condition's value before the run: true/false, or 'unknown' when it reads a value known only
 * at run time (an earlier action's output resolves to a "<...>" placeholder, which would compare
 * as a string and give a wrong false).
 */
function planCondition(expression: string, resolver: Resolver): { expression: string; value: boolean | 'unknown' } {
  let later = false;
  const watching: Resolver = (path, text) => {
    const v = resolver(path, text);
    if (typeof v === 'string' && /^<.*>$/.test(v)) later = true;
    return v;
  };
  try {
    const value = evaluateCondition(expression, watching);
    return { expression, value: later ? 'unknown' : value };
  } catch {
    return { expression, value: 'unknown' };
  }
}

/**
 * What `run --dry-run` shows: every phase and action with parameters resolved (secrets as ***,
 * values from earlier outputs as <action.output.key>) and the exact commands and requests.
 * Does no I/O and changes nothing.
 */
export async function planExecution(args: {
  loaded: LoadedWorkflow;
  record: ExecutionRecord;
  params: Record<string, unknown>;
  env: Record<string, string | undefined>;
  catalogue: Catalogue;
  impls: ImplementationRegistry;
  config: ResolvedConfig;
  builtins: Record<string, unknown>;
}): Promise<PlannedPhase[]> {
  const def = args.loaded.definition;
  const resolver = createResolver({
    def,
    record: args.record,
    params: args.params,
    env: args.env,
    secrets: new Map(),
    builtins: args.builtins,
    mode: 'plan',
  });
  const out: PlannedPhase[] = [];
  for (const phase of def.phases) {
    const planned: PlannedPhase = { phase_id: phase.phase_id, contractor: phase.contractor, actions: [] };
    const cond = phaseCondition(phase);
    if (cond !== undefined) planned.condition = planCondition(cond, resolver);
    if (phase.requires_approval !== undefined) {
      try {
        planned.requires_approval = typeof phase.requires_approval === 'boolean' ? phase.requires_approval : evaluateCondition(phase.requires_approval, resolver);
      } catch {
        planned.requires_approval = 'unknown';
      }
    }
    if (phase.handoff_to) planned.handoff_to = phase.handoff_to;
    for (const a of phase.actions) {
      const spec = args.catalogue.get(phase.contractor, a.action);
      const entry: PlannedAction = {
        phase_id: phase.phase_id,
        contractor: phase.contractor,
        action_id: a.action_id,
        action: a.action,
        on_error: a.on_error ?? 'fail_workflow',
        timeout_seconds: a.timeout ?? args.config.defaults.actionTimeoutSeconds,
        ...(a.retry ? { retry: { max_attempts: a.retry.max_attempts, fallback: Boolean(a.retry.fallback_parameters) } } : {}),
        ...(a.condition !== undefined ? { condition: planCondition(a.condition, resolver) } : {}),
        parameters: {},
        steps: [],
      };
      try {
        entry.parameters = resolveValue(a.parameters ?? {}, resolver) as Record<string, unknown>;
        const impl = spec ? await args.impls.get(spec) : undefined;
        const ctx = { config: args.config, executionId: args.record.execution_id, workflowId: def.workflow_id, actionId: a.action_id, contractor: phase.contractor };
        if (spec?.kind === 'person') {
          // What cortex reads to draft the task, then the wait.
          entry.steps = [
            ...(impl ? impl.plan(entry.parameters, ctx) : []),
            { kind: 'person', note: `waits for a person: cortex approve <execution> --action ${a.action_id} [--data FILE]${impl ? ' (approving as is records the draft)' : ''}` },
          ];
        } else {
          entry.steps = impl ? impl.plan(entry.parameters, ctx) : [];
          if (!impl) entry.error = 'no implementation';
        }
      } catch (e) {
        entry.error = (e as Error).message;
      }
      planned.actions.push(entry);
    }
    out.push(planned);
  }
  return out;
}
