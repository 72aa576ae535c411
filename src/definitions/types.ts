/**
 * TypeScript shape of a workflow definition. `schemas/workflow.schema.json` is the source of
 * truth; these types mirror it for the code that reads validated definitions.
 */

export type ParamType = 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object';

export interface ParamSpec {
  type: ParamType;
  required?: boolean;
  default?: unknown;
  enum?: unknown[];
  description?: string;
  /** Nested declarations for `object` parameters (the incident template's affected_resource). */
  properties?: Record<string, ParamSpec>;
  items?: ParamSpec;
  secret?: boolean;
}

export const ON_ERROR_VALUES = [
  'fail_workflow',
  'rollback',
  'rollback_workflow',
  'rollback_deployment',
  'skip_action',
  'continue_phase',
  'skip_phase',
  'alert_only',
  'pause',
] as const;
export type OnError = (typeof ON_ERROR_VALUES)[number];

export interface RetryPolicy {
  max_attempts: number;
  delay_seconds?: number;
  backoff?: number;
  /** Parameters merged over the action's own for the last attempt ("retry_with_fallback_host"). */
  fallback_parameters?: Record<string, unknown>;
}

export interface CompensationSpec {
  action: string;
  parameters?: Record<string, unknown>;
  timeout?: number;
}

export interface ActionDef {
  action_id: string;
  action: string;
  description?: string;
  parameters?: Record<string, unknown>;
  timeout?: number;
  on_error?: OnError;
  retry?: RetryPolicy;
  /** Overrides the catalogue's compensation; `false` declares the action needs none. */
  compensation?: CompensationSpec | false;
  condition?: string;
}

export interface HandoffDecision {
  if: string;
  then: string;
  else: string;
}

export interface PhaseDef {
  phase_id: string;
  phase_name?: string;
  description?: string;
  contractor: string;
  /** Skip the phase when this evaluates false. `conditional` is the reference template's spelling. */
  condition?: string;
  conditional?: string;
  requires_approval?: boolean | string;
  approval_timeout?: number;
  approval_role?: string;
  parallel?: boolean;
  max_parallel?: number;
  actions: ActionDef[];
  handoff_to?: string;
  handoff_decision?: HandoffDecision;
  handoff_data?: string[] | Record<string, unknown>;
}

/** One inline step of a rollback procedure (TPL-DEPLOY form). */
export interface RollbackStepDef {
  phase_id: string;
  phase_name?: string;
  contractor: string;
  action?: string;
  parameters?: Record<string, unknown>;
  timeout?: number;
  actions?: ActionDef[];
}

export interface RollbackProcedure {
  description?: string;
  /** Inline steps, or ids: `<phase_id>` / `<phase_id>-rollback` compensates that forward phase. */
  phases: Array<string | RollbackStepDef>;
}

export interface TriggerDef {
  type: string;
  [key: string]: unknown;
}

export interface WorkflowDefinition {
  workflow_id: string;
  workflow_name: string;
  description?: string;
  version: string;
  contractors?: string[];
  estimated_duration?: string;
  trigger_types?: string[];
  concurrency?: number;
  /** A triggered run at the concurrency limit: refuse it (default) or cancel the older executions and start it. */
  on_conflict?: 'refuse' | 'queue' | 'cancel_older';
  parameters?: Record<string, ParamSpec>;
  phases: PhaseDef[];
  rollback_procedure?: RollbackProcedure;
  success_criteria?: string[];
  monitoring?: unknown;
  escalation_rules?: Array<{ condition: string; notify?: string[]; sla?: string; escalate_to?: string }>;
  sla?: Record<string, string>;
  metadata?: Record<string, unknown>;
  triggers?: TriggerDef[];
}

/** A definition with where it came from, after loading and validation. */
export interface LoadedWorkflow {
  definition: WorkflowDefinition;
  /** Absolute path of the file. */
  path: string;
  /** Path as shown to operators (relative to the root when inside it). */
  displayPath: string;
  /** sha256 of the file bytes. */
  hash: string;
  format: 'json' | 'yaml';
}

export function phaseCondition(phase: PhaseDef): string | undefined {
  return phase.condition ?? phase.conditional;
}
