/**
 * Every `--dry-run` plan of every built-in workflow and template, planned in-process as `cortex
 * run --dry-run --json` plans it, and every HTTP request in it for n8n, Slack, PagerDuty, Jira and
 * GitHub checked against what that service publishes: n8n's createWorkflow schema and node
 * definitions, PagerDuty's Events v2 enqueue schema, GitHub's REST schemas, Jira's issue fields
 * and its removed search endpoints, Slack's webhook and chat.postMessage rules. (pvesh and
 * kubectl calls are checked in their own files.)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareWorkflow } from '../../../src/app/prepare.js';
import type { PlannedStep } from '../../../src/contractors/action-impl.js';
import { N8N_SPECS } from '../../../src/contractors/n8n/specs.js';
import { listDefinitionFiles } from '../../../src/definitions/repository.js';
import { planExecution, type PlannedAction } from '../../../src/engine/plan.js';
import { newExecutionRecord } from '../../../src/engine/run-workflow.js';
import { jiraIssueFieldErrors, SEARCH_REMOVED } from '../../../src/lab/http/jira.js';
import { workflowNodeProblems } from '../../../src/lab/http/n8n-nodes.js';
import { n8nBodyError } from '../../../src/lab/http/n8n-schema.js';
import { githubBodyProblems, pagerdutyEventProblems } from '../../../src/lab/http/upstream-schemas.js';
const ROOT = fileURLToPath(new URL('../../../coordination', import.meta.url));

/** Workflows whose required parameters have no default. */
const PARAMS: Record<string, string[]> = {
  'security-incident-response': [
    'incident_type=node_compromise',
    'severity=critical',
    'affected_resource={"type":"node","identifier":"k8s-worker-02","ip_address":"10.10.1.21","cluster":"prod-k8s-01"}',
    'initial_indicators={"source":"falco","rule_triggered":"Drop and execute new binary in container","timestamp":"2026-11-25T18:52:41Z"}',
  ],
  'app-deployment': ['environment=production'],
  'deployment-template': ['cluster=prod-k8s-01', 'release=web', 'chart=bitnami/nginx', 'chart_version=15.0.0', 'deployment=web'],
  'incident-response-template': ['cluster=prod-k8s-01', 'node=k8s-worker-02', 'summary=suspicious process'],
  'maintenance-template': ['cluster=prod-k8s-01', 'node=k8s-worker-02', 'node_ip=10.10.1.21'],
};

interface Request {
  workflow: string;
  action: PlannedAction;
  step: Extract<PlannedStep, { kind: 'request' }>;
}

const N8N_ACTIONS = new Set(N8N_SPECS.map((s) => s.name));
const plans = new Map<string, PlannedAction[]>();
const requests: Request[] = [];

beforeAll(async () => {
  const env = { PATH: process.env.PATH };
  const files = await listDefinitionFiles(ROOT);
  for (const f of files) {
    const id = (JSON.parse(readFileSync(f.path, 'utf8')) as { workflow_id: string }).workflow_id;
    const prep = await prepareWorkflow({ root: { dir: ROOT, source: 'flag', isReadOnlyPackage: false }, env, cwd: ROOT }, id, { assignments: PARAMS[id] ?? [] });
    const def = prep.loaded.definition;
    const now = '2026-11-25T12:00:00.000Z';
    const record = newExecutionRecord({ executionId: `${def.workflow_id}-dry-run`, loaded: prep.loaded, parameters: prep.maskedParams, trigger: { type: 'manual' }, now });
    const phases = await planExecution({
      loaded: prep.loaded,
      record,
      params: prep.params,
      env,
      catalogue: prep.catalogue,
      impls: prep.impls,
      config: prep.config,
      builtins: { workflow_id: def.workflow_id, workflow_name: def.workflow_name, execution_id: '<execution_id>', status: 'running', date: '20261125', time: '120000', timestamp: now, sequence: '<sequence>', user: 'ops', host: 'cortex' },
    });
    const actions = phases.flatMap((p) => p.actions);
    plans.set(id, actions);
    for (const action of actions) for (const step of action.steps) if (step.kind === 'request') requests.push({ workflow: id, action, step });
  }
});

const where = (r: Request) => `${r.workflow}/${r.action.action_id} ${r.step.method} ${r.step.url}`;
const isPost = (r: Request, re: RegExp) => r.step.method === 'POST' && re.test(r.step.url);

/** Every problem of the requests matching `select`, each line naming its workflow and action. */
function problems(select: (r: Request) => boolean, check: (body: unknown, r: Request) => string[]): { checked: number; problems: string[] } {
  const selected = requests.filter(select);
  return {
    checked: selected.length,
    problems: selected.flatMap((r) => (r.step.body === undefined ? ['no body'] : check(r.step.body, r)).map((p) => `${where(r)}: ${p}`)),
  };
}

describe('every built-in workflow and template plans', () => {
  it('finds them all, and no n8n-contractor action of any plan has an error', () => {
    expect([...plans.keys()].sort()).toEqual([
      'app-deployment',
      'build-k8s-cluster',
      'deploy-monitoring-stack',
      'deployment-template',
      'disaster-recovery-failover',
      'incident-response-template',
      'maintenance-template',
      'security-incident-response',
    ]);
    const errors = [...plans].flatMap(([id, actions]) => actions.filter((a) => N8N_ACTIONS.has(a.action) && a.error).map((a) => `${id}/${a.action_id}: ${a.error}`));
    expect(errors).toEqual([]);
  });
});

describe('the HTTP bodies of every plan, against what the services publish', () => {
  it('n8n: every workflow create is valid for n8n 2.41.3 (createWorkflow schema, node types, versions, parameters, connections)', () => {
    const r = problems(
      (x) => isPost(x, /\/api\/v1\/workflows$/),
      (body) => {
        const schemaError = n8nBodyError('createWorkflow', body);
        if (schemaError) return [schemaError];
        const b = body as { nodes: unknown[]; connections: unknown };
        return workflowNodeProblems(b.nodes, b.connections);
      },
    );
    expect(r.problems).toEqual([]);
    // The seven workflows cortex creates, none of them a lone trigger.
    expect(r.checked).toBe(7);
    const creates = requests.filter((x) => isPost(x, /\/api\/v1\/workflows$/)).map((x) => x.step.body as { nodes: Array<{ type: string }> });
    for (const c of creates) expect(c.nodes.filter((n) => n.type !== 'n8n-nodes-base.stickyNote').length).toBeGreaterThan(2);
  });

  it('n8n: activate and deactivate send no body outside their schemas', () => {
    const r = problems(
      (x) => x.step.method === 'POST' && /\/api\/v1\/workflows\/[^/]+\/(activate|deactivate)$/.test(x.step.url) && x.step.body !== undefined,
      (body, x) => [n8nBodyError(x.step.url.endsWith('/activate') ? 'activateWorkflow' : 'deactivateWorkflow', body)].filter((e): e is string => Boolean(e)),
    );
    expect(r.problems).toEqual([]);
  });

  it('Slack: webhook bodies carry text and no channel (a webhook ignores it); chat.postMessage names one', () => {
    const hooks = problems(
      (x) => isPost(x, /^<endpoints\.slack>$/),
      (body) => {
        const b = body as Record<string, unknown>;
        const out: string[] = [];
        if (typeof b.text !== 'string' || !b.text.trim()) out.push('no text');
        if ('channel' in b) out.push('a webhook ignores `channel`');
        if (typeof b.text === 'string' && /(^|\s)@[a-z][\w.-]*/i.test(b.text)) out.push(`plain @mention in "${b.text}" notifies nobody`);
        return out;
      },
    );
    expect(hooks.problems).toEqual([]);
    expect(hooks.checked).toBeGreaterThan(10);
    const api = problems(
      (x) => isPost(x, /\/chat\.postMessage$/),
      (body) => {
        const b = body as Record<string, unknown>;
        return [typeof b.channel === 'string' && b.channel ? '' : 'no channel', typeof b.text === 'string' && b.text ? '' : 'no text'].filter(Boolean);
      },
    );
    expect(api.problems).toEqual([]);
  });

  it('PagerDuty: every event is valid against the Events v2 enqueue schema and rules', () => {
    const r = problems(
      (x) => isPost(x, /\/v2\/enqueue$/),
      // The plan masks the routing key; PagerDuty's are 32 characters.
      (body) => pagerdutyEventProblems({ ...(body as object), routing_key: 'R'.repeat(32) }),
    );
    expect(r.problems).toEqual([]);
    expect(r.checked).toBeGreaterThan(0);
  });

  it('Jira: issue bodies have the required fields; no plan uses the removed search endpoints', () => {
    const r = problems(
      (x) => isPost(x, /^<endpoints\.jira>\/rest\/api\/[23]\/issue$/),
      (body, x) => Object.entries(jiraIssueFieldErrors(((body as { fields?: Record<string, unknown> }).fields ?? {}), undefined, x.step.url.includes('/api/3/'))).map(([f, m]) => `${f}: ${m}`),
    );
    expect(r.problems).toEqual([]);
    expect(r.checked).toBeGreaterThan(0);
    const removed = requests.filter((x) => /^<endpoints\.jira>\/rest\/api\/[23]\/search(\?|$)/.test(x.step.url)).map((x) => `${where(x)}: 410 ${SEARCH_REMOVED}`);
    expect(removed).toEqual([]);
  });

  it('GitHub: deployments, deployment statuses, issues and commit comments match the published REST schemas', () => {
    const r = problems(
      (x) => x.step.method === 'POST' && /^<endpoints\.github>\/repos\//.test(x.step.url),
      (body, x) => {
        const url = x.step.url;
        const op = /\/deployments\/[^/]+\/statuses$/.test(url)
          ? 'repos/create-deployment-status'
          : /\/deployments$/.test(url)
            ? 'repos/create-deployment'
            : /\/issues$/.test(url)
              ? 'issues/create'
              : /\/commits\/[^/]+\/comments$/.test(url)
                ? 'repos/create-commit-comment'
                : undefined;
        return op ? githubBodyProblems(op, body) : [`not a GitHub operation cortex knows: ${url}`];
      },
    );
    expect(r.problems).toEqual([]);
    expect(r.checked).toBeGreaterThan(0);
  });
});
