import type { ActionImpl } from '../action-impl.js';

/**
 * Implementations of this contractor's actions, keyed by action name, loaded on first use.
 * review_investigation_findings and verify_remediation_complete are `person` actions: theirs
 * draft what approving as is records (the engine then waits for `cortex approve --action`).
 */
export const IMPLEMENTATIONS: Record<string, () => Promise<ActionImpl>> = {
  execute_remediation_plan: async () => (await import('./execute-remediation-plan.js')).executeRemediationPlan,
  review_investigation_findings: async () => (await import('./review-investigation-findings.js')).reviewInvestigationFindingsAction,
  verify_remediation_complete: async () => (await import('./verify-remediation-complete.js')).verifyRemediationCompleteAction,
};
