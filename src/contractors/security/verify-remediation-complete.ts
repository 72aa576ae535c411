/**
 * verify_remediation_complete: a person confirms the checks. The draft confirms them all;
 * listing a check in failed_checks (or verified: false) makes the task fail, and its on_error
 * applies.
 */
import type { ActionImpl } from '../action-impl.js';

interface Params {
  checks: string[];
}

export const verifyRemediationCompleteAction: ActionImpl = {
  plan() {
    return [];
  },

  async run() {
    return { verified: true, failed_checks: [], notes: '' };
  },

  complete(outputs, params) {
    const failed = Array.isArray(outputs.failed_checks) ? outputs.failed_checks.map(String) : [];
    const verified = outputs.verified !== false && failed.length === 0;
    const out = { ...outputs, verified, failed_checks: failed };
    if (verified) return { outputs: out };
    const checks = (params as unknown as Params).checks ?? [];
    const unknown = failed.filter((c) => !checks.includes(c));
    return {
      outputs: out,
      failed: failed.length
        ? `remediation not verified: ${failed.join(', ')} not confirmed${unknown.length ? ` (not among the checks: ${unknown.join(', ')})` : ''}`
        : 'remediation not verified (verified: false)',
    };
  },
};
