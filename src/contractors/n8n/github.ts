/**
 * GitHub REST (HTTP-APIS.md §5): deployments, deployment statuses, issues, commit comments.
 * Headers: `Authorization: Bearer <token>` (config endpoints.github secret), `Accept:
 * application/vnd.github+json`, `X-GitHub-Api-Version: 2022-11-28`, `User-Agent`. Nothing here is
 * idempotent at GitHub, so creates look for what this action made before (deployment payload,
 * issue body marker) and POSTs are retried only on answers where GitHub did not act (429, 503,
 * rate-limit 403).
 */
import { ActionFailedError, oneLine } from '../../errors.js';
import type { HttpResponse } from '../../ports/http-client.js';
import type { ActionRuntime } from '../action-impl.js';
import { resolveEndpoint, type ResolvedEndpoint } from '../endpoints.js';
import { compact, httpFailure, isRateLimit403, isRefusedUnacted, isSuccess, parseJsonBody, sendWithRetries } from '../http-util.js';
import { cut, dedupLabel, type TicketResult } from './jira.js';

export const GITHUB_API_VERSION = '2022-11-28';
export const USER_AGENT = 'cortex';

export class GitHubApi {
  private owner?: string;

  private constructor(
    private readonly rt: ActionRuntime,
    readonly endpoint: ResolvedEndpoint,
  ) {}

  static async connect(rt: ActionRuntime): Promise<GitHubApi> {
    return new GitHubApi(rt, await resolveEndpoint(rt, 'github'));
  }

  headers(json: boolean): Record<string, string> {
    return {
      accept: 'application/vnd.github+json',
      'x-github-api-version': GITHUB_API_VERSION,
      'user-agent': USER_AGENT,
      ...(json ? { 'content-type': 'application/json' } : {}),
      ...this.endpoint.headers,
    };
  }

  async call(method: string, path: string, body?: unknown): Promise<HttpResponse> {
    const repeatable = method === 'GET';
    return sendWithRetries(
      this.rt,
      {
        method,
        url: `${this.endpoint.url}${path}`,
        headers: this.headers(body !== undefined),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      },
      repeatable ? { retryTransport: 'all' } : { retryOn: isRefusedUnacted, retryTransport: 'connection' },
    );
  }

  async expect<T>(method: string, path: string, body: unknown, what: string, ok: number[] = [200, 201]): Promise<T> {
    const res = await this.call(method, path, body);
    if (!ok.includes(res.status)) throw githubFailure(what, res);
    return parseJsonBody(res, what) as T;
  }

  /** `owner/name`; a bare name gets config endpoints.github.project, else the token's own login. */
  async repo(repository: string): Promise<string> {
    if (repository.includes('/')) return repository;
    this.owner ??= this.rt.config.endpoints.github?.project;
    if (!this.owner) {
      const user = await this.expect<{ login?: string }>('GET', '/user', undefined, 'GitHub GET /user');
      if (!user.login) throw new ActionFailedError('GitHub GET /user answered without a login', { errorCode: 'bad_response', retryable: false });
      this.owner = user.login;
    }
    return `${this.owner}/${repository}`;
  }

  /**
   * The deployment this action created before for `ref` in `environment` (its payload names the
   * execution and action), or a new one. required_contexts [] so status checks never block it;
   * auto_merge false so GitHub never merges the default branch into `ref`.
   */
  async deploymentOnce(repo: string, input: { ref: string; environment: string; description?: string }): Promise<{ id: number; created: boolean }> {
    const q = new URLSearchParams({ ref: input.ref, environment: input.environment, per_page: '100' });
    const list = await this.expect<Array<{ id: number; payload?: unknown }>>('GET', `/repos/${repo}/deployments?${q.toString()}`, undefined, 'GitHub list deployments');
    const mine = (Array.isArray(list) ? list : []).find((d) => {
      const c = (d.payload as { cortex?: { execution_id?: string; action_id?: string } } | null | undefined)?.cortex;
      return c?.execution_id === this.rt.executionId && c?.action_id === this.rt.actionId;
    });
    if (mine) {
      this.rt.debug(`GitHub deployment ${mine.id} was made by this action before: reusing it`);
      return { id: mine.id, created: false };
    }
    const res = await this.call(
      'POST',
      `/repos/${repo}/deployments`,
      compact({
        ref: input.ref,
        environment: input.environment,
        auto_merge: false,
        required_contexts: [],
        description: input.description ? cut(input.description, 140) : undefined,
        payload: { cortex: { execution_id: this.rt.executionId, workflow_id: this.rt.workflowId, action_id: this.rt.actionId } },
      }),
    );
    if (res.status === 202) {
      throw new ActionFailedError(`GitHub did not create a deployment of ${input.ref}: ${githubMessage(res)}`, { errorCode: 'github_deployment_failed', retryable: true });
    }
    if (res.status !== 201) throw githubFailure(`GitHub create deployment of ${input.ref} in ${repo}`, res);
    const d = parseJsonBody(res, 'GitHub create deployment') as { id?: number };
    if (typeof d.id !== 'number') throw new ActionFailedError('GitHub answered the deployment without an id', { errorCode: 'bad_response', retryable: false });
    return { id: d.id, created: true };
  }

  async deploymentStatus(
    repo: string,
    deploymentId: number,
    input: { state: string; description?: string; log_url?: string; environment_url?: string; environment?: string; auto_inactive?: boolean },
  ): Promise<{ id: number; state: string }> {
    const s = await this.expect<{ id?: number; state?: string }>(
      'POST',
      `/repos/${repo}/deployments/${deploymentId}/statuses`,
      compact({
        state: input.state,
        description: input.description ? cut(input.description, 140) : undefined,
        log_url: input.log_url,
        environment_url: input.environment_url,
        environment: input.environment,
        auto_inactive: input.auto_inactive,
      }),
      `GitHub deployment status on ${repo} deployment ${deploymentId}`,
      [201],
    );
    return { id: Number(s.id), state: s.state ?? input.state };
  }

  /**
   * The issue this action opened before, or a new one. Found by a marker in its body (an HTML
   * comment naming the execution and action), not by label: GitHub silently drops the labels
   * of an issue created by a token without push access, so a label search finds nothing and a
   * retry would open a duplicate. The search lists the repository's 100 newest issues (the
   * issue list is read from GitHub's database, unlike /search/issues, which is indexed late).
   */
  async issueOnce(repo: string, input: { title: string; body?: string; labels?: string[]; assignee?: string }): Promise<TicketResult> {
    const marker = issueMarker(this.rt);
    const q = new URLSearchParams({ state: 'all', sort: 'created', direction: 'desc', per_page: '100' });
    const recent = await this.expect<Array<{ id: number; number: number; html_url?: string; body?: string | null; pull_request?: unknown }>>('GET', `/repos/${repo}/issues?${q.toString()}`, undefined, 'GitHub list issues');
    const mine = (Array.isArray(recent) ? recent : []).find((i) => !i.pull_request && typeof i.body === 'string' && i.body.includes(marker));
    if (mine) {
      this.rt.debug(`GitHub issue ${repo}#${mine.number} carries ${marker}: not opening another`);
      return { key: `${repo}#${mine.number}`, id: String(mine.id), url: mine.html_url ?? '', created: false };
    }
    const issue = await this.expect<{ id: number; number: number; html_url?: string; labels?: unknown[] }>(
      'POST',
      `/repos/${repo}/issues`,
      issueBody(this.rt, input),
      `GitHub create issue in ${repo}`,
      [201],
    );
    if (Array.isArray(issue.labels) && issue.labels.length === 0) {
      this.rt.debug(`GitHub dropped the labels of ${repo}#${issue.number}: the token has no push access to ${repo}`);
    }
    return { key: `${repo}#${issue.number}`, id: String(issue.id), url: issue.html_url ?? '', created: true };
  }

  async commitComment(repo: string, sha: string, body: string): Promise<number> {
    const c = await this.expect<{ id: number }>('POST', `/repos/${repo}/commits/${encodeURIComponent(sha)}/comments`, { body }, `GitHub comment on ${repo}@${sha}`, [201]);
    return c.id;
  }
}

/** The marker an issue this action opens carries in its body. */
export function issueMarker(rt: Pick<ActionRuntime, 'executionId' | 'actionId'>): string {
  return `<!-- cortex:${rt.executionId}/${rt.actionId} -->`;
}

/** POST /repos/{repo}/issues body: title (GitHub's limit 256), body ending in the marker, labels. */
export function issueBody(rt: Pick<ActionRuntime, 'executionId' | 'actionId'>, input: { title: string; body?: string; labels?: string[]; assignee?: string }): Record<string, unknown> {
  return compact({
    title: cut(input.title, 256),
    body: `${input.body ? `${input.body}\n\n` : ''}${issueMarker(rt)}`,
    labels: [...new Set([...(input.labels ?? []), dedupLabel(rt)])],
    assignees: input.assignee ? [input.assignee] : undefined,
  });
}

function githubMessage(res: HttpResponse): string {
  try {
    const j = JSON.parse(res.body) as { message?: string; errors?: Array<{ field?: string; code?: string; message?: string }> };
    const extra = (j.errors ?? []).map((e) => e.message ?? `${e.field ?? ''} ${e.code ?? ''}`.trim()).filter(Boolean);
    return oneLine([j.message, ...extra].filter(Boolean).join('; '));
  } catch {
    return oneLine(res.body, 200);
  }
}

export function githubFailure(what: string, res: HttpResponse): ActionFailedError {
  if (isRateLimit403(res) || res.status === 429) {
    return new ActionFailedError(`${what}: GitHub rate limit (${res.status}): ${githubMessage(res)}`, { errorCode: 'api_rate_limit', retryable: true });
  }
  if (res.status === 401) {
    return httpFailure(what, res, { errorCode: 'github_unauthorized', retryable: false, hint: 'check the GitHub token (config endpoints.github secret)' });
  }
  if (res.status === 404) {
    return httpFailure(what, res, { errorCode: 'github_not_found', retryable: false, hint: 'the repository (or deployment) does not exist or the token cannot see it' });
  }
  return httpFailure(what, res, isSuccess(res.status) ? { errorCode: 'bad_response', retryable: false } : {});
}
