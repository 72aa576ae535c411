/**
 * The direct notification channels of send_notification: Slack incoming webhook, PagerDuty
 * Events v2, the email relay, a Microsoft Teams webhook (HTTP-APIS.md §2-3). Each sender returns
 * what the channel acknowledged or throws an ActionFailedError.
 *
 * Email relay contract (config endpoints.email; cortex's own small relay API):
 *   POST <email>/api/v1/send  {to?: string[], cc?: string[], subject, text, template?, data?}
 *   auth from the endpoint secret (Bearer by default) -> 202 {id, status: "queued", recipients}
 *   errors {error: "..."}; 429 with Retry-After when throttled. Without `to` the relay uses its
 *   own recipient list.
 */
import { ActionFailedError } from '../../errors.js';
import type { ResolvedConfig } from '../../config/config.js';
import type { ActionRuntime } from '../action-impl.js';
import { endpointSecret, resolveEndpoint } from '../endpoints.js';
import { compact, httpFailure, isRefusedUnacted, isSuccess, sendWithRetries, tryJson } from '../http-util.js';
import { cut } from './jira.js';

export interface NotifyParams {
  channels: string[];
  severity?: string;
  message?: string;
  title?: string;
  data?: Record<string, unknown>;
  slack_config?: { channel?: string; message?: string; mention?: string; template?: string; blocks?: unknown[] };
  pagerduty_config?: {
    action?: string;
    service?: string;
    escalation_policy?: string;
    urgency?: 'high' | 'low';
    dedup_key?: string;
    summary?: string;
    source?: string;
    component?: string;
    group?: string;
    class?: string;
    routing_key_secret?: string;
  };
  email_config?: { to?: string[]; cc?: string[]; subject?: string; message?: string; template?: string };
  github_config?: {
    repository?: string;
    action?: 'create_deployment_status' | 'comment_on_commit';
    state?: string;
    description?: string;
    environment?: string;
    deployment_id?: number;
    ref?: string;
    log_url?: string;
    environment_url?: string;
    body?: string;
  };
  jira_config?: { project?: string; issue_type?: string; summary?: string; description?: string; labels?: string[]; priority?: string };
  teams_config?: { title?: string; message?: string; webhook_secret?: string };
}

/** The top-level message, or a line naming the execution. */
export function baseMessage(rt: Pick<ActionRuntime, 'workflowId' | 'executionId'>, p: NotifyParams): string {
  return p.message ?? p.title ?? `cortex: workflow ${rt.workflowId}, execution ${rt.executionId}`;
}

/**
 * A mention as Slack reads it: @here, @channel and @everyone become <!here>, <!channel>,
 * <!everyone>; a user group must be <!subteam^ID> (a plain @team stays text and notifies nobody).
 */
export function slackMention(mention: string | undefined): string | undefined {
  if (!mention) return undefined;
  return /^@(here|channel|everyone)$/.test(mention) ? `<!${mention.slice(1)}>` : mention;
}

/** True when a mention is plain text to Slack (e.g. @security-team). */
export function isPlainMention(mention: string | undefined): boolean {
  const m = slackMention(mention);
  return m !== undefined && !/^<(!subteam\^[A-Z0-9]+(\|[^>]*)?|@[UW][A-Z0-9]+|!here|!channel|!everyone)>$/.test(m);
}

/** The message text: the mention and the message. */
function slackText(rt: Pick<ActionRuntime, 'workflowId' | 'executionId'>, p: NotifyParams): string {
  const c = p.slack_config ?? {};
  return [slackMention(c.mention), c.message ?? baseMessage(rt, p)].filter(Boolean).join(' ');
}

/** Incoming-webhook body: no `channel` (Slack's app webhooks ignore it and post to their own channel). */
export function slackBody(rt: Pick<ActionRuntime, 'workflowId' | 'executionId'>, p: NotifyParams): Record<string, unknown> {
  return compact({ text: slackText(rt, p), blocks: p.slack_config?.blocks });
}

/** chat.postMessage body (bot token): the named channel. */
export function slackPostMessageBody(rt: Pick<ActionRuntime, 'workflowId' | 'executionId'>, p: NotifyParams, channel: string): Record<string, unknown> {
  return compact({ channel, text: slackText(rt, p), blocks: p.slack_config?.blocks });
}

const SLACK_API = 'https://slack.com/api';

/**
 * How a Slack message goes: chat.postMessage with the bot token (endpoints.slack.secret) when a
 * channel is named and a token is configured, else the incoming webhook (url_secret, or url).
 * The Web API base is https://slack.com/api, or <url>/api when `url` is not a webhook URL
 * (the lab, a proxy).
 */
export function slackRoute(config: Pick<ResolvedConfig, 'endpoints'>, p: NotifyParams): { kind: 'api'; base: string; channel: string } | { kind: 'webhook'; ignoredChannel?: string } {
  const ep = config.endpoints?.slack;
  const channel = p.slack_config?.channel;
  if (channel && ep?.secret) {
    const base = ep.url && !/hooks\.slack\.com/.test(ep.url) ? `${ep.url.replace(/\/+$/, '')}/api` : SLACK_API;
    return { kind: 'api', base, channel };
  }
  return channel ? { kind: 'webhook', ignoredChannel: channel } : { kind: 'webhook' };
}

export async function sendSlack(rt: ActionRuntime, p: NotifyParams): Promise<void> {
  if (p.slack_config?.template) rt.debug(`slack: no template "${p.slack_config.template}" is defined; sending the message`);
  if (isPlainMention(p.slack_config?.mention)) {
    rt.debug(`slack: "${String(p.slack_config?.mention)}" is not a Slack mention and notifies nobody; a user group is <!subteam^ID>`);
  }
  const route = slackRoute(rt.config, p);
  if (route.kind === 'api') return postMessage(rt, route.base, slackPostMessageBody(rt, p, route.channel));
  if (route.ignoredChannel) {
    rt.debug(`slack: an incoming webhook posts to its own channel and ignores "${route.ignoredChannel}"; set endpoints.slack.secret (a bot token with chat:write) to post there`);
  }
  // The webhook URL is the credential: it comes from endpoints.slack url_secret (masked) or url.
  const ep = await resolveEndpoint(rt, 'slack');
  const res = await sendWithRetries(
    rt,
    { method: 'POST', url: ep.url, headers: { 'content-type': 'application/json' }, body: JSON.stringify(slackBody(rt, p)) },
    // A post is not idempotent: only 429 (Retry-After) and 503 are retried.
    { retryOn: isRefusedUnacted, retryTransport: 'connection' },
  );
  if (!isSuccess(res.status)) {
    throw httpFailure('Slack webhook', res, res.status === 403 || res.status === 404 || res.status === 410 ? { errorCode: 'slack_webhook_rejected', retryable: false } : {});
  }
}

/** chat.postMessage: HTTP 200 with {ok: false, error} is a failure too (Slack's Web API convention). */
async function postMessage(rt: ActionRuntime, base: string, body: Record<string, unknown>): Promise<void> {
  const token = await endpointSecret(rt, 'slack');
  const res = await sendWithRetries(
    rt,
    { method: 'POST', url: `${base}/chat.postMessage`, headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${token ?? ''}` }, body: JSON.stringify(body) },
    { retryOn: isRefusedUnacted, retryTransport: 'connection' },
  );
  if (!isSuccess(res.status)) throw httpFailure('Slack chat.postMessage', res);
  const answer = tryJson(res.body) as { ok?: boolean; error?: string } | undefined;
  if (answer?.ok !== true) {
    const error = answer?.error ?? 'no answer';
    const hint =
      error === 'not_in_channel' || error === 'channel_not_found'
        ? `invite the bot to ${String(body.channel)} (/invite @<bot>)`
        : error === 'not_authed' || error === 'invalid_auth' || error === 'missing_scope'
          ? 'check endpoints.slack.secret: a bot token (xoxb-) with the chat:write scope'
          : undefined;
    throw new ActionFailedError(`Slack chat.postMessage to ${String(body.channel)}: ${error}`, {
      errorCode: 'slack_api_error',
      retryable: error === 'ratelimited' || error === 'internal_error' || error === 'fatal_error',
      ...(hint ? { hint } : {}),
    });
  }
}

/** PagerDuty event_action for the spec's spellings. */
export function pagerdutyAction(action: string | undefined): 'trigger' | 'acknowledge' | 'resolve' {
  const a = (action ?? 'trigger').replace(/_incident$/, '');
  return a === 'acknowledge' || a === 'resolve' ? a : 'trigger';
}

/** PagerDuty payload.severity: critical/high -> critical, medium/warning -> warning, else info; by urgency when no severity. */
export function pagerdutySeverity(severity: string | undefined, urgency: string | undefined): 'critical' | 'error' | 'warning' | 'info' {
  if (severity) {
    if (severity === 'critical' || severity === 'high') return 'critical';
    if (severity === 'medium' || severity === 'warning') return 'warning';
    return 'info';
  }
  if (urgency === 'high') return 'critical';
  if (urgency === 'low') return 'warning';
  return 'error';
}

/** Stable per execution, so a retried trigger updates the same alert and a later resolve closes it. */
export function defaultDedupKey(rt: Pick<ActionRuntime, 'workflowId' | 'executionId'>): string {
  return `cortex/${rt.workflowId}/${rt.executionId}`;
}

export function pagerdutyEvent(rt: Pick<ActionRuntime, 'workflowId' | 'executionId' | 'actionId'>, p: NotifyParams, routingKey: string): Record<string, unknown> {
  const c = p.pagerduty_config ?? {};
  const action = pagerdutyAction(c.action);
  const dedup = c.dedup_key || defaultDedupKey(rt);
  if (action !== 'trigger') return { routing_key: routingKey, event_action: action, dedup_key: dedup };
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: dedup,
    payload: compact({
      summary: cut(c.summary ?? baseMessage(rt, p), 1024),
      source: c.source ?? 'cortex',
      severity: pagerdutySeverity(p.severity, c.urgency),
      component: c.component ?? c.service,
      group: c.group,
      class: c.class,
      custom_details: compact({
        workflow_id: rt.workflowId,
        execution_id: rt.executionId,
        action_id: rt.actionId,
        title: p.title,
        service: c.service,
        escalation_policy: c.escalation_policy,
        urgency: c.urgency,
        data: p.data,
      }),
    }),
    client: 'cortex',
  };
}

/** Events v2 URL: the endpoint's base + /v2/enqueue (a configured full enqueue URL is used as is). */
function enqueueUrl(base: string): string {
  return /\/v2\/enqueue$/.test(base) ? base : `${base}/v2/enqueue`;
}

export async function sendPagerDuty(rt: ActionRuntime, p: NotifyParams): Promise<string> {
  const c = p.pagerduty_config ?? {};
  const routingKey = c.routing_key_secret ? await rt.secret(c.routing_key_secret) : await endpointSecret(rt, 'pagerduty');
  if (!routingKey) {
    throw new ActionFailedError('PagerDuty routing key not configured', {
      errorCode: 'endpoint_not_configured',
      retryable: false,
      hint: 'set endpoints.pagerduty.secret (the integration key) or pagerduty_config.routing_key_secret',
    });
  }
  const ep = await resolveEndpoint(rt, 'pagerduty');
  const event = pagerdutyEvent(rt, p, routingKey);
  // PagerDuty dedups on dedup_key + routing_key: every failure that may be transient is retried.
  const res = await sendWithRetries(
    rt,
    { method: 'POST', url: enqueueUrl(ep.url), headers: { 'content-type': 'application/json', accept: 'application/json', ...ep.headers }, body: JSON.stringify(event) },
    { retryTransport: 'all' },
  );
  if (!isSuccess(res.status)) throw httpFailure('PagerDuty Events API', res, res.status === 400 ? { errorCode: 'pagerduty_invalid_event', retryable: false } : {});
  const body = tryJson(res.body) as { dedup_key?: string } | undefined;
  return body?.dedup_key ?? String(event.dedup_key);
}

export function emailBody(rt: Pick<ActionRuntime, 'workflowId' | 'executionId'>, p: NotifyParams): Record<string, unknown> {
  const c = p.email_config ?? {};
  const text = c.message ?? baseMessage(rt, p);
  const subject = c.subject ?? p.title ?? cut(text.split('\n')[0] ?? text, 120);
  return compact({ to: c.to, cc: c.cc, subject, text, template: c.template, data: p.data });
}

export async function sendEmail(rt: ActionRuntime, p: NotifyParams): Promise<void> {
  const ep = await resolveEndpoint(rt, 'email');
  const res = await sendWithRetries(
    rt,
    { method: 'POST', url: `${ep.url}/api/v1/send`, headers: { 'content-type': 'application/json', accept: 'application/json', ...ep.headers }, body: JSON.stringify(emailBody(rt, p)) },
    { retryOn: isRefusedUnacted, retryTransport: 'connection' },
  );
  if (!isSuccess(res.status)) throw httpFailure('email relay', res);
}

export async function sendTeams(rt: ActionRuntime, p: NotifyParams): Promise<void> {
  const c = p.teams_config ?? {};
  const url = await rt.secret(c.webhook_secret ?? 'TEAMS_WEBHOOK_URL');
  const card = compact({
    '@type': 'MessageCard',
    '@context': 'https://schema.org/extensions',
    summary: c.title ?? p.title ?? 'cortex',
    title: c.title ?? p.title,
    text: c.message ?? baseMessage(rt, p),
  });
  const res = await sendWithRetries(
    rt,
    { method: 'POST', url, headers: { 'content-type': 'application/json' }, body: JSON.stringify(card) },
    { retryOn: isRefusedUnacted, retryTransport: 'connection' },
  );
  if (!isSuccess(res.status)) throw httpFailure('Teams webhook', res);
}
