/**
 * checkTaskOutputs against the built-in incident workflow: the outputs of review-findings are
 * judged by the parameters of the plan steps that use them (and verify-remediation's by none).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createCatalogue } from '../../../src/contractors/catalogue.js';
import { checkTaskOutputs } from '../../../src/definitions/task-outputs.js';
import type { WorkflowDefinition } from '../../../src/definitions/types.js';

const PROJECT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const def = JSON.parse(readFileSync(join(PROJECT, 'coordination', 'workflows', 'security-incident-response.json'), 'utf8')) as WorkflowDefinition;
const catalogue = createCatalogue();

const GOOD = {
  remediation_plan: { summary: 'replace the node', new_detection_rules: ['ioc-ip'], updated_thresholds: {}, new_procedures: ['rotate keys'] },
  replacement_specs: { name: 'k8s-worker-02', cores: 8, memory_mb: 16384 },
  vulnerabilities: [{ id: 'CVE-2026-1234', namespace: 'production', kind: 'Deployment', name: 'web-api', fixed_image: 'harbor.cortex.local/cortex-apps/web-api:v1.4.3' }],
  recommended_controls: [{ type: 'pod_security_standard', namespace: '*', level: 'restricted', mode: 'warn' }],
};

describe('checkTaskOutputs', () => {
  it('accepts outputs that fit every parameter they fill, a plan given as a link too', () => {
    expect(checkTaskOutputs(def, catalogue, 'review-findings', GOOD)).toEqual([]);
    expect(checkTaskOutputs(def, catalogue, 'review-findings', { ...GOOD, remediation_plan: 'https://wiki/plan-7', approved: true })).toEqual([]);
  });

  it('places each problem in the outputs and names the step and parameter that would reject it', () => {
    const issues = checkTaskOutputs(def, catalogue, 'review-findings', {
      ...GOOD,
      replacement_specs: { name: 'Bad_Name', cores: 0, colour: 'red' },
      recommended_controls: [{ type: 'firewall' }],
      extra: 1,
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        { pointer: '/extra', message: expect.stringMatching(/"extra" is not an output of review_investigation_findings \(its outputs: remediation_plan, /) },
        { pointer: '/replacement_specs/name', message: expect.stringMatching(/expected form .*plan step "provision-replacement" \(provision_replacement_resource\) as specs/) },
        { pointer: '/replacement_specs/cores', message: expect.stringMatching(/must be >= 1 .*provision-replacement/) },
        { pointer: '/replacement_specs/colour', message: expect.stringMatching(/colour.*|not allowed|unknown/i) },
        { pointer: '/recommended_controls/0/type', message: expect.stringMatching(/plan step "controls" \(implement_security_controls\) as controls/) },
      ]),
    );
    expect(issues).toHaveLength(5);
  });

  it('a plan of the wrong type gets one line naming both allowed types; a missing output says who needs it', () => {
    const { replacement_specs: _gone, ...rest } = GOOD;
    const issues = checkTaskOutputs(def, catalogue, 'review-findings', { ...rest, remediation_plan: 5 });
    expect(issues).toEqual([
      { pointer: '/remediation_plan', message: 'expected string or object (action "coordinate-remediation" (execute_remediation_plan) uses it as plan)' },
      { pointer: '/replacement_specs', message: 'missing: action "coordinate-remediation" passes it to plan step "provision-replacement" (provision_replacement_resource) as specs (expected object)' },
    ]);
  });

  it('checks the plan fields the post-incident phase reads', () => {
    const issues = checkTaskOutputs(def, catalogue, 'review-findings', { ...GOOD, remediation_plan: { new_detection_rules: 'all of them' } });
    expect(issues).toEqual([{ pointer: '/remediation_plan/new_detection_rules', message: expect.stringMatching(/^expected array .*as plan\)$/) }]);
  });

  it('a task whose outputs no later action reads is checked for its declared keys only', () => {
    expect(checkTaskOutputs(def, catalogue, 'verify-remediation', { verified: true, notes: 'ok', failed_checks: [] })).toEqual([]);
    expect(checkTaskOutputs(def, catalogue, 'verify-remediation', { verfied: true })).toEqual([{ pointer: '/verfied', message: expect.stringMatching(/"verfied" is not an output of verify_remediation_complete/) }]);
  });
});
