/**
 * create_ticket: a Jira issue (POST /rest/api/2/issue, labelled cortex-<execution>-<action> and
 * searched for by that label first) or a GitHub issue (marked in its body, since GitHub drops
 * labels without push access), so a retry never opens a duplicate. The
 * ${workflow_name}/${status} templating of summary/description happens in the engine.
 */
import type { ActionImpl } from '../action-impl.js';
import { endpointPlaceholder } from '../endpoints.js';
import { GitHubApi, issueBody, issueMarker } from './github.js';
import { createJiraIssueOnce, jiraIssueBody, jiraSearchPath } from './jira.js';

interface Params {
  system?: 'jira' | 'github';
  project: string;
  issue_type?: string;
  summary: string;
  description?: string;
  labels?: string[];
  priority?: string;
  assignee?: string;
}

export const createTicket: ActionImpl = {
  plan(params, ctx) {
    const p = params as unknown as Params;
    const label = `cortex-${ctx.executionId}-${ctx.actionId}`;
    if (p.system === 'github') {
      const base = `${endpointPlaceholder('github')}/repos/${p.project}/issues`;
      const rtLike = { executionId: ctx.executionId, actionId: ctx.actionId };
      return [
        { kind: 'request', method: 'GET', url: `${base}?state=all&sort=created&direction=desc&per_page=100`, note: `an issue whose body carries ${issueMarker(rtLike)}` },
        { kind: 'request', method: 'POST', url: base, body: issueBody(rtLike, { title: p.summary, ...(p.description !== undefined ? { body: p.description } : {}), ...(p.labels ? { labels: p.labels } : {}), ...(p.assignee ? { assignee: p.assignee } : {}) }) },
      ];
    }
    const base = endpointPlaceholder('jira');
    return [
      { kind: 'request', method: 'GET', url: `${base}${jiraSearchPath(label)}`, note: 'an issue this action opened before (Data Center: /rest/api/2/search)' },
      {
        kind: 'request',
        method: 'POST',
        url: `${base}/rest/api/2/issue`,
        body: jiraIssueBody({ project: p.project, issueType: p.issue_type, summary: p.summary, description: p.description, labels: p.labels, priority: p.priority, assignee: p.assignee }, label),
      },
    ];
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    if (p.system === 'github') {
      const gh = await GitHubApi.connect(rt);
      const repo = await gh.repo(p.project);
      return { ...(await gh.issueOnce(repo, { title: p.summary, body: p.description, labels: p.labels, assignee: p.assignee })) };
    }
    return {
      ...(await createJiraIssueOnce(rt, {
        project: p.project,
        summary: p.summary,
        ...(p.issue_type ? { issueType: p.issue_type } : {}),
        ...(p.description !== undefined ? { description: p.description } : {}),
        ...(p.labels ? { labels: p.labels } : {}),
        ...(p.priority ? { priority: p.priority } : {}),
        ...(p.assignee ? { assignee: p.assignee } : {}),
      })),
    };
  },
};
