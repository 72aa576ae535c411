/**
 * The lab HTTP services, exercised with fetch: real status codes, native error bodies, auth,
 * switchable rate limits, failure injection, recording, persisted state.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJsonLines, writeLabConfig } from '../../../../src/lab/lab-dir.js';
import { HTTP_SERVICES, httpModule } from '../../../../src/lab/http/module.js';
import { readHttpState, setHealth, setThrottle } from '../../../../src/lab/http/state.js';
import type { RunningService } from '../../../../src/lab/module.js';
import { labSecretValue } from '../../../../src/lab/secrets.js';

let lab: string;
let svc: RunningService;
let u: Record<string, string>;

const KEY = labSecretValue('N8N_API_KEY');
const n8nHeaders = { 'x-n8n-api-key': KEY, 'content-type': 'application/json' };
const auth = (name: string) => ({ authorization: `Bearer ${labSecretValue(name)}` });

async function call(url: string, init: RequestInit & { json?: unknown } = {}) {
  const { json, ...rest } = init;
  const res = await fetch(url, { ...rest, ...(json !== undefined ? { body: JSON.stringify(json), headers: { 'content-type': 'application/json', ...(rest.headers as Record<string, string>) } } : {}) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // text
  }
  return { status: res.status, headers: res.headers, text, body: body as Record<string, unknown> & unknown[] };
}

beforeAll(async () => {
  lab = mkdtempSync(join(tmpdir(), 'cortex-lab-http-'));
  httpModule.seed(lab);
  writeLabConfig(lab, { latency: 0, faults: [{ action_id: 'flaky', attempts: 1 }] });
  svc = await (httpModule.start as NonNullable<typeof httpModule.start>)(lab, {});
  u = svc.urls;
});

afterAll(async () => {
  await svc?.stop();
  rmSync(lab, { recursive: true, force: true });
});

describe('lab http module', () => {
  it('starts one server per service, on 127.0.0.1 only', () => {
    expect(Object.keys(u).sort()).toEqual([...HTTP_SERVICES].sort());
    for (const url of Object.values(u)) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(new Set(Object.values(u)).size).toBe(HTTP_SERVICES.length);
  });

  it('is not reachable on any other interface', async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    if (!external) return;
    const port = new URL(u.prometheus as string).port;
    await expect(fetch(`http://${external.address}:${port}/-/healthy`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  });

  it('describe summarises the state', () => {
    const d = (httpModule.describe as NonNullable<typeof httpModule.describe>)(lab) as { n8n: { workflows: string[]; dns: string[] } };
    expect(d.n8n.workflows.find((w) => w.includes('cortex-clone_repository'))).toMatch(/^\w{16} cortex-clone_repository active POST \/webhook\/cortex\/clone_repository$/);
    expect(d.n8n.dns).toContain('cortex.local: api.cortex.local A 10.10.1.100 ttl 300');
  });
});

describe('n8n public API', () => {
  const body = {
    name: 'cortex-alert-relay',
    nodes: [{ name: 'Webhook', type: 'n8n-nodes-base.webhook', typeVersion: 2, position: [0, 0], parameters: { httpMethod: 'POST', path: 'cortex-alert', responseMode: 'onReceived' } }],
    connections: {},
    settings: { executionOrder: 'v1' },
  };

  it('auth: missing header and wrong key are 401 with n8n\'s messages', async () => {
    expect(await call(`${u.n8n}/api/v1/workflows`)).toMatchObject({ status: 401, body: { message: "'X-N8N-API-KEY' header required" } });
    expect(await call(`${u.n8n}/api/v1/workflows`, { headers: { 'x-n8n-api-key': 'nope' } })).toMatchObject({ status: 401, body: { message: 'unauthorized' } });
  });

  it('create = 200 with id and active false; the closed schema rejects read-only, unknown and settings keys', async () => {
    const created = await call(`${u.n8n}/api/v1/workflows`, { method: 'POST', headers: n8nHeaders, json: body });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ name: 'cortex-alert-relay', active: false });
    expect(typeof created.body.id).toBe('string');
    expect((created.body.nodes as Array<{ id?: string; webhookId?: string }>)[0]?.webhookId).toBeTruthy();

    expect((await call(`${u.n8n}/api/v1/workflows`, { method: 'POST', headers: n8nHeaders, json: { ...body, active: true } })).body).toEqual({ message: 'request/body/active is read-only' });
    expect((await call(`${u.n8n}/api/v1/workflows`, { method: 'POST', headers: n8nHeaders, json: { ...body, bogus: 1 } })).body).toEqual({ message: 'request/body must NOT have additional properties' });
    expect((await call(`${u.n8n}/api/v1/workflows`, { method: 'POST', headers: n8nHeaders, json: { ...body, settings: { foo: 1 } } })).body).toEqual({ message: 'request/body/settings must NOT have additional properties' });
    const { settings: _s, ...noSettings } = body;
    expect(await call(`${u.n8n}/api/v1/workflows`, { method: 'POST', headers: n8nHeaders, json: noSettings })).toMatchObject({ status: 400, body: { message: "request/body must have required property 'settings'" } });
    expect(await call(`${u.n8n}/api/v1/workflows`, { method: 'POST', headers: n8nHeaders, body: '{nope' })).toMatchObject({ status: 400, body: { message: 'Invalid JSON in request body' } });
  });

  it('lookup by name with pagination, activate, webhook, deactivate, delete', async () => {
    const list = await call(`${u.n8n}/api/v1/workflows?name=cortex-alert-relay`, { headers: n8nHeaders });
    expect(list.status).toBe(200);
    expect((list.body.data as unknown[]).length).toBe(1);
    const id = (list.body.data as Array<{ id: string }>)[0]?.id as string;

    const page1 = await call(`${u.n8n}/api/v1/workflows?limit=5`, { headers: n8nHeaders });
    expect((page1.body.data as unknown[]).length).toBe(5);
    expect(typeof page1.body.nextCursor).toBe('string');
    const page2 = await call(`${u.n8n}/api/v1/workflows?cursor=${encodeURIComponent(page1.body.nextCursor as string)}`, { headers: n8nHeaders });
    expect((page2.body.data as unknown[]).length).toBe(5);
    expect(await call(`${u.n8n}/api/v1/workflows?limit=251`, { headers: n8nHeaders })).toMatchObject({ status: 400 });

    // Inactive: the production webhook is not registered.
    const before = await call(`${u.n8n}/webhook/cortex-alert`, { method: 'POST', json: { a: 1 } });
    expect(before.status).toBe(404);
    expect(before.body).toMatchObject({ code: 404, message: 'The requested webhook "POST cortex-alert" is not registered.' });

    expect(await call(`${u.n8n}/api/v1/workflows/${id}/activate`, { method: 'POST', headers: n8nHeaders })).toMatchObject({ status: 200, body: { active: true } });
    expect(await call(`${u.n8n}/webhook/cortex-alert`, { method: 'POST', json: { a: 1 } })).toMatchObject({ status: 200, body: { message: 'Workflow was started' } });
    expect((await call(`${u.n8n}/webhook/cortex-alert`)).body).toMatchObject({ code: 404, message: expect.stringContaining('not registered for GET requests') });
    const execs = await call(`${u.n8n}/api/v1/executions?workflowId=${id}`, { headers: n8nHeaders });
    expect(execs.body.data).toEqual([expect.objectContaining({ workflowId: id, mode: 'webhook', status: 'success', finished: true })]);

    // A second workflow on the same path cannot be activated.
    const dup = await call(`${u.n8n}/api/v1/workflows`, { method: 'POST', headers: n8nHeaders, json: { ...body, name: 'dup' } });
    const dupAct = await call(`${u.n8n}/api/v1/workflows/${dup.body.id as string}/activate`, { method: 'POST', headers: n8nHeaders });
    expect(dupAct).toMatchObject({ status: 400, body: { message: expect.stringContaining('is already taken') } });

    expect(await call(`${u.n8n}/api/v1/workflows/${id}/deactivate`, { method: 'POST', headers: n8nHeaders })).toMatchObject({ status: 200, body: { active: false } });
    expect(await call(`${u.n8n}/api/v1/workflows/${id}`, { method: 'DELETE', headers: n8nHeaders })).toMatchObject({ status: 200, body: { id } });
    expect(await call(`${u.n8n}/api/v1/workflows/${id}`, { headers: n8nHeaders })).toMatchObject({ status: 404, body: { message: 'Not Found' } });
  });

  it('a workflow without a trigger cannot be activated', async () => {
    const c = await call(`${u.n8n}/api/v1/workflows`, { method: 'POST', headers: n8nHeaders, json: { ...body, name: 'no-trigger', nodes: [{ name: 'Set', type: 'n8n-nodes-base.set', typeVersion: 3, position: [0, 0], parameters: {} }] } });
    expect(await call(`${u.n8n}/api/v1/workflows/${c.body.id as string}/activate`, { method: 'POST', headers: n8nHeaders })).toMatchObject({
      status: 400,
      body: { message: expect.stringContaining('no node to start the workflow') },
    });
  });
});

describe('n8n delegated workflows', () => {
  const hook = (a: string, parameters: unknown) => call(`${u.n8n}/webhook/cortex/${a}`, { method: 'POST', json: { execution_id: 'e-1', workflow_id: 'w', action_id: 'a', parameters } });

  it('clone_repository makes a real checkout with package.json and a lock file', async () => {
    const r = await hook('clone_repository', { repository: 'cortex-apps/web-api', branch: 'main', ref: 'HEAD' });
    expect(r.status).toBe(200);
    const path = r.body.path as string;
    expect(path).toBe(join(lab, 'files', 'workspace', 'cortex-apps', 'web-api'));
    expect(r.body.commit).toMatch(/^[0-9a-f]{40}$/);
    const pkg = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.test).toBe('node -e ""');
    expect(JSON.parse(readFileSync(join(path, 'package-lock.json'), 'utf8'))).toMatchObject({ lockfileVersion: 3, packages: { '': { name: 'web-api' } } });
    expect(existsSync(join(path, 'Dockerfile'))).toBe(true);
    const again = await hook('clone_repository', { repository: 'https://github.com/cortex-apps/web-api.git', ref: r.body.commit });
    expect(again.body).toMatchObject({ path, commit: r.body.commit });
  });

  it('build, scan, push: digest, counts, registry', async () => {
    const clone = await hook('clone_repository', { repository: 'web-api' });
    const build = await hook('build_docker_image', { context: clone.body.path, tags: ['harbor.cortex.local/web-api:abc', 'harbor.cortex.local/web-api:staging'] });
    expect(build.body).toMatchObject({ image: 'harbor.cortex.local/web-api:abc', digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
    expect(await hook('build_docker_image', { context: '/nonexistent/dir', tags: ['x:1'] })).toMatchObject({ status: 500, body: { code: 500, message: expect.stringContaining('not found') } });
    expect((await hook('security_scan', { image: 'harbor.cortex.local/web-api:abc', severity_threshold: ['HIGH', 'CRITICAL'] })).body).toMatchObject({ passed: true, vulnerabilities: 0, results: { CRITICAL: 0, HIGH: 0 } });
    expect((await hook('security_scan', { image: 'vulnerable-app:1', severity_threshold: 'HIGH' })).body).toMatchObject({ passed: false, vulnerabilities: 4 });
    const push = await hook('push_docker_image', { image: 'harbor.cortex.local/web-api:abc', additional_tags: ['staging'] });
    expect(push.body).toEqual({ image: 'harbor.cortex.local/web-api:abc', digest: build.body.digest });
    const tags = await call(`${u.registry}/v2/web-api/tags/list`, { headers: auth('REGISTRY_TOKEN') });
    expect(tags.body).toEqual({ name: 'web-api', tags: ['abc', 'staging'] });
    const man = await fetch(`${u.registry}/v2/web-api/manifests/abc`, { headers: auth('REGISTRY_TOKEN') });
    expect(man.headers.get('docker-content-digest')).toBe(build.body.digest);
    expect((await call(`${u.registry}/v2/_catalog`)).body).toMatchObject({ errors: [{ code: 'UNAUTHORIZED' }] });
  });

  it('incident lifecycle: SEC-<date>-<seq>, correlation, review booked once, close', async () => {
    const inc = await hook('create_incident_record', { title: 't', severity: 'high' });
    expect(inc.body.incident_id).toMatch(/^SEC-\d{8}-001$/);
    expect((await hook('create_incident_record', {})).body.incident_id).toMatch(/^SEC-\d{8}-002$/);
    expect((await hook('correlate_security_events', { log_source: 's3://x' })).body).toMatchObject({ attack_vector: expect.any(String), scope: 'single_system', timeline: expect.any(Array) });
    const id = inc.body.incident_id as string;
    const r1 = await hook('schedule_post_incident_review', { incident_id: id });
    expect(await hook('schedule_post_incident_review', { incident_id: id })).toMatchObject({ body: r1.body });
    expect((await hook('close_incident', { incident_id: id, resolution: 'remediated' })).body).toMatchObject({ incident_id: id, status: 'closed' });
    expect(await hook('close_incident', { incident_id: 'SEC-00000000-999', resolution: 'remediated' })).toMatchObject({ status: 404, body: { code: 404, message: 'Incident SEC-00000000-999 not found' } });
  });

  it('update_dns_records returns previous records (deletions for new names) and guards old_value', async () => {
    const r = await hook('update_dns_records', { zone: 'cortex.local', records: [{ name: 'api.cortex.local', type: 'A', value: '10.20.1.100', old_value: '10.10.1.100', ttl: 60 }, { name: 'new.cortex.local', value: '10.20.1.5' }] });
    expect(r.body).toEqual({
      updated: ['api.cortex.local', 'new.cortex.local'],
      previous_records: [{ name: 'api.cortex.local', type: 'A', value: '10.10.1.100', ttl: 300 }, { name: 'new.cortex.local', type: 'A', delete: true }],
    });
    expect(await hook('update_dns_records', { zone: 'cortex.local', records: [{ name: 'api.cortex.local', value: '1.1.1.1', old_value: '9.9.9.9' }] })).toMatchObject({ status: 409 });
    // The compensation writes the previous records back.
    await hook('update_dns_records', { zone: 'cortex.local', records: r.body.previous_records });
    expect(readHttpState(lab).n8n.dns['cortex.local']?.['api.cortex.local']).toEqual({ type: 'A', value: '10.10.1.100', ttl: 300 });
    expect(readHttpState(lab).n8n.dns['cortex.local']?.['new.cortex.local']).toBeUndefined();
  });

  it('every delegated action answers; unknown actions are not registered', async () => {
    for (const [a, p] of Object.entries({
      enable_debug_logging: { targets: ['worker-3'], duration: 7200 },
      aggregate_logs: { sources: ['loki', 'falco'], output: 's3://f/logs/' },
      check_indicators_of_compromise: {},
      generate_investigation_report: { incident_id: 'SEC-1', output: 's3://f/r.pdf' },
      enhance_monitoring: { new_rules: ['r1', { name: 'r2' }], alert_thresholds: { cpu: 90 } },
      update_incident_runbooks: { runbook: 'node_compromise', lessons_learned: 's3://r' },
    })) {
      const r = await hook(a, p);
      expect(r.status, a).toBe(200);
    }
    expect(await hook('no_such_action', {})).toMatchObject({ status: 404, body: { code: 404 } });
  });
});

describe('Slack, PagerDuty, Jira, GitHub, email', () => {
  it('Slack: 200 ok text/plain; invalid_payload / no_text tokens; duplicates kept', async () => {
    const ok = await call(`${u.slack}/services/T1/B1/x`, { method: 'POST', json: { text: 'hello' } });
    expect(ok).toMatchObject({ status: 200, text: 'ok' });
    expect(ok.headers.get('content-type')).toContain('text/plain');
    await call(`${u.slack}/services/T1/B1/x`, { method: 'POST', json: { text: 'hello' } });
    expect(await call(u.slack as string, { method: 'POST', body: 'not json', headers: { 'content-type': 'application/json' } })).toMatchObject({ status: 400, text: 'invalid_payload' });
    expect(await call(u.slack as string, { method: 'POST', json: { channel: '#x' } })).toMatchObject({ status: 400, text: 'no_text' });
    expect(readHttpState(lab).slack.messages.filter((m) => m.text === 'hello')).toHaveLength(2);
  });

  it('PagerDuty: 202 with dedup_key, validation errors, dedup by key, resolve', async () => {
    const rk = labSecretValue('PAGERDUTY_ROUTING_KEY');
    const ev = { routing_key: rk, event_action: 'trigger', dedup_key: 'cortex/w/e1', payload: { summary: 's', source: 'cortex', severity: 'critical' } };
    expect(await call(`${u.pagerduty}/v2/enqueue`, { method: 'POST', json: ev })).toMatchObject({ status: 202, body: { status: 'success', message: 'Event processed', dedup_key: 'cortex/w/e1' } });
    await call(`${u.pagerduty}/v2/enqueue`, { method: 'POST', json: ev });
    let alerts = readHttpState(lab).pagerduty.alerts.filter((a) => a.dedup_key === 'cortex/w/e1');
    expect(alerts).toEqual([expect.objectContaining({ status: 'triggered', count: 2 })]);
    await call(`${u.pagerduty}/v2/enqueue`, { method: 'POST', json: { routing_key: rk, event_action: 'resolve', dedup_key: 'cortex/w/e1' } });
    alerts = readHttpState(lab).pagerduty.alerts.filter((a) => a.dedup_key === 'cortex/w/e1');
    expect(alerts).toEqual([expect.objectContaining({ status: 'resolved' })]);

    const bad = await call(`${u.pagerduty}/v2/enqueue`, { method: 'POST', json: { routing_key: rk, event_action: 'trigger', payload: { summary: 's', severity: 'urgent' } } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ status: 'invalid event', message: 'Event object is invalid' });
    // PagerDuty's published enqueue schema, then its documented rules.
    expect(bad.body.errors).toEqual(['/payload/source is required', '/payload/severity must be equal to one of the allowed values: "critical", "warning", "error", "info"']);
    expect((await call(`${u.pagerduty}/v2/enqueue`, { method: 'POST', json: { ...ev, routing_key: 'wrong' } })).body.errors).toEqual(["/routing_key Length of 'routing_key' is incorrect (should be 32 characters)"]);
    expect((await call(`${u.pagerduty}/v2/enqueue`, { method: 'POST', json: { ...ev, routing_key: 'x'.repeat(32) } })).body.errors).toEqual(['Invalid routing key']);
    expect((await call(`${u.pagerduty}/v2/enqueue`, { method: 'POST', json: { routing_key: rk, event_action: 'resolve' } })).body.errors).toEqual(['/dedup_key is required for resolve']);
    expect((await call(`${u.pagerduty}/v2/enqueue`, { method: 'POST', json: { routing_key: rk, event_action: 'trigger' } })).body.errors).toEqual(['/payload is required for trigger']);
    expect((await call(`${u.pagerduty}/v2/enqueue`, { method: 'POST', json: { ...ev, links: [{ text: 'no href' }] } })).body.errors).toEqual(['/links/0/href is required']);
  });

  it('Jira: 401 without credentials, Basic and Bearer accepted, 201 {id,key,self}, field errors, search by label', async () => {
    const fields = { project: { key: 'OPS' }, summary: 'cluster ready', issuetype: { name: 'Task' }, labels: ['cortex-e1-a1'] };
    expect(await call(`${u.jira}/rest/api/2/issue`, { method: 'POST', json: { fields } })).toMatchObject({ status: 401, body: { errorMessages: ['Client must be authenticated to access this resource.'] } });
    const basic = { authorization: `Basic ${Buffer.from(`ops@example.com:${labSecretValue('JIRA_API_TOKEN')}`).toString('base64')}` };
    const created = await call(`${u.jira}/rest/api/2/issue`, { method: 'POST', headers: basic, json: { fields } });
    expect(created).toMatchObject({ status: 201, body: { key: expect.stringMatching(/^OPS-\d+$/), id: expect.any(String) } });
    expect(created.body.self).toBe(`${u.jira}/rest/api/2/issue/${created.body.id as string}`);
    const invalid = await call(`${u.jira}/rest/api/2/issue`, { method: 'POST', headers: auth('JIRA_API_TOKEN'), json: { fields: { project: { key: 'NOPE' }, issuetype: { name: 'Task' }, labels: ['a b'] } } });
    expect(invalid).toMatchObject({
      status: 400,
      body: { errorMessages: [], errors: { project: 'valid project is required', summary: 'You must specify a summary of the issue.', labels: "The label 'a b' contains spaces which is invalid." } },
    });
    const v3 = await call(`${u.jira}/rest/api/3/issue`, { method: 'POST', headers: auth('JIRA_API_TOKEN'), json: { fields: { ...fields, description: 'plain' } } });
    expect(v3.body).toMatchObject({ errors: { description: expect.stringContaining('Atlassian Document') } });
    const jql = encodeURIComponent('labels = "cortex-e1-a1"');
    const found = await call(`${u.jira}/rest/api/3/search/jql?jql=${jql}&fields=summary`, { headers: auth('JIRA_API_TOKEN') });
    expect(found.body).toMatchObject({ isLast: true, issues: [{ id: created.body.id, key: created.body.key }] });
    // Without `fields`, search/jql answers ids only.
    expect((await call(`${u.jira}/rest/api/3/search/jql?jql=${jql}`, { headers: auth('JIRA_API_TOKEN') })).body).toEqual({ isLast: true, issues: [{ id: created.body.id }] });
    // The search endpoints Atlassian removed in 2025 answer 410 Gone, GET and POST, v2 and v3.
    const removed = { errorMessages: [expect.stringMatching(/^The requested API has been removed\. Please migrate to the \/rest\/api\/3\/search\/jql API\./)], errors: {} };
    for (const v of ['2', '3']) {
      expect(await call(`${u.jira}/rest/api/${v}/search?jql=${jql}`, { headers: auth('JIRA_API_TOKEN') })).toMatchObject({ status: 410, body: removed });
      expect(await call(`${u.jira}/rest/api/${v}/search`, { method: 'POST', headers: auth('JIRA_API_TOKEN'), json: { jql: 'labels = x' } })).toMatchObject({ status: 410, body: removed });
    }
  });

  it('GitHub: User-Agent, version and token checks; deployment 201; status enum 422; list by ref', async () => {
    const h = { ...auth('GITHUB_TOKEN'), 'user-agent': 'cortex', accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' };
    expect(await call(`${u.github}/repos/o/r/deployments`, { method: 'POST', headers: { ...h, 'user-agent': '' }, json: { ref: 'main' } })).toMatchObject({ status: 403 });
    expect(await call(`${u.github}/repos/o/r/deployments`, { method: 'POST', headers: { ...h, 'x-github-api-version': '1999-01-01' }, json: { ref: 'main' } })).toMatchObject({ status: 400 });
    expect(await call(`${u.github}/repos/o/r/deployments`, { method: 'POST', headers: { ...h, authorization: 'Bearer bad' }, json: { ref: 'main' } })).toMatchObject({ status: 401, body: { message: 'Bad credentials' } });
    expect(await call(`${u.github}/repos/o/r/deployments`, { method: 'POST', headers: h, json: {} })).toMatchObject({ status: 422 });
    const d = await call(`${u.github}/repos/o/r/deployments`, { method: 'POST', headers: h, json: { ref: 'main', environment: 'staging', required_contexts: [] } });
    expect(d).toMatchObject({ status: 201, body: { ref: 'main', environment: 'staging', sha: expect.stringMatching(/^[0-9a-f]{40}$/) } });
    const bad = await call(`${u.github}/repos/o/r/deployments/${d.body.id as number}/statuses`, { method: 'POST', headers: h, json: { state: 'done' } });
    expect(bad).toMatchObject({ status: 422, body: { message: 'Validation Failed', errors: [{ resource: 'DeploymentStatus', field: 'state' }] } });
    expect(await call(`${u.github}/repos/o/r/deployments/${d.body.id as number}/statuses`, { method: 'POST', headers: h, json: { state: 'success' } })).toMatchObject({ status: 201, body: { state: 'success' } });
    expect(await call(`${u.github}/repos/o/r/deployments/999999/statuses`, { method: 'POST', headers: h, json: { state: 'success' } })).toMatchObject({ status: 404, body: { message: 'Not Found' } });
    expect((await call(`${u.github}/repos/o/r/deployments?ref=main&environment=staging`, { headers: h })).body).toHaveLength(1);
  });

  it('email relay: 202 queued, 401, 400', async () => {
    expect(await call(`${u.email}/api/v1/send`, { method: 'POST', json: { subject: 's', text: 't' } })).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
    expect(await call(`${u.email}/api/v1/send`, { method: 'POST', headers: auth('EMAIL_API_KEY'), json: { subject: 's', text: 't' } })).toMatchObject({ status: 202, body: { status: 'queued', recipients: ['ops@cortex.local'] } });
    expect(await call(`${u.email}/api/v1/send`, { method: 'POST', headers: auth('EMAIL_API_KEY'), json: { text: 't' } })).toMatchObject({ status: 400, body: { error: 'subject is required' } });
  });
});

describe('monitoring and forensics', () => {
  it('Prometheus/Alertmanager/Grafana health texts; switchable readiness', async () => {
    expect(await call(`${u.prometheus}/-/healthy`)).toMatchObject({ status: 200, text: 'Prometheus Server is Healthy.\n' });
    expect(await call(`${u.prometheus}/-/ready`)).toMatchObject({ status: 200, text: 'Prometheus Server is Ready.\n' });
    setHealth(lab, 'prometheus', 'starting');
    expect(await call(`${u.prometheus}/-/ready`)).toMatchObject({ status: 503, text: 'Service Unavailable' });
    setHealth(lab, 'prometheus', 'ok');
    expect(await call(`${u.alertmanager}/-/healthy`)).toMatchObject({ status: 200, text: 'OK' });
    const g = await call(`${u.grafana}/api/health`);
    expect(g).toMatchObject({ status: 200, body: { database: 'ok', version: '11.2.0' } });
    expect(g.text).toContain('\n  "database"');
    setHealth(lab, 'grafana', 'failing');
    expect(await call(`${u.grafana}/api/health`)).toMatchObject({ status: 503, body: { database: 'failing' } });
    setHealth(lab, 'grafana', 'ok');
    expect(await call(`${u.grafana}/api/search`)).toMatchObject({ status: 401, body: { message: 'Unauthorized' } });
    expect(await call(`${u.grafana}/api/search`, { headers: auth('GRAFANA_TOKEN') })).toMatchObject({ status: 200 });
  });

  it('Alertmanager: POST alerts 200 empty, 400 string for missing labels, GET alerts, status, silences', async () => {
    const post = await call(`${u.alertmanager}/api/v2/alerts`, { method: 'POST', json: [{ labels: { alertname: 'CortexTest', severity: 'warning' }, annotations: { summary: 's' } }] });
    expect(post).toMatchObject({ status: 200, text: '' });
    expect(await call(`${u.alertmanager}/api/v2/alerts`, { method: 'POST', json: [{ annotations: {} }] })).toMatchObject({ status: 400, body: '0.labels in body is required' });
    expect((await call(`${u.alertmanager}/api/v2/alerts`)).body).toEqual([expect.objectContaining({ labels: { alertname: 'CortexTest', severity: 'warning' }, status: expect.objectContaining({ state: 'active' }) })]);
    expect((await call(`${u.alertmanager}/api/v2/status`)).body).toMatchObject({ cluster: { status: 'ready' } });
    const now = Date.now();
    const sil = await call(`${u.alertmanager}/api/v2/silences`, {
      method: 'POST',
      json: { matchers: [{ name: 'stack', value: 'monitoring', isRegex: false }], startsAt: new Date(now).toISOString(), endsAt: new Date(now + 3600_000).toISOString(), createdBy: 'cortex', comment: 'c' },
    });
    expect(sil).toMatchObject({ status: 200, body: { silenceID: expect.any(String) } });
    expect((await call(`${u.alertmanager}/api/v2/silence/${sil.body.silenceID as string}`)).body).toMatchObject({ status: { state: 'active' } });
    expect(await call(`${u.alertmanager}/api/v2/silences`, { method: 'POST', json: { matchers: [] } })).toMatchObject({ status: 400 });
  });

  it('forensics: start (201), reuse (200), stop, upload', async () => {
    const h = auth('FORENSICS_TOKEN');
    const body = { node: 'pve-01', interface: 'tap121i0', output: 's3://f/inc/pcap/', duration: 3600, vmid: 121 };
    expect(await call(`${u.forensics}/api/v1/captures`, { method: 'POST', json: body })).toMatchObject({ status: 401 });
    const c = await call(`${u.forensics}/api/v1/captures`, { method: 'POST', headers: h, json: body });
    expect(c).toMatchObject({ status: 201, body: { status: 'running', node: 'pve-01', interface: 'tap121i0', location: expect.stringMatching(/^s3:\/\/f\/inc\/pcap\/cap-\d+\.pcap$/) } });
    expect(await call(`${u.forensics}/api/v1/captures`, { method: 'POST', headers: h, json: body })).toMatchObject({ status: 200, body: { id: c.body.id } });
    expect(await call(`${u.forensics}/api/v1/captures/${c.body.id as string}/stop`, { method: 'POST', headers: h })).toMatchObject({ status: 200, body: { status: 'stopped' } });
    expect(await call(`${u.forensics}/api/v1/captures/${c.body.id as string}/stop`, { method: 'POST', headers: h })).toMatchObject({ status: 200, body: { status: 'stopped' } });
    expect(await call(`${u.forensics}/api/v1/captures/cap-9999`, { headers: h })).toMatchObject({ status: 404, body: { error: 'capture cap-9999 not found' } });
    const up = await call(`${u.forensics}/api/v1/uploads?location=${encodeURIComponent('s3://f/inc/k8s-state/pods.json')}`, { method: 'PUT', headers: h, body: '{"items":[]}' });
    expect(up).toMatchObject({ status: 201, body: { location: 's3://f/inc/k8s-state/pods.json', bytes: 12 } });
    expect(readFileSync(join(lab, 'files', 'forensics', 'f', 'inc', 'k8s-state', 'pods.json'), 'utf8')).toBe('{"items":[]}');
  });
});

describe('rate limiting, failure injection, recording', () => {
  it('switchable throttling: Slack and Jira 429 + Retry-After, PagerDuty 429, GitHub 403 x-ratelimit-remaining 0', async () => {
    setThrottle(lab, 'slack', 1, 3);
    const s = await call(u.slack as string, { method: 'POST', json: { text: 'x' } });
    expect(s).toMatchObject({ status: 429, text: 'rate_limited' });
    expect(s.headers.get('retry-after')).toBe('3');
    expect(await call(u.slack as string, { method: 'POST', json: { text: 'x' } })).toMatchObject({ status: 200 });
    setThrottle(lab, 'jira', 1, 2);
    const jr = await call(`${u.jira}/rest/api/3/search/jql?jql=x`, { headers: auth('JIRA_API_TOKEN') });
    expect(jr.status).toBe(429);
    expect(jr.headers.get('retry-after')).toBe('2');
    setThrottle(lab, 'pagerduty', 1);
    const pd = await call(`${u.pagerduty}/v2/enqueue`, { method: 'POST', json: {} });
    expect(pd.status).toBe(429);
    expect(pd.headers.get('retry-after')).toBeNull();
    setThrottle(lab, 'github', 1, 5);
    const gh = await call(`${u.github}/user`, { headers: { ...auth('GITHUB_TOKEN'), 'user-agent': 'x' } });
    expect(gh.status).toBe(403);
    expect(gh.headers.get('x-ratelimit-remaining')).toBe('0');
  });

  it('failure injection answers 503 in each service\'s native shape for the faulty action\'s first attempt only', async () => {
    const f = (attempt: number) => ({ 'x-cortex-action': 'flaky', 'x-cortex-attempt': String(attempt), 'x-cortex-execution': 'exec-1' });
    expect(await call(u.slack as string, { method: 'POST', headers: f(1), json: { text: 'x' } })).toMatchObject({ status: 503, text: 'service_unavailable' });
    expect(await call(`${u.n8n}/webhook/cortex/close_incident`, { method: 'POST', headers: f(1), json: {} })).toMatchObject({ status: 503, body: { code: 503, message: 'Service Unavailable' } });
    expect(await call(`${u.jira}/rest/api/2/search`, { headers: f(1) })).toMatchObject({ status: 503, body: { errorMessages: ['Service Unavailable'] } });
    expect(await call(`${u.prometheus}/-/healthy`, { headers: f(1) })).toMatchObject({ status: 503 });
    expect(await call(`${u.prometheus}/-/healthy`, { headers: f(2) })).toMatchObject({ status: 200 });
  });

  it('records every request with action, attempt and lab secrets masked', () => {
    const lines = readJsonLines<{ service: string; method: string; path: string; status: number; action: string | null; body: unknown }>(join(lab, 'requests.jsonl'));
    expect(lines.length).toBeGreaterThan(50);
    expect(lines.find((l) => l.service === 'slack' && l.status === 503)).toMatchObject({ action: 'flaky', attempt: 1, execution: 'exec-1' });
    const text = readFileSync(join(lab, 'requests.jsonl'), 'utf8');
    expect(text).not.toMatch(/lab-secret-/);
    expect(text).toContain('"routing_key":"***"');
  });

  it('state persists in <lab>/state/http.json', () => {
    const raw = JSON.parse(readFileSync(join(lab, 'state', 'http.json'), 'utf8')) as { n8n: { workflows: Array<{ name: string }> } };
    expect(raw.n8n.workflows.some((w) => w.name === 'dup')).toBe(true);
  });
});
