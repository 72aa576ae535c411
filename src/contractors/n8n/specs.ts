/**
 * n8n-contractor: automation, notifications, tickets and checks, all over HTTP (HTTP-APIS.md).
 *
 * Three ways an action reaches the world:
 * - n8n performs the work (CI steps, forensics, incident records, DNS): cortex calls the n8n
 *   webhook `POST <n8n>/webhook/cortex/<action_name>` with `{execution_id, workflow_id, action_id,
 *   parameters}` and reads the declared outputs from the JSON response (the n8n workflow behind that
 *   path uses "respond with last node" / a Respond to Webhook node). Declared outputs missing from
 *   a 2xx answer are null; an n8n error body ({code, message, hint}) or a non-2xx answer fails the
 *   action; 404 means that n8n workflow is not installed or not active.
 * - n8n itself is managed through its public API (`/api/v1/workflows`, X-N8N-API-KEY from config).
 * - notifications, tickets and deployment statuses go straight to Slack, PagerDuty, Jira, GitHub
 *   and the email relay (config endpoints), and HTTP checks are made by cortex itself.
 */
import {
  arr,
  atLeastOne,
  bool,
  closed,
  int,
  intOrIntList,
  map,
  num,
  openObject,
  params,
  str,
  strEnum,
  type Schema,
} from '../param-schema.js';
import type { ActionSpec } from '../../model/catalogue.js';
import { ENDPOINT_NAMES } from '../generic/specs.js';

const C = 'n8n-contractor';
const N8N = ['n8n'];

const VIA_N8N =
  ' Performed by n8n: POST <n8n>/webhook/cortex/<action> with {execution_id, workflow_id, action_id, parameters}; ' +
  'the outputs are read from the JSON response.';

const SEVERITIES = ['info', 'low', 'medium', 'warning', 'high', 'critical'] as const;
const INCIDENT_SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
const INCIDENT_TYPES = [
  'node_compromise',
  'container_breakout',
  'unauthorized_access',
  'malware_detection',
  'data_exfiltration',
  'other',
] as const;
const location = (what: string) => str(`${what}: s3://..., https://... or a path on the n8n side.`, { minLength: 1 });
const repository = str(
  'GitHub repository owner/name; a bare name gets the owner from config endpoints.github.project, else the token\'s own login.',
  { pattern: '^([A-Za-z0-9_.-]+/)?[A-Za-z0-9_.-]+$' },
);
const statusCodes = (description: string) => intOrIntList(description, { minimum: 100, maximum: 599 });
const incidentId = str('Incident id, e.g. SEC-20260101-001.', { minLength: 1, maxLength: 100 });
const n8nWorkflowId = str('n8n workflow id.', { minLength: 1 });
const n8nWorkflowName = str('n8n workflow name (looked up when workflow_id is absent).', { minLength: 1 });
const SKIP = bool(
  'When true the action does nothing and succeeds (compensations use it when the state was already like that before).',
  false,
);

/** Slack's mention tokens: a user group, a user, or a special mention. */
const SLACK_MENTION = '^<(!subteam\\^[A-Z0-9]+(\\|[^>]*)?|@[UW][A-Z0-9]+|!here|!channel|!everyone)>$';

const GITHUB_STATES = ['error', 'failure', 'inactive', 'in_progress', 'queued', 'pending', 'success'] as const;

const sendNotification: ActionSpec = {
  contractor: C,
  name: 'send_notification',
  summary:
    'Sends one message to each channel, directly: Slack chat.postMessage to slack_config.channel with the bot token of ' +
    'config endpoints.slack.secret, else the incoming webhook (URL from endpoints.slack url_secret; it posts to its own ' +
    'channel whatever the message names), ' +
    'PagerDuty Events v2 (/v2/enqueue; routing key from config or routing_key_secret; dedup_key defaults to ' +
    'cortex/<workflow_id>/<execution_id> so a later "resolve" in the same execution closes the alert), email through ' +
    'the email relay (config endpoints.email), a GitHub deployment status, a Jira issue, a Microsoft Teams webhook. ' +
    'Per-channel *_config fields override the top-level message/severity. Every channel is attempted; the action fails ' +
    'when any channel still fails after retries (429/5xx only), and `delivered`/`failed` say which.',
  kind: 'http',
  uses: ['slack', 'pagerduty', 'email', 'github', 'jira', 'teams'],
  parameters: params(
    {
      channels: arr(strEnum(['slack', 'pagerduty', 'email', 'github', 'jira', 'teams'], 'Channel.'), 'Where to send.', {
        minItems: 1,
        uniqueItems: true,
      }),
      severity: strEnum(SEVERITIES, 'Severity (PagerDuty: critical/high -> critical, medium/warning -> warning, else info).'),
      message: str('Message text (default: a summary of the execution).'),
      title: str('Short title (email subject, Teams title, Jira summary).'),
      data: openObject('Extra values for message templates.'),
      slack_config: closed(
        {
          channel: str('Channel, e.g. #deployments: posted to with chat.postMessage when endpoints.slack.secret (a bot token) is set; an incoming webhook ignores it and posts to its own channel.'),
          message: str('Message text for Slack.'),
          mention: str(
            'Prefix mention in Slack\'s syntax: a user group <!subteam^S0123ABCD>, a user <@U0123ABCD>, <!here> or <!channel> ' +
              '(@here, @channel and @everyone are converted; any other plain @team is sent as text, notifies nobody, and the plan says so).',
          ),
          template: str('Message template name; without a template of that name the message is sent.'),
          blocks: arr(openObject('Slack block.'), 'Block Kit blocks (text stays the fallback).'),
        },
        [],
        'Slack specifics.',
      ),
      pagerduty_config: closed(
        {
          action: strEnum(
            ['trigger', 'acknowledge', 'resolve', 'trigger_incident', 'acknowledge_incident', 'resolve_incident'],
            'event_action; the *_incident spellings are synonyms.',
            { default: 'trigger' },
          ),
          service: str('PagerDuty service (recorded as payload.component unless component is set).'),
          escalation_policy: str('Recorded in custom_details; the service\'s own policy applies (Events v2 cannot choose one).'),
          urgency: strEnum(['high', 'low'], 'high -> severity critical, low -> warning, when severity is not given.'),
          dedup_key: str('Dedup key (default cortex/<workflow_id>/<execution_id>).', { maxLength: 255 }),
          summary: str('payload.summary (default: the message).', { maxLength: 1024 }),
          source: str('payload.source (default cortex).'),
          component: str('payload.component.'),
          group: str('payload.group.'),
          class: str('payload.class.'),
          routing_key_secret: str('Name of the secret holding the routing key (default: config endpoints.pagerduty secret).'),
        },
        [],
        'PagerDuty specifics.',
      ),
      email_config: closed(
        {
          to: arr(str('Address.', { format: 'email' }), 'Recipients (default: the relay\'s list).'),
          cc: arr(str('Address.', { format: 'email' }), 'Copy to.'),
          subject: str('Subject.'),
          message: str('Body.'),
          template: str('Template name.'),
        },
        [],
        'Email specifics.',
      ),
      github_config: closed(
        {
          repository,
          action: strEnum(['create_deployment_status', 'comment_on_commit'], 'What to post.', { default: 'create_deployment_status' }),
          state: strEnum(GITHUB_STATES, 'Deployment status state.'),
          description: str('Status description (140 characters at most; longer text is cut).'),
          environment: str('Environment of the deployment (default production).'),
          deployment_id: int('Existing deployment; without it a deployment is created for `ref` first.', { minimum: 1 }),
          ref: str('Branch, tag or SHA for a new deployment or the commit to comment on (default main).'),
          log_url: str('Link to the run.'),
          environment_url: str('Link to the deployed environment.'),
          body: str('Commit comment text (comment_on_commit).'),
        },
        [],
        'GitHub specifics.',
      ),
      jira_config: closed(
        {
          project: str('Project key, e.g. OPS.', { pattern: '^[A-Z][A-Z0-9_]+$' }),
          issue_type: str('Issue type (default Task).'),
          summary: str('Summary (default: the title or message).', { maxLength: 254 }),
          description: str('Description.'),
          labels: arr(str('Label (no spaces).', { pattern: '^\\S+$' }), 'Labels.'),
          priority: str('Priority name, e.g. High.'),
        },
        [],
        'Jira specifics.',
      ),
      teams_config: closed(
        {
          title: str('Card title.'),
          message: str('Card text.'),
          webhook_secret: str('Name of the secret holding the Teams webhook URL (default TEAMS_WEBHOOK_URL).'),
        },
        [],
        'Microsoft Teams specifics.',
      ),
    },
    ['channels'],
  ),
  outputs: {
    delivered: 'Channels that accepted the message.',
    failed: 'Channels that did not, with the error ({channel, error}).',
    pagerduty_dedup_key: 'Dedup key PagerDuty acknowledged, or null.',
    jira_key: 'Key of the Jira issue created, or null.',
    github_deployment_id: 'GitHub deployment the status was posted to, or null.',
  },
  idempotent: false,
};

const createTicket: ActionSpec = {
  contractor: C,
  name: 'create_ticket',
  summary:
    'Creates a Jira issue (POST /rest/api/2/issue; credentials from config endpoints.jira) or a GitHub issue, so that ' +
    'a retry never opens a duplicate. Jira: the issue gets the label cortex-<execution_id>-<action_id>, searched for ' +
    'first with GET /rest/api/3/search/jql (Cloud; the old /search answers 410 since 2025) or /rest/api/2/search (Data ' +
    'Center). search/jql is eventually consistent: after an attempt that sent the create, an empty search is repeated ' +
    '(2, 4, 8, 16 s) before creating again. GitHub: the body ends with <!-- cortex:<execution_id>/<action_id> -->, ' +
    'looked for among the 100 newest issues (labels are not used to find it: GitHub drops them for a token without ' +
    'push access).',
  kind: 'http',
  uses: ['jira', 'github'],
  parameters: params(
    {
      system: strEnum(['jira', 'github'], 'Ticketing system.', { default: 'jira' }),
      project: str('Jira project key, or owner/repo for GitHub.', { minLength: 1 }),
      issue_type: str('Jira issue type.', { default: 'Task' }),
      summary: str('Summary / title.', { minLength: 1, maxLength: 254 }),
      description: str('Description (plain text).'),
      labels: arr(str('Label (no spaces).', { pattern: '^\\S+$' }), 'Labels.'),
      priority: str('Priority name.'),
      assignee: str('Assignee (Jira accountId or user name; GitHub login).'),
    },
    ['project', 'summary'],
  ),
  outputs: { key: 'Ticket key (OPS-24, or owner/repo#12).', id: 'Ticket id.', url: 'Browser URL.', created: 'False when an existing ticket was found.' },
  idempotent: true,
};

const n8nNode: Schema = closed(
  {
    id: str('Node id (n8n fills it in when absent).'),
    name: str('Node name (unique in the workflow).', { minLength: 1 }),
    type: str('Node type, e.g. n8n-nodes-base.webhook.', { minLength: 1 }),
    typeVersion: num('Node type version.', { minimum: 1 }),
    position: arr({ type: 'number' }, '[x, y] on the canvas.', { minItems: 2, maxItems: 2 }),
    parameters: openObject('Node parameters.'),
    credentials: openObject('Credentials by type, e.g. {"slackApi": {"id": "1", "name": "ops"}}.'),
    webhookId: str('Webhook id.'),
    disabled: bool('Disabled node.'),
    notes: str('Notes.'),
    notesInFlow: bool('Show notes on the canvas.'),
    executeOnce: bool('Execute once.'),
    alwaysOutputData: bool('Always output data.'),
    retryOnFail: bool('Retry on fail.'),
    maxTries: int('Tries.', { minimum: 1 }),
    waitBetweenTries: int('Milliseconds between tries.', { minimum: 0 }),
    onError: strEnum(['stopWorkflow', 'continueRegularOutput', 'continueErrorOutput'], 'Error behaviour.'),
  },
  ['name', 'type'],
  'An n8n node (the public API\'s closed node schema).',
);

const slackChannel = str('Slack channel for chat.postMessage, e.g. #ops-critical.', { minLength: 1 });
const n8nHandler: Schema = closed(
  {
    kind: strEnum(
      ['alert_relay', 'alert_digest', 'monitor', 'k8s_health', 'k8s_deploy', 'call_cortex'],
      'alert_relay: Alertmanager webhook → Slack, PagerDuty (trigger/resolve by groupKey), Jira issue while firing. ' +
        'alert_digest: webhook → queue; every every_hours → one Slack digest. monitor: schedule → HTTP probes and ' +
        'Prometheus queries → If anything failed → alert. k8s_health: schedule → Kubernetes API nodes and pods → If ' +
        'problems (NotReady, pressure, CrashLoopBackOff, ImagePullBackOff, Error) → alert. k8s_deploy: webhook ' +
        '{namespace, image, replicas[, name]} → If valid (else 400) → 202 → server-side apply of Namespace and ' +
        'Deployment → Wait → read the rollout → Slack. call_cortex: schedule → POST to a cortex serve webhook → If not ' +
        'accepted → alert.',
    ),
    slack_channel: slackChannel,
    mention: str('Prefix of Slack texts: a user group is <!subteam^ID>, a user <@U123> (a plain @team is only text).', { pattern: SLACK_MENTION }),
    pagerduty: closed({ severity: strEnum(['critical', 'error', 'warning', 'info'], 'payload.severity.'), source: str('payload.source.') }, [], 'alert_relay: also a PagerDuty Events v2 event.'),
    jira: closed(
      { project: str('Project key.', { minLength: 1 }), issue_type: str('Issue type (default Task).'), url: str('Jira base URL (default config endpoints.jira.url).') },
      ['project'],
      'alert_relay: also a Jira issue (POST /rest/api/2/issue) while firing.',
    ),
    every_hours: int('alert_digest: hours between digests.', { minimum: 1, maximum: 23 }),
    probes: arr(closed({ name: str('Node name.', { minLength: 1 }), url: str('URL; a 2xx answer passes.', { minLength: 1 }) }, ['name', 'url']), 'monitor: HTTP probes.'),
    queries: arr(
      closed({ name: str('Node name.', { minLength: 1 }), query: str('PromQL; the first sample is compared.', { minLength: 1 }), max: num('Highest passing value.') }, ['name', 'query', 'max']),
      'monitor: Prometheus instant queries.',
    ),
    prometheus_url: str('monitor: Prometheus base URL (default config endpoints.prometheus.url).'),
    active_for_hours: int('monitor: stop checking this many hours after the first run.', { minimum: 1 }),
    alert: closed(
      {
        webhook_url: str('POST an Alertmanager-style alert here (e.g. the critical handler).'),
        alertname: str('alertname label.'),
        labels: map(str('Label value.'), 'More labels.'),
        slack_channel: slackChannel,
        mention: str('Slack mention prefix (<!subteam^ID>, <@U123>).', { pattern: SLACK_MENTION }),
      },
      [],
      'What a failed check raises (monitor, k8s_health, call_cortex).',
    ),
    api_url: str('k8s_health, k8s_deploy: Kubernetes API URL, e.g. https://10.10.1.100:6443.'),
    rollout_wait_seconds: int('k8s_deploy: seconds before the rollout is read.', { minimum: 1, maximum: 3600 }),
    url: str('call_cortex: cortex serve webhook URL.'),
    body: openObject('call_cortex: JSON body.'),
    credentials: closed(
      {
        slack: str('httpHeaderAuth credential with the bot token (default cortex-slack-bot).'),
        jira: str('httpHeaderAuth credential for Jira (default cortex-jira).'),
        pagerduty: str('httpCustomAuth credential adding {"body": {"routing_key": ...}} (default cortex-pagerduty).'),
        kubernetes: str('httpHeaderAuth credential with a service-account bearer token (default cortex-kubernetes).'),
        cortex: str('httpHeaderAuth credential with the cortex serve token (default cortex-serve).'),
      },
      [],
      'Names of the n8n credentials the nodes use (created once in n8n; no cortex secret is written into a workflow).',
    ),
  },
  ['kind'],
  'A generated n8n graph (n8n-nodes-base types and typeVersions as published).',
);

const createN8nWorkflow: ActionSpec = {
  contractor: C,
  name: 'create_n8n_workflow',
  summary:
    'Creates (POST /api/v1/workflows) or, when a workflow of that name exists, updates (PUT) an n8n workflow, then ' +
    'activates it (POST /workflows/{id}/activate) when `activate`. With `nodes`, they and `connections` are sent as ' +
    'given; with `handler`, cortex generates the whole graph (trigger, HTTP calls, If branches, notifications); with ' +
    'neither, only the trigger: a Webhook node (httpMethod, path=webhook_path) or a Schedule Trigger with `schedule`. ' +
    'n8n\'s create API has no description field: `description` goes into a Sticky Note node. webhook_url is ' +
    '<n8n>/webhook/<webhook_path>. Rollback deletes a workflow this action created (one that existed before is left as ' +
    'it now is).',
  kind: 'http',
  uses: N8N,
  parameters: params(
    {
      name: str('Workflow name (the lookup key).', { minLength: 1, maxLength: 128 }),
      description: str('Workflow description (kept in a Sticky Note node).'),
      webhook_path: str('Production webhook path, e.g. critical-alerts.', { pattern: '^[A-Za-z0-9][A-Za-z0-9/_.-]*$' }),
      http_method: strEnum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'], 'Webhook method.', { default: 'POST' }),
      schedule: str('5-field cron for a Schedule Trigger, e.g. "*/5 * * * *".', { pattern: '^\\S+(\\s+\\S+){4}$' }),
      timezone: str('Timezone for the schedule (settings.timezone), e.g. UTC.'),
      nodes: arr(n8nNode, 'Complete node list (trigger included).', { minItems: 1 }),
      connections: openObject('n8n connections object (required by n8n when nodes are linked).'),
      settings: openObject('n8n workflow settings (closed in n8n: saveExecutionProgress, executionOrder, timezone, ...).'),
      handler: n8nHandler,
      activate: bool('Activate after creating.', true),
    },
    ['name'],
  ),
  outputs: {
    workflow_id: 'n8n workflow id.',
    name: 'Workflow name.',
    webhook_url: 'Production webhook URL, or null.',
    active: 'True when active.',
    existed: 'True when a workflow of that name already existed (it was updated).',
  },
  idempotent: true,
  compensation: {
    action: 'delete_n8n_workflow',
    parameters: { workflow_id: '${output.workflow_id}', skip: '${output.existed}' },
    requires_outputs: ['workflow_id'],
  },
};

const activateN8nWorkflow: ActionSpec = {
  contractor: C,
  name: 'activate_n8n_workflow',
  summary: 'POST /api/v1/workflows/{id}/activate (400 means it cannot be activated, e.g. no trigger node). Rollback deactivates it unless it was active before.',
  kind: 'http',
  uses: N8N,
  parameters: params({ workflow_id: n8nWorkflowId, name: n8nWorkflowName }, [], { anyOf: atLeastOne('workflow_id', 'name') }),
  outputs: { workflow_id: 'Workflow id.', active: 'True.', was_active: 'True when it was already active.' },
  idempotent: true,
  compensation: {
    action: 'deactivate_n8n_workflow',
    parameters: { workflow_id: '${output.workflow_id}', skip: '${output.was_active}' },
    requires_outputs: ['workflow_id'],
  },
};

const deactivateN8nWorkflow: ActionSpec = {
  contractor: C,
  name: 'deactivate_n8n_workflow',
  summary: 'POST /api/v1/workflows/{id}/deactivate: its webhooks stop answering and its schedules stop. The "off switch" of rollbacks; not itself undone.',
  kind: 'http',
  uses: N8N,
  parameters: params({ workflow_id: n8nWorkflowId, name: n8nWorkflowName, skip: SKIP }, [], {
    anyOf: atLeastOne('workflow_id', 'name'),
  }),
  outputs: { workflow_id: 'Workflow id.', active: 'False.', was_active: 'True when it was active.' },
  idempotent: true,
};

const deleteN8nWorkflow: ActionSpec = {
  contractor: C,
  name: 'delete_n8n_workflow',
  summary: 'DELETE /api/v1/workflows/{id} (found by name when no id). A missing workflow counts as deleted (missing_ok).',
  kind: 'http',
  uses: N8N,
  parameters: params(
    { workflow_id: n8nWorkflowId, name: n8nWorkflowName, missing_ok: bool('Succeed when it does not exist.', true), skip: SKIP },
    [],
    { anyOf: atLeastOne('workflow_id', 'name') },
  ),
  outputs: { workflow_id: 'Workflow id.', deleted: 'False when it did not exist.' },
  idempotent: true,
};

const triggerN8nWebhook: ActionSpec = {
  contractor: C,
  name: 'trigger_n8n_webhook',
  summary:
    'Calls a production webhook, <n8n>/webhook/<path> (never webhook-test). Succeeds on expected_status (default 200); ' +
    'a 404 means the workflow is missing or inactive. Each call starts a new n8n execution.',
  kind: 'http',
  uses: N8N,
  parameters: params(
    {
      path: str('Webhook path, e.g. critical-alerts.', { pattern: '^/?[A-Za-z0-9][A-Za-z0-9/_.-]*$' }),
      method: strEnum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], 'Method the Webhook node accepts.', { default: 'POST' }),
      payload: { type: ['object', 'array'], description: 'JSON body (query string for GET).' },
      expected_status: statusCodes('Status code(s) that count as success (default 200).'),
      expect_json: bool('Parse the response as JSON into `json`.', false),
    },
    ['path'],
  ),
  outputs: { status: 'HTTP status.', body: 'Response text.', json: 'Parsed response, or null.' },
  idempotent: false,
};

const httpHealthCheck: ActionSpec = {
  contractor: C,
  name: 'http_health_check',
  summary:
    'Probes `url` (or `path` under a config endpoint, so --simulate can redirect it) up to 1+retries times, ' +
    'interval_seconds apart, until the status is expected and the body contains expect_body_contains. Made by cortex ' +
    'itself. Changes nothing.',
  kind: 'http',
  uses: ['http'],
  parameters: params(
    {
      url: str('URL to probe.', { pattern: '^https?://' }),
      endpoint: strEnum(ENDPOINT_NAMES, 'Service from config endpoints (prometheus, grafana, ...).'),
      path: str('Path under the endpoint, e.g. /-/healthy.', { pattern: '^/' }),
      method: strEnum(['GET', 'HEAD'], 'Method.', { default: 'GET' }),
      headers: map({ type: 'string' }, 'Request headers.'),
      expected_status: statusCodes('Healthy status code(s) (default 200).'),
      expect_body_contains: str('Text the body must contain.'),
      retries: int('Extra attempts after the first.', { minimum: 0, maximum: 100, default: 3 }),
      interval_seconds: num('Pause between attempts.', { minimum: 0, maximum: 3600, default: 10 }),
      timeout_seconds: num('Per-attempt timeout.', { exclusiveMinimum: 0, maximum: 600, default: 10 }),
    },
    [],
    { anyOf: atLeastOne('url', 'endpoint') },
  ),
  outputs: {
    healthy: 'True when a probe passed.',
    status: 'Status of the last probe.',
    attempts: 'Probes made.',
    latency_ms: 'Latency of the last probe.',
    body_excerpt: 'First 512 bytes of the last body.',
  },
  idempotent: true,
};

const runSmokeTests: ActionSpec = {
  contractor: C,
  name: 'run_smoke_tests',
  summary:
    'Runs each test as one HTTP request to endpoint + path, made by cortex: passes when the status equals ' +
    'expected_status (default 200) and the body contains expected_body_contains. Fails when any test fails; results ' +
    'list every test.',
  kind: 'http',
  uses: ['http'],
  parameters: params(
    {
      endpoint: str('Base URL, e.g. the load balancer endpoint.', { pattern: '^https?://' }),
      tests: arr(
        closed(
          {
            name: str('Test name.', { minLength: 1 }),
            path: str('Path.', { pattern: '^/' }),
            method: strEnum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'], 'Method.', { default: 'GET' }),
            headers: map({ type: 'string' }, 'Headers.'),
            body: { type: ['object', 'array', 'string'], description: 'Request body.' },
            expected_status: statusCodes('Expected status (default 200).'),
            expected_body_contains: str('Text the body must contain.'),
          },
          ['name', 'path'],
        ),
        'Tests, run in order.',
        { minItems: 1 },
      ),
      stop_on_failure: bool('Stop at the first failing test.', false),
      retries: int('Retries per failing test.', { minimum: 0, maximum: 20, default: 0 }),
      timeout_seconds: num('Per-request timeout.', { exclusiveMinimum: 0, maximum: 600, default: 10 }),
    },
    ['endpoint', 'tests'],
  ),
  outputs: {
    passed: 'Tests passed.',
    failed: 'Tests failed.',
    all_passed: 'True when every test passed.',
    results: 'Per test: {name, passed, status, duration_ms, error}.',
  },
  idempotent: true,
};

const runPerformanceTest: ActionSpec = {
  contractor: C,
  name: 'run_performance_test',
  summary:
    'An open-loop load test made by cortex: requests_per_second GET requests to endpoint + path for `duration` seconds ' +
    '(at most `concurrency` in flight). Fails when p95 latency exceeds max_p95_latency (ms) or the error rate (non-2xx, ' +
    'timeouts) exceeds max_error_rate.',
  kind: 'http',
  uses: ['http'],
  parameters: params(
    {
      endpoint: str('Base URL.', { pattern: '^https?://' }),
      path: str('Path (default /).', { pattern: '^/' }),
      method: strEnum(['GET', 'HEAD', 'POST'], 'Method.', { default: 'GET' }),
      duration: int('Test length, seconds.', { minimum: 1, maximum: 3600 }),
      requests_per_second: num('Request rate.', { exclusiveMinimum: 0, maximum: 10000 }),
      concurrency: int('Maximum requests in flight (default 50).', { minimum: 1, maximum: 1000 }),
      max_p95_latency: num('Largest acceptable p95 latency, milliseconds.', { exclusiveMinimum: 0 }),
      max_error_rate: num('Largest acceptable error fraction, 0..1.', { minimum: 0, maximum: 1 }),
    },
    ['endpoint', 'duration', 'requests_per_second'],
  ),
  outputs: {
    requests: 'Requests sent.',
    errors: 'Requests that failed.',
    error_rate: 'errors / requests.',
    achieved_rps: 'Requests per second achieved.',
    p50_latency_ms: 'Median latency.',
    p95_latency_ms: '95th percentile latency.',
    p99_latency_ms: '99th percentile latency.',
    passed: 'True when within the thresholds.',
  },
  idempotent: true,
};

const githubDeploymentStatus: ActionSpec = {
  contractor: C,
  name: 'github_deployment_status',
  summary:
    'Posts a GitHub deployment status (POST /repos/{owner}/{repo}/deployments/{id}/statuses); without deployment_id it ' +
    'first creates a deployment for `ref` in `environment` (required_contexts [] so status checks do not block). Token ' +
    'from config endpoints.github.',
  kind: 'http',
  uses: ['github'],
  parameters: params(
    {
      repository,
      state: strEnum(GITHUB_STATES, 'Status state.'),
      deployment_id: int('Deployment to post to.', { minimum: 1 }),
      ref: str('Branch, tag or SHA for a new deployment (default main).', { minLength: 1 }),
      environment: str('Environment for a new deployment (default production).'),
      description: str('Description (140 characters at most; longer text is cut).'),
      log_url: str('Link to the run.'),
      environment_url: str('Link to the deployed environment.'),
      auto_inactive: bool('A success marks earlier deployments of the environment inactive.', true),
    },
    ['repository', 'state'],
  ),
  outputs: { deployment_id: 'Deployment id (created or given).', status_id: 'Status id.', state: 'State posted.' },
  idempotent: false,
};

const cloneRepository: ActionSpec = {
  contractor: C,
  name: 'clone_repository',
  summary:
    'Clones `repository` at `ref` (default: the head of `branch`) into the CI workspace shared by n8n and the cortex ' +
    'host, so later steps (execute_command, build_docker_image) can use `path`.' + VIA_N8N,
  kind: 'http',
  uses: N8N,
  parameters: params(
    {
      repository: str('Repository, owner/name (GitHub) or a clone URL.', { minLength: 1 }),
      branch: str('Branch.', { default: 'main', minLength: 1 }),
      ref: str('Commit SHA, tag, or HEAD (the head of `branch`, the default) to check out.', { minLength: 1 }),
      depth: int('Clone depth (0 = full history).', { minimum: 0, default: 1 }),
      submodules: bool('Also check out submodules.', false),
    },
    ['repository'],
  ),
  outputs: { path: 'Checkout directory in the shared workspace.', commit: 'Full commit SHA checked out.', branch: 'Branch.' },
  idempotent: true,
};

const buildDockerImage: ActionSpec = {
  contractor: C,
  name: 'build_docker_image',
  summary: 'Builds an image from `context` with `dockerfile`, tagging it with every entry of `tags` (not pushed).' + VIA_N8N,
  kind: 'http',
  uses: N8N,
  parameters: params(
    {
      context: str('Build context directory (e.g. clone_repository\'s path).', { minLength: 1 }),
      dockerfile: str('Dockerfile path relative to the context.', { default: 'Dockerfile', minLength: 1 }),
      tags: arr(str('Image reference registry/name:tag.', { minLength: 1 }), 'Tags; the first is the `image` output.', {
        minItems: 1,
      }),
      build_args: map({ type: 'string' }, 'Build arguments.'),
      target: str('Multi-stage target.'),
      platforms: arr(str('Platform, e.g. linux/amd64.'), 'Platforms.'),
      no_cache: bool('Build without the layer cache.', false),
    },
    ['context', 'tags'],
  ),
  outputs: { image: 'The first tag.', digest: 'Image digest (sha256:...).', tags: 'All tags.' },
  idempotent: true,
};

const SCAN_SEVERITIES = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;

const securityScan: ActionSpec = {
  contractor: C,
  name: 'security_scan',
  summary:
    'Scans an image (trivy or grype); `passed` is false when vulnerabilities at severity_threshold exist, and then the ' +
    'action fails if fail_on_vulnerabilities.' + VIA_N8N,
  kind: 'http',
  uses: N8N,
  parameters: params(
    {
      image: str('Image reference to scan.', { minLength: 1 }),
      scanner: strEnum(['trivy', 'grype'], 'Scanner.', { default: 'trivy' }),
      severity_threshold: {
        description: 'Severities that count (a list, or a single minimum severity).',
        anyOf: [
          { type: 'string', enum: [...SCAN_SEVERITIES] },
          { type: 'array', items: { type: 'string', enum: [...SCAN_SEVERITIES] }, minItems: 1 },
        ],
      },
      fail_on_vulnerabilities: bool('Fail the action when the scan does not pass.', true),
      ignore_unfixed: bool('Ignore vulnerabilities without a fix.', false),
    },
    ['image'],
  ),
  outputs: {
    results: 'Counts by severity, e.g. {"CRITICAL": 0, "HIGH": 2}.',
    passed: 'True when nothing at the threshold was found.',
    vulnerabilities: 'Number of vulnerabilities at the threshold.',
    report_url: 'Link to the full report.',
  },
  idempotent: true,
};

const pushDockerImage: ActionSpec = {
  contractor: C,
  name: 'push_docker_image',
  summary: 'Pushes an image (and additional_tags) to its registry; pushing the same digest again is harmless.' + VIA_N8N,
  kind: 'http',
  uses: N8N,
  parameters: params(
    {
      image: str('Image reference to push.', { minLength: 1 }),
      registry: str('Registry host (default: from the image reference).'),
      additional_tags: arr(str('Tag.'), 'Extra tags to push for the same image.'),
    },
    ['image'],
  ),
  outputs: { image: 'Pushed reference.', digest: 'Digest in the registry.' },
  idempotent: true,
};

const createIncidentRecord: ActionSpec = {
  contractor: C,
  name: 'create_incident_record',
  summary: 'Opens (or, for an existing incident_id, updates) the incident record in the incident tracker behind n8n.' + VIA_N8N,
  kind: 'http',
  uses: N8N,
  parameters: params({
    incident_id: { ...incidentId, description: 'Incident id (default SEC-<date>-<sequence>).' },
    title: str('Title.'),
    severity: strEnum(INCIDENT_SEVERITIES, 'Severity.'),
    incident_type: strEnum(INCIDENT_TYPES, 'Incident type.'),
    status: strEnum(['active', 'contained', 'investigating'], 'Initial status.', { default: 'active' }),
    affected_resource: closed(
      {
        type: strEnum(['node', 'pod', 'vm', 'network'], 'Resource type.'),
        identifier: str('Name or id.'),
        ip_address: str('IP address.'),
        cluster: str('Kubernetes cluster.'),
      },
      [],
      'What is affected.',
    ),
    initial_indicators: closed(
      {
        source: str('Alert source (falco, prometheus, manual).'),
        rule_triggered: str('Rule that fired.'),
        timestamp: str('When it was detected.'),
        process: str('Process involved.'),
        user: str('User involved.'),
        details: openObject('Raw alert fields.'),
      },
      [],
      'How it was detected.',
    ),
  }),
  outputs: { incident_id: 'Incident id.', url: 'Link to the record.', created_at: 'Creation time (ISO 8601).' },
  idempotent: true,
};

const enableDebugLogging: ActionSpec = {
  contractor: C,
  name: 'enable_debug_logging',
  summary: 'Raises log verbosity on the targets for `duration` seconds (then it reverts by itself) and exports the logs to export_to.' + VIA_N8N,
  kind: 'http',
  uses: N8N,
  parameters: params(
    {
      targets: arr(str('Node, pod or VM name.', { minLength: 1 }), 'What to log verbosely.', { minItems: 1 }),
      log_level: strEnum(['debug', 'trace', 'info'], 'Level.', { default: 'debug' }),
      duration: int('How long, seconds.', { minimum: 60, maximum: 604800, default: 3600 }),
      export_to: location('Where logs are exported'),
    },
    ['targets'],
  ),
  outputs: { enabled: 'Targets switched.', expires_at: 'When it reverts (ISO 8601).', location: 'Export location.' },
  idempotent: true,
};

const LOG_SOURCES = ['prometheus', 'loki', 'falco', 'kubernetes_audit', 'proxmox', 'talos', 'syslog'] as const;

const aggregateLogs: ActionSpec = {
  contractor: C,
  name: 'aggregate_logs',
  summary:
    'Collects logs from the sources for time_range (ISO times, "now", or "<time> - 1h" style arithmetic) matching ' +
    'filters into one location.' + VIA_N8N,
  kind: 'http',
  uses: N8N,
  parameters: params(
    {
      sources: arr(strEnum(LOG_SOURCES, 'Source.'), 'Where to collect from.', { minItems: 1 }),
      time_range: closed({ start: str('Start.', { minLength: 1 }), end: str('End (default now).') }, ['start'], 'Time window.'),
      filters: map({ type: 'string' }, 'Field -> value filters, e.g. affected_resource.'),
      query: str('Extra query (LogQL/PromQL) passed to the sources that understand it.'),
      output: location('Destination'),
    },
    ['sources'],
  ),
  outputs: { location: 'Where the logs are.', entries: 'Entries collected.', sources: 'Sources that answered.' },
  idempotent: true,
};

const correlateSecurityEvents: ActionSpec = {
  contractor: C,
  name: 'correlate_security_events',
  summary: 'Analyses aggregated logs: timeline, initial compromise, attacker actions, scope.' + VIA_N8N,
  kind: 'http',
  uses: N8N,
  parameters: params(
    {
      log_source: location('Aggregated logs (aggregate_logs\'s location)'),
      analysis_types: arr(
        strEnum(
          [
            'timeline_reconstruction',
            'identify_initial_compromise',
            'map_attacker_actions',
            'determine_scope',
            'detect_lateral_movement',
            'detect_exfiltration',
          ],
          'Analysis.',
        ),
        'Analyses to run.',
        { minItems: 1 },
      ),
      time_range: closed({ start: str('Start.', { minLength: 1 }), end: str('End.') }, ['start'], 'Time window.'),
    },
    ['log_source'],
  ),
  outputs: {
    attack_vector: 'Most likely attack vector.',
    scope: '"single_system" or "multiple_systems".',
    timeline: 'Events in order ({time, event}).',
    initial_compromise: 'First malicious event found.',
    findings: 'Other findings.',
  },
  idempotent: true,
};

const checkIndicatorsOfCompromise: ActionSpec = {
  contractor: C,
  name: 'check_indicators_of_compromise',
  summary: 'Matches IoC feeds (bad IPs, hashes, signatures) against the collected evidence.' + VIA_N8N,
  kind: 'http',
  uses: N8N,
  parameters: params({
    ioc_sources: arr(
      strEnum(['threat_intel_feeds', 'known_bad_ips', 'malware_signatures', 'falco_rules', 'custom'], 'IoC source.'),
      'Where indicators come from.',
    ),
    search_in: arr(
      strEnum(['network_logs', 'process_logs', 'file_hashes', 'dns_logs', 'auth_logs'], 'Evidence type.'),
      'What to search.',
    ),
    log_source: location('Evidence location (default: this incident\'s collected logs)'),
    indicators: arr(str('Indicator (IP, hash, domain).'), 'Extra known indicators to look for.'),
  }),
  outputs: { indicators: 'Indicators found ({type, value, source}).', matches: 'Number of matches.', compromised: 'True when any matched.' },
  idempotent: true,
};

const generateInvestigationReport: ActionSpec = {
  contractor: C,
  name: 'generate_investigation_report',
  summary: 'Writes the investigation report for the incident from the collected evidence and analyses.' + VIA_N8N,
  kind: 'http',
  uses: N8N,
  parameters: params(
    {
      incident_id: incidentId,
      include_sections: arr(
        strEnum(
          [
            'executive_summary',
            'timeline',
            'attack_vector',
            'scope_of_compromise',
            'indicators_of_compromise',
            'recommendations',
            'remediation_status',
            'lessons_learned',
          ],
          'Section.',
        ),
        'Sections, in order.',
      ),
      output: location('Report destination'),
      format: strEnum(['pdf', 'html', 'markdown'], 'Format.', { default: 'pdf' }),
    },
    ['incident_id'],
  ),
  outputs: { location: 'Where the report is.', url: 'Link to read it.' },
  idempotent: true,
};

const enhanceMonitoring: ActionSpec = {
  contractor: C,
  name: 'enhance_monitoring',
  summary: 'Adds detection rules (Falco/Prometheus) and alert thresholds recommended by the remediation.' + VIA_N8N,
  kind: 'http',
  uses: N8N,
  parameters: params({
    new_rules: arr({ type: ['object', 'string'], description: 'A rule (object) or a rule name.' }, 'Rules to add.'),
    alert_thresholds: map({ type: ['number', 'string'] }, 'Alert name -> threshold.'),
    target: strEnum(['prometheus', 'falco', 'both'], 'Where the rules go.', { default: 'both' }),
  }),
  outputs: { rules_added: 'Rules added.', thresholds_updated: 'Thresholds changed.', location: 'Where the rules are kept.' },
  idempotent: true,
};

const updateIncidentRunbooks: ActionSpec = {
  contractor: C,
  name: 'update_incident_runbooks',
  summary: 'Updates a runbook with lessons learned and new procedures.' + VIA_N8N,
  kind: 'http',
  uses: N8N,
  parameters: params({
    runbook: str('Runbook name (default: the incident type\'s).'),
    lessons_learned: str('Text, or a link to the report.'),
    new_procedures: {
      description: 'Procedures to add: a list of steps (strings or objects) or a text.',
      anyOf: [{ type: 'string' }, { type: 'array', items: { type: ['string', 'object'] } }],
    },
  }),
  outputs: { runbook_url: 'Link to the runbook.', updated: 'True when it changed.' },
  idempotent: true,
};

const schedulePostIncidentReview: ActionSpec = {
  contractor: C,
  name: 'schedule_post_incident_review',
  summary: 'Books the post-incident review meeting within within_days; one review per incident (an existing booking is returned).' + VIA_N8N,
  kind: 'http',
  uses: N8N,
  parameters: params(
    {
      incident_id: incidentId,
      attendees: arr(str('Team or person.'), 'Who attends.'),
      within_days: int('Schedule within this many days.', { minimum: 1, maximum: 90, default: 7 }),
      duration_minutes: int('Meeting length.', { minimum: 15, maximum: 480, default: 60 }),
      title: str('Meeting title.'),
    },
    ['incident_id'],
  ),
  outputs: { meeting_id: 'Meeting id.', scheduled_for: 'Start time (ISO 8601).', url: 'Link.' },
  idempotent: true,
};

const closeIncident: ActionSpec = {
  contractor: C,
  name: 'close_incident',
  summary: 'Closes the incident record with a resolution.' + VIA_N8N,
  kind: 'http',
  uses: N8N,
  parameters: params(
    {
      incident_id: incidentId,
      resolution: strEnum(['remediated', 'mitigated', 'false_positive', 'accepted_risk', 'duplicate'], 'Resolution.'),
      final_report: str('Link to the final report.'),
      notes: str('Closing notes.'),
    },
    ['incident_id', 'resolution'],
  ),
  outputs: { incident_id: 'Incident id.', status: '"closed".', closed_at: 'Close time (ISO 8601).' },
  idempotent: true,
};

const dnsRecord: Schema = closed(
  {
    name: str('Record name (FQDN), e.g. api.cortex.local or *.apps.cortex.local.', { minLength: 1 }),
    type: strEnum(['A', 'AAAA', 'CNAME', 'TXT'], 'Record type.', { default: 'A' }),
    value: str('New value.'),
    old_value: str('Expected current value: the record is only changed if it holds old_value (or already value).'),
    ttl: int('TTL seconds (1 = provider automatic).', { minimum: 1, maximum: 86400 }),
    proxied: bool('Cloudflare proxying.'),
    delete: bool('Delete the record instead (restoring a record that did not exist).'),
  },
  ['name'],
);

const updateDnsRecords: ActionSpec = {
  contractor: C,
  name: 'update_dns_records',
  summary:
    'Sets DNS records at the provider (e.g. Cloudflare), recording their previous values; rollback writes those back ' +
    '(records that did not exist are deleted).' + VIA_N8N,
  kind: 'http',
  uses: N8N,
  parameters: params(
    {
      provider: strEnum(['cloudflare', 'powerdns', 'route53', 'rfc2136'], 'DNS provider.', { default: 'cloudflare' }),
      zone: str('Zone, e.g. cortex.local.', { minLength: 1 }),
      records: arr(dnsRecord, 'Records to set.', { minItems: 1 }),
    },
    ['zone', 'records'],
  ),
  outputs: { updated: 'Record names changed.', previous_records: 'The records before (same shape as records).' },
  idempotent: true,
  compensation: {
    action: 'update_dns_records',
    parameters: { provider: '${input.provider}', zone: '${input.zone}', records: '${output.previous_records}' },
    requires_outputs: ['previous_records'],
  },
};

export const N8N_SPECS: readonly ActionSpec[] = [
  sendNotification,
  createTicket,
  createN8nWorkflow,
  activateN8nWorkflow,
  deactivateN8nWorkflow,
  deleteN8nWorkflow,
  triggerN8nWebhook,
  httpHealthCheck,
  runSmokeTests,
  runPerformanceTest,
  githubDeploymentStatus,
  cloneRepository,
  buildDockerImage,
  securityScan,
  pushDockerImage,
  createIncidentRecord,
  enableDebugLogging,
  aggregateLogs,
  correlateSecurityEvents,
  checkIndicatorsOfCompromise,
  generateInvestigationReport,
  enhanceMonitoring,
  updateIncidentRunbooks,
  schedulePostIncidentReview,
  closeIncident,
  updateDnsRecords,
];
