/**
 * Lab Jira Cloud (HTTP-APIS.md §4): POST /rest/api/{2,3}/issue -> 201 {id,key,self}; errors
 * {errorMessages[], errors{}}; GET/POST /rest/api/{2,3}/search/jql (labels/project JQL; issue
 * ids, keys and fields only when `fields` is asked for, {issues, isLast}); the old
 * /rest/api/{2,3}/search answer 410 Gone with Atlassian's message (removed in 2025, CHANGE-2046);
 * GET /rest/api/{2,3}/issue/{key|id}. Auth: Basic <user>:<token> or Bearer <token>. Duplicates
 * are kept (Jira has no idempotency): a client must search before it creates.
 */
import { basicPassword, bearer, json, nowIso, type LabReply, type LabRequest, type ServiceDef } from './server.js';
import { readHttpState, updateHttpState, type Json } from './state.js';

const ISSUE_TYPES = ['Task', 'Bug', 'Story', 'Epic', 'Incident', 'Sub-task'];
const PRIORITIES = ['Highest', 'High', 'Medium', 'Low', 'Lowest'];

const jiraError = (status: number, errorMessages: string[], errors: Record<string, string> = {}): LabReply => json(status, { errorMessages, errors });

/**
 * Jira's field errors for an issue create ({field: message}, as Jira answers them); `projects`
 * undefined accepts any project key (for checking a plan against Jira's rules).
 */
export function jiraIssueFieldErrors(fields: Json, projects: string[] | undefined, v3: boolean): Record<string, string> {
  const errors: Record<string, string> = {};
  const project = fields.project as Json | undefined;
  if (!project || typeof project !== 'object') errors.project = 'project is required';
  else if (typeof project.key !== 'string' && typeof project.id !== 'string') errors.project = 'valid project is required';
  else if (projects && !projects.includes(String(project.key ?? '')) && !projects.some((_, i) => String(10000 + i) === String(project.id ?? ''))) errors.project = 'valid project is required';
  if (typeof fields.summary !== 'string' || !fields.summary.trim()) errors.summary = 'You must specify a summary of the issue.';
  else if (fields.summary.length > 254) errors.summary = 'Summary must be less than 255 characters.';
  const it = fields.issuetype as Json | undefined;
  if (!it || typeof it !== 'object') errors.issuetype = 'issue type is required';
  else if (it.name !== undefined && !ISSUE_TYPES.includes(String(it.name))) errors.issuetype = 'valid issue type is required';
  if (fields.description !== undefined && fields.description !== null) {
    if (v3 && (typeof fields.description !== 'object' || (fields.description as Json).type !== 'doc')) errors.description = 'Operation value must be an Atlassian Document (see the Atlassian Document Format)';
    if (!v3 && typeof fields.description !== 'string') errors.description = 'Operation value must be a string';
  }
  if (fields.labels !== undefined) {
    if (!Array.isArray(fields.labels)) errors.labels = 'data was not an array';
    else {
      const bad = fields.labels.find((l) => typeof l !== 'string' || /\s/.test(l));
      if (bad !== undefined) errors.labels = `The label '${String(bad)}' contains spaces which is invalid.`;
    }
  }
  const pr = fields.priority as Json | undefined;
  if (pr !== undefined && (typeof pr !== 'object' || (pr.name !== undefined && !PRIORITIES.includes(String(pr.name))))) {
    errors.priority = `Priority name '${String(pr && typeof pr === 'object' ? pr.name : pr)}' is not valid`;
  }
  return errors;
}

/** The JQL the lab understands: clauses `labels = x`, `project = X`, `key = X-1` joined by AND. */
function matches(issue: Json, jql: string): boolean {
  const clauses = jql.split(/\s+AND\s+/i).map((c) => c.trim()).filter(Boolean);
  return clauses.every((c) => {
    const m = /^(labels|project|key|status)\s*(=|in)\s*(.+)$/i.exec(c);
    if (!m) return true;
    const values = (m[2]?.toLowerCase() === 'in' ? (m[3] as string).replace(/^\(|\)$/g, '').split(',') : [m[3] as string]).map((v) => v.trim().replace(/^"(.*)"$|^'(.*)'$/, '$1$2'));
    const f = issue.fields as Json;
    switch (m[1]?.toLowerCase()) {
      case 'labels':
        return values.some((v) => ((f.labels as string[] | undefined) ?? []).includes(v));
      case 'project':
        return values.includes(String((f.project as Json).key));
      case 'key':
        return values.includes(String(issue.key));
      default:
        return values.some((v) => v.toLowerCase() === 'open');
    }
  });
}

/** Atlassian's answer to the removed search endpoints (GET and POST /rest/api/{2,3}/search). */
export const SEARCH_REMOVED =
  'The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046';

function searchJql(lab: string, req: LabRequest, self: string, version: string): LabReply {
  const body = (req.method === 'POST' ? req.json : undefined) as Json | undefined;
  const jql = body ? String(body.jql ?? '') : (req.query.get('jql') ?? '');
  if (!jql.trim()) return jiraError(400, ['Unbounded JQL queries are not allowed here. Please add a search restriction to your query.']);
  const max = Number(body?.maxResults ?? req.query.get('maxResults') ?? 50) || 50;
  const fields = body?.fields ?? req.query.get('fields');
  const found = readHttpState(lab).jira.issues.filter((i) => matches(i, jql));
  return json(200, {
    issues: found.slice(0, max).map((i) => (fields ? { id: i.id, key: i.key, self: `${self}/rest/api/${version}/issue/${String(i.id)}`, fields: i.fields } : { id: i.id })),
    isLast: found.length <= max,
  });
}

export function jiraService(lab: string, token: string, selfUrl: () => string): ServiceDef {
  return {
    name: 'jira',
    unavailable: () => jiraError(503, ['Service Unavailable']),
    throttled: (retryAfter) =>
      json(429, { errorMessages: ['Rate limit exceeded.'], errors: {} }, {
        'retry-after': String(retryAfter),
        'x-ratelimit-reset': new Date(Date.now() + retryAfter * 1000).toISOString(),
        'x-ratelimit-limit': '100',
        'x-ratelimit-remaining': '0',
        'ratelimit-reason': 'jira-quota-tenant-based',
      }),
    authorize(req) {
      if (bearer(req) === token || basicPassword(req) === token) return undefined;
      return jiraError(401, ['Client must be authenticated to access this resource.']);
    },
    handle(req) {
      const m = /^\/rest\/api\/(2|3)\/(.+)$/.exec(req.path);
      if (!m) return jiraError(404, ['Not Found']);
      const v3 = m[1] === '3';
      const rest = m[2] as string;
      if (rest === 'issue' && req.method === 'POST') {
        if (req.jsonError || !req.json || typeof req.json !== 'object') return jiraError(400, ['Unexpected character in request body: not valid JSON'], {});
        const fields = (req.json as Json).fields as Json | undefined;
        if (!fields || typeof fields !== 'object') return jiraError(400, ['Issue fields are required (fields)'], {});
        return updateHttpState(lab, (s) => {
          const errors = jiraIssueFieldErrors(fields, s.jira.projects, v3);
          if (Object.keys(errors).length) return jiraError(400, [], errors);
          const project = String((fields.project as Json).key ?? s.jira.projects[Number((fields.project as Json).id) - 10000]);
          const n = (s.jira.seq[project] ?? 0) + 1;
          s.jira.seq[project] = n;
          const id = String(s.jira.next_id++);
          const key = `${project}-${n}`;
          s.jira.issues.push({ id, key, created: nowIso(), action: req.action ?? null, fields: { ...fields, project: { key: project }, status: { name: 'Open' } } });
          return json(201, { id, key, self: `${selfUrl()}/rest/api/${m[1]}/issue/${id}` });
        });
      }
      if (rest === 'search' && (req.method === 'GET' || req.method === 'POST')) return jiraError(410, [SEARCH_REMOVED]);
      if (rest === 'search/jql' && (req.method === 'GET' || req.method === 'POST')) return searchJql(lab, req, selfUrl(), m[1] as string);
      const im = /^issue\/([^/]+)$/.exec(rest);
      if (im && req.method === 'GET') {
        const issue = readHttpState(lab).jira.issues.find((i) => i.key === im[1] || i.id === im[1]);
        return issue ? json(200, { id: issue.id, key: issue.key, self: `${selfUrl()}/rest/api/${m[1]}/issue/${String(issue.id)}`, fields: issue.fields }) : jiraError(404, ['Issue does not exist or you do not have permission to see it.']);
      }
      return jiraError(404, ['Not Found']);
    },
  };
}
