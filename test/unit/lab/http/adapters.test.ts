/**
 * The n8n-contractor adapters against the lab services through a real FetchHttpClient: the
 * requests the adapters make are the ones the lab (and so, per HTTP-APIS.md, the real services)
 * accept, and the lab's answers are ones the adapters understand.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchHttpClient } from '../../../../src/adapters/fetch-http-client.js';
import type { ConfigFile, EndpointConfig } from '../../../../src/config/config.js';
import type { ActionImpl } from '../../../../src/contractors/action-impl.js';
import { IMPLEMENTATIONS } from '../../../../src/contractors/n8n/index.js';
import { N8N_SPECS } from '../../../../src/contractors/n8n/specs.js';
import { ActionFailedError } from '../../../../src/errors.js';
import { readJsonLines, writeLabConfig } from '../../../../src/lab/lab-dir.js';
import { httpModule } from '../../../../src/lab/http/module.js';
import { readHttpState, setGithubPushAccess, setThrottle } from '../../../../src/lab/http/state.js';
import type { RunningService } from '../../../../src/lab/module.js';
import { LAB_ENDPOINT_SECRETS, labSecretValue } from '../../../../src/lab/secrets.js';
import { fakeDeps, MapSecretSource } from '../../../fakes/fakes.js';
import { makeRuntime } from '../../contractors/runtime-helper.js';

let lab: string;
let svc: RunningService;
let config: ConfigFile;
const secrets = Object.fromEntries([...Object.values(LAB_ENDPOINT_SECRETS), 'SLACK_BOT_TOKEN'].filter((n): n is string => Boolean(n)).map((n) => [n, labSecretValue(n)]));

beforeAll(async () => {
  lab = mkdtempSync(join(tmpdir(), 'cortex-lab-adapters-'));
  httpModule.seed(lab);
  writeLabConfig(lab, { latency: 0, faults: [{ action_id: 'flaky-clone', attempts: 1 }] });
  svc = await (httpModule.start as NonNullable<typeof httpModule.start>)(lab, {});
  // As start-lab's configFor does: each endpoint gets its lab URL and its secret name.
  const endpoints: Record<string, EndpointConfig> = {};
  for (const [name, secret] of Object.entries(LAB_ENDPOINT_SECRETS)) endpoints[name] = { url: svc.urls[name] as string, ...(secret ? { secret } : {}) };
  config = { endpoints };
});

afterAll(async () => {
  await svc?.stop();
  rmSync(lab, { recursive: true, force: true });
});

async function run(action: string, params: Record<string, unknown>, options: { actionId?: string; attempt?: number; executionId?: string; endpoints?: Record<string, EndpointConfig> } = {}) {
  const spec = N8N_SPECS.find((s) => s.name === action);
  if (!spec) throw new Error(action);
  const deps = fakeDeps({ http: new FetchHttpClient({ defaultTimeoutMs: 5000 }), secrets: new MapSecretSource(secrets) });
  const { rt, attempt, dispose } = makeRuntime(params, {
    spec,
    deps,
    config: options.endpoints ? { ...config, endpoints: { ...config.endpoints, ...options.endpoints } } : config,
    simulate: true,
    executionId: options.executionId ?? 'lab-exec-0001',
    workflowId: 'lab-workflow',
    actionId: options.actionId ?? action.replace(/_/g, '-'),
    attempt: options.attempt ?? 1,
  });
  const debug: string[] = [];
  (rt as { debug: (m: string) => void }).debug = (m) => debug.push(m);
  const impl = await (IMPLEMENTATIONS[action] as () => Promise<ActionImpl>)();
  try {
    return { outputs: await impl.run(rt), attempt, sleeps: deps.clock.sleeps, error: undefined as ActionFailedError | undefined, debug };
  } catch (e) {
    if (!(e instanceof ActionFailedError)) throw e;
    return { outputs: undefined, attempt, sleeps: deps.clock.sleeps, error: e, debug };
  } finally {
    dispose();
  }
}

const noSecrets = (v: unknown) => expect(JSON.stringify(v)).not.toMatch(/lab-secret-/);

describe('n8n API and webhooks', () => {
  it('create -> trigger -> re-create (update) -> deactivate -> 404 -> delete', async () => {
    const created = await run('create_n8n_workflow', { name: 'critical-alert-handler', webhook_path: 'critical-alerts', http_method: 'POST', description: 'receiver' });
    expect(created.error).toBeUndefined();
    expect(created.outputs).toMatchObject({ name: 'critical-alert-handler', webhook_url: `${svc.urls.n8n}/webhook/critical-alerts`, active: true, existed: false });
    noSecrets(created.attempt);

    const trig = await run('trigger_n8n_webhook', { path: 'critical-alerts', payload: { alerts: [] } });
    expect(trig.outputs).toMatchObject({ status: 200, json: { message: 'Workflow was started' } });

    const again = await run('create_n8n_workflow', { name: 'critical-alert-handler', webhook_path: 'critical-alerts' });
    expect(again.outputs).toMatchObject({ workflow_id: created.outputs?.workflow_id, existed: true, active: true });
    expect(readHttpState(lab).n8n.workflows.filter((w) => w.name === 'critical-alert-handler')).toHaveLength(1);

    const sched = await run('create_n8n_workflow', { name: 'etcd-backup', schedule: '0 2 * * *', timezone: 'UTC' });
    expect(sched.outputs).toMatchObject({ active: true, webhook_url: null });

    expect((await run('deactivate_n8n_workflow', { name: 'critical-alert-handler' })).outputs).toMatchObject({ active: false, was_active: true });
    expect((await run('trigger_n8n_webhook', { path: 'critical-alerts' })).error?.errorCode).toBe('n8n_webhook_not_registered');
    expect((await run('activate_n8n_workflow', { name: 'critical-alert-handler' })).outputs).toMatchObject({ active: true, was_active: false });
    expect((await run('delete_n8n_workflow', { name: 'critical-alert-handler' })).outputs).toMatchObject({ deleted: true });
    expect((await run('delete_n8n_workflow', { name: 'critical-alert-handler' })).outputs).toEqual({ workflow_id: null, deleted: false });
  });

  it('settings the n8n schema does not know are refused by the lab as by n8n', async () => {
    const r = await run('create_n8n_workflow', { name: 'bad-settings', webhook_path: 'bad', settings: { saveEverything: true } });
    expect(r.error?.message).toContain('request/body/settings must NOT have additional properties');
  });
});

describe('delegated actions', () => {
  it('clone_repository gives a checkout where npm ci and npm test run offline', async () => {
    const r = await run('clone_repository', { repository: 'cortex-apps/web-api', branch: 'main', ref: 'HEAD' });
    expect(r.error).toBeUndefined();
    const path = r.outputs?.path as string;
    const exec = promisify(execFile);
    const env = { ...process.env, CI: 'true', npm_config_offline: 'true', npm_config_update_notifier: 'false' };
    await exec('npm', ['ci', '--no-audit', '--no-fund'], { cwd: path, env });
    const t = await exec('npm', ['test'], { cwd: path, env });
    expect(t.stdout).toContain('node -e ""');
  });

  it('build -> scan -> push chain, as app-deployment runs it', async () => {
    const clone = await run('clone_repository', { repository: 'cortex-apps/web-api' });
    const build = await run('build_docker_image', { context: clone.outputs?.path, tags: [`harbor.cortex.local/cortex-apps/web-api:${String(clone.outputs?.commit)}`, 'harbor.cortex.local/cortex-apps/web-api:staging'] });
    expect(build.outputs).toMatchObject({ image: `harbor.cortex.local/cortex-apps/web-api:${String(clone.outputs?.commit)}`, digest: expect.stringMatching(/^sha256:/) });
    const scan = await run('security_scan', { image: build.outputs?.image, severity_threshold: ['HIGH', 'CRITICAL'] });
    expect(scan.outputs).toMatchObject({ passed: true, vulnerabilities: 0 });
    const push = await run('push_docker_image', { image: build.outputs?.image, registry: 'harbor.cortex.local', additional_tags: ['staging'] });
    expect(push.outputs).toEqual({ image: build.outputs?.image, digest: build.outputs?.digest });
    const bad = await run('security_scan', { image: 'harbor.cortex.local/vulnerable-app:1' });
    expect(bad.error?.errorCode).toBe('vulnerabilities_found');
  });

  it('an injected fault fails the first attempt (503 on every retry) and the second attempt succeeds', async () => {
    const first = await run('clone_repository', { repository: 'web-api' }, { actionId: 'flaky-clone', attempt: 1 });
    expect(first.error?.errorCode).toBe('n8n_workflow_failed');
    expect(first.error?.retryable).toBe(true);
    expect(first.attempt.requests?.map((q) => q.status)).toEqual([503, 503, 503, 503]);
    const second = await run('clone_repository', { repository: 'web-api' }, { actionId: 'flaky-clone', attempt: 2 });
    expect(second.error).toBeUndefined();
    const recorded = readJsonLines<{ action: string; attempt: number; status: number }>(join(lab, 'requests.jsonl')).filter((l) => l.action === 'flaky-clone');
    expect(recorded.map((l) => [l.attempt, l.status])).toEqual([[1, 503], [1, 503], [1, 503], [1, 503], [2, 200]]);
  });

  it('the incident chain of security-incident-response', async () => {
    const inc = await run('create_incident_record', { incident_id: 'SEC-20260101-0001', title: 't', severity: 'high', incident_type: 'node_compromise' });
    expect(inc.outputs).toMatchObject({ incident_id: 'SEC-20260101-0001', url: expect.stringContaining('/incidents/SEC-20260101-0001') });
    const logs = await run('aggregate_logs', { sources: ['loki', 'falco'], time_range: { start: '2026-01-01T00:00:00Z - 1h', end: 'now' }, output: 's3://f/SEC/logs/' });
    const corr = await run('correlate_security_events', { log_source: logs.outputs?.location, analysis_types: ['determine_scope'] });
    expect(corr.outputs).toMatchObject({ scope: 'single_system', attack_vector: expect.any(String) });
    expect((await run('close_incident', { incident_id: 'SEC-20260101-0001', resolution: 'remediated' })).outputs).toMatchObject({ status: 'closed' });
    const dns = await run('update_dns_records', { zone: 'cortex.local', records: [{ name: 'grafana.cortex.local', value: '10.20.1.100', old_value: '10.10.1.100', ttl: 60 }] });
    expect(dns.outputs).toEqual({ updated: ['grafana.cortex.local'], previous_records: [{ name: 'grafana.cortex.local', type: 'A', value: '10.10.1.100', ttl: 300 }] });
  });
});

describe('notifications, tickets, GitHub', () => {
  it('send_notification to every lab channel; PagerDuty trigger then resolve closes the alert', async () => {
    const r = await run('send_notification', {
      channels: ['pagerduty', 'slack', 'email', 'jira', 'github'],
      severity: 'critical',
      title: 'Security incident SEC-1',
      message: 'node compromise on worker-3',
      slack_config: { channel: '#security-alerts', mention: '<!subteam^S0SECTEAM>' },
      jira_config: { project: 'SEC' },
      github_config: { repository: 'web-api', state: 'failure', environment: 'production' },
    });
    expect(r.error).toBeUndefined();
    expect(r.outputs).toMatchObject({ delivered: ['pagerduty', 'slack', 'email', 'jira', 'github'], failed: [], pagerduty_dedup_key: 'cortex/lab-workflow/lab-exec-0001', jira_key: expect.stringMatching(/^SEC-\d+$/), github_deployment_id: expect.any(Number) });
    noSecrets(r.attempt);
    const s = readHttpState(lab);
    expect(s.github.deployments.at(-1)).toMatchObject({ repo: 'cortex-bot/web-api', ref: 'main', environment: 'production' });
    // An incoming webhook posts to its own channel, whatever the message names.
    expect(s.slack.messages.at(-1)).toMatchObject({ via: 'webhook', text: '<!subteam^S0SECTEAM> node compromise on worker-3', channel: '#cortex-lab', requested_channel: null });
    expect(r.debug.join('\n')).toContain('an incoming webhook posts to its own channel and ignores "#security-alerts"');
    expect(s.pagerduty.alerts.find((a) => a.dedup_key === 'cortex/lab-workflow/lab-exec-0001')).toMatchObject({ status: 'triggered' });

    await run('send_notification', { channels: ['pagerduty'], pagerduty_config: { action: 'resolve' } });
    expect(readHttpState(lab).pagerduty.alerts.find((a) => a.dedup_key === 'cortex/lab-workflow/lab-exec-0001')).toMatchObject({ status: 'resolved' });
  });

  it('Slack with a bot token: chat.postMessage to the named channel, with the user-group mention', async () => {
    const slack: EndpointConfig = { url: svc.urls.slack as string, secret: 'SLACK_BOT_TOKEN' };
    const r = await run('send_notification', { channels: ['slack'], message: 'node compromise', slack_config: { channel: '#security-alerts', mention: '<!subteam^S0SECTEAM|security-team>' } }, { endpoints: { slack } });
    expect(r.outputs?.delivered).toEqual(['slack']);
    expect(readHttpState(lab).slack.messages.at(-1)).toMatchObject({ via: 'chat.postMessage', channel: '#security-alerts', text: '<!subteam^S0SECTEAM|security-team> node compromise' });
    const bad = await run('send_notification', { channels: ['slack'], message: 'x', slack_config: { channel: 'not a channel' } }, { endpoints: { slack } });
    expect(bad.error?.message).toContain('Slack chat.postMessage to not a channel: channel_not_found');
  });

  it('Slack rate limit: one 429 with Retry-After, then delivered once', async () => {
    setThrottle(lab, 'slack', 1, 1);
    const before = readHttpState(lab).slack.messages.length;
    const r = await run('send_notification', { channels: ['slack'], message: 'throttled hello' });
    expect(r.outputs?.delivered).toEqual(['slack']);
    expect(r.sleeps).toEqual([1000]);
    expect(r.attempt.requests?.map((q) => q.status)).toEqual([429, 200]);
    expect(readHttpState(lab).slack.messages.length).toBe(before + 1);
  });

  it('create_ticket: one Jira issue per action even when the action runs twice; Jira 429 waits', async () => {
    setThrottle(lab, 'jira', 1, 2);
    const p = { project: 'OPS', summary: 'Fail back from datacenter-02', labels: ['cortex', 'dr-failover'], priority: 'High', description: 'later' };
    const first = await run('create_ticket', p, { actionId: 'failback-ticket' });
    expect(first.outputs).toMatchObject({ created: true, key: expect.stringMatching(/^OPS-\d+$/) });
    expect(first.sleeps).toEqual([2000]);
    const second = await run('create_ticket', p, { actionId: 'failback-ticket' });
    expect(second.outputs).toEqual({ ...first.outputs, created: false });
    expect(readHttpState(lab).jira.issues.filter((i) => (i.fields as { summary: string }).summary === p.summary)).toHaveLength(1);
  });

  it('github_deployment_status creates one deployment per action, with its statuses; GitHub issue tickets dedupe too', async () => {
    const params = { repository: 'cortex-apps/web-api', ref: 'abc123', environment: 'staging', state: 'success', description: 'cortex deployed web-api', environment_url: 'http://10.0.0.5' };
    const a = await run('github_deployment_status', params, { actionId: 'github-status' });
    const b = await run('github_deployment_status', { ...params, state: 'failure' }, { actionId: 'github-status' });
    expect(b.outputs?.deployment_id).toBe(a.outputs?.deployment_id);
    const s = readHttpState(lab);
    expect(s.github.statuses.filter((x) => x.deployment_id === a.outputs?.deployment_id).map((x) => x.state)).toEqual(['success', 'failure']);
    const t1 = await run('create_ticket', { system: 'github', project: 'cortex-apps/web-api', summary: 'follow up' }, { actionId: 'gh-ticket' });
    const t2 = await run('create_ticket', { system: 'github', project: 'cortex-apps/web-api', summary: 'follow up' }, { actionId: 'gh-ticket' });
    expect(t1.outputs).toMatchObject({ key: 'cortex-apps/web-api#1', created: true });
    expect(t2.outputs).toMatchObject({ key: 'cortex-apps/web-api#1', created: false });
  });

  it('a GitHub token without push access: labels are dropped, and a retried ticket still opens no duplicate', async () => {
    setGithubPushAccess(lab, false);
    try {
      const p = { system: 'github', project: 'cortex-apps/pull-only', summary: 'investigate', labels: ['incident'] };
      const t1 = await run('create_ticket', p, { actionId: 'pull-only-ticket' });
      expect(t1.outputs).toMatchObject({ key: 'cortex-apps/pull-only#1', created: true });
      const issue = readHttpState(lab).github.issues.find((i) => i.repo === 'cortex-apps/pull-only');
      expect(issue?.labels).toEqual([]);
      const t2 = await run('create_ticket', p, { actionId: 'pull-only-ticket' });
      expect(t2.outputs).toMatchObject({ key: 'cortex-apps/pull-only#1', created: false });
      expect(readHttpState(lab).github.issues.filter((i) => i.repo === 'cortex-apps/pull-only')).toHaveLength(1);
    } finally {
      setGithubPushAccess(lab, true);
    }
  });
});

describe('checks against the lab monitoring services', () => {
  it('http_health_check on prometheus, grafana and alertmanager endpoints', async () => {
    expect((await run('http_health_check', { endpoint: 'prometheus', path: '/-/healthy', expect_body_contains: 'Healthy', retries: 1, interval_seconds: 1 })).outputs).toMatchObject({ healthy: true, status: 200, attempts: 1 });
    expect((await run('http_health_check', { endpoint: 'grafana', path: '/api/health' })).outputs).toMatchObject({ healthy: true });
    expect((await run('http_health_check', { endpoint: 'alertmanager', path: '/-/healthy', method: 'HEAD' })).outputs).toMatchObject({ healthy: true, body_excerpt: '' });
    const down = await run('http_health_check', { url: 'http://127.0.0.1:9/health', retries: 1, interval_seconds: 1 });
    expect(down.error?.errorCode).toBe('health_check_failed');
  });

  it('smoke tests and a short performance test', async () => {
    const smoke = await run('run_smoke_tests', { endpoint: svc.urls.prometheus, tests: [{ name: 'healthy', path: '/-/healthy', expected_body_contains: 'Healthy' }, { name: 'ready', path: '/-/ready' }] });
    expect(smoke.outputs).toMatchObject({ passed: 2, all_passed: true });
    // The latency bound is far above anything a loaded machine shows: this checks the counting, and
    // the gate itself is checked below with a bound no request can meet.
    const perf = await run('run_performance_test', { endpoint: svc.urls.prometheus, path: '/-/healthy', duration: 60, requests_per_second: 20, max_p95_latency: 600_000, max_error_rate: 0 });
    expect(perf.outputs).toMatchObject({ requests: 40, errors: 0, passed: true });
    const strict = await run('run_performance_test', { endpoint: svc.urls.prometheus, path: '/-/healthy', duration: 60, requests_per_second: 20, max_p95_latency: 0.000001, max_error_rate: 0 });
    expect(strict.error?.message).toMatch(/p95/);
  });

  it('generic http_request posts a test alert to Alertmanager like deploy-monitoring-stack does', async () => {
    const { httpRequest } = await import('../../../../src/contractors/generic/http-request.js');
    const { GENERIC_SPECS } = await import('../../../../src/contractors/generic/specs.js');
    const spec = GENERIC_SPECS.find((s) => s.name === 'http_request');
    const deps = fakeDeps({ http: new FetchHttpClient(), secrets: new MapSecretSource(secrets) });
    const { rt, dispose } = makeRuntime(
      { endpoint: 'alertmanager', path: '/api/v2/alerts', method: 'POST', body: [{ labels: { alertname: 'CortexMonitoringDeployTest', severity: 'warning' }, annotations: { summary: 'test' } }], expected_status: 200 },
      { spec, deps, config, simulate: true },
    );
    const out = await httpRequest.run(rt);
    dispose();
    expect(out).toMatchObject({ status: 200, body: '' });
    expect(readHttpState(lab).alertmanager.alerts.some((a) => (a.labels as { alertname: string }).alertname === 'CortexMonitoringDeployTest')).toBe(true);
  });

  it('nothing recorded by the lab contains a secret', () => {
    expect(readFileSync(join(lab, 'requests.jsonl'), 'utf8')).not.toMatch(/lab-secret-/);
  });
});
