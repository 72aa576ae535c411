/**
 * security-master: the human security lead's decisions inside an incident workflow, and the
 * remediation plan that fans out to the other contractors.
 *
 * `person` actions pause the execution (status awaiting_input on the action) until
 * `cortex approve <execution> --action <action_id> [--data outputs.yaml]` (or `reject`). cortex
 * drafts their outputs first (`cortex status` shows the draft and its file); approving without
 * --data records the draft, --data FILE replaces it (checked before anything is recorded).
 * `plan` runs its steps, each an action of another contractor, in order, through the same
 * catalogue, validation and adapters as workflow actions.
 */
import { arr, bool, closed, int, map, openObject, params, str, strEnum } from '../param-schema.js';
import type { ActionSpec } from '../../model/catalogue.js';

const C = 'security-master';
const OPERATOR = ['operator'];

const reviewInvestigationFindings: ActionSpec = {
  contractor: C,
  name: 'review_investigation_findings',
  summary:
    'A person (approval_role of the phase, e.g. security_lead) reads the investigation report and decides. When ' +
    'generate_remediation_plan is true cortex first drafts the outputs from the findings: remediation_plan (summary, ' +
    'detection rules from the IoCs, procedures for the attack vector), replacement_specs (the affected VM\'s current ' +
    'config, read with pvesh), vulnerabilities (those the findings name) and recommended_controls (Pod Security ' +
    'restricted in warn and audit mode, for a node or pod). `cortex status ID` shows the draft and the path of its ' +
    'file (YAML, 0600); `cortex approve ID --action ACTION_ID` records it as is, `--data FILE` (JSON or YAML) ' +
    'replaces it, checked first against the parameters of the actions that use it (exit 2 naming file:line:column). ' +
    'Reject fails the action.',
  kind: 'person',
  uses: [...OPERATOR, 'pvesh'],
  parameters: params(
    {
      report: str('Report location (generate_investigation_report\'s location).', { minLength: 1 }),
      findings: openObject('Findings to show the reviewer and draft from (attack_vector, scope, iocs, vulnerabilities, ...).'),
      affected_resource: openObject(
        'The affected resource ({type: node|vm|pod|network, identifier, ip_address, cluster, namespace}); for a node or VM its current config drafts replacement_specs.',
      ),
      generate_remediation_plan: bool('Draft a remediation plan for the reviewer.', true),
      reviewers: arr(str('Person or role.'), 'Who may approve (default: the phase\'s approval_role).'),
    },
    ['report'],
  ),
  outputs: {
    remediation_plan: 'The approved plan: {summary, new_detection_rules, updated_thresholds, new_procedures, ...}.',
    replacement_specs: 'VM spec for the replacement (provision_replacement_resource specs).',
    vulnerabilities: 'Vulnerabilities to patch (apply_security_patches items).',
    recommended_controls: 'Controls to put in place (implement_security_controls items).',
    approved: 'True when the reviewer approved.',
  },
  idempotent: true,
};

const executeRemediationPlan: ActionSpec = {
  contractor: C,
  name: 'execute_remediation_plan',
  summary:
    'Runs `steps` in order; each step is an action of another contractor with its parameters (checked against that ' +
    'action\'s schema when the definition is validated), its own timeout and on_error (fail_workflow stops the plan; ' +
    'continue_phase/skip_action/alert_only record the failure and go on). Each step is recorded in the execution file ' +
    'like an action. `summary` carries the plan\'s own fields (new_detection_rules, updated_thresholds, new_procedures, ' +
    '...) plus the step results. The steps are not compensated on rollback.',
  kind: 'plan',
  uses: [],
  parameters: params(
    {
      plan: {
        description:
          'The approved plan (review_investigation_findings\'s remediation_plan) or a link to it. Its new_detection_rules, ' +
          'updated_thresholds and new_procedures go into `summary` for the post-incident phase.',
        anyOf: [
          str('Link to the plan.', { minLength: 1 }),
          {
            type: 'object',
            properties: {
              summary: str('What the plan does.'),
              new_detection_rules: arr({ type: ['object', 'string'], description: 'A rule (object) or a rule name.' }, 'Rules for enhance_monitoring.'),
              updated_thresholds: map({ type: ['number', 'string'] }, 'Alert name -> threshold, for enhance_monitoring.'),
              new_procedures: {
                description: 'Procedures for update_incident_runbooks: a list of steps (strings or objects) or a text.',
                anyOf: [{ type: 'string' }, { type: 'array', items: { type: ['string', 'object'] } }],
              },
            },
          },
        ],
      },
      steps: arr(
        closed(
          {
            step_id: str('Step id (default step-<n>).', { pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$' }),
            contractor: str('Contractor that runs the step.', { pattern: '^[a-z][a-z0-9-]{0,62}$' }),
            action: str('Action name.', { pattern: '^[a-z][a-z0-9_]{0,79}$' }),
            parameters: openObject('Parameters of that action.'),
            timeout: int('Seconds.', { minimum: 1, maximum: 86400 }),
            on_error: strEnum(['fail_workflow', 'continue_phase', 'skip_action', 'alert_only'], 'What a failed step means.', {
              default: 'fail_workflow',
            }),
          },
          ['contractor', 'action'],
        ),
        'Steps, run in order.',
        { minItems: 1 },
      ),
    },
    ['steps'],
  ),
  outputs: {
    summary: 'Plan fields plus {steps: [{step_id, contractor, action, status, outputs, error}]}.',
    steps_completed: 'Steps that succeeded.',
    steps_failed: 'Steps that failed.',
  },
  idempotent: false,
};

const verifyRemediationComplete: ActionSpec = {
  contractor: C,
  name: 'verify_remediation_complete',
  summary:
    'A person confirms each check against the remediation results (`cortex status ID`). The draft confirms them all: ' +
    '`cortex approve ID --action ACTION_ID` records verified true; `--data FILE` with `failed_checks: [...]` (and ' +
    'notes) records verified false, and then the action fails (its on_error applies).',
  kind: 'person',
  uses: OPERATOR,
  parameters: params(
    {
      checks: arr(str('Check, e.g. compromised_resource_removed.', { minLength: 1 }), 'What must be confirmed.', { minItems: 1 }),
      notes: str('Guidance shown to the verifier.'),
    },
    ['checks'],
  ),
  outputs: { verified: 'True when every check was confirmed.', notes: 'Verifier\'s notes.', failed_checks: 'Checks not confirmed.' },
  idempotent: true,
};

export const SECURITY_SPECS: readonly ActionSpec[] = [reviewInvestigationFindings, executeRemediationPlan, verifyRemediationComplete];
