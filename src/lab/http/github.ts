/**
 * Lab GitHub REST (HTTP-APIS.md §5): deployments, deployment statuses, issues, commit comments,
 * GET /user. Bearer (or `token`) auth -> 401 Bad credentials; no User-Agent -> 403; an
 * unsupported X-GitHub-Api-Version -> 400; validation 422. Every repository owner/name exists.
 * Rate limiting answers 403 with x-ratelimit-remaining 0 and x-ratelimit-reset. Request bodies
 * are checked against GitHub's published OpenAPI schemas (upstream/github-rest.json). A token
 * without push access (setGithubPushAccess(lab, false)) gets its issues created with labels and
 * assignees silently dropped, as GitHub does.
 */
import { bearer, headerOf, json, nowIso, type LabReply, type LabRequest, type ServiceDef } from './server.js';
import { readHttpState, sha1, updateHttpState, type Json } from './state.js';
import { githubBodyProblems, type GithubOperation } from './upstream-schemas.js';

const DOCS = 'https://docs.github.com/rest';
const STATES = ['error', 'failure', 'inactive', 'in_progress', 'queued', 'pending', 'success'];
const VERSIONS = ['2022-11-28', '2026-03-10'];
const BOT = { login: 'cortex-bot', id: 4242, type: 'Bot' };

const ghError = (status: number, message: string, extra: Json = {}): LabReply => json(status, { message, documentation_url: DOCS, ...extra }, rateHeaders());
const rateHeaders = (): Record<string, string> => ({ 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '4999', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600), 'x-github-api-version-selected': '2022-11-28' });
const ok = (status: number, body: unknown): LabReply => json(status, body, rateHeaders());
const validation = (resource: string, field: string, message: string): LabReply =>
  ghError(422, 'Validation Failed', { errors: [{ resource, code: 'custom', field, message }] });

function shaOf(ref: string): string {
  return /^[0-9a-f]{40}$/i.test(ref) ? ref.toLowerCase() : sha1(`ref:${ref}`);
}

const BAD_JSON = Symbol('bad json');

/** The JSON object body, or BAD_JSON (GitHub answers 400 Problems parsing JSON). */
function body(req: LabRequest): Json | typeof BAD_JSON {
  if (req.jsonError) return BAD_JSON;
  if (req.json === undefined) return {};
  if (!req.json || typeof req.json !== 'object' || Array.isArray(req.json)) return BAD_JSON;
  return req.json as Json;
}

/**
 * GitHub's 422 for a body outside the operation's published schema; enum and length problems
 * are left to the Validation Failed answers below, as GitHub words them.
 */
function schemaRefusal(op: GithubOperation, b: Json): LabReply | undefined {
  const problems = githubBodyProblems(op, b).filter((p) => !/ must be equal to one of the allowed values| is longer than /.test(p));
  if (problems.length === 0) return undefined;
  const missing = /^\/(\w+) is required$/.exec(problems[0] as string);
  return ghError(422, `Invalid request.\n\n${missing ? `"${missing[1]}" wasn't supplied.` : `For 'properties${(problems[0] as string).split(' ')[0]}', ${(problems[0] as string).split(' ').slice(1).join(' ')}.`}`);
}

function repoRoutes(lab: string, req: LabRequest, repo: string, rest: string[], self: string): LabReply {
  const api = `${self}/repos/${repo}`;
  if (rest[0] === 'deployments') {
    if (rest.length === 1 && req.method === 'GET') {
      const q = req.query;
      const list = readHttpState(lab)
        .github.deployments.filter((d) => d.repo === repo)
        .filter((d) => (!q.get('ref') || d.ref === q.get('ref')) && (!q.get('sha') || d.sha === q.get('sha')) && (!q.get('task') || d.task === q.get('task')) && (!q.get('environment') || d.environment === q.get('environment')))
        .sort((a, b) => Number(b.id) - Number(a.id));
      const per = Math.min(100, Number(q.get('per_page') ?? 30) || 30);
      return ok(200, list.slice(0, per).map(({ repo: _r, ...d }) => d));
    }
    if (rest.length === 1 && req.method === 'POST') {
      const b = body(req);
      if (b === BAD_JSON) return ghError(400, 'Problems parsing JSON');
      const refused = schemaRefusal('repos/create-deployment', b);
      if (refused) return refused;
      return updateHttpState(lab, (s) => {
        const id = s.github.next_id++;
        const environment = typeof b.environment === 'string' ? b.environment : 'production';
        const d = {
          url: `${api}/deployments/${id}`,
          id,
          node_id: `DE_${Buffer.from(String(id)).toString('base64')}`,
          sha: shaOf(b.ref as string),
          ref: b.ref,
          task: typeof b.task === 'string' ? b.task : 'deploy',
          payload: b.payload && typeof b.payload === 'object' ? b.payload : {},
          original_environment: environment,
          environment,
          description: typeof b.description === 'string' ? b.description : null,
          creator: BOT,
          created_at: nowIso(),
          updated_at: nowIso(),
          statuses_url: `${api}/deployments/${id}/statuses`,
          repository_url: api,
          transient_environment: b.transient_environment === true,
          production_environment: b.production_environment ?? environment === 'production',
        };
        s.github.deployments.push({ ...d, repo });
        return ok(201, d);
      });
    }
    const id = Number(rest[1]);
    const dep = readHttpState(lab).github.deployments.find((d) => d.repo === repo && d.id === id);
    if (!dep) return ghError(404, 'Not Found');
    if (rest.length === 2 && req.method === 'GET') {
      const { repo: _r, ...d } = dep;
      return ok(200, d);
    }
    if (rest.length === 3 && rest[2] === 'statuses') {
      if (req.method === 'GET') return ok(200, readHttpState(lab).github.statuses.filter((st) => st.deployment_id === id).map(({ deployment_id: _d, ...st }) => st).reverse());
      if (req.method === 'POST') {
        const b = body(req);
        if (b === BAD_JSON) return ghError(400, 'Problems parsing JSON');
        const refused = schemaRefusal('repos/create-deployment-status', b);
        if (refused) return refused;
        if (!STATES.includes(String(b.state))) return validation('DeploymentStatus', 'state', 'state is not included in the list');
        if (typeof b.description === 'string' && b.description.length > 140) return validation('DeploymentStatus', 'description', 'description is too long (maximum is 140 characters)');
        return updateHttpState(lab, (s) => {
          const sid = s.github.next_id++;
          const st = {
            url: `${api}/deployments/${id}/statuses/${sid}`,
            id: sid,
            node_id: `DES_${Buffer.from(String(sid)).toString('base64')}`,
            state: b.state,
            creator: BOT,
            description: typeof b.description === 'string' ? b.description : '',
            environment: typeof b.environment === 'string' ? b.environment : dep.environment,
            target_url: (b.log_url ?? b.target_url ?? '') as string,
            log_url: (b.log_url ?? b.target_url ?? '') as string,
            environment_url: (b.environment_url ?? '') as string,
            created_at: nowIso(),
            updated_at: nowIso(),
            deployment_url: `${api}/deployments/${id}`,
            repository_url: api,
          };
          s.github.statuses.push({ ...st, deployment_id: id });
          return ok(201, st);
        });
      }
    }
    return ghError(404, 'Not Found');
  }
  if (rest[0] === 'issues' && rest.length === 1) {
    if (req.method === 'GET') {
      const labels = (req.query.get('labels') ?? '').split(',').filter(Boolean);
      const state = req.query.get('state') ?? 'open';
      const list = readHttpState(lab)
        .github.issues.filter((i) => i.repo === repo)
        .filter((i) => labels.every((l) => (i.labels as Json[]).some((x) => x.name === l)))
        .filter((i) => state === 'all' || i.state === state)
        .sort((a, b) => (req.query.get('direction') === 'asc' ? 1 : -1) * (Number(a.number) - Number(b.number)));
      const per = Math.min(100, Number(req.query.get('per_page') ?? 30) || 30);
      return ok(200, list.slice(0, per).map(({ repo: _r, ...i }) => i));
    }
    if (req.method === 'POST') {
      const b = body(req);
      if (b === BAD_JSON) return ghError(400, 'Problems parsing JSON');
      const refused = schemaRefusal('issues/create', b);
      if (refused) return refused;
      if (b.title === '') return validation('Issue', 'title', 'title is missing');
      return updateHttpState(lab, (s) => {
        // "Only users with push access can set labels for new issues. Labels are silently dropped otherwise."
        const push = s.github.push_access !== false;
        const id = s.github.next_id++;
        const number = s.github.issues.filter((i) => i.repo === repo).length + 1;
        const issue = {
          id,
          number,
          title: b.title,
          body: typeof b.body === 'string' ? b.body : null,
          state: 'open',
          labels: (push && Array.isArray(b.labels) ? b.labels : []).map((l) => ({ name: String(typeof l === 'object' && l ? (l as Json).name : l) })),
          assignees: (push && Array.isArray(b.assignees) ? b.assignees : []).map((login) => ({ login })),
          user: BOT,
          url: `${api}/issues/${number}`,
          html_url: `https://github.com/${repo}/issues/${number}`,
          created_at: nowIso(),
        };
        s.github.issues.push({ ...issue, repo });
        return ok(201, issue);
      });
    }
  }
  if (rest[0] === 'commits' && rest.length === 3 && rest[2] === 'comments' && req.method === 'POST') {
    const b = body(req);
    if (b === BAD_JSON) return ghError(400, 'Problems parsing JSON');
    const refused = schemaRefusal('repos/create-commit-comment', b);
    if (refused) return refused;
    if (b.body === '') return validation('CommitComment', 'body', 'body is missing');
    return updateHttpState(lab, (s) => {
      const id = s.github.next_id++;
      const c = { id, body: b.body, commit_id: shaOf(rest[1] as string), user: BOT, html_url: `https://github.com/${repo}/commit/${shaOf(rest[1] as string)}#commitcomment-${id}`, created_at: nowIso() };
      s.github.comments.push({ ...c, repo });
      return ok(201, c);
    });
  }
  return ghError(404, 'Not Found');
}

export function githubService(lab: string, token: string, selfUrl: () => string): ServiceDef {
  return {
    name: 'github',
    unavailable: () => ghError(503, 'Service Unavailable'),
    throttled: (retryAfter) =>
      json(403, { message: 'API rate limit exceeded for user ID 4242.', documentation_url: `${DOCS}/overview/rate-limits-for-the-rest-api` }, {
        'x-ratelimit-limit': '5000',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-used': '5000',
        'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + retryAfter),
      }),
    authorize(req) {
      if (!headerOf(req, 'user-agent')) {
        return json(403, { message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).' });
      }
      const version = headerOf(req, 'x-github-api-version');
      if (version !== undefined && !VERSIONS.includes(version)) {
        return ghError(400, `API version ${version} is not supported.`);
      }
      if (bearer(req) !== token) return ghError(401, 'Bad credentials');
      return undefined;
    },
    handle(req) {
      if (req.path === '/user' && req.method === 'GET') return ok(200, { ...BOT, html_url: 'https://github.com/cortex-bot' });
      const m = /^\/repos\/([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)\/(.+)$/.exec(req.path);
      if (!m) return ghError(404, 'Not Found');
      return repoRoutes(lab, req, `${m[1]}/${m[2]}`, (m[3] as string).split('/').filter(Boolean), selfUrl());
    },
  };
}
