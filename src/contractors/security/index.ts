import type { ActionImpl } from '../action-impl.js';

/**
 * Implementations of this contractor's actions, keyed by action name, loaded on first use.
 * review_investigation_findings and verify_remediation_complete are `person` actions: the
 * engine waits for `cortex approve --action` and needs no implementation.
 */
export const IMPLEMENTATIONS: Record<string, () => Promise<ActionImpl>> = {
  execute_remediation_plan: async () => (await import('./execute-remediation-plan.js')).executeRemediationPlan,
};
