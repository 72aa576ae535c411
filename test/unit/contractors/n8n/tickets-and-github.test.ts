import { describe, expect, it } from 'vitest';
import { observationStore } from '../runtime-helper.js';
import { SECRETS, bodyOf, calls, j, leakedSecrets, publicHeaders, routedHttp, runAction } from './helpers.js';

const JIRA = 'https://ops.atlassian.net';
const LABEL = 'cortex-deploy-20261125-120000-abcd-ticket';
const SEARCH = `${JIRA}/rest/api/3/search/jql?jql=labels+%3D+%22${LABEL}%22&maxResults=1&fields=summary`;
const LEGACY_SEARCH = `${JIRA}/rest/api/2/search?jql=labels+%3D+%22${LABEL}%22&maxResults=1&fields=summary`;
const GH = 'https://api.github.com/repos/cortex-apps/web-api';

describe('create_ticket (Jira)', () => {
  const params = { project: 'OPS', summary: 'Workflow Execution: Build - prod ready', description: 'details', labels: ['cortex', 'new-cluster'], priority: 'High' };

  it('searches the per-run label first, then POSTs a v2 issue with Basic auth (201)', async () => {
    const http = routedHttp([
      ['GET', SEARCH, j(200, { startAt: 0, total: 0, issues: [] })],
      ['POST', `${JIRA}/rest/api/2/issue`, j(201, { id: '10024', key: 'OPS-24', self: `${JIRA}/rest/api/2/issue/10024` })],
    ]);
    const r = await runAction('create_ticket', params, http, { actionId: 'ticket' });
    expect(r.outputs).toEqual({ key: 'OPS-24', id: '10024', url: `${JIRA}/browse/OPS-24`, created: true });
    expect(calls(r.requests)).toEqual([`GET ${SEARCH}`, `POST ${JIRA}/rest/api/2/issue`]);
    expect(r.requests[1]?.headers?.authorization).toBe(`Basic ${Buffer.from(`cortex@example.com:${SECRETS.JIRA_TOKEN}`).toString('base64')}`);
    expect(publicHeaders(r.requests[1])).toEqual({ 'content-type': 'application/json', accept: 'application/json', authorization: '<secret>' });
    expect(bodyOf(r.requests[1])).toEqual({
      fields: {
        project: { key: 'OPS' },
        summary: 'Workflow Execution: Build - prod ready',
        issuetype: { name: 'Task' },
        description: 'details',
        labels: ['cortex', 'new-cluster', LABEL],
        priority: { name: 'High' },
      },
    });
    expect(leakedSecrets(r.attempt)).toEqual([]);
  });

  it('Data Center (no search/jql: 404) searches /rest/api/2/search instead', async () => {
    const http = routedHttp([
      ['GET', SEARCH, j(404, { errorMessages: ['null for uri: /rest/api/3/search/jql'], errors: {} })],
      ['GET', LEGACY_SEARCH, j(200, { total: 1, issues: [{ id: '10024', key: 'OPS-24' }] })],
    ]);
    const r = await runAction('create_ticket', params, http, { actionId: 'ticket' });
    expect(r.outputs).toMatchObject({ key: 'OPS-24', created: false });
    expect(calls(r.requests)).toEqual([`GET ${SEARCH}`, `GET ${LEGACY_SEARCH}`]);
  });

  it('search/jql answers ids only: the key is read from the issue', async () => {
    const http = routedHttp([
      ['GET', SEARCH, j(200, { issues: [{ id: '10024' }], isLast: true })],
      ['GET', `${JIRA}/rest/api/2/issue/10024?fields=summary`, j(200, { id: '10024', key: 'OPS-24', fields: { summary: 's' } })],
    ]);
    const r = await runAction('create_ticket', params, http, { actionId: 'ticket' });
    expect(r.outputs).toEqual({ key: 'OPS-24', id: '10024', url: `${JIRA}/browse/OPS-24`, created: false });
  });

  it('after an attempt that sent the create, an empty search/jql (eventually consistent) is repeated before creating again', async () => {
    // Attempt 1 recorded that it reached the create; its answer was lost. Jira indexes the issue late.
    const late = routedHttp([
      ['GET', SEARCH, j(200, { issues: [], isLast: true }), j(200, { issues: [], isLast: true }), j(200, { issues: [{ id: '10024', key: 'OPS-24' }], isLast: true })],
    ]);
    const r = await runAction('create_ticket', params, late, { actionId: 'ticket', attempt: 2, observed: observationStore({ jira_create_attempt: 1 }) });
    expect(r.outputs).toMatchObject({ key: 'OPS-24', created: false });
    expect(r.sleeps).toEqual([2000, 4000]);
    expect(late.requests.filter((q) => q.method === 'POST')).toEqual([]);
    expect(r.debug.join('\n')).toMatch(/eventually consistent/);

    // Never found: it creates after the waits; a first attempt creates at once.
    const never = routedHttp([['GET', SEARCH, j(200, { issues: [] })], ['POST', `${JIRA}/rest/api/2/issue`, j(201, { id: '1', key: 'OPS-1' })]]);
    const r2 = await runAction('create_ticket', params, never, { actionId: 'ticket', attempt: 2, observed: observationStore({ jira_create_attempt: 1 }) });
    expect(r2.outputs).toMatchObject({ key: 'OPS-1', created: true });
    expect(r2.sleeps).toEqual([2000, 4000, 8000, 16000]);
    const first = routedHttp([['GET', SEARCH, j(200, { issues: [] })], ['POST', `${JIRA}/rest/api/2/issue`, j(201, { id: '1', key: 'OPS-1' })]]);
    expect((await runAction('create_ticket', params, first, { actionId: 'ticket' })).sleeps).toEqual([]);
  });

  it('a retry finds the issue by its label and creates nothing', async () => {
    const http = routedHttp([['GET', SEARCH, j(200, { total: 1, issues: [{ id: '10024', key: 'OPS-24' }] })]]);
    const r = await runAction('create_ticket', params, http, { actionId: 'ticket' });
    expect(r.outputs).toEqual({ key: 'OPS-24', id: '10024', url: `${JIRA}/browse/OPS-24`, created: false });
    expect(http.requests).toHaveLength(1);
  });

  it('waits Retry-After on a 429 create, never re-POSTs after a 500', async () => {
    const throttled = routedHttp([
      ['GET', SEARCH, j(200, { issues: [] })],
      ['POST', `${JIRA}/rest/api/2/issue`, j(429, { errorMessages: ['Rate limit exceeded.'], errors: {} }, { 'retry-after': '5' }), j(201, { id: '1', key: 'OPS-1' })],
    ]);
    const ok = await runAction('create_ticket', params, throttled, { actionId: 'ticket' });
    expect(ok.outputs?.key).toBe('OPS-1');
    expect(ok.sleeps).toEqual([5000]);

    const broken = routedHttp([
      ['GET', SEARCH, j(200, { issues: [] })],
      ['POST', `${JIRA}/rest/api/2/issue`, j(500, { errorMessages: ['Internal server error'], errors: {} })],
    ]);
    const bad = await runAction('create_ticket', params, broken, { actionId: 'ticket' });
    expect(broken.requests.filter((q) => q.method === 'POST')).toHaveLength(1);
    expect(bad.error?.retryable).toBe(true);
  });

  it('400 shows Jira\'s field errors; 401 says what to check', async () => {
    const invalid = await runAction(
      'create_ticket',
      params,
      routedHttp([
        ['GET', SEARCH, j(200, { issues: [] })],
        ['POST', `${JIRA}/rest/api/2/issue`, j(400, { errorMessages: [], errors: { summary: 'You must specify a summary of the issue.' } })],
      ]),
      { actionId: 'ticket' },
    );
    expect(invalid.error?.errorCode).toBe('jira_invalid_issue');
    expect(invalid.error?.message).toContain('summary: You must specify a summary of the issue.');
    const unauth = await runAction('create_ticket', params, routedHttp([['GET', SEARCH, j(401, { errorMessages: ['Client must be authenticated to access this resource.'], errors: {} })]]), { actionId: 'ticket' });
    expect(unauth.error?.errorCode).toBe('jira_unauthorized');
    expect(unauth.error?.hint).toContain('endpoints.jira');
  });

  it('Bearer (Data Center PAT) when the endpoint has no user', async () => {
    const http = routedHttp([
      ['GET', /search/, j(200, { issues: [] })],
      ['POST', /issue$/, j(201, { id: '1', key: 'OPS-1' })],
    ]);
    await runAction('create_ticket', params, http, { config: { endpoints: { jira: { url: JIRA, secret: 'JIRA_TOKEN' } } } });
    expect(http.requests[1]?.headers?.authorization).toBe(`Bearer ${SECRETS.JIRA_TOKEN}`);
  });
});

describe('create_ticket (GitHub)', () => {
  const RECENT = `${GH}/issues?state=all&sort=created&direction=desc&per_page=100`;
  const MARKER = '<!-- cortex:deploy-20261125-120000-abcd/ticket -->';

  it('looks for its body marker among the newest issues (not a label: GitHub may drop labels), then creates the issue', async () => {
    const http = routedHttp([
      ['GET', RECENT, j(200, [{ id: 1, number: 11, body: 'other <!-- cortex:deploy-20261125-120000-abcd/other -->' }])],
      ['POST', `${GH}/issues`, j(201, { id: 555, number: 12, html_url: 'https://github.com/cortex-apps/web-api/issues/12', labels: [] })],
    ]);
    const r = await runAction('create_ticket', { system: 'github', project: 'cortex-apps/web-api', summary: 'Fail back', description: 'details', assignee: 'octocat' }, http, { actionId: 'ticket' });
    expect(r.outputs).toEqual({ key: 'cortex-apps/web-api#12', id: '555', url: 'https://github.com/cortex-apps/web-api/issues/12', created: true });
    expect(bodyOf(http.requests[1])).toEqual({ title: 'Fail back', body: `details\n\n${MARKER}`, labels: [LABEL], assignees: ['octocat'] });
    expect(r.debug.join('\n')).toContain('GitHub dropped the labels');

    const again = routedHttp([['GET', RECENT, j(200, [{ id: 555, number: 12, html_url: 'u', body: `details\n\n${MARKER}`, labels: [] }])]]);
    const r2 = await runAction('create_ticket', { system: 'github', project: 'cortex-apps/web-api', summary: 'Fail back' }, again, { actionId: 'ticket' });
    expect(r2.outputs).toMatchObject({ key: 'cortex-apps/web-api#12', created: false });
    expect(again.requests).toHaveLength(1);
  });
});

describe('github_deployment_status', () => {
  const headers = { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': 'cortex', authorization: '<secret>' };

  it('creates a deployment (required_contexts [], auto_merge false, payload naming the action) then posts the status', async () => {
    const http = routedHttp([
      ['GET', `${GH}/deployments?ref=abc123&environment=staging&per_page=100`, j(200, [])],
      ['POST', `${GH}/deployments`, j(201, { id: 42, sha: 'abc123' })],
      ['POST', `${GH}/deployments/42/statuses`, j(201, { id: 7, state: 'success' })],
    ]);
    const r = await runAction(
      'github_deployment_status',
      { repository: 'cortex-apps/web-api', ref: 'abc123', environment: 'staging', state: 'success', description: 'x'.repeat(200), environment_url: 'http://lb' },
      http,
      { actionId: 'github-status' },
    );
    expect(r.outputs).toEqual({ deployment_id: 42, status_id: 7, state: 'success' });
    expect(publicHeaders(http.requests[0])).toEqual(headers);
    expect(publicHeaders(http.requests[1])).toEqual({ ...headers, 'content-type': 'application/json' });
    expect(http.requests[1]?.headers?.authorization).toBe(`Bearer ${SECRETS.GITHUB_TOKEN}`);
    expect(bodyOf(http.requests[1])).toEqual({
      ref: 'abc123',
      environment: 'staging',
      auto_merge: false,
      required_contexts: [],
      description: `${'x'.repeat(139)}…`,
      payload: { cortex: { execution_id: 'deploy-20261125-120000-abcd', workflow_id: 'app-deployment', action_id: 'github-status' } },
    });
    expect(bodyOf(http.requests[2])).toEqual({ state: 'success', description: `${'x'.repeat(139)}…`, environment_url: 'http://lb', environment: 'staging', auto_inactive: true });
    expect(leakedSecrets(r.attempt)).toEqual([]);
  });

  it('reuses the deployment this action created on an earlier attempt', async () => {
    const http = routedHttp([
      ['GET', /deployments\?/, j(200, [{ id: 41, payload: {} }, { id: 42, payload: { cortex: { execution_id: 'deploy-20261125-120000-abcd', action_id: 'github-status' } } }])],
      ['POST', `${GH}/deployments/42/statuses`, j(201, { id: 8, state: 'failure' })],
    ]);
    const r = await runAction('github_deployment_status', { repository: 'cortex-apps/web-api', state: 'failure' }, http, { actionId: 'github-status' });
    expect(r.outputs).toEqual({ deployment_id: 42, status_id: 8, state: 'failure' });
    expect(http.requests.filter((q) => q.method === 'POST')).toHaveLength(1);
  });

  it('with deployment_id only the status is posted; the rate-limit 403 waits for x-ratelimit-reset', async () => {
    const reset = String(Date.parse('2026-11-25T12:00:30Z') / 1000);
    const http = routedHttp([
      ['POST', `${GH}/deployments/9/statuses`, j(403, { message: 'API rate limit exceeded' }, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset }), j(201, { id: 1, state: 'success' })],
    ]);
    const r = await runAction('github_deployment_status', { repository: 'cortex-apps/web-api', deployment_id: 9, state: 'success' }, http);
    expect(r.outputs).toEqual({ deployment_id: 9, status_id: 1, state: 'success' });
    expect(r.sleeps).toEqual([30000]);
  });

  it('422 validation and 401 bad credentials are clear and not retried', async () => {
    const v = await runAction(
      'github_deployment_status',
      { repository: 'cortex-apps/web-api', deployment_id: 9, state: 'success' },
      routedHttp([['POST', /statuses$/, j(422, { message: 'Validation Failed', errors: [{ resource: 'DeploymentStatus', field: 'state', code: 'invalid' }] })]]),
    );
    expect(v.error?.message).toContain('Validation Failed');
    expect(v.error?.retryable).toBe(false);
    const a = await runAction('github_deployment_status', { repository: 'cortex-apps/web-api', deployment_id: 9, state: 'success' }, routedHttp([['POST', /statuses$/, j(401, { message: 'Bad credentials' })]]));
    expect(a.error?.errorCode).toBe('github_unauthorized');
  });
});
