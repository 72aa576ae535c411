import { describe, expect, it } from 'vitest';
import { N8N_DELEGATED_ACTIONS } from '../../../../src/contractors/n8n/delegated-actions.js';
import { IMPLEMENTATIONS } from '../../../../src/contractors/n8n/index.js';
import { N8N_SPECS } from '../../../../src/contractors/n8n/specs.js';
import { bodyOf, calls, impl, j, leakedSecrets, publicHeaders, routedHttp, runAction } from './helpers.js';

const HOOK = (a: string) => `https://n8n.example.com/webhook/cortex/${a}`;

describe('n8n-delegated actions', () => {
  it('covers exactly the specs that say n8n performs them, and every n8n-contractor spec has an implementation', () => {
    const viaN8n = N8N_SPECS.filter((s) => s.summary.includes('Performed by n8n')).map((s) => s.name);
    expect([...N8N_DELEGATED_ACTIONS].sort()).toEqual(viaN8n.sort());
    expect(Object.keys(IMPLEMENTATIONS).sort()).toEqual(N8N_SPECS.map((s) => s.name).sort());
  });

  it('POSTs {execution_id, workflow_id, action_id, parameters} and reads the declared outputs', async () => {
    const http = routedHttp([['POST', HOOK('clone_repository'), j(200, { path: '/ci/workspace/cortex-apps/web-api', commit: 'a'.repeat(40), branch: 'main', extra: 1 })]]);
    const r = await runAction('clone_repository', { repository: 'cortex-apps/web-api', ref: 'HEAD' }, http, { actionId: 'clone-repo' });
    expect(r.outputs).toEqual({ path: '/ci/workspace/cortex-apps/web-api', commit: 'a'.repeat(40), branch: 'main' });
    expect(calls(r.requests)).toEqual([`POST ${HOOK('clone_repository')}`]);
    // The API key is for the REST API only; webhooks do not get it.
    expect(publicHeaders(r.requests[0])).toEqual({ 'content-type': 'application/json', accept: 'application/json' });
    expect(bodyOf(r.requests[0])).toEqual({
      execution_id: 'deploy-20261125-120000-abcd',
      workflow_id: 'app-deployment',
      action_id: 'clone-repo',
      parameters: { repository: 'cortex-apps/web-api', ref: 'HEAD', branch: 'main', depth: 1, submodules: false },
    });
    expect(leakedSecrets(r.attempt)).toEqual([]);
  });

  it('missing declared outputs are null; an array answer uses its first item', async () => {
    const http = routedHttp([['POST', HOOK('create_incident_record'), j(200, [{ incident_id: 'SEC-20261125-001' }])]]);
    const r = await runAction('create_incident_record', { title: 't' }, http);
    expect(r.outputs).toEqual({ incident_id: 'SEC-20261125-001', url: null, created_at: null });
    expect(r.debug.some((d) => d.includes('lacks url, created_at'))).toBe(true);
  });

  it('404 means the n8n workflow is missing or inactive', async () => {
    const http = routedHttp([['POST', HOOK('aggregate_logs'), j(404, { code: 404, message: 'The requested webhook "POST cortex/aggregate_logs" is not registered.', hint: 'The workflow must be active' })]]);
    const r = await runAction('aggregate_logs', { sources: ['loki'] }, http);
    expect(r.error?.errorCode).toBe('n8n_webhook_not_registered');
    expect(r.error?.retryable).toBe(false);
    expect(r.error?.message).toContain('is not registered.; hint: The workflow must be active');
    expect(r.error?.hint).toContain('cortex/aggregate_logs');
  });

  it('a 404 the workflow itself answered is not "webhook missing"', async () => {
    const http = routedHttp([['POST', HOOK('close_incident'), j(404, { code: 404, message: 'Incident SEC-9 not found' })]]);
    const r = await runAction('close_incident', { incident_id: 'SEC-9', resolution: 'remediated' }, http);
    expect(r.error?.errorCode).toBe('n8n_request_rejected');
    expect(r.error?.message).toBe('n8n close_incident failed (404): Incident SEC-9 not found');
    expect(r.error?.retryable).toBe(false);
  });

  it('an n8n error body {code, message, hint} with 2xx fails the action', async () => {
    const http = routedHttp([['POST', HOOK('close_incident'), j(200, { code: 0, message: 'Incident SEC-1 not found' })]]);
    const r = await runAction('close_incident', { incident_id: 'SEC-1', resolution: 'remediated' }, http);
    expect(r.error?.errorCode).toBe('n8n_workflow_failed');
    expect(r.error?.message).toContain('Incident SEC-1 not found');
  });

  it('"Workflow was started" means the webhook answers immediately: a clear failure', async () => {
    const http = routedHttp([['POST', HOOK('enable_debug_logging'), j(200, { message: 'Workflow was started' })]]);
    const r = await runAction('enable_debug_logging', { targets: ['worker-3'] }, http);
    expect(r.error?.errorCode).toBe('n8n_bad_response');
    expect(r.error?.hint).toContain('When last node finishes');
  });

  it('a 500 with the n8n error shape is retried (idempotent), honouring Retry-After, then reported', async () => {
    const http = routedHttp([['POST', HOOK('push_docker_image'), j(503, { code: 503, message: 'Service Unavailable' }, { 'retry-after': '3' }), j(500, { code: 500, message: 'push failed: denied' })]]);
    const r = await runAction('push_docker_image', { image: 'harbor.cortex.local/a/b:1' }, http);
    expect(r.requests).toHaveLength(4);
    expect(r.sleeps).toEqual([3000, 2000, 4000]);
    expect(r.error?.errorCode).toBe('n8n_workflow_failed');
    expect(r.error?.message).toBe('n8n push_docker_image failed (500): push failed: denied');
    expect(r.error?.retryable).toBe(true);
  });

  it('security_scan that did not pass fails when fail_on_vulnerabilities (default), passes through otherwise', async () => {
    const answer = j(200, { results: { CRITICAL: 1, HIGH: 2 }, passed: false, vulnerabilities: 3, report_url: 'https://n8n/r/1' });
    const failing = await runAction('security_scan', { image: 'x:1', severity_threshold: ['HIGH', 'CRITICAL'] }, routedHttp([['POST', HOOK('security_scan'), answer]]));
    expect(failing.error?.errorCode).toBe('vulnerabilities_found');
    expect(failing.error?.message).toContain('found 3 vulnerabilities');
    const lenient = await runAction('security_scan', { image: 'x:1', fail_on_vulnerabilities: false }, routedHttp([['POST', HOOK('security_scan'), answer]]));
    expect(lenient.outputs?.passed).toBe(false);
  });

  it('a non-JSON answer is n8n_bad_response', async () => {
    const r = await runAction('close_incident', { incident_id: 'S', resolution: 'remediated' }, routedHttp([['POST', HOOK('close_incident'), { status: 200, body: '<html>' }]]));
    expect(r.error?.errorCode).toBe('n8n_bad_response');
  });

  it('plan names the webhook and the body', async () => {
    const steps = (await impl('update_dns_records')).plan({ zone: 'cortex.local', records: [{ name: 'a', value: '1' }] }, { config: {} as never, executionId: 'e', workflowId: 'w', actionId: 'a', contractor: 'n8n-contractor' });
    expect(steps).toEqual([
      { kind: 'request', method: 'POST', url: '<endpoints.n8n>/webhook/cortex/update_dns_records', body: { execution_id: 'e', workflow_id: 'w', action_id: 'a', parameters: { zone: 'cortex.local', records: [{ name: 'a', value: '1' }] } } },
    ]);
  });
});

describe('trigger_n8n_webhook', () => {
  it('POSTs the payload to the production URL and parses JSON', async () => {
    const http = routedHttp([['POST', 'https://n8n.example.com/webhook/k8s-deploy-prod', j(200, { message: 'Workflow was started' })]]);
    const r = await runAction('trigger_n8n_webhook', { path: 'k8s-deploy-prod', payload: { dry_run: true } }, http);
    expect(r.outputs).toEqual({ status: 200, body: '{"message":"Workflow was started"}', json: { message: 'Workflow was started' } });
    expect(bodyOf(r.requests[0])).toEqual({ dry_run: true });
    expect(r.requests[0]?.headers?.['x-n8n-api-key']).toBeUndefined();
  });

  it('GET sends the payload as a query string', async () => {
    const http = routedHttp([['GET', 'https://n8n.example.com/webhook/status?q=1&obj=%7B%22a%22%3A1%7D', { status: 200, body: 'fine' }]]);
    const r = await runAction('trigger_n8n_webhook', { path: '/status', method: 'GET', payload: { q: '1', obj: { a: 1 } } }, http);
    expect(r.outputs).toEqual({ status: 200, body: 'fine', json: null });
  });

  it('404 is n8n_webhook_not_registered; a 500 is not re-posted', async () => {
    const nf = await runAction('trigger_n8n_webhook', { path: 'x' }, routedHttp([['POST', /webhook\/x$/, j(404, { code: 404, message: 'The requested webhook "POST x" is not registered.' })]]));
    expect(nf.error?.errorCode).toBe('n8n_webhook_not_registered');
    const http = routedHttp([['POST', /webhook\/x$/, j(500, { message: 'Error in workflow' })]]);
    const se = await runAction('trigger_n8n_webhook', { path: 'x' }, http);
    expect(http.requests).toHaveLength(1);
    expect(se.error?.errorCode).toBe('http_server_error');
  });

  it('expected_status and expect_json are honoured', async () => {
    const r = await runAction('trigger_n8n_webhook', { path: 'x', expected_status: [200, 202], expect_json: true }, routedHttp([['POST', /webhook\/x$/, { status: 202, body: 'accepted' }]]));
    expect(r.error?.errorCode).toBe('bad_response');
  });
});
