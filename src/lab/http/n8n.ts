/**
 * Lab n8n (HTTP-APIS.md §1): the public API under /api/v1 (X-N8N-API-KEY; workflows CRUD with
 * the closed OpenAPI schemas, activate/deactivate, executions list) and production webhooks at
 * /webhook/<path> for active workflows. The seeded workflows `cortex-<action>` answer
 * /webhook/cortex/<action> with the action's outputs (n8n-delegated.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { delegatedHandler } from './n8n-delegated.js';
import { graphProblems, nodeTypeProblem } from './n8n-nodes.js';
import { n8nBodyError } from './n8n-schema.js';
import { headerOf, json, LabHttpError, nowIso, type LabReply, type LabRequest, type ServiceDef } from './server.js';
import { readHttpState, updateHttpState, type HttpLabState, type Json, type N8nWorkflowState } from './state.js';

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * n8n's answer to a workflow create/update body: the first error of its published schema (as
 * n8n reports it), then the lab's own graph check (connections between existing nodes, [x, y]
 * positions), which n8n would only trip over when the workflow runs.
 */
export function workflowBodyError(op: 'createWorkflow' | 'updateWorkflow', body: unknown): string | undefined {
  const schemaError = n8nBodyError(op, body);
  if (schemaError) return schemaError;
  const b = body as Json;
  const problems = graphProblems(b.nodes as unknown[], b.connections);
  return problems.length ? `request/body: ${problems.join('; ')}` : undefined;
}

function isTrigger(node: Json): boolean {
  if (node.disabled === true) return false;
  const type = String(node.type ?? '');
  if (type === 'n8n-nodes-base.manualTrigger') return false;
  return type === 'n8n-nodes-base.webhook' || /trigger$/i.test(type) || type === 'n8n-nodes-base.cron' || type === 'n8n-nodes-base.interval';
}

/** Webhooks of a workflow: `${METHOD} ${path}` (n8n's Webhook node defaults to GET). */
export function webhooksOf(wf: N8nWorkflowState): Array<{ method: string; path: string; node: Json }> {
  return (wf.nodes ?? [])
    .filter((n) => n.type === 'n8n-nodes-base.webhook' && n.disabled !== true)
    .map((n) => {
      const p = (n.parameters ?? {}) as Json;
      return { method: String(p.httpMethod ?? 'GET').toUpperCase(), path: String(p.path ?? '').replace(/^\/+/, ''), node: n };
    })
    .filter((w) => w.path);
}

function publicWorkflow(wf: N8nWorkflowState): Json {
  return { ...wf };
}

function prepareNodes(nodes: Json[]): Json[] {
  return nodes.map((n) => ({
    ...n,
    id: typeof n.id === 'string' && n.id ? n.id : randomUUID(),
    ...(n.type === 'n8n-nodes-base.webhook' && !n.webhookId ? { webhookId: randomUUID() } : {}),
    parameters: isObject(n.parameters) ? n.parameters : {},
  }));
}

function newWorkflowId(s: HttpLabState): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  for (;;) {
    const id = [...randomBytes(16)].map((b) => alphabet[b % alphabet.length]).join('');
    if (!s.n8n.workflows.some((w) => w.id === id)) return id;
  }
}

const NOT_FOUND: LabReply = json(404, { message: 'Not Found' });

function encodeCursor(offset: number, limit: number): string {
  return Buffer.from(JSON.stringify({ offset, limit })).toString('base64');
}

function decodeCursor(c: string | null): { offset: number; limit?: number } {
  if (!c) return { offset: 0 };
  try {
    const v = JSON.parse(Buffer.from(c, 'base64').toString('utf8')) as { offset?: number; limit?: number };
    return { offset: Number(v.offset) || 0, ...(v.limit ? { limit: v.limit } : {}) };
  } catch {
    throw new LabHttpError(400, 'An invalid cursor was provided');
  }
}

function page<T>(items: T[], q: URLSearchParams): LabReply {
  const rawLimit = q.get('limit');
  const cur = decodeCursor(q.get('cursor'));
  const limit = rawLimit ? Number(rawLimit) : (cur.limit ?? 100);
  if (!Number.isInteger(limit) || limit < 1) return json(400, { message: 'request/query/limit must be >= 1' });
  if (limit > 250) return json(400, { message: 'request/query/limit must be <= 250' });
  const data = items.slice(cur.offset, cur.offset + limit);
  const next = cur.offset + limit < items.length ? encodeCursor(cur.offset + limit, limit) : null;
  return json(200, { data, nextCursor: next });
}

function activationProblem(s: HttpLabState, wf: N8nWorkflowState): string | undefined {
  for (const node of wf.nodes ?? []) {
    const problem = node.disabled === true ? undefined : nodeTypeProblem(node);
    if (problem) return problem;
  }
  if (!(wf.nodes ?? []).some(isTrigger)) {
    return 'Workflow has no node to start the workflow - at least one trigger, poller or webhook node is required';
  }
  for (const hook of webhooksOf(wf)) {
    const taken = s.n8n.workflows.find((o) => o.id !== wf.id && o.active && webhooksOf(o).some((h) => h.method === hook.method && h.path === hook.path));
    if (taken) return `The URL path that the "${String(hook.node.name)}" node uses is already taken. Please change it to something else.`;
  }
  return undefined;
}

function api(lab: string, req: LabRequest): LabReply {
  const rest = req.path.slice('/api/v1'.length) || '/';
  const parts = rest.split('/').filter(Boolean);
  const bodyCheck = (op: 'createWorkflow' | 'updateWorkflow' | 'activateWorkflow'): LabReply | undefined => {
    if (req.jsonError) return json(400, { message: 'Invalid JSON in request body' });
    const ct = headerOf(req, 'content-type') ?? '';
    if (req.body && !ct.includes('json')) return json(415, { message: 'Unsupported Media Type' });
    const error = op === 'activateWorkflow' ? n8nBodyError(op, req.json) : workflowBodyError(op, req.json);
    return error ? json(400, { message: error }) : undefined;
  };

  if (parts[0] === 'workflows') {
    if (parts.length === 1 && req.method === 'GET') {
      const s = readHttpState(lab);
      const q = req.query;
      let list = s.n8n.workflows;
      const active = q.get('active');
      if (active === 'true' || active === 'false') list = list.filter((w) => w.active === (active === 'true'));
      const name = q.get('name');
      if (name) list = list.filter((w) => w.name === name);
      const query = q.get('query');
      if (query) list = list.filter((w) => w.name.toLowerCase().includes(query.toLowerCase()));
      const tags = q.get('tags');
      if (tags) {
        const want = tags.split(',');
        list = list.filter((w) => ((w.tags as Json[] | undefined) ?? []).some((t) => want.includes(String(t.name))));
      }
      return page(list.map(publicWorkflow), q);
    }
    if (parts.length === 1 && req.method === 'POST') {
      const bad = bodyCheck('createWorkflow');
      if (bad) return bad;
      const body = req.json as Json;
      return updateHttpState(lab, (s) => {
        const now = nowIso();
        const wf: N8nWorkflowState = {
          id: newWorkflowId(s),
          name: body.name as string,
          active: false,
          isArchived: false,
          createdAt: now,
          updatedAt: now,
          versionId: randomUUID(),
          triggerCount: 0,
          nodes: prepareNodes(body.nodes as Json[]),
          connections: body.connections as Json,
          settings: body.settings as Json,
          staticData: body.staticData ?? null,
          meta: null,
          pinData: body.pinData ?? {},
          tags: [],
        };
        s.n8n.workflows.push(wf);
        return json(200, publicWorkflow(wf));
      });
    }
    const id = parts[1] as string;
    if (parts.length === 2) {
      if (req.method === 'GET') {
        const wf = readHttpState(lab).n8n.workflows.find((w) => w.id === id);
        return wf ? json(200, publicWorkflow(wf)) : NOT_FOUND;
      }
      if (req.method === 'PUT') {
        const bad = bodyCheck('updateWorkflow');
        if (bad) return bad;
        const body = req.json as Json;
        return updateHttpState(lab, (s) => {
          const wf = s.n8n.workflows.find((w) => w.id === id);
          if (!wf) return NOT_FOUND;
          for (const k of ['description', 'staticData', 'pinData']) delete wf[k];
          Object.assign(wf, {
            name: body.name,
            ...(body.description !== undefined ? { description: body.description } : {}),
            nodes: prepareNodes(body.nodes as Json[]),
            connections: body.connections,
            settings: body.settings,
            staticData: body.staticData ?? null,
            pinData: body.pinData ?? {},
            updatedAt: nowIso(),
            versionId: randomUUID(),
          });
          if (wf.active && activationProblem(s, wf)) wf.active = false;
          return json(200, publicWorkflow(wf));
        });
      }
      if (req.method === 'DELETE') {
        return updateHttpState(lab, (s) => {
          const i = s.n8n.workflows.findIndex((w) => w.id === id);
          if (i < 0) return NOT_FOUND;
          const [wf] = s.n8n.workflows.splice(i, 1);
          return json(200, publicWorkflow(wf as N8nWorkflowState));
        });
      }
    }
    if (parts.length === 3 && req.method === 'POST' && (parts[2] === 'activate' || parts[2] === 'deactivate')) {
      // deactivate has no request body in the spec: n8n ignores whatever is sent.
      const bad = parts[2] === 'activate' ? bodyCheck('activateWorkflow') : undefined;
      if (bad) return bad;
      return updateHttpState(lab, (s) => {
        const wf = s.n8n.workflows.find((w) => w.id === id);
        if (!wf) return NOT_FOUND;
        if (parts[2] === 'activate') {
          const problem = activationProblem(s, wf);
          if (problem) return json(400, { message: problem });
          wf.active = true;
          wf.triggerCount = (wf.nodes ?? []).filter(isTrigger).length;
        } else {
          wf.active = false;
          wf.triggerCount = 0;
        }
        wf.updatedAt = nowIso();
        return json(200, publicWorkflow(wf));
      });
    }
    return NOT_FOUND;
  }

  if (parts[0] === 'executions') {
    const s = readHttpState(lab);
    if (parts.length === 1 && req.method === 'GET') {
      let list = [...s.n8n.executions].sort((a, b) => b.id - a.id);
      const wid = req.query.get('workflowId');
      if (wid) list = list.filter((e) => e.workflowId === wid);
      const status = req.query.get('status');
      if (status) list = list.filter((e) => e.status === status);
      return page(
        list.map(({ data: _data, ...e }) => e),
        req.query,
      );
    }
    if (parts.length === 2 && req.method === 'GET') {
      const e = s.n8n.executions.find((x) => String(x.id) === parts[1]);
      if (!e) return NOT_FOUND;
      if (req.query.get('includeData') === 'true') return json(200, e);
      const { data: _data, ...rest } = e;
      return json(200, rest);
    }
    return NOT_FOUND;
  }
  return NOT_FOUND;
}

const WEBHOOK_HINT =
  "The workflow must be active for a production URL to run successfully. You can activate the workflow using the toggle in the top-right of the editor. Note that unlike test URL calls, production URL calls aren't shown on the canvas (only in the executions list)";

async function webhook(lab: string, req: LabRequest, selfUrl: () => string): Promise<LabReply> {
  const path = req.path.slice('/webhook/'.length).replace(/\/+$/, '');
  const s = readHttpState(lab);
  const candidates = s.n8n.workflows.filter((w) => w.active).flatMap((w) => webhooksOf(w).map((h) => ({ ...h, wf: w })));
  const onPath = candidates.filter((c) => c.path === path);
  const match = onPath.find((c) => c.method === req.method);
  if (!match) {
    if (onPath.length) {
      const methods = [...new Set(onPath.map((c) => c.method))];
      return json(404, { code: 404, message: `This webhook is not registered for ${req.method} requests. Did you mean to make a ${methods.join(' or ')} request?` });
    }
    return json(404, { code: 404, message: `The requested webhook "${req.method} ${path}" is not registered.`, hint: WEBHOOK_HINT });
  }
  const mode = String((match.node.parameters as Json | undefined)?.responseMode ?? 'onReceived');
  const started = nowIso();
  let reply: LabReply;
  let status = 'success';
  if (mode === 'onReceived') {
    reply = json(200, { message: 'Workflow was started' });
  } else {
    const action = path.startsWith('cortex/') ? path.slice('cortex/'.length) : undefined;
    const handler = action ? delegatedHandler(action) : undefined;
    if (!handler) {
      reply = json(200, isObject(req.json) ? req.json : {});
    } else {
      try {
        if (req.jsonError || !isObject(req.json)) throw new LabHttpError(400, 'Expected a JSON object body {execution_id, workflow_id, action_id, parameters}');
        const body = req.json;
        const params = isObject(body.parameters) ? body.parameters : {};
        reply = json(200, await handler({ lab, params, meta: body, selfUrl: selfUrl() }));
      } catch (e) {
        status = 'error';
        const err = e instanceof LabHttpError ? e : new LabHttpError(500, e instanceof Error ? e.message : String(e));
        reply = json(err.status >= 400 && err.status < 600 ? err.status : 500, { code: err.status, message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
      }
    }
  }
  updateHttpState(lab, (st) => {
    st.n8n.executions.push({
      id: st.n8n.next_execution++,
      finished: status === 'success',
      mode: 'webhook',
      status,
      startedAt: started,
      stoppedAt: nowIso(),
      workflowId: match.wf.id,
      waitTill: null,
      retryOf: null,
      retrySuccessId: null,
      customData: req.action ? { cortex_action: req.action } : {},
    });
    // Keep the list small: the last 500 executions.
    if (st.n8n.executions.length > 500) st.n8n.executions.splice(0, st.n8n.executions.length - 500);
  });
  return reply;
}

export function n8nService(lab: string, apiKey: string, selfUrl: () => string): ServiceDef {
  return {
    name: 'n8n',
    latencyMs: 5,
    unavailable: (req) => (req.path.startsWith('/webhook') ? json(503, { code: 503, message: 'Service Unavailable' }) : json(503, { message: 'Service Unavailable' })),
    isOpen: (req) => !req.path.startsWith('/api/'),
    authorize(req) {
      const key = headerOf(req, 'x-n8n-api-key');
      if (!key) return json(401, { message: "'X-N8N-API-KEY' header required" });
      if (key !== apiKey) return json(401, { message: 'unauthorized' });
      return undefined;
    },
    async handle(req) {
      if (req.path === '/healthz') return json(200, { status: 'ok' });
      if (req.path.startsWith('/api/v1/') || req.path === '/api/v1') return api(lab, req);
      if (req.path.startsWith('/webhook/')) return webhook(lab, req, selfUrl);
      if (req.path.startsWith('/webhook-test/')) {
        const path = req.path.slice('/webhook-test/'.length);
        return json(404, {
          code: 404,
          message: `The requested webhook "${path}" is not registered.`,
          hint: "Click the 'Execute workflow' button on the canvas, then try again. (In test mode, the webhook only works for one call after you click this button)",
        });
      }
      return json(404, { message: 'Not Found' });
    },
  };
}
