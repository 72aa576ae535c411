/**
 * create_n8n_workflow, activate_n8n_workflow, deactivate_n8n_workflow, delete_n8n_workflow:
 * the n8n public API (n8n-api.ts).
 */
import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { endpointPlaceholder } from '../endpoints.js';
import { isSuccess, parseJsonBody } from '../http-util.js';
import type { ResolvedConfig } from '../../config/config.js';
import { N8N_API, N8nApi, n8nFailure, webhookUrl, workflowNotFound, type N8nWorkflow } from './n8n-api.js';
import { descriptionNote, handlerGraph, triggerGraph, type GraphContext, type Handler, type N8nConnections, type N8nGraph } from './n8n-graphs.js';

interface CreateParams {
  name: string;
  description?: string;
  webhook_path?: string;
  http_method?: string;
  schedule?: string;
  timezone?: string;
  nodes?: Array<Record<string, unknown>>;
  connections?: Record<string, unknown>;
  settings?: Record<string, unknown>;
  handler?: Handler;
  activate?: boolean;
}

interface RefParams {
  workflow_id?: string;
  name?: string;
  skip?: boolean;
  missing_ok?: boolean;
}

const API = `${endpointPlaceholder('n8n')}${N8N_API}`;

/** What a workflow body needs from the configuration (links in generated graphs). */
type EndpointsConfig = Pick<ResolvedConfig, 'endpoints'>;

/**
 * The nodes and connections: `nodes` as given, else the graph of `handler`, else a lone
 * trigger (Webhook or Schedule Trigger); the description goes into a Sticky Note, since n8n's
 * create schema has no description field.
 */
export function workflowGraph(p: CreateParams, config: EndpointsConfig): N8nGraph {
  const ctx: GraphContext = {
    trigger: { ...(p.webhook_path ? { webhook_path: p.webhook_path, http_method: p.http_method ?? 'POST' } : {}), ...(p.schedule ? { schedule: p.schedule } : {}) },
    ...(config.endpoints.jira?.url ? { jiraUrl: config.endpoints.jira.url } : {}),
    ...(config.endpoints.prometheus?.url ? { prometheusUrl: config.endpoints.prometheus.url } : {}),
  };
  let graph: N8nGraph;
  if (p.nodes) graph = { nodes: p.nodes, connections: (p.connections ?? {}) as N8nConnections };
  else if (p.handler) graph = handlerGraph(p.handler, ctx);
  else if (p.webhook_path || p.schedule) graph = triggerGraph(ctx);
  else {
    throw new ActionFailedError('create_n8n_workflow needs `nodes`, `handler`, `webhook_path` or `schedule` (a workflow without a trigger cannot run)', {
      errorCode: 'invalid_parameters',
      retryable: false,
    });
  }
  if (p.description && !graph.nodes.some((n) => n.type === 'n8n-nodes-base.stickyNote' && n.name === 'Description')) {
    graph = { ...graph, nodes: [...graph.nodes, descriptionNote(p.name, p.description, graph.nodes)] };
  }
  return graph;
}

/** The create/update body: only the fields n8n's createWorkflow schema allows (no description). */
export function workflowBody(p: CreateParams, config: EndpointsConfig): Record<string, unknown> {
  const { nodes, connections } = workflowGraph(p, config);
  const settings: Record<string, unknown> = { executionOrder: 'v1', ...(p.settings ?? {}) };
  if (p.timezone) settings.timezone = p.timezone;
  return { name: p.name, nodes, connections, settings };
}

/** The production webhook path of a workflow: webhook_path, else the first Webhook node's path. */
function webhookPathOf(p: CreateParams, wf: N8nWorkflow): string | undefined {
  if (p.webhook_path) return p.webhook_path.replace(/^\/+/, '');
  const node = (wf.nodes ?? p.nodes ?? []).find((n) => n.type === 'n8n-nodes-base.webhook');
  const path = (node?.parameters as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' && path ? path.replace(/^\/+/, '') : undefined;
}

async function activate(api: N8nApi, id: string): Promise<N8nWorkflow> {
  const res = await api.call('POST', `/workflows/${encodeURIComponent(id)}/activate`, undefined, { repeatable: true });
  if (!isSuccess(res.status)) {
    const f = n8nFailure(`n8n activate workflow ${id}`, res);
    if (res.status === 400) {
      throw new ActionFailedError(f.message, {
        errorCode: 'n8n_activation_failed',
        retryable: false,
        hint: 'a workflow needs a trigger node (Webhook, Schedule...) and a webhook path no other active workflow uses',
      });
    }
    throw f;
  }
  return parseJsonBody(res, 'n8n activate') as N8nWorkflow;
}

export const createN8nWorkflow: ActionImpl = {
  plan(params, ctx) {
    const p = params as unknown as CreateParams;
    const steps: PlannedStep[] = [
      { kind: 'request', method: 'GET', url: `${API}/workflows?name=${encodeURIComponent(p.name)}`, note: 'look up by name' },
      { kind: 'request', method: 'POST', url: `${API}/workflows`, body: workflowBody(p, ctx.config), note: 'PUT /workflows/<id> instead when it exists' },
    ];
    if (p.activate !== false) steps.push({ kind: 'request', method: 'POST', url: `${API}/workflows/<id>/activate` });
    return steps;
  },
  async run(rt) {
    const p = rt.params as unknown as CreateParams;
    const body = workflowBody(p, rt.config);
    const api = await N8nApi.connect(rt);
    const existing = (await api.findByName(p.name))[0];
    // A re-run after an interrupted attempt finds the workflow that attempt created; it is still
    // this action's to delete on rollback.
    const existed = await rt.remember('existed', async () => Boolean(existing));
    let wf: N8nWorkflow;
    if (existing) {
      rt.debug(`n8n workflow "${p.name}" exists (${existing.id}): replacing it`);
      wf = await api.expect<N8nWorkflow>('PUT', `/workflows/${encodeURIComponent(existing.id)}`, body, { what: `n8n PUT workflow ${existing.id}` });
    } else {
      // Not idempotent (names are not unique): only retried when n8n did not act (429/503).
      wf = await api.expect<N8nWorkflow>('POST', '/workflows', body, { repeatable: false, what: 'n8n POST /api/v1/workflows' });
    }
    if (typeof wf.id !== 'string' && typeof wf.id !== 'number') {
      throw new ActionFailedError('n8n answered the create without a workflow id', { errorCode: 'bad_response', retryable: false });
    }
    const id = String(wf.id);
    let active = wf.active === true;
    if (p.activate !== false && !active) active = (await activate(api, id)).active !== false;
    const path = webhookPathOf(p, wf);
    return {
      workflow_id: id,
      name: wf.name ?? p.name,
      webhook_url: path ? webhookUrl(api.baseUrl, path) : null,
      active,
      existed,
    };
  },
};

function refPlan(p: RefParams): { url: string; steps: PlannedStep[] } {
  if (p.workflow_id) return { url: `${API}/workflows/${encodeURIComponent(p.workflow_id)}`, steps: [] };
  return {
    url: `${API}/workflows/<id>`,
    steps: [{ kind: 'request', method: 'GET', url: `${API}/workflows?name=${encodeURIComponent(p.name ?? '')}`, note: 'look up by name' }],
  };
}

async function resolveOrFail(api: N8nApi, p: RefParams): Promise<N8nWorkflow> {
  const wf = await api.resolve(p);
  if (!wf) throw workflowNotFound(p);
  return wf;
}

export const activateN8nWorkflow: ActionImpl = {
  plan(params) {
    const r = refPlan(params as RefParams);
    return [...r.steps, { kind: 'request', method: 'GET', url: r.url }, { kind: 'request', method: 'POST', url: `${r.url}/activate`, note: 'unless already active' }];
  },
  async run(rt) {
    const p = rt.params as RefParams;
    const api = await N8nApi.connect(rt);
    const wf = await resolveOrFail(api, p);
    const id = String(wf.id);
    const wasActive = await rt.remember('was_active', async () => wf.active === true);
    if (wf.active === true) return { workflow_id: id, active: true, was_active: wasActive };
    const after = await activate(api, id);
    return { workflow_id: id, active: after.active !== false, was_active: wasActive };
  },
};

export const deactivateN8nWorkflow: ActionImpl = {
  plan(params) {
    if ((params as RefParams).skip) return [{ kind: 'wait', note: 'skip: nothing to do' }];
    const r = refPlan(params as RefParams);
    return [...r.steps, { kind: 'request', method: 'POST', url: `${r.url}/deactivate` }];
  },
  async run(rt) {
    const p = rt.params as RefParams;
    if (p.skip) return { workflow_id: p.workflow_id ?? null, active: null, was_active: null };
    const api = await N8nApi.connect(rt);
    const wf = await resolveOrFail(api, p);
    const id = String(wf.id);
    const wasActive = await rt.remember('was_active', async () => wf.active === true);
    if (wf.active === true) {
      const after = await api.expect<N8nWorkflow>('POST', `/workflows/${encodeURIComponent(id)}/deactivate`, undefined, {
        repeatable: true,
        what: `n8n deactivate workflow ${id}`,
      });
      return { workflow_id: id, active: after.active === true, was_active: wasActive };
    }
    return { workflow_id: id, active: false, was_active: wasActive };
  },
};

export const deleteN8nWorkflow: ActionImpl = {
  plan(params) {
    if ((params as RefParams).skip) return [{ kind: 'wait', note: 'skip: nothing to do' }];
    const r = refPlan(params as RefParams);
    return [...r.steps, { kind: 'request', method: 'DELETE', url: r.url }];
  },
  async run(rt: ActionRuntime) {
    const p = rt.params as RefParams;
    if (p.skip) return { workflow_id: p.workflow_id ?? null, deleted: false };
    const missingOk = p.missing_ok !== false;
    const api = await N8nApi.connect(rt);
    let id = p.workflow_id;
    if (!id) {
      const wf = await api.resolve(p);
      if (!wf) {
        if (missingOk) return { workflow_id: null, deleted: false };
        throw workflowNotFound(p);
      }
      id = String(wf.id);
    }
    const res = await api.call('DELETE', `/workflows/${encodeURIComponent(id)}`);
    if (res.status === 404) {
      if (missingOk) return { workflow_id: id, deleted: false };
      throw workflowNotFound({ workflow_id: id });
    }
    if (!isSuccess(res.status)) throw n8nFailure(`n8n DELETE workflow ${id}`, res);
    return { workflow_id: id, deleted: true };
  },
};
