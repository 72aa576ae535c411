/**
 * Jira issue creation (HTTP-APIS.md §4): `POST /rest/api/2/issue` (v2: description is plain
 * text; works on Cloud and Data Center), auth from config endpoints.jira (Basic email:token when
 * `user` is set, else Bearer PAT). A create is not idempotent, so every issue carries a label
 * unique to the execution and action, and that label is searched first (JQL) so a retried
 * action finds the issue instead of opening a second one.
 *
 * The search is Jira Cloud's `GET /rest/api/3/search/jql`: Atlassian removed `/rest/api/{2,3}/search`
 * in 2025 (410 Gone, CHANGE-2046). Data Center has no search/jql (404) and keeps
 * `/rest/api/2/search`, used then. search/jql is eventually consistent: an issue created seconds
 * ago may not be found yet. So when an earlier attempt of this action got as far as the create
 * (recorded before its POST) and the search finds nothing, the search is repeated for a while
 * before a second create.
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
export function dedupLabel(rt: Pick<ActionRuntime, 'executionId' | 'actionId'>): string {
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

/** The label search: Cloud's search/jql, or (legacy, Data Center) /rest/api/2/search. */
export function jiraSearchPath(label: string, legacy = false): string {
  const q = new URLSearchParams({ jql: `labels = "${label}"`, maxResults: '1', fields: 'summary' });
  return `${legacy ? '/rest/api/2/search' : '/rest/api/3/search/jql'}?${q.toString()}`;
}

/** Seconds between the searches a retried create makes while Jira's index catches up. */
const INDEX_WAITS_S = [2, 4, 8, 16];

type JiraHit = { id: string; key?: string };

/** Finds the issue this action created before (by its label) or creates it. */
export async function createJiraIssueOnce(rt: ActionRuntime, input: JiraIssueInput): Promise<TicketResult> {
  const ep = await resolveEndpoint(rt, 'jira');
  const label = dedupLabel(rt);
  const headers = jsonHeaders(ep.headers);
  const browse = (key: string) => `${ep.url}/browse/${key}`;
  let legacy = false;

  const search = async (): Promise<JiraHit | undefined> => {
    let res = await sendWithRetries(rt, { method: 'GET', url: `${ep.url}${jiraSearchPath(label, legacy)}`, headers }, { retryTransport: 'all' });
    if (res.status === 404 && !legacy) {
      // Data Center: no search/jql; its /rest/api/2/search still works.
      legacy = true;
      res = await sendWithRetries(rt, { method: 'GET', url: `${ep.url}${jiraSearchPath(label, true)}`, headers }, { retryTransport: 'all' });
    }
    if (!isSuccess(res.status)) throw jiraFailure('Jira issue search', res);
    return (parseJsonBody(res, 'Jira search') as { issues?: JiraHit[] }).issues?.[0];
  };
  const found = async (hit: JiraHit): Promise<TicketResult> => {
    // search/jql answers ids; the key comes with the issue.
    const key = hit.key ?? (await issueKey(rt, ep.url, headers, hit.id));
    rt.debug(`Jira issue ${key} already carries ${label}: not creating another`);
    return { key, id: String(hit.id), url: browse(key), created: false };
  };

  let hit = await search();
  if (hit) return found(hit);
  const firstCreate = await rt.remember('jira_create_attempt', async () => rt.attempt);
  if (firstCreate < rt.attempt && !legacy) {
    rt.debug(
      `Jira: attempt ${firstCreate} of this action already sent the create of the issue labelled ${label}; search/jql is eventually consistent ` +
        '(an issue created seconds ago may not be found yet), so searching again before creating',
    );
    for (const s of INDEX_WAITS_S) {
      if (rt.remainingMs() < (s + 5) * 1000) break;
      await rt.sleep(s * 1000);
      hit = await search();
      if (hit) return found(hit);
    }
    rt.debug(`Jira: still no issue labelled ${label}; creating it`);
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

async function issueKey(rt: ActionRuntime, base: string, headers: Record<string, string>, id: string): Promise<string> {
  const res = await sendWithRetries(rt, { method: 'GET', url: `${base}/rest/api/2/issue/${encodeURIComponent(id)}?fields=summary`, headers }, { retryTransport: 'all' });
  if (!isSuccess(res.status)) throw jiraFailure(`Jira GET issue ${id}`, res);
  const key = (parseJsonBody(res, 'Jira GET issue') as { key?: string }).key;
  if (!key) throw new ActionFailedError(`Jira issue ${id} answered without a key`, { errorCode: 'bad_response', retryable: false });
  return key;
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
