/**
 * The n8n workflows create_n8n_workflow builds from a `handler`: whole graphs (trigger, HTTP
 * calls, branches, notifications) in n8n's own node JSON. Types and typeVersions are those
 * n8n-nodes-base 2.41.2 publishes (packages/nodes-base/nodes/**: Webhook 2, Schedule Trigger
 * 1.2, HTTP Request 4.2, If 2.2, Code 2, Wait 1.1, Respond to Webhook 1.1, Sticky Note 1).
 * Credentials are referenced by name (n8n resolves a credential without id by name and type);
 * the operator creates them once in n8n, so no secret of cortex's is written into a workflow.
 */
import { ActionFailedError } from '../../errors.js';

export type N8nNode = Record<string, unknown>;
type Target = { node: string; type: 'main'; index: number };
export type N8nConnections = Record<string, { main: Target[][] }>;

export interface N8nGraph {
  nodes: N8nNode[];
  connections: N8nConnections;
}

/** n8n credential names a handler uses (all of type httpHeaderAuth, except PagerDuty: httpCustomAuth). */
export interface HandlerCredentials {
  slack?: string;
  jira?: string;
  pagerduty?: string;
  kubernetes?: string;
  cortex?: string;
}

export interface HandlerAlert {
  /** POSTs an Alertmanager-style alert here (e.g. the critical handler's webhook). */
  webhook_url?: string;
  alertname?: string;
  labels?: Record<string, string>;
  slack_channel?: string;
  mention?: string;
}

export interface Handler {
  kind: 'alert_relay' | 'alert_digest' | 'monitor' | 'k8s_health' | 'k8s_deploy' | 'call_cortex';
  slack_channel?: string;
  /** Prefix of every Slack text, e.g. a user group `<!subteam^S0123ABCD>`. */
  mention?: string;
  pagerduty?: { severity?: 'critical' | 'error' | 'warning' | 'info'; source?: string };
  jira?: { project: string; issue_type?: string; url?: string };
  every_hours?: number;
  probes?: Array<{ name: string; url: string }>;
  queries?: Array<{ name: string; query: string; max: number }>;
  prometheus_url?: string;
  active_for_hours?: number;
  alert?: HandlerAlert;
  api_url?: string;
  rollout_wait_seconds?: number;
  url?: string;
  body?: Record<string, unknown>;
  credentials?: HandlerCredentials;
}

/** What a graph needs from cortex's configuration. */
export interface GraphContext {
  trigger: { webhook_path?: string; http_method?: string; schedule?: string };
  jiraUrl?: string;
  prometheusUrl?: string;
}

const V = { webhook: 2, schedule: 1.2, http: 4.2, if: 2.2, code: 2, wait: 1.1, respond: 1.1, sticky: 1 } as const;
const SLACK_POST_MESSAGE = 'https://slack.com/api/chat.postMessage';
const PAGERDUTY_ENQUEUE = 'https://events.pagerduty.com/v2/enqueue';
const DEFAULT_CREDENTIALS: Required<HandlerCredentials> = {
  slack: 'cortex-slack-bot',
  jira: 'cortex-jira',
  pagerduty: 'cortex-pagerduty',
  kubernetes: 'cortex-kubernetes',
  cortex: 'cortex-serve',
};

const js = (v: unknown): string => JSON.stringify(v);

class Graph {
  readonly nodes: N8nNode[] = [];
  readonly connections: N8nConnections = {};
  private column = 0;

  add(name: string, type: string, typeVersion: number, parameters: Record<string, unknown>, extra: Record<string, unknown> = {}, at?: [number, number]): string {
    const position = at ?? [this.column++ * 240, 0];
    this.nodes.push({ name, type: `n8n-nodes-base.${type}`, typeVersion, position, parameters, ...extra });
    return name;
  }

  /** from's output `output` feeds `to`. */
  link(from: string, to: string, output = 0): void {
    const outputs = (this.connections[from] ??= { main: [] }).main;
    while (outputs.length <= output) outputs.push([]);
    outputs[output]?.push({ node: to, type: 'main', index: 0 });
  }

  chain(...names: string[]): void {
    for (let i = 1; i < names.length; i++) this.link(names[i - 1] as string, names[i] as string);
  }

  build(): N8nGraph {
    return { nodes: this.nodes, connections: this.connections };
  }
}

function credentialsOf(h: Handler): Required<HandlerCredentials> {
  return { ...DEFAULT_CREDENTIALS, ...(h.credentials ?? {}) };
}

function trigger(g: Graph, ctx: GraphContext, fallbackCron?: string, responseMode = 'onReceived'): string {
  if (ctx.trigger.webhook_path) {
    return g.add('Webhook', 'webhook', V.webhook, { httpMethod: ctx.trigger.http_method ?? 'POST', path: ctx.trigger.webhook_path.replace(/^\/+/, ''), responseMode, options: {} });
  }
  const cron = ctx.trigger.schedule ?? fallbackCron;
  if (!cron) throw invalid('this handler needs `webhook_path` or `schedule` for its trigger');
  return schedule(g, 'Schedule', cron);
}

function schedule(g: Graph, name: string, cron: string, at?: [number, number]): string {
  return g.add(name, 'scheduleTrigger', V.schedule, { rule: { interval: [{ field: 'cronExpression', expression: cron }] } }, {}, at);
}

/** An HTTP Request node with a header credential (or none). */
function http(g: Graph, name: string, p: { method?: string; url: string; jsonBody?: string; credential?: { type: string; name: string }; full?: boolean; continueOnFail?: boolean }, at?: [number, number]): string {
  const parameters: Record<string, unknown> = { method: p.method ?? 'GET', url: p.url };
  if (p.credential) Object.assign(parameters, { authentication: 'genericCredentialType', genericAuthType: p.credential.type });
  if (p.jsonBody !== undefined) Object.assign(parameters, { sendBody: true, specifyBody: 'json', jsonBody: p.jsonBody });
  // fullResponse + neverError: the next node sees {statusCode, body} for any answer; a refused
  // connection still fails the node, and continueRegularOutput passes {error} on instead.
  parameters.options = p.full ? { response: { response: { fullResponse: true, neverError: true } }, timeout: 10_000 } : { timeout: 10_000 };
  const extra: Record<string, unknown> = {};
  if (p.credential) extra.credentials = { [p.credential.type]: { name: p.credential.name } };
  if (p.continueOnFail) extra.onError = 'continueRegularOutput';
  return g.add(name, 'httpRequest', V.http, parameters, extra, at);
}

/** Slack chat.postMessage (a bot token in the httpHeaderAuth credential); `text` is a JS expression. */
function slack(g: Graph, h: Handler, name: string, channel: string, text: string, at?: [number, number]): string {
  const mention = h.mention ? `${js(`${h.mention} `)} + ` : '';
  return http(g, name, { method: 'POST', url: SLACK_POST_MESSAGE, jsonBody: `={{ JSON.stringify({ channel: ${js(channel)}, text: ${mention}${text} }) }}`, credential: { type: 'httpHeaderAuth', name: credentialsOf(h).slack }, continueOnFail: true }, at);
}

function code(g: Graph, name: string, jsCode: string, at?: [number, number]): string {
  return g.add(name, 'code', V.code, { mode: 'runOnceForAllItems', language: 'javaScript', jsCode }, {}, at);
}

/** An If node on one condition; output 0 is true, 1 is false. */
function iff(g: Graph, name: string, left: string, operator: { type: string; operation: string; singleValue?: boolean }, right: unknown, at?: [number, number]): string {
  return g.add(
    name,
    'if',
    V.if,
    {
      conditions: {
        options: { caseSensitive: true, leftValue: '', typeValidation: 'strict', version: 2 },
        conditions: [{ id: `${name}-condition`, leftValue: left, rightValue: right, operator }],
        combinator: 'and',
      },
      options: {},
    },
    {},
    at,
  );
}

function requireChannel(h: Handler): string {
  if (!h.slack_channel) throw invalid(`handler ${h.kind} needs slack_channel`);
  return h.slack_channel;
}

const ALERT_LINES = "($json.body.alerts || []).map(a => '[' + a.status + '] ' + a.labels.alertname + ': ' + ((a.annotations || {}).summary || (a.annotations || {}).description || '')).join('\\n')";

/** Alertmanager webhook → Slack, PagerDuty (trigger/resolve by groupKey) and, while firing, a Jira issue. */
function alertRelay(h: Handler, ctx: GraphContext): N8nGraph {
  const g = new Graph();
  const hook = trigger(g, ctx);
  const channel = requireChannel(h);
  g.link(hook, slack(g, h, `Slack ${channel}`, channel, ALERT_LINES, [240, -160]));
  if (h.pagerduty) {
    const severity = h.pagerduty.severity ?? 'critical';
    const body =
      "={{ JSON.stringify({ event_action: $json.body.status === 'resolved' ? 'resolve' : 'trigger', dedup_key: $json.body.groupKey, " +
      `payload: { summary: ($json.body.commonAnnotations || {}).summary || ($json.body.commonLabels || {}).alertname || 'alert', source: ${js(h.pagerduty.source ?? 'alertmanager')}, severity: ${js(severity)}, custom_details: $json.body.commonLabels } }) }}`;
    // The routing key is added to the body by the httpCustomAuth credential ({"body": {"routing_key": ...}}).
    g.link(hook, http(g, 'PagerDuty', { method: 'POST', url: PAGERDUTY_ENQUEUE, jsonBody: body, credential: { type: 'httpCustomAuth', name: credentialsOf(h).pagerduty }, continueOnFail: true }, [240, 0]));
  }
  if (h.jira) {
    const url = h.jira.url ?? ctx.jiraUrl;
    if (!url) throw invalid('handler alert_relay with jira needs jira.url or config endpoints.jira.url');
    const firing = iff(g, 'Firing?', '={{ $json.body.status }}', { type: 'string', operation: 'equals' }, 'firing', [240, 160]);
    g.link(hook, firing);
    const body =
      `={{ JSON.stringify({ fields: { project: { key: ${js(h.jira.project)} }, issuetype: { name: ${js(h.jira.issue_type ?? 'Task')} }, ` +
      `summary: (($json.body.commonLabels || {}).alertname || 'alert') + ' firing', description: ${ALERT_LINES}, labels: ['alertmanager'] } }) }}`;
    g.link(firing, http(g, 'Jira issue', { method: 'POST', url: `${url.replace(/\/+$/, '')}/rest/api/2/issue`, jsonBody: body, credential: { type: 'httpHeaderAuth', name: credentialsOf(h).jira }, continueOnFail: true }, [480, 160]));
  }
  return g.build();
}

/** Alertmanager webhook → queue in the workflow's static data; every N hours → one Slack digest. */
function alertDigest(h: Handler, ctx: GraphContext): N8nGraph {
  const g = new Graph();
  const channel = requireChannel(h);
  const hook = trigger(g, { trigger: { ...ctx.trigger, schedule: undefined } });
  const queue = code(g, 'Queue alerts', "const data = $getWorkflowStaticData('global');\ndata.queue = (data.queue || []).concat($input.first().json.body.alerts || []);\nreturn [{ json: { queued: data.queue.length } }];", [240, 0]);
  g.link(hook, queue);
  const hours = h.every_hours ?? 1;
  const tick = g.add('Every hour', 'scheduleTrigger', V.schedule, { rule: { interval: [{ field: 'hours', hoursInterval: hours }] } }, {}, [0, 240]);
  const take = code(
    g,
    'Take queued alerts',
    "const data = $getWorkflowStaticData('global');\nconst alerts = data.queue || [];\ndata.queue = [];\n" +
      "const text = alerts.map(a => '[' + a.status + '] ' + a.labels.alertname + ': ' + ((a.annotations || {}).summary || '')).join('\\n');\n" +
      'return [{ json: { count: alerts.length, text } }];',
    [240, 240],
  );
  const any = iff(g, 'Any alerts?', '={{ $json.count }}', { type: 'number', operation: 'gt' }, 0, [480, 240]);
  g.chain(tick, take, any);
  g.link(any, slack(g, h, `Slack ${channel}`, channel, `$json.count + ' alert(s) in the last ${hours} hour(s):\\n' + $json.text`, [720, 240]));
  return g.build();
}

/** The alert a failed check raises: an Alertmanager-style POST and/or a Slack message; `text` is a JS expression. */
function raise(g: Graph, h: Handler, from: string, text: string, row: number, output = 0): void {
  const a = h.alert ?? {};
  let y = row;
  if (a.webhook_url) {
    const labels = { alertname: a.alertname ?? 'CortexMonitorFailed', severity: 'critical', ...(a.labels ?? {}) };
    const body = `={{ JSON.stringify({ status: 'firing', groupKey: ${js(labels.alertname)}, commonLabels: ${js(labels)}, commonAnnotations: { summary: ${text} }, alerts: [{ status: 'firing', labels: ${js(labels)}, annotations: { summary: ${text} } }] }) }}`;
    g.link(from, http(g, 'Raise alert', { method: 'POST', url: a.webhook_url, jsonBody: body }, [g.nodes.length * 240, y]), output);
    y += 160;
  }
  const channel = a.slack_channel ?? h.slack_channel;
  if (channel) g.link(from, slack(g, { ...h, ...(a.mention ? { mention: a.mention } : {}) }, `Slack ${channel}`, channel, text, [g.nodes.length * 240, y]), output);
  if (!a.webhook_url && !channel) throw invalid(`handler ${h.kind} needs alert.webhook_url or a slack_channel`);
}

/** Schedule → HTTP probes and Prometheus queries → a Code node that lists what failed → If → alert. */
function monitor(h: Handler, ctx: GraphContext): N8nGraph {
  const g = new Graph();
  let last = trigger(g, ctx, '*/5 * * * *');
  const checks: string[] = [];
  if (h.active_for_hours) {
    const gate = code(
      g,
      `Within ${h.active_for_hours}h?`,
      `const data = $getWorkflowStaticData('global');\ndata.started = data.started || Date.now();\nif (Date.now() - data.started > ${h.active_for_hours * 3_600_000}) return [];\nreturn $input.all();`,
    );
    g.link(last, gate);
    last = gate;
  }
  for (const p of h.probes ?? []) {
    const n = http(g, p.name, { url: p.url, full: true, continueOnFail: true });
    g.link(last, n);
    last = n;
    checks.push(`{ name: ${js(p.name)}, ok: (r => !r.error && r.statusCode >= 200 && r.statusCode < 300)($(${js(p.name)}).first().json), detail: 'HTTP ' + ($(${js(p.name)}).first().json.statusCode || 'unreachable') }`);
  }
  const prom = (h.prometheus_url ?? ctx.prometheusUrl)?.replace(/\/+$/, '');
  for (const q of h.queries ?? []) {
    if (!prom) throw invalid('handler monitor with queries needs prometheus_url or config endpoints.prometheus.url');
    const n = http(g, q.name, { url: `${prom}/api/v1/query?query=${encodeURIComponent(q.query)}`, full: true, continueOnFail: true });
    g.link(last, n);
    last = n;
    const value = `Number((((($(${js(q.name)}).first().json.body || {}).data || {}).result || [])[0] || { value: [0, 'NaN'] }).value[1])`;
    checks.push(`{ name: ${js(q.name)}, ok: ${value} <= ${q.max}, detail: ${value} + ' (max ${q.max})' }`);
  }
  if (checks.length === 0) throw invalid('handler monitor needs probes or queries');
  const verdict = code(g, 'Failed checks', `const checks = [\n  ${checks.join(',\n  ')},\n];\nconst failed = checks.filter(c => !c.ok);\nreturn [{ json: { failed: failed.length, text: failed.map(c => c.name + ': ' + c.detail).join('; ') } }];`);
  g.link(last, verdict);
  const any = iff(g, 'Anything failed?', '={{ $json.failed }}', { type: 'number', operation: 'gt' }, 0);
  g.link(verdict, any);
  raise(g, h, any, "'Failed: ' + $json.text", 0);
  return g.build();
}

const K8S_CHECK = [
  "const nodes = $('Nodes').first().json.items || [];",
  "const pods = $('Pods').first().json.items || [];",
  'const problems = [];',
  'for (const n of nodes) {',
  '  for (const c of (n.status || {}).conditions || []) {',
  "    if (c.type === 'Ready' && c.status !== 'True') problems.push('node ' + n.metadata.name + ' NotReady');",
  "    if (['MemoryPressure', 'DiskPressure', 'PIDPressure'].includes(c.type) && c.status === 'True') problems.push('node ' + n.metadata.name + ' ' + c.type);",
  '  }',
  '}',
  'for (const p of pods) {',
  '  for (const s of (p.status || {}).containerStatuses || []) {',
  '    const reason = ((s.state || {}).waiting || {}).reason || ((s.state || {}).terminated || {}).reason;',
  "    if (['CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull', 'Error'].includes(reason)) problems.push('pod ' + p.metadata.namespace + '/' + p.metadata.name + ' ' + reason);",
  '  }',
  '}',
  "return [{ json: { failed: problems.length, text: problems.join('; ') } }];",
].join('\n');

/** Schedule → Kubernetes API (nodes, pods) → conditions and container states → If → alert. */
function k8sHealth(h: Handler, ctx: GraphContext): N8nGraph {
  if (!h.api_url) throw invalid('handler k8s_health needs api_url (the Kubernetes API)');
  const api = h.api_url.replace(/\/+$/, '');
  const cred = { type: 'httpHeaderAuth', name: credentialsOf(h).kubernetes };
  const g = new Graph();
  const start = trigger(g, ctx, '*/10 * * * *');
  const nodes = http(g, 'Nodes', { url: `${api}/api/v1/nodes`, credential: cred });
  const pods = http(g, 'Pods', { url: `${api}/api/v1/pods?fieldSelector=status.phase!%3DSucceeded`, credential: cred });
  const check = code(g, 'Find problems', K8S_CHECK);
  const any = iff(g, 'Problems?', '={{ $json.failed }}', { type: 'number', operation: 'gt' }, 0);
  g.chain(start, nodes, pods, check, any);
  raise(g, h, any, "'Cluster problems: ' + $json.text", 0);
  return g.build();
}

/**
 * Webhook {namespace, image, replicas[, name, port]} → If valid → 202 (else 400) → server-side
 * apply of the Namespace and the Deployment → Wait → read the rollout → Slack ok / failed.
 */
function k8sDeploy(h: Handler, ctx: GraphContext): N8nGraph {
  if (!h.api_url) throw invalid('handler k8s_deploy needs api_url (the Kubernetes API)');
  if (!ctx.trigger.webhook_path) throw invalid('handler k8s_deploy needs webhook_path');
  const api = h.api_url.replace(/\/+$/, '');
  const channel = requireChannel(h);
  const cred = { type: 'httpHeaderAuth', name: credentialsOf(h).kubernetes };
  const wait = h.rollout_wait_seconds ?? 300;
  const g = new Graph();
  const hook = trigger(g, ctx, undefined, 'responseNode');
  const valid = g.add(
    'Valid request?',
    'if',
    V.if,
    {
      conditions: {
        options: { caseSensitive: true, leftValue: '', typeValidation: 'loose', version: 2 },
        conditions: [
          { id: 'namespace', leftValue: "={{ /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test($json.body.namespace || '') }}", rightValue: '', operator: { type: 'boolean', operation: 'true', singleValue: true } },
          { id: 'image', leftValue: "={{ $json.body.image || '' }}", rightValue: '', operator: { type: 'string', operation: 'notEmpty', singleValue: true } },
          { id: 'replicas', leftValue: '={{ Number($json.body.replicas) }}', rightValue: 1, operator: { type: 'number', operation: 'gte' } },
        ],
        combinator: 'and',
      },
      options: {},
    },
    {},
    [240, 0],
  );
  g.link(hook, valid);
  const bad = g.add('Refuse', 'respondToWebhook', V.respond, { respondWith: 'json', responseBody: '={{ JSON.stringify({ error: "namespace (DNS label), image and replicas (>= 1) are required" }) }}', options: { responseCode: 400 } }, {}, [480, 160]);
  g.link(valid, bad, 1);
  const ok = g.add('Accept', 'respondToWebhook', V.respond, { respondWith: 'json', responseBody: '={{ JSON.stringify({ accepted: true, namespace: $json.body.namespace, image: $json.body.image }) }}', options: { responseCode: 202 } }, {}, [480, 0]);
  g.link(valid, ok, 0);
  const name = "($('Webhook').first().json.body.name || $('Webhook').first().json.body.image.split('/').pop().split(':')[0].split('@')[0])";
  const ns = "$('Webhook').first().json.body.namespace";
  const applyNs = http(g, 'Apply namespace', {
    method: 'PATCH',
    url: `=${api}/api/v1/namespaces/{{ ${ns} }}?fieldManager=n8n&force=true`,
    credential: cred,
  }, [720, 0]);
  // Server-side apply takes JSON as application/apply-patch+yaml (JSON is YAML).
  Object.assign((g.nodes.at(-1) as N8nNode).parameters as object, {
    sendHeaders: true,
    headerParameters: { parameters: [{ name: 'Content-Type', value: 'application/apply-patch+yaml' }] },
    sendBody: true,
    contentType: 'raw',
    rawContentType: 'application/apply-patch+yaml',
    body: `={{ JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ${ns} } }) }}`,
  });
  const applyDeploy = http(g, 'Apply deployment', { method: 'PATCH', url: `=${api}/apis/apps/v1/namespaces/{{ ${ns} }}/deployments/{{ ${name} }}?fieldManager=n8n&force=true`, credential: cred }, [960, 0]);
  const manifest =
    `{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: ${name}, namespace: ${ns} }, spec: { replicas: Number($('Webhook').first().json.body.replicas), ` +
    `selector: { matchLabels: { app: ${name} } }, template: { metadata: { labels: { app: ${name} } }, spec: { containers: [{ name: ${name}, image: $('Webhook').first().json.body.image }] } } } }`;
  Object.assign((g.nodes.at(-1) as N8nNode).parameters as object, {
    sendHeaders: true,
    headerParameters: { parameters: [{ name: 'Content-Type', value: 'application/apply-patch+yaml' }] },
    sendBody: true,
    contentType: 'raw',
    rawContentType: 'application/apply-patch+yaml',
    body: `={{ JSON.stringify(${manifest}) }}`,
  });
  const pause = g.add(`Wait ${wait}s`, 'wait', V.wait, { resume: 'timeInterval', amount: wait, unit: 'seconds' }, {}, [1200, 0]);
  const read = http(g, 'Read rollout', { url: `=${api}/apis/apps/v1/namespaces/{{ ${ns} }}/deployments/{{ ${name} }}`, credential: cred }, [1440, 0]);
  const done = iff(g, 'Rolled out?', '={{ ($json.status || {}).updatedReplicas === $json.spec.replicas && ($json.status || {}).availableReplicas === $json.spec.replicas && ($json.status || {}).observedGeneration >= $json.metadata.generation }}', { type: 'boolean', operation: 'true', singleValue: true }, '', [1680, 0]);
  g.chain(ok, applyNs, applyDeploy, pause, read, done);
  g.link(done, slack(g, h, 'Slack deployed', channel, "'Deployed ' + $json.metadata.namespace + '/' + $json.metadata.name + ' (' + $json.spec.template.spec.containers[0].image + ', ' + $json.spec.replicas + ' replicas)'", [1920, -80]), 0);
  g.link(done, slack(g, h, 'Slack rollout failed', channel, `'Rollout of ' + $json.metadata.namespace + '/' + $json.metadata.name + ' not complete after ${wait}s: ' + (($json.status || {}).availableReplicas || 0) + '/' + $json.spec.replicas + ' available'`, [1920, 80]), 1);
  return g.build();
}

/** Schedule → POST to cortex serve (a webhook trigger runs the cortex workflow) → If not accepted → alert. */
function callCortex(h: Handler, ctx: GraphContext): N8nGraph {
  if (!h.url) throw invalid('handler call_cortex needs url (a cortex serve webhook, e.g. https://cortex.example/webhook/etcd-backup)');
  const g = new Graph();
  const start = trigger(g, ctx);
  const call = http(g, 'Ask cortex', { method: 'POST', url: h.url, jsonBody: js(h.body ?? {}), credential: { type: 'httpHeaderAuth', name: credentialsOf(h).cortex }, full: true, continueOnFail: true });
  const accepted = iff(g, 'Accepted?', '={{ $json.statusCode }}', { type: 'number', operation: 'lt' }, 300);
  g.chain(start, call, accepted);
  // Output 1 (false): cortex refused the call or could not be reached.
  raise(g, h, accepted, "'cortex did not accept the run: HTTP ' + ($json.statusCode || 'unreachable') + ' ' + JSON.stringify($json.body || $json.error || '')", 0, 1);
  return g.build();
}

const BUILDERS: Record<Handler['kind'], (h: Handler, ctx: GraphContext) => N8nGraph> = {
  alert_relay: alertRelay,
  alert_digest: alertDigest,
  monitor,
  k8s_health: k8sHealth,
  k8s_deploy: k8sDeploy,
  call_cortex: callCortex,
};

/** The whole graph of a handler. */
export function handlerGraph(h: Handler, ctx: GraphContext): N8nGraph {
  const build = BUILDERS[h.kind];
  if (!build) throw invalid(`unknown handler kind ${String(h.kind)}`);
  return build(h, ctx);
}

/** A lone trigger (no handler, no nodes): a Webhook or a Schedule Trigger. */
export function triggerGraph(ctx: GraphContext): N8nGraph {
  const g = new Graph();
  trigger(g, ctx);
  return g.build();
}

/** A Sticky Note that holds the workflow's description (n8n's create API has no description field). */
export function descriptionNote(name: string, description: string, nodes: N8nNode[]): N8nNode {
  const ys = nodes.map((n) => ((n.position as number[] | undefined)?.[1] ?? 0) as number);
  return {
    name: 'Description',
    type: 'n8n-nodes-base.stickyNote',
    typeVersion: V.sticky,
    position: [0, Math.min(0, ...ys) - 260],
    parameters: { content: `## ${name}\n${description}`, height: 200, width: 480, color: 7 },
  };
}

function invalid(message: string): ActionFailedError {
  return new ActionFailedError(`create_n8n_workflow: ${message}`, { errorCode: 'invalid_parameters', retryable: false });
}
