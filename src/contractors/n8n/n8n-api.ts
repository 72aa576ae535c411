/**
 * n8n public REST API (HTTP-APIS.md §1.2-1.3): `<n8n>/api/v1/...` with `X-N8N-API-KEY` from config
 * endpoints.n8n (secret). Every error is `{message}`; lists page with `cursor`/`nextCursor`.
 * n8n has no idempotency keys and names are not unique: look up by name before creating.
 */
import { ActionFailedError } from '../../errors.js';
import type { HttpResponse } from '../../ports/http-client.js';
import type { ActionRuntime } from '../action-impl.js';
import { resolveEndpoint, type ResolvedEndpoint } from '../endpoints.js';
import { httpFailure, isRefusedUnacted, isSuccess, jsonHeaders, parseJsonBody, sendWithRetries } from '../http-util.js';

export interface N8nWorkflow {
  id: string;
  name: string;
  active?: boolean;
  nodes?: Array<Record<string, unknown>>;
  connections?: Record<string, unknown>;
  settings?: Record<string, unknown>;
  [key: string]: unknown;
}

export const N8N_API = '/api/v1';
/** Largest page the API serves. */
const PAGE_LIMIT = 250;
/** Safety stop for pagination (250 x 40 = 10,000 workflows). */
const MAX_PAGES = 40;

export class N8nApi {
  private constructor(
    private readonly rt: ActionRuntime,
    readonly endpoint: ResolvedEndpoint,
  ) {}

  static async connect(rt: ActionRuntime): Promise<N8nApi> {
    return new N8nApi(rt, await resolveEndpoint(rt, 'n8n'));
  }

  get baseUrl(): string {
    return this.endpoint.url;
  }

  /**
   * One API call. GET/PUT/DELETE and activate/deactivate are safe to repeat and are retried on
   * 429/5xx and refused connections; a create (POST /workflows) only on 429/503.
   */
  async call(method: string, path: string, body?: unknown, options: { repeatable?: boolean } = {}): Promise<HttpResponse> {
    const repeatable = options.repeatable ?? method !== 'POST';
    return sendWithRetries(
      this.rt,
      {
        method,
        url: `${this.endpoint.url}${N8N_API}${path}`,
        headers: jsonHeaders(this.endpoint.headers),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      },
      repeatable ? { retryTransport: 'all' } : { retryOn: isRefusedUnacted, retryTransport: 'connection' },
    );
  }

  /** A call that must succeed; returns its JSON. */
  async expect<T>(method: string, path: string, body?: unknown, options: { repeatable?: boolean; what?: string } = {}): Promise<T> {
    const res = await this.call(method, path, body, options);
    const what = options.what ?? `n8n ${method} ${N8N_API}${path.replace(/\?.*$/, '')}`;
    if (!isSuccess(res.status)) throw n8nFailure(what, res);
    return parseJsonBody(res, what) as T;
  }

  async getWorkflow(id: string): Promise<N8nWorkflow | undefined> {
    const res = await this.call('GET', `/workflows/${encodeURIComponent(id)}`);
    if (res.status === 404) return undefined;
    if (!isSuccess(res.status)) throw n8nFailure(`n8n GET workflow ${id}`, res);
    return parseJsonBody(res, 'n8n GET workflow') as N8nWorkflow;
  }

  /**
   * Workflows named exactly `name` (the API's `name` filter is the documented lookup; every page
   * is read and names are compared exactly, since names are not unique and filters may match more).
   */
  async findByName(name: string): Promise<N8nWorkflow[]> {
    const found: N8nWorkflow[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const q = new URLSearchParams({ name, limit: String(PAGE_LIMIT), excludePinnedData: 'true' });
      if (cursor) q.set('cursor', cursor);
      const list = await this.expect<{ data?: N8nWorkflow[]; nextCursor?: string | null }>('GET', `/workflows?${q.toString()}`, undefined, {
        what: 'n8n GET /api/v1/workflows',
      });
      for (const w of list.data ?? []) if (w.name === name) found.push(w);
      cursor = list.nextCursor ?? null;
      if (!cursor) break;
    }
    return found;
  }

  /** The workflow given by id, or the one named `name`; undefined when there is none. */
  async resolve(ref: { workflow_id?: string; name?: string }): Promise<N8nWorkflow | undefined> {
    if (ref.workflow_id) return this.getWorkflow(ref.workflow_id);
    const matches = await this.findByName(ref.name as string);
    if (matches.length > 1) {
      this.rt.debug(`n8n: ${matches.length} workflows are named "${ref.name}"; using ${matches[0]?.id}`);
    }
    return matches[0];
  }
}

/** An n8n API error as an ActionFailedError (n8n errors are `{message}`). */
export function n8nFailure(what: string, res: HttpResponse): ActionFailedError {
  if (res.status === 401 || res.status === 403) {
    return httpFailure(what, res, { errorCode: 'n8n_unauthorized', retryable: false, hint: 'check the n8n API key (config endpoints.n8n secret) and its scopes' });
  }
  return httpFailure(what, res);
}

export function workflowNotFound(ref: { workflow_id?: string; name?: string }): ActionFailedError {
  return new ActionFailedError(`n8n workflow ${ref.workflow_id ? `id ${ref.workflow_id}` : `"${ref.name}"`} not found`, {
    errorCode: 'n8n_workflow_not_found',
    retryable: false,
  });
}

/** Production webhook URL of a path (never the one-shot webhook-test URL). */
export function webhookUrl(base: string, path: string): string {
  return `${base}/webhook/${path.replace(/^\/+/, '')}`;
}
