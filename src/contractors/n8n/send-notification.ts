/**
 * send_notification: one message per channel, sent directly (not through n8n). Every channel is
 * attempted; the action fails when any channel still failed after its retries, naming which
 * were delivered (a retry of the whole action would post those again: only PagerDuty and the
 * label-deduplicated Jira issue / GitHub deployment are safe to repeat).
 */
import { ActionFailedError, InterruptedError } from '../../errors.js';
import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { endpointPlaceholder } from '../endpoints.js';
import { GitHubApi } from './github.js';
import { createJiraIssueOnce, jiraIssueBody } from './jira.js';
import {
  baseMessage,
  emailBody,
  pagerdutyEvent,
  sendEmail,
  sendPagerDuty,
  sendSlack,
  sendTeams,
  slackBody,
  slackPostMessageBody,
  slackRoute,
  isPlainMention,
  type NotifyParams,
} from './notify-channels.js';

interface Outcome {
  pagerduty_dedup_key?: string;
  jira_key?: string;
  github_deployment_id?: number;
}

async function sendJira(rt: ActionRuntime, p: NotifyParams): Promise<string> {
  const c = p.jira_config ?? {};
  const project = c.project ?? rt.config.endpoints.jira?.project;
  if (!project) {
    throw new ActionFailedError('jira: no project (jira_config.project or config endpoints.jira.project)', { errorCode: 'invalid_parameters', retryable: false });
  }
  const message = baseMessage(rt, p);
  const issue = await createJiraIssueOnce(rt, {
    project,
    summary: c.summary ?? p.title ?? message,
    description: c.description ?? message,
    ...(c.issue_type ? { issueType: c.issue_type } : {}),
    ...(c.labels ? { labels: c.labels } : {}),
    ...(c.priority ? { priority: c.priority } : {}),
  });
  return issue.key;
}

async function sendGitHub(rt: ActionRuntime, p: NotifyParams): Promise<number | undefined> {
  const c = p.github_config ?? {};
  if (!c.repository) throw new ActionFailedError('github: github_config.repository is required', { errorCode: 'invalid_parameters', retryable: false });
  const gh = await GitHubApi.connect(rt);
  const repo = await gh.repo(c.repository);
  const message = baseMessage(rt, p);
  if (c.action === 'comment_on_commit') {
    await gh.commitComment(repo, c.ref ?? 'main', c.body ?? message);
    return undefined;
  }
  const environment = c.environment ?? 'production';
  const description = c.description ?? message;
  const id = c.deployment_id ?? (await gh.deploymentOnce(repo, { ref: c.ref ?? 'main', environment, description })).id;
  await gh.deploymentStatus(repo, id, {
    state: c.state ?? 'success',
    description,
    environment,
    ...(c.log_url ? { log_url: c.log_url } : {}),
    ...(c.environment_url ? { environment_url: c.environment_url } : {}),
  });
  return id;
}

async function deliver(rt: ActionRuntime, channel: string, p: NotifyParams, out: Outcome): Promise<void> {
  switch (channel) {
    case 'slack':
      return sendSlack(rt, p);
    case 'pagerduty':
      out.pagerduty_dedup_key = await sendPagerDuty(rt, p);
      return;
    case 'email':
      return sendEmail(rt, p);
    case 'jira':
      out.jira_key = await sendJira(rt, p);
      return;
    case 'github': {
      const id = await sendGitHub(rt, p);
      if (id !== undefined) out.github_deployment_id = id;
      return;
    }
    case 'teams':
      return sendTeams(rt, p);
    default:
      throw new ActionFailedError(`unknown channel ${channel}`, { errorCode: 'invalid_parameters', retryable: false });
  }
}

export const sendNotification: ActionImpl = {
  plan(params, ctx) {
    const p = params as unknown as NotifyParams;
    const rtLike = { workflowId: ctx.workflowId, executionId: ctx.executionId, actionId: ctx.actionId };
    return p.channels.map((channel): PlannedStep => {
      switch (channel) {
        case 'slack': {
          const route = slackRoute(ctx.config, p);
          const plain = isPlainMention(p.slack_config?.mention) ? `; "${String(p.slack_config?.mention)}" is plain text to Slack (a user group is <!subteam^ID>)` : '';
          if (route.kind === 'api') return { kind: 'request', method: 'POST', url: `${route.base}/chat.postMessage`, body: slackPostMessageBody(rtLike, p, route.channel), note: `bot token (endpoints.slack.secret)${plain}` };
          return {
            kind: 'request',
            method: 'POST',
            url: endpointPlaceholder('slack'),
            body: slackBody(rtLike, p),
            note: `${
              route.ignoredChannel
                ? `incoming webhook: it posts to its own channel, not ${route.ignoredChannel} (set endpoints.slack.secret, a bot token, to post there)`
                : 'incoming webhook (the URL is a secret)'
            }${plain}`,
          };
        }
        case 'pagerduty':
          return { kind: 'request', method: 'POST', url: `${endpointPlaceholder('pagerduty')}/v2/enqueue`, body: pagerdutyEvent(rtLike, p, '***') };
        case 'email':
          return { kind: 'request', method: 'POST', url: `${endpointPlaceholder('email')}/api/v1/send`, body: emailBody(rtLike, p) };
        case 'jira': {
          const label = `cortex-${ctx.executionId}-${ctx.actionId}`;
          const project = p.jira_config?.project ?? ctx.config.endpoints.jira?.project ?? '<project>';
          const message = baseMessage(rtLike, p);
          return {
            kind: 'request',
            method: 'POST',
            url: `${endpointPlaceholder('jira')}/rest/api/2/issue`,
            body: jiraIssueBody({ project, summary: p.jira_config?.summary ?? p.title ?? message, description: p.jira_config?.description ?? message, issueType: p.jira_config?.issue_type, labels: p.jira_config?.labels, priority: p.jira_config?.priority }, label),
            note: `unless an issue labelled ${label} exists`,
          };
        }
        case 'github': {
          const c = p.github_config ?? {};
          return c.action === 'comment_on_commit'
            ? { kind: 'request', method: 'POST', url: `${endpointPlaceholder('github')}/repos/${c.repository}/commits/${c.ref ?? 'main'}/comments` }
            : {
                kind: 'request',
                method: 'POST',
                url: `${endpointPlaceholder('github')}/repos/${c.repository}/deployments/${c.deployment_id ?? '<deployment_id>'}/statuses`,
                body: { state: c.state ?? 'success' },
                ...(c.deployment_id ? {} : { note: `after creating a deployment of ${c.ref ?? 'main'}` }),
              };
        }
        default:
          return { kind: 'request', method: 'POST', url: `<secrets.${p.teams_config?.webhook_secret ?? 'TEAMS_WEBHOOK_URL'}>`, note: 'Teams webhook' };
      }
    });
  },
  async run(rt) {
    const p = rt.params as unknown as NotifyParams;
    const delivered: string[] = [];
    const failed: Array<{ channel: string; error: string }> = [];
    const out: Outcome = {};
    let allRetryable = true;
    for (const channel of p.channels) {
      try {
        await deliver(rt, channel, p, out);
        delivered.push(channel);
      } catch (e) {
        if (e instanceof InterruptedError || !(e instanceof ActionFailedError) || e.errorCode === 'action_timeout') throw e;
        failed.push({ channel, error: e.message });
        allRetryable &&= e.retryable;
        rt.debug(`send_notification: ${channel} failed: ${e.message}`);
      }
    }
    if (failed.length) {
      throw new ActionFailedError(
        `notification not delivered to ${failed.map((f) => `${f.channel} (${f.error})`).join('; ')}${delivered.length ? `; delivered to ${delivered.join(', ')}` : ''}`,
        { errorCode: 'notification_failed', retryable: allRetryable },
      );
    }
    return {
      delivered,
      failed,
      pagerduty_dedup_key: out.pagerduty_dedup_key ?? null,
      jira_key: out.jira_key ?? null,
      github_deployment_id: out.github_deployment_id ?? null,
    };
  },
};
