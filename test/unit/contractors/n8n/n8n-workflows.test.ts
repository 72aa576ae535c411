import { describe, expect, it } from 'vitest';
import { n8nBodyError } from '../../../../src/lab/http/n8n-schema.js';
import { SECRETS, bodyOf, calls, j, leakedSecrets, publicHeaders, routedHttp, runAction } from './helpers.js';

const API = 'https://n8n.example.com/api/v1';
const LOOKUP = (name: string, cursor?: string) =>
  `${API}/workflows?name=${encodeURIComponent(name).replace(/%20/g, '+')}&limit=250&excludePinnedData=true${cursor ? `&cursor=${cursor}` : ''}`;
const wf = (over: Record<string, unknown> = {}) => ({ id: 'Wf1', name: 'critical-alert-handler', active: false, nodes: [], connections: {}, settings: {}, ...over });

describe('create_n8n_workflow', () => {
  it('looks the name up, creates with only the fields n8n\'s create schema has (the description in a Sticky Note), activates, and returns the production webhook URL', async () => {
    const http = routedHttp([
      ['GET', LOOKUP('critical-alert-handler'), j(200, { data: [], nextCursor: null })],
      ['POST', `${API}/workflows`, j(200, wf())],
      ['POST', `${API}/workflows/Wf1/activate`, j(200, wf({ active: true }))],
    ]);
    const r = await runAction('create_n8n_workflow', { name: 'critical-alert-handler', description: 'Alertmanager receiver', webhook_path: 'critical-alerts', http_method: 'POST' }, http);
    expect(r.error).toBeUndefined();
    expect(r.outputs).toEqual({ workflow_id: 'Wf1', name: 'critical-alert-handler', webhook_url: 'https://n8n.example.com/webhook/critical-alerts', active: true, existed: false });
    expect(calls(r.requests)).toEqual([`GET ${LOOKUP('critical-alert-handler')}`, `POST ${API}/workflows`, `POST ${API}/workflows/Wf1/activate`]);
    expect(r.requests[1]?.headers?.['x-n8n-api-key']).toBe(SECRETS.N8N_API_KEY);
    expect(publicHeaders(r.requests[1])).toEqual({ 'content-type': 'application/json', accept: 'application/json', 'x-n8n-api-key': '<secret>' });
    expect(bodyOf(r.requests[1])).toEqual({
      name: 'critical-alert-handler',
      nodes: [
        { name: 'Webhook', type: 'n8n-nodes-base.webhook', typeVersion: 2, position: [0, 0], parameters: { httpMethod: 'POST', path: 'critical-alerts', responseMode: 'onReceived', options: {} } },
        { name: 'Description', type: 'n8n-nodes-base.stickyNote', typeVersion: 1, position: [0, -260], parameters: { content: '## critical-alert-handler\nAlertmanager receiver', height: 200, width: 480, color: 7 } },
      ],
      connections: {},
      settings: { executionOrder: 'v1' },
    });
    // What n8n 2.41.3 accepts: its published createWorkflow schema, the node definitions.
    expect(n8nBodyError('createWorkflow', bodyOf(r.requests[1]))).toBeUndefined();
    expect(leakedSecrets(r.attempt)).toEqual([]);
  });

  it('a schedule becomes a Schedule Trigger with settings.timezone', async () => {
    const http = routedHttp([
      ['GET', /\/workflows\?/, j(200, { data: [] })],
      ['POST', `${API}/workflows`, j(200, wf({ id: 'S1', name: 'etcd-backup' }))],
    ]);
    await runAction('create_n8n_workflow', { name: 'etcd-backup', schedule: '0 2 * * *', timezone: 'UTC', activate: false }, http);
    expect(bodyOf(http.requests[1])).toMatchObject({
      nodes: [{ type: 'n8n-nodes-base.scheduleTrigger', parameters: { rule: { interval: [{ field: 'cronExpression', expression: '0 2 * * *' }] } } }],
      settings: { executionOrder: 'v1', timezone: 'UTC' },
    });
    expect(http.requests).toHaveLength(2);
  });

  it('follows nextCursor while looking up and replaces (PUT) an existing workflow instead of creating a second', async () => {
    const http = routedHttp([
      ['GET', LOOKUP('critical-alert-handler'), j(200, { data: [wf({ id: 'Other', name: 'critical-alert-handler-old' })], nextCursor: 'abc' })],
      ['GET', LOOKUP('critical-alert-handler', 'abc'), j(200, { data: [wf({ active: true })], nextCursor: null })],
      ['PUT', `${API}/workflows/Wf1`, j(200, wf({ active: true }))],
    ]);
    const r = await runAction('create_n8n_workflow', { name: 'critical-alert-handler', webhook_path: 'critical-alerts' }, http);
    expect(r.outputs).toMatchObject({ workflow_id: 'Wf1', existed: true, active: true });
    expect(calls(r.requests)).toEqual([`GET ${LOOKUP('critical-alert-handler')}`, `GET ${LOOKUP('critical-alert-handler', 'abc')}`, `PUT ${API}/workflows/Wf1`]);
  });

  it('retries a create only on 503 (n8n did not act), never on 500', async () => {
    const http503 = routedHttp([
      ['GET', /\/workflows\?/, j(200, { data: [] })],
      ['POST', `${API}/workflows`, j(503, { message: 'Service Unavailable' }), j(200, wf())],
      ['POST', `${API}/workflows/Wf1/activate`, j(200, wf({ active: true }))],
    ]);
    const ok = await runAction('create_n8n_workflow', { name: 'x', webhook_path: 'x' }, http503);
    expect(ok.outputs?.workflow_id).toBe('Wf1');
    expect(http503.requests.filter((q) => q.method === 'POST' && q.url.endsWith('/workflows'))).toHaveLength(2);

    const http500 = routedHttp([
      ['GET', /\/workflows\?/, j(200, { data: [] })],
      ['POST', `${API}/workflows`, j(500, { message: 'boom' })],
    ]);
    const bad = await runAction('create_n8n_workflow', { name: 'x', webhook_path: 'x' }, http500);
    expect(http500.requests.filter((q) => q.method === 'POST')).toHaveLength(1);
    expect(bad.error?.message).toBe('n8n POST /api/v1/workflows answered 500: boom');
    expect(bad.error?.retryable).toBe(true);
  });

  it('a 400 from the validator is reported verbatim', async () => {
    const http = routedHttp([
      ['GET', /\/workflows\?/, j(200, { data: [] })],
      ['POST', `${API}/workflows`, j(400, { message: 'request/body/settings must NOT have additional properties' })],
    ]);
    const r = await runAction('create_n8n_workflow', { name: 'x', webhook_path: 'x', settings: { bogus: true } }, http);
    expect(r.error?.errorCode).toBe('http_invalid_request');
    expect(r.error?.message).toContain('request/body/settings must NOT have additional properties');
  });

  it('activation refused (400) is not retryable and explains why', async () => {
    const http = routedHttp([
      ['GET', /\/workflows\?/, j(200, { data: [] })],
      ['POST', `${API}/workflows`, j(200, wf())],
      ['POST', `${API}/workflows/Wf1/activate`, j(400, { message: 'Workflow has no node to start the workflow' })],
    ]);
    const r = await runAction('create_n8n_workflow', { name: 'x', webhook_path: 'x' }, http);
    expect(r.error?.errorCode).toBe('n8n_activation_failed');
    expect(r.error?.retryable).toBe(false);
  });

  it('a wrong API key is n8n_unauthorized', async () => {
    const http = routedHttp([['GET', /\/workflows\?/, j(401, { message: 'unauthorized' })]]);
    const r = await runAction('create_n8n_workflow', { name: 'x', webhook_path: 'x' }, http);
    expect(r.error?.errorCode).toBe('n8n_unauthorized');
    expect(leakedSecrets(r.error?.message)).toEqual([]);
  });

  it('needs a trigger: nodes, webhook_path or schedule', async () => {
    const r = await runAction('create_n8n_workflow', { name: 'x' }, routedHttp([]));
    expect(r.error?.errorCode).toBe('invalid_parameters');
  });
});

describe('activate / deactivate / delete', () => {
  it('activate by name: already active means no POST and was_active true', async () => {
    const http = routedHttp([['GET', /\/workflows\?name=h/, j(200, { data: [wf({ name: 'h', active: true })] })]]);
    const r = await runAction('activate_n8n_workflow', { name: 'h' }, http);
    expect(r.outputs).toEqual({ workflow_id: 'Wf1', active: true, was_active: true });
    expect(http.requests).toHaveLength(1);
  });

  it('activate by id posts /activate', async () => {
    const http = routedHttp([
      ['GET', `${API}/workflows/Wf1`, j(200, wf())],
      ['POST', `${API}/workflows/Wf1/activate`, j(200, wf({ active: true }))],
    ]);
    const r = await runAction('activate_n8n_workflow', { workflow_id: 'Wf1' }, http);
    expect(r.outputs).toEqual({ workflow_id: 'Wf1', active: true, was_active: false });
  });

  it('activate of a missing workflow fails with n8n_workflow_not_found', async () => {
    const http = routedHttp([['GET', `${API}/workflows/nope`, j(404, { message: 'Not Found' })]]);
    const r = await runAction('activate_n8n_workflow', { workflow_id: 'nope' }, http);
    expect(r.error?.errorCode).toBe('n8n_workflow_not_found');
  });

  it('deactivate posts /deactivate only when active; skip does nothing', async () => {
    const http = routedHttp([
      ['GET', `${API}/workflows/Wf1`, j(200, wf({ active: true }))],
      ['POST', `${API}/workflows/Wf1/deactivate`, j(200, wf({ active: false }))],
    ]);
    expect((await runAction('deactivate_n8n_workflow', { workflow_id: 'Wf1' }, http)).outputs).toEqual({ workflow_id: 'Wf1', active: false, was_active: true });
    const skip = routedHttp([]);
    expect((await runAction('deactivate_n8n_workflow', { workflow_id: 'Wf1', skip: true }, skip)).outputs).toEqual({ workflow_id: 'Wf1', active: null, was_active: null });
    expect(skip.requests).toHaveLength(0);
  });

  it('delete: 200 deleted; 404 with missing_ok is deleted false; without missing_ok it fails', async () => {
    const ok = routedHttp([['DELETE', `${API}/workflows/Wf1`, j(200, wf())]]);
    expect((await runAction('delete_n8n_workflow', { workflow_id: 'Wf1' }, ok)).outputs).toEqual({ workflow_id: 'Wf1', deleted: true });
    const gone = routedHttp([['DELETE', `${API}/workflows/Wf1`, j(404, { message: 'Not Found' })]]);
    expect((await runAction('delete_n8n_workflow', { workflow_id: 'Wf1' }, gone)).outputs).toEqual({ workflow_id: 'Wf1', deleted: false });
    const strict = routedHttp([['DELETE', `${API}/workflows/Wf1`, j(404, { message: 'Not Found' })]]);
    expect((await runAction('delete_n8n_workflow', { workflow_id: 'Wf1', missing_ok: false }, strict)).error?.errorCode).toBe('n8n_workflow_not_found');
  });

  it('delete retries a 502 (DELETE is safe to repeat)', async () => {
    const http = routedHttp([['DELETE', `${API}/workflows/Wf1`, j(502, { message: 'Bad Gateway' }), j(200, wf())]]);
    const r = await runAction('delete_n8n_workflow', { workflow_id: 'Wf1' }, http);
    expect(r.outputs?.deleted).toBe(true);
    expect(r.sleeps).toEqual([1000]);
  });
});
