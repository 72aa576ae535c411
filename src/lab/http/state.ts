/**
 * State of the lab's HTTP services, persisted in <lab>/state/http.json (changed under its lock,
 * so later commands and parallel requests see every change).
 */
import { createHash } from 'node:crypto';
import { N8N_DELEGATED_ACTIONS, delegatedWebhookPath } from '../../contractors/n8n/delegated-actions.js';
import { readState, updateState, writeState } from '../lab-dir.js';

export const STATE = 'http';

export type Json = Record<string, unknown>;

export interface N8nWorkflowState extends Json {
  id: string;
  name: string;
  active: boolean;
  nodes: Json[];
  connections: Json;
  settings: Json;
  createdAt: string;
  updatedAt: string;
  versionId: string;
}

export interface N8nExecutionState extends Json {
  id: number;
  workflowId: string;
  status: string;
  mode: string;
  startedAt: string;
  stoppedAt: string;
  finished: boolean;
}

export interface Throttle {
  /** Requests still to refuse with a rate-limit answer. */
  count: number;
  retry_after: number;
}

export interface HttpLabState {
  n8n: {
    next_execution: number;
    workflows: N8nWorkflowState[];
    executions: N8nExecutionState[];
    incidents: Record<string, Json>;
    incident_seq: Record<string, number>;
    reviews: Record<string, Json>;
    runbooks: Record<string, Json>;
    monitoring_rules: string[];
    dns: Record<string, Record<string, { type: string; value: string; ttl: number }>>;
    images: Record<string, string>;
  };
  slack: { messages: Json[] };
  pagerduty: { alerts: Json[]; events: number };
  jira: { next_id: number; seq: Record<string, number>; projects: string[]; issues: Json[] };
  /** push_access false: the token can only pull (GitHub drops labels and assignees of the issues it opens). */
  github: { next_id: number; deployments: Json[]; statuses: Json[]; issues: Json[]; comments: Json[]; push_access?: boolean };
  email: { messages: Json[] };
  alertmanager: { alerts: Json[]; silences: Json[] };
  registry: { repositories: Record<string, Record<string, string>> };
  forensics: { next_id: number; captures: Json[]; uploads: Json[] };
  /** Switchable rate limiting per service (setThrottle). */
  throttle: Record<string, Throttle>;
  /** Switchable health per service: prometheus 'starting' (not ready), grafana 'failing' (database). */
  health: Record<string, string>;
}

export function stableId(seed: string, length = 16): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[(bytes[i] as number) % alphabet.length];
  return out;
}

export function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const SEED_TIME = '2026-01-15T00:00:00.000Z';

/** The n8n workflow behind `<n8n>/webhook/cortex/<action>` (answers with the last node's JSON). */
function delegatedWorkflow(action: string): N8nWorkflowState {
  const id = stableId(`cortex-${action}`);
  return {
    id,
    name: `cortex-${action}`,
    active: true,
    isArchived: false,
    createdAt: SEED_TIME,
    updatedAt: SEED_TIME,
    versionId: sha1(`version-${action}`).slice(0, 8) + '-0000-4000-8000-' + sha1(action).slice(0, 12),
    triggerCount: 1,
    nodes: [
      {
        id: sha1(`webhook-${action}`).slice(0, 8),
        name: 'Webhook',
        type: 'n8n-nodes-base.webhook',
        typeVersion: 2,
        position: [0, 0],
        webhookId: sha1(`webhook-id-${action}`).slice(0, 32),
        parameters: { httpMethod: 'POST', path: delegatedWebhookPath(action), responseMode: 'lastNode' },
      },
      {
        id: sha1(`code-${action}`).slice(0, 8),
        name: action,
        type: 'n8n-nodes-base.code',
        typeVersion: 2,
        position: [240, 0],
        parameters: { jsCode: `// ${action}: performed by the lab` },
      },
    ],
    connections: { Webhook: { main: [[{ node: action, type: 'main', index: 0 }]] } },
    settings: { executionOrder: 'v1' },
    staticData: null,
    meta: null,
    pinData: {},
    tags: [{ id: 'cortex', name: 'cortex' }],
  };
}

export function initialHttpState(): HttpLabState {
  return {
    n8n: {
      next_execution: 1,
      workflows: N8N_DELEGATED_ACTIONS.map(delegatedWorkflow),
      executions: [],
      incidents: {},
      incident_seq: {},
      reviews: {},
      runbooks: {},
      monitoring_rules: [],
      dns: {
        'cortex.local': {
          'api.cortex.local': { type: 'A', value: '10.10.1.100', ttl: 300 },
          '*.apps.cortex.local': { type: 'A', value: '10.10.1.100', ttl: 300 },
          'grafana.cortex.local': { type: 'A', value: '10.10.1.100', ttl: 300 },
          'prometheus.cortex.local': { type: 'A', value: '10.10.1.100', ttl: 300 },
          'status.apps.cortex.local': { type: 'A', value: '10.10.1.100', ttl: 300 },
        },
      },
      images: {},
    },
    slack: { messages: [] },
    pagerduty: { alerts: [], events: 0 },
    jira: { next_id: 10000, seq: {}, projects: ['OPS', 'SEC', 'INFRA', 'PLAT', 'DR', 'DEV'], issues: [] },
    github: { next_id: 1000, deployments: [], statuses: [], issues: [], comments: [] },
    email: { messages: [] },
    alertmanager: { alerts: [], silences: [] },
    registry: { repositories: {} },
    forensics: { next_id: 1, captures: [], uploads: [] },
    throttle: {},
    health: {},
  };
}

/** The state with every section present (a state file from an older lab may lack some). */
function complete(s: Partial<HttpLabState>): HttpLabState {
  const init = initialHttpState();
  const out = { ...init, ...s } as HttpLabState;
  out.n8n = { ...init.n8n, ...(s.n8n ?? {}) };
  return out;
}

export function readHttpState(lab: string): HttpLabState {
  return complete(readState<Partial<HttpLabState>>(lab, STATE, initialHttpState));
}

export function updateHttpState<R>(lab: string, fn: (s: HttpLabState) => R): R {
  return updateState<Partial<HttpLabState>, R>(lab, STATE, initialHttpState, (raw) => {
    const s = complete(raw);
    const r = fn(s);
    Object.assign(raw, s);
    return r;
  });
}

export function seedHttpState(lab: string): void {
  writeState(lab, STATE, initialHttpState());
}

/**
 * Switches rate limiting on for a service: its next `count` requests get the service's 429
 * (Slack, Jira, email: Retry-After; PagerDuty: no header; GitHub: 403 x-ratelimit-remaining 0).
 */
export function setThrottle(lab: string, service: string, count: number, retryAfterSeconds = 1): void {
  updateHttpState(lab, (s) => {
    if (count <= 0) delete s.throttle[service];
    else s.throttle[service] = { count, retry_after: retryAfterSeconds };
  });
}

/** Gives the lab GitHub token push access to every repository (true, the default) or pull access only. */
export function setGithubPushAccess(lab: string, push: boolean): void {
  updateHttpState(lab, (s) => {
    if (push) delete s.github.push_access;
    else s.github.push_access = false;
  });
}

/** Sets a service's simulated health: prometheus 'starting' (/-/ready 503), grafana 'failing' (/api/health 503), 'ok'. */
export function setHealth(lab: string, service: string, health: string): void {
  updateHttpState(lab, (s) => {
    if (health === 'ok') delete s.health[service];
    else s.health[service] = health;
  });
}
