import { describe, expect, it } from 'vitest';
import { CONFIG, SECRETS, bodyOf, calls, j, leakedSecrets, publicHeaders, routedHttp, runAction } from './helpers.js';

const SLACK = SECRETS.SLACK_WEBHOOK_URL;
const PD = 'https://events.pagerduty.com/v2/enqueue';
const DEDUP = 'cortex/app-deployment/deploy-20261125-120000-abcd';
const slackOk = { status: 200, body: 'ok', headers: { 'content-type': 'text/plain' } };
const pdOk = (key = DEDUP) => j(202, { status: 'success', message: 'Event processed', dedup_key: key });

describe('send_notification: Slack', () => {
  it('posts {text} to the webhook URL from the url_secret (a webhook ignores `channel`: none is sent) and reports the delivery', async () => {
    const http = routedHttp([['POST', SLACK, slackOk]]);
    const r = await runAction('send_notification', { channels: ['slack'], severity: 'info', slack_config: { channel: '#deployments', message: 'Deployed web-api', mention: '<!subteam^S0OPS>' } }, http);
    expect(r.error).toBeUndefined();
    expect(r.outputs).toEqual({ delivered: ['slack'], failed: [], pagerduty_dedup_key: null, jira_key: null, github_deployment_id: null });
    expect(calls(r.requests)).toEqual([`POST ${SLACK}`]);
    expect(publicHeaders(r.requests[0])).toEqual({ 'content-type': 'application/json' });
    expect(bodyOf(r.requests[0])).toEqual({ text: '<!subteam^S0OPS> Deployed web-api' });
    expect(r.debug.join('\n')).toMatch(/incoming webhook posts to its own channel and ignores "#deployments"/);
    // The webhook URL is a secret: the attempt record shows it masked.
    expect(r.attempt.requests?.[0]?.url).toBe('***');
    expect(leakedSecrets(r.attempt)).toEqual([]);
  });

  it('with a bot token (endpoints.slack.secret) and a channel: chat.postMessage; {ok: false} is a failure', async () => {
    const config = { endpoints: { slack: { url_secret: 'SLACK_WEBHOOK_URL', secret: 'SLACK_BOT_TOKEN' } } };
    const secrets = { ...SECRETS, SLACK_BOT_TOKEN: 'xoxb-test-bot-token-123' };
    const API = 'https://slack.com/api/chat.postMessage';
    const http = routedHttp([['POST', API, j(200, { ok: true, channel: 'C123', ts: '1.2' })]]);
    const r = await runAction('send_notification', { channels: ['slack'], message: 'hi', slack_config: { channel: '#ops', mention: '<!subteam^S0OPS|ops>' } }, http, { config, secrets });
    expect(r.outputs?.delivered).toEqual(['slack']);
    expect(bodyOf(r.requests[0])).toEqual({ channel: '#ops', text: '<!subteam^S0OPS|ops> hi' });
    expect(r.requests[0]?.headers?.authorization).toBe('Bearer xoxb-test-bot-token-123');
    expect(leakedSecrets(r.attempt)).toEqual([]);

    const refused = routedHttp([['POST', API, j(200, { ok: false, error: 'not_in_channel' })]]);
    const bad = await runAction('send_notification', { channels: ['slack'], message: 'hi', slack_config: { channel: '#ops' } }, refused, { config, secrets });
    expect(bad.error?.message).toContain('slack (Slack chat.postMessage to #ops: not_in_channel)');
  });

  it('@here becomes <!here>; a plain @team is sent as text, and debug.log says it notifies nobody', async () => {
    const http = routedHttp([['POST', SLACK, slackOk], ['POST', SLACK, slackOk]]);
    await runAction('send_notification', { channels: ['slack'], message: 'hi', slack_config: { mention: '@here' } }, http);
    expect(bodyOf(http.requests[0])).toEqual({ text: '<!here> hi' });
    const r = await runAction('send_notification', { channels: ['slack'], message: 'hi', slack_config: { mention: '@ops' } }, http);
    expect(bodyOf(http.requests[1])).toEqual({ text: '@ops hi' });
    expect(r.debug.join('\n')).toContain('"@ops" is not a Slack mention and notifies nobody');
  });

  it('waits Retry-After on 429 and posts again (Slack did not act)', async () => {
    const http = routedHttp([['POST', SLACK, { status: 429, body: 'rate_limited', headers: { 'retry-after': '2' } }, slackOk]]);
    const r = await runAction('send_notification', { channels: ['slack'], message: 'hello' }, http);
    expect(r.outputs?.delivered).toEqual(['slack']);
    expect(r.requests).toHaveLength(2);
    expect(r.sleeps).toEqual([2000]);
  });

  it('does not re-post after a 500 (the message may have been posted) and fails naming the Slack error token', async () => {
    const http = routedHttp([['POST', SLACK, { status: 500, body: 'rollup_error' }]]);
    const r = await runAction('send_notification', { channels: ['slack'], message: 'hello' }, http);
    expect(r.requests).toHaveLength(1);
    expect(r.error?.errorCode).toBe('notification_failed');
    expect(r.error?.message).toContain('Slack webhook answered 500: rollup_error');
    expect(r.error?.retryable).toBe(true);
  });

  it('a 404 channel_not_found is not retryable', async () => {
    const http = routedHttp([['POST', SLACK, { status: 404, body: 'channel_not_found' }]]);
    const r = await runAction('send_notification', { channels: ['slack'], message: 'x' }, http);
    expect(r.error?.retryable).toBe(false);
    expect(r.error?.message).toContain('channel_not_found');
  });
});

describe('send_notification: PagerDuty Events v2', () => {
  it('sends a trigger with the routing key from the endpoint secret, the stable dedup key and mapped severity', async () => {
    const http = routedHttp([['POST', PD, pdOk()]]);
    const r = await runAction(
      'send_notification',
      {
        channels: ['pagerduty'],
        severity: 'high',
        title: 'Security incident SEC-1',
        message: 'node compromise on worker-3',
        pagerduty_config: { service: 'security-incidents', escalation_policy: 'security-team', urgency: 'high' },
      },
      http,
    );
    expect(r.outputs?.pagerduty_dedup_key).toBe(DEDUP);
    expect(publicHeaders(r.requests[0])).toEqual({ 'content-type': 'application/json', accept: 'application/json' });
    expect(bodyOf(r.requests[0])).toEqual({
      routing_key: SECRETS.PD_ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: DEDUP,
      payload: {
        summary: 'node compromise on worker-3',
        source: 'cortex',
        severity: 'critical',
        component: 'security-incidents',
        custom_details: {
          workflow_id: 'app-deployment',
          execution_id: 'deploy-20261125-120000-abcd',
          action_id: 'notify',
          title: 'Security incident SEC-1',
          service: 'security-incidents',
          escalation_policy: 'security-team',
          urgency: 'high',
        },
      },
      client: 'cortex',
    });
    expect(leakedSecrets(r.attempt)).toEqual([]);
  });

  it('resolve_incident sends {routing_key, event_action: resolve, dedup_key} only; an empty dedup_key means the default', async () => {
    const http = routedHttp([['POST', PD, pdOk()]]);
    const r = await runAction('send_notification', { channels: ['pagerduty'], pagerduty_config: { action: 'resolve_incident', dedup_key: '' } }, http);
    expect(bodyOf(r.requests[0])).toEqual({ routing_key: SECRETS.PD_ROUTING_KEY, event_action: 'resolve', dedup_key: DEDUP });
  });

  it('retries 5xx and 429 (PagerDuty dedups on dedup_key) with backoff', async () => {
    const http = routedHttp([['POST', PD, j(500, { status: 'error' }), { status: 429, body: '' }, pdOk()]]);
    const r = await runAction('send_notification', { channels: ['pagerduty'], message: 'x' }, http);
    expect(r.outputs?.delivered).toEqual(['pagerduty']);
    expect(r.requests).toHaveLength(3);
    expect(r.sleeps).toEqual([1000, 2000]);
    expect(new Set(r.requests.map((q) => bodyOf(q) as { dedup_key: string }).map((b) => b.dedup_key))).toEqual(new Set([DEDUP]));
  });

  it('400 invalid event is reported with PagerDuty\'s errors and not retried', async () => {
    const http = routedHttp([['POST', PD, j(400, { status: 'invalid event', message: 'Event object is invalid', errors: ["Length of 'routing_key' is incorrect (should be 32 characters)"] })]]);
    const r = await runAction('send_notification', { channels: ['pagerduty'], message: 'x' }, http);
    expect(r.requests).toHaveLength(1);
    expect(r.error?.message).toContain("Event object is invalid; Length of 'routing_key' is incorrect");
    expect(r.error?.retryable).toBe(false);
  });

  it('uses routing_key_secret when given', async () => {
    const http = routedHttp([['POST', PD, pdOk()]]);
    await runAction('send_notification', { channels: ['pagerduty'], message: 'x', pagerduty_config: { routing_key_secret: 'OTHER_KEY' } }, http, {
      secrets: { ...SECRETS, OTHER_KEY: 'otherroutingkey00000000000000001' },
    });
    expect((bodyOf(http.requests[0]) as { routing_key: string }).routing_key).toBe('otherroutingkey00000000000000001');
  });
});

describe('send_notification: email, Jira, GitHub, Teams, several channels', () => {
  it('email goes to the relay with bearer auth', async () => {
    const http = routedHttp([['POST', 'https://mail.example.com/api/v1/send', j(202, { id: 'm1', status: 'queued' })]]);
    const r = await runAction('send_notification', { channels: ['email'], message: 'DR done\nsecond line', email_config: { subject: 'DR failover complete', to: ['ops@example.com'] } }, http);
    expect(r.outputs?.delivered).toEqual(['email']);
    expect(http.requests[0]?.headers?.authorization).toBe(`Bearer ${SECRETS.EMAIL_KEY}`);
    expect(bodyOf(http.requests[0])).toEqual({ to: ['ops@example.com'], subject: 'DR failover complete', text: 'DR done\nsecond line' });
  });

  it('jira searches the per-run label, then creates the issue in the configured project', async () => {
    const http = routedHttp([
      ['GET', /\/rest\/api\/3\/search\/jql\?/, j(200, { issues: [], total: 0 })],
      ['POST', 'https://ops.atlassian.net/rest/api/2/issue', j(201, { id: '10001', key: 'OPS-7', self: 'https://ops.atlassian.net/rest/api/2/issue/10001' })],
    ]);
    const r = await runAction('send_notification', { channels: ['jira'], title: 'Deploy failed', message: 'details' }, http);
    expect(r.outputs?.jira_key).toBe('OPS-7');
    expect(bodyOf(http.requests[1])).toEqual({
      fields: { project: { key: 'OPS' }, summary: 'Deploy failed', issuetype: { name: 'Task' }, description: 'details', labels: ['cortex-deploy-20261125-120000-abcd-notify'] },
    });
  });

  it('github posts a deployment status after creating the deployment; a bare repository name gets the token owner', async () => {
    const http = routedHttp([
      ['GET', 'https://api.github.com/user', j(200, { login: 'cortex-bot' })],
      ['GET', /\/repos\/cortex-bot\/web-api\/deployments\?/, j(200, [])],
      ['POST', 'https://api.github.com/repos/cortex-bot/web-api/deployments', j(201, { id: 77 })],
      ['POST', 'https://api.github.com/repos/cortex-bot/web-api/deployments/77/statuses', j(201, { id: 9, state: 'success' })],
    ]);
    const r = await runAction('send_notification', { channels: ['github'], github_config: { repository: 'web-api', state: 'success', description: 'Deployed to staging' } }, http);
    expect(r.error).toBeUndefined();
    expect(r.outputs?.github_deployment_id).toBe(77);
    expect(bodyOf(http.requests[3])).toEqual({ state: 'success', description: 'Deployed to staging', environment: 'production' });
  });

  it('teams posts a MessageCard to the URL in TEAMS_WEBHOOK_URL', async () => {
    const http = routedHttp([['POST', SECRETS.TEAMS_WEBHOOK_URL, { status: 200, body: '1' }]]);
    const r = await runAction('send_notification', { channels: ['teams'], title: 'T', message: 'M' }, http);
    expect(r.outputs?.delivered).toEqual(['teams']);
    expect(bodyOf(http.requests[0])).toEqual({ '@type': 'MessageCard', '@context': 'https://schema.org/extensions', summary: 'T', title: 'T', text: 'M' });
  });

  it('attempts every channel and fails naming the failed and the delivered ones', async () => {
    const http = routedHttp([
      ['POST', PD, pdOk()],
      ['POST', SLACK, { status: 403, body: 'action_prohibited' }],
      ['POST', 'https://mail.example.com/api/v1/send', j(202, { id: 'm1' })],
    ]);
    const r = await runAction('send_notification', { channels: ['pagerduty', 'slack', 'email'], message: 'x' }, http);
    expect(calls(r.requests).map((c) => c.split(' ')[0])).toEqual(['POST', 'POST', 'POST']);
    expect(r.error?.errorCode).toBe('notification_failed');
    expect(r.error?.message).toMatch(/not delivered to slack \(Slack webhook answered 403: action_prohibited\); delivered to pagerduty, email/);
    expect(r.error?.retryable).toBe(false);
    expect(leakedSecrets(r.attempt, r.error?.message)).toEqual([]);
  });

  it('an unconfigured endpoint fails that channel only', async () => {
    const http = routedHttp([['POST', SLACK, slackOk]]);
    const r = await runAction('send_notification', { channels: ['slack', 'email'], message: 'x' }, http, { config: { endpoints: { slack: CONFIG.endpoints?.slack } } });
    expect(r.error?.message).toContain('email (no endpoint "email" in config.yaml)');
    expect(r.error?.message).toContain('delivered to slack');
  });

  it('plan shows every request with endpoint placeholders and no secret', async () => {
    const { IMPLEMENTATIONS } = await import('../../../../src/contractors/n8n/index.js');
    const impl = await (IMPLEMENTATIONS.send_notification as () => Promise<import('../../../../src/contractors/action-impl.js').ActionImpl>)();
    const steps = impl.plan({ channels: ['slack', 'pagerduty'], message: 'hi' }, { config: {} as never, executionId: 'e1', workflowId: 'w1', actionId: 'a1', contractor: 'n8n-contractor' });
    expect(steps).toEqual([
      { kind: 'request', method: 'POST', url: '<endpoints.slack>', body: { text: 'hi' }, note: 'incoming webhook (the URL is a secret)' },
      {
        kind: 'request',
        method: 'POST',
        url: '<endpoints.pagerduty>/v2/enqueue',
        body: {
          routing_key: '***',
          event_action: 'trigger',
          dedup_key: 'cortex/w1/e1',
          payload: { summary: 'hi', source: 'cortex', severity: 'error', custom_details: { workflow_id: 'w1', execution_id: 'e1', action_id: 'a1' } },
          client: 'cortex',
        },
      },
    ]);
  });
});
