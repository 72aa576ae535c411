/**
 * Jira issue creation (HTTP-APIS.md §4): `POST /rest/api/2/issue` (v2: description is plain
 * text; works on Cloud and Data Center), auth from config endpoints.jira (Basic email:token when
 * `user` is set, else Bearer PAT). A create is not idempotent, so every issue carries a label
 * unique to the execution and action, and that label is searched first (JQL) so a retried
 * action finds the issue instead of opening a second one.
 */
import { ActionFailedError } from '../../errors.js';
import type { ActionRuntime } from '../action-impl.js';
import { resolveEndpoint } from '../endpoints.js';
import { compact, httpFailure, isRefusedUnacted, isSuccess, jsonHeaders, parseJsonBody, sendWithRetries } from '../http-util.js';

export interface JiraIssueInput {
  project: string;
  issueType?: string;
  summary: string;
  description?: string;
  labels?: string[];
  priority?: string;
  assignee?: string;
}

export interface TicketResult {
  key: string;
  id: string;
  url: string;
  created: boolean;
}

/** Label that marks what one action created: cortex-<execution>-<action> (no spaces, as Jira and GitHub need). */
export function dedupLabel(rt: ActionRuntime): string {
  return `cortex-${rt.executionId}-${rt.actionId}`.replace(/[^A-Za-z0-9_.-]+/g, '-');
}

/** Cuts to `max` characters (Jira summaries must stay under 255). */
export function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Cloud account ids look like `557058:f58131cb-...` or 24 hex digits; anything else is a DC user name. */
function assigneeField(assignee: string): Record<string, string> {
  return /^[0-9a-f]{24}$/i.test(assignee) || /^\d+:[0-9a-f-]{36}$/i.test(assignee) ? { accountId: assignee } : { name: assignee };
}

export function jiraIssueBody(input: JiraIssueInput, label: string): Record<string, unknown> {
  const labels = [...new Set([...(input.labels ?? []), label])];
  return {
    fields: compact({
      project: { key: input.project },
      summary: cut(input.summary, 254),
      issuetype: { name: input.issueType ?? 'Task' },
      description: input.description,
      labels,
      priority: input.priority ? { name: input.priority } : undefined,
      assignee: input.assignee ? assigneeField(input.assignee) : undefined,
    }),
  };
}

export function jiraSearchPath(label: string): string {
  const q = new URLSearchParams({ jql: `labels = "${label}"`, maxResults: '1', fields: 'summary' });
  return `/rest/api/2/search?${q.toString()}`;
}

/** Finds the issue this action created before (by its label) or creates it. */
export async function createJiraIssueOnce(rt: ActionRuntime, input: JiraIssueInput): Promise<TicketResult> {
  const ep = await resolveEndpoint(rt, 'jira');
  const label = dedupLabel(rt);
  const headers = jsonHeaders(ep.headers);
  const browse = (key: string) => `${ep.url}/browse/${key}`;

  const search = await sendWithRetries(rt, { method: 'GET', url: `${ep.url}${jiraSearchPath(label)}`, headers }, { retryTransport: 'all' });
  if (!isSuccess(search.status)) throw jiraFailure('Jira issue search', search);
  const found = (parseJsonBody(search, 'Jira search') as { issues?: Array<{ id: string; key: string }> }).issues?.[0];
  if (found) {
    rt.debug(`Jira issue ${found.key} already carries ${label}: not creating another`);
    return { key: found.key, id: String(found.id), url: browse(found.key), created: false };
  }

  const res = await sendWithRetries(
    rt,
    { method: 'POST', url: `${ep.url}/rest/api/2/issue`, headers, body: JSON.stringify(jiraIssueBody(input, label)) },
    // Not idempotent: retried only when Jira did not act (429/503 with Retry-After).
    { retryOn: isRefusedUnacted, retryTransport: 'connection' },
  );
  if (!isSuccess(res.status)) throw jiraFailure(`Jira create issue in ${input.project}`, res);
  const created = parseJsonBody(res, 'Jira create issue') as { id?: string; key?: string };
  if (!created.key) throw new ActionFailedError('Jira answered the create without an issue key', { errorCode: 'bad_response', retryable: false });
  return { key: created.key, id: String(created.id ?? ''), url: browse(created.key), created: true };
}

function jiraFailure(what: string, res: Parameters<typeof httpFailure>[1]): ActionFailedError {
  if (res.status === 401 || res.status === 403) {
    return httpFailure(what, res, {
      errorCode: 'jira_unauthorized',
      retryable: false,
      hint: 'check config endpoints.jira: secret (API token or PAT), user (email, for Cloud Basic auth) and auth',
    });
  }
  return httpFailure(what, res, res.status === 400 ? { errorCode: 'jira_invalid_issue', retryable: false } : {});
}
