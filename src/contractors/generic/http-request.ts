import { ActionFailedError, oneLine } from '../../errors.js';
import type { ActionImpl, ActionRuntime } from '../action-impl.js';
import { resolveEndpoint } from '../endpoints.js';
import { headText, sendWithRetries } from '../http-util.js';

interface HttpRequestParams {
  method?: string;
  url?: string;
  endpoint?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: unknown;
  expected_status?: number | number[];
  timeout_seconds?: number;
  expect_json?: boolean;
}

function encodeBody(body: unknown): { body?: string; contentType?: string } {
  if (body === undefined) return {};
  if (typeof body === 'string') return { body, contentType: 'text/plain; charset=utf-8' };
  return { body: JSON.stringify(body), contentType: 'application/json' };
}

async function target(rt: ActionRuntime, p: HttpRequestParams): Promise<{ url: string; headers: Record<string, string> }> {
  if (p.endpoint) {
    const ep = await resolveEndpoint(rt, p.endpoint);
    return { url: `${ep.url}${p.path ?? ''}`, headers: ep.headers };
  }
  return { url: p.url as string, headers: {} };
}

export const httpRequest: ActionImpl = {
  plan(params) {
    const p = params as HttpRequestParams;
    const url = p.endpoint ? `<endpoints.${p.endpoint}>${p.path ?? ''}` : String(p.url);
    return [{ kind: 'request', method: p.method ?? 'GET', url, ...(p.body !== undefined ? { body: p.body } : {}) }];
  },
  async run(rt) {
    const p = rt.params as HttpRequestParams;
    const method = p.method ?? 'GET';
    const { url, headers } = await target(rt, p);
    const enc = encodeBody(p.body);
    const res = await sendWithRetries(
      rt,
      {
        method,
        url,
        headers: { ...(enc.contentType ? { 'content-type': enc.contentType } : {}), ...headers, ...Object.fromEntries(Object.entries(p.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])) },
        ...(enc.body !== undefined ? { body: enc.body } : {}),
        ...(p.timeout_seconds ? { timeoutMs: p.timeout_seconds * 1000 } : {}),
      },
      // Only idempotent methods are retried automatically; a POST could act twice.
      { retries: ['GET', 'HEAD', 'PUT', 'DELETE'].includes(method) ? undefined : 0 },
    );
    const expected = p.expected_status === undefined ? undefined : Array.isArray(p.expected_status) ? p.expected_status : [p.expected_status];
    const ok = expected ? expected.includes(res.status) : res.status >= 200 && res.status < 300;
    if (!ok) {
      throw new ActionFailedError(`${method} ${url} answered ${res.status}${expected ? ` (expected ${expected.join(' or ')})` : ''}: ${oneLine(res.body, 200)}`, {
        errorCode: res.status === 429 ? 'api_rate_limit' : res.status >= 500 ? 'http_server_error' : 'unexpected_status',
        retryable: res.status === 429 || res.status >= 500,
      });
    }
    let json: unknown = null;
    const isJson = (res.headers['content-type'] ?? '').includes('json');
    if (p.expect_json || isJson) {
      try {
        json = res.body === '' ? null : JSON.parse(res.body);
      } catch {
        if (p.expect_json) throw new ActionFailedError(`${method} ${url}: the response is not JSON`, { errorCode: 'bad_response', retryable: false });
      }
    }
    return { status: res.status, body: headText(res.body), json, headers: res.headers };
  },
};
