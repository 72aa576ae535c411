/**
 * The lab n8n answers as n8n 2.41.3 does, from n8n's own published descriptions: the public API's
 * OpenAPI request schemas (create has no `description`, update has; read-only fields refused) and
 * the node definitions of n8n-nodes-base (types, typeVersions, parameters).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLabConfig } from '../../../../src/lab/lab-dir.js';
import { n8nService } from '../../../../src/lab/http/n8n.js';
import { N8N_NODES_DIGEST, nodeParameterProblems, workflowNodeProblems } from '../../../../src/lab/http/n8n-nodes.js';
import { N8N_API_DIGEST, n8nBodyError } from '../../../../src/lab/http/n8n-schema.js';
import { startService, stopServer, type StartedService } from '../../../../src/lab/http/server.js';
import { seedHttpState } from '../../../../src/lab/http/state.js';

let lab: string;
let svc: StartedService;
const KEY = 'lab-n8n-key';
const headers = { 'x-n8n-api-key': KEY, 'content-type': 'application/json' };

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${svc.url}/api/v1${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const webhook = { name: 'Webhook', type: 'n8n-nodes-base.webhook', typeVersion: 2, position: [0, 0], parameters: { httpMethod: 'POST', path: 'upstream-test', responseMode: 'onReceived' } };
const base = { name: 'upstream-test', nodes: [webhook], connections: {}, settings: { executionOrder: 'v1' } };

beforeAll(async () => {
  lab = mkdtempSync(join(tmpdir(), 'cortex-lab-n8n-'));
  seedHttpState(lab);
  writeLabConfig(lab, { latency: 0 });
  svc = await startService(lab, n8nService(lab, KEY, () => svc.url));
});

afterAll(async () => {
  await stopServer(svc.server);
  rmSync(lab, { recursive: true, force: true });
});

describe('the digests say where they come from', () => {
  it('n8n 2.41.3 public API and n8n-nodes-base 2.41.2', () => {
    expect(N8N_API_DIGEST.source).toMatchObject({ package: 'n8n', version: '2.41.3', file: 'dist/public-api/v1/openapi.yml' });
    expect(N8N_NODES_DIGEST.source).toMatchObject({ package: 'n8n-nodes-base', version: '2.41.2' });
    expect(N8N_NODES_DIGEST.types['n8n-nodes-base.httpRequest']).toEqual([1, 2, 3, 4, 4.1, 4.2, 4.3, 4.4, 4.5]);
  });
});

describe('POST /api/v1/workflows: the published createWorkflow schema', () => {
  it('refuses `description` (the create schema has none) with n8n\'s message', async () => {
    expect(await api('POST', '/workflows', { ...base, description: 'what it does' })).toEqual({ status: 400, body: { message: 'request/body must NOT have additional properties' } });
  });

  it('requires name, nodes, connections and settings; refuses read-only fields', async () => {
    const { settings: _s, ...noSettings } = base;
    expect((await api('POST', '/workflows', noSettings)).body).toEqual({ message: "request/body must have required property 'settings'" });
    for (const field of ['id', 'active', 'createdAt', 'updatedAt', 'isArchived', 'versionId', 'triggerCount', 'tags']) {
      const value = field === 'tags' ? [] : field === 'active' || field === 'isArchived' ? false : field === 'triggerCount' ? 0 : 'x';
      expect((await api('POST', '/workflows', { ...base, [field]: value })).body).toEqual({ message: `request/body/${field} is read-only` });
    }
  });

  it('checks node objects as the node schema does', async () => {
    const at = (node: Record<string, unknown>) => api('POST', '/workflows', { ...base, nodes: [node] });
    expect((await at({ ...webhook, color: 1 })).body).toEqual({ message: 'request/body/nodes/0 must NOT have additional properties' });
    expect((await at({ ...webhook, typeVersion: '2' })).body).toEqual({ message: 'request/body/nodes/0/typeVersion must be number' });
    expect((await at({ ...webhook, position: 'top' })).body).toEqual({ message: 'request/body/nodes/0/position must be array' });
    expect((await at({ ...webhook, parameters: [] })).body).toEqual({ message: 'request/body/nodes/0/parameters must be object' });
    expect((await at({ ...webhook, type: 7 })).body).toEqual({ message: 'request/body/nodes/0/type must be string' });
  });

  it('refuses connections from or to a node that is not in the workflow', async () => {
    const res = await api('POST', '/workflows', { ...base, connections: { Webhook: { main: [[{ node: 'Slack', type: 'main', index: 0 }]] } } });
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('"Slack" is not a node of this workflow');
    const from = await api('POST', '/workflows', { ...base, connections: { Ghost: { main: [[{ node: 'Webhook', type: 'main', index: 0 }]] } } });
    expect(from.body.message).toContain('"Ghost" is not a node of this workflow');
  });
});

describe('PUT and activate/deactivate: their own published schemas', () => {
  it('PUT accepts `description` (the update schema has it) and refuses read-only fields', async () => {
    const created = await api('POST', '/workflows', base);
    expect(created.status).toBe(200);
    const id = created.body.id as string;
    expect(await api('PUT', `/workflows/${id}`, { ...base, description: 'kept by n8n' })).toMatchObject({ status: 200, body: { description: 'kept by n8n' } });
    // A GET body cannot be PUT back as it is.
    const got = await api('GET', `/workflows/${id}`);
    expect((await api('PUT', `/workflows/${id}`, got.body)).body).toEqual({ message: 'request/body/id is read-only' });
  });

  it('activate validates its optional body; deactivate has none', async () => {
    const created = await api('POST', '/workflows', { ...base, name: 'act', nodes: [{ ...webhook, parameters: { ...webhook.parameters, path: 'act' } }] });
    const id = created.body.id as string;
    expect((await api('POST', `/workflows/${id}/activate`, { versionId: 5 })).body).toEqual({ message: 'request/body/versionId must be string' });
    expect(await api('POST', `/workflows/${id}/activate`)).toMatchObject({ status: 200, body: { active: true } });
    expect(await api('POST', `/workflows/${id}/deactivate`, { anything: true })).toMatchObject({ status: 200, body: { active: false } });
  });

  it('activation fails for a node type or typeVersion n8n does not publish', async () => {
    for (const [node, message] of [
      [{ ...webhook, parameters: { path: 'x1' }, type: 'n8n-nodes-base.webhookz' }, 'Unrecognized node type: n8n-nodes-base.webhookz'],
      [{ ...webhook, parameters: { path: 'x2' }, typeVersion: 3 }, 'Unrecognized node type: n8n-nodes-base.webhook has no typeVersion 3 (published: 1, 1.1, 2, 2.1)'],
    ] as const) {
      const created = await api('POST', '/workflows', { ...base, name: String(node.parameters.path), nodes: [node] });
      expect(created.status).toBe(200);
      expect(await api('POST', `/workflows/${created.body.id as string}/activate`)).toEqual({ status: 400, body: { message } });
    }
  });
});

describe('node parameters against the published node descriptions', () => {
  it('names and option values of the node type at its typeVersion', () => {
    const http = { name: 'Probe', type: 'n8n-nodes-base.httpRequest', typeVersion: 4.2, position: [0, 0], parameters: { url: 'https://x', options: {} } };
    expect(nodeParameterProblems(http)).toEqual([]);
    // requestMethod is the v1/v2 name; v4 calls it method.
    expect(nodeParameterProblems({ ...http, parameters: { ...http.parameters, requestMethod: 'POST' } })).toEqual(['node "Probe" (n8n-nodes-base.httpRequest v4.2) parameters/requestMethod is not a parameter here']);
    expect(nodeParameterProblems({ ...http, parameters: { ...http.parameters, method: 'FETCH' } })[0]).toMatch(/parameters\/method must be one of "DELETE", "GET"/);
    expect(nodeParameterProblems({ ...http, parameters: { ...http.parameters, options: { timeout: 'soon' } } })).toEqual(['node "Probe" (n8n-nodes-base.httpRequest v4.2) parameters/options/timeout must be number']);
    // Expressions are not checked.
    expect(nodeParameterProblems({ ...http, parameters: { ...http.parameters, method: '={{ $json.method }}' } })).toEqual([]);
    // responseMode "streaming" exists from Webhook 2.1 on.
    const hook = { ...webhook, parameters: { path: 'p', responseMode: 'streaming' } };
    expect(nodeParameterProblems(hook)).toHaveLength(1);
    expect(nodeParameterProblems({ ...hook, typeVersion: 2.1 })).toEqual([]);
  });

  it('the graph: unique names, [x, y] positions, connections between existing nodes', () => {
    const nodes = [webhook, { ...webhook, position: [1, 2, 3] }];
    expect(workflowNodeProblems(nodes, { Webhook: { main: [[{ node: 'Nope', type: 'main', index: 0 }]] } })).toEqual([
      'nodes/1: the node name "Webhook" is used twice',
      'nodes/1: position must be [x, y]',
      'connections/Webhook/main/0: "Nope" is not a node of this workflow',
    ]);
  });

  it('the schema answer is the first error only, as n8n gives it', () => {
    expect(n8nBodyError('createWorkflow', {})).toBe("request/body must have required property 'name'");
    expect(n8nBodyError('createWorkflow', base)).toBeUndefined();
    expect(n8nBodyError('deactivateWorkflow', { x: 1 })).toBeUndefined();
  });
});
