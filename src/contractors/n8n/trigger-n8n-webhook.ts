/**
 * trigger_n8n_webhook: calls a production webhook `<n8n>/webhook/<path>` (HTTP-APIS.md §1.1).
 * Every accepted call starts a new n8n execution, so only answers where n8n did not act
 * (429/503, refused connection) are retried. The API key is not sent: webhooks do not use it.
 */
import { ActionFailedError, oneLine } from '../../errors.js';
import type { ActionImpl } from '../action-impl.js';
import { endpointPlaceholder, resolveEndpoint } from '../endpoints.js';
import { errorMessageOf, headText, isRefusedUnacted, sendWithRetries, tryJson } from '../http-util.js';
import { webhookUrl } from './n8n-api.js';

interface Params {
  path: string;
  method?: string;
  payload?: Record<string, unknown> | unknown[];
  expected_status?: number | number[];
  expect_json?: boolean;
}

/** A GET webhook gets the payload as a query string (objects as JSON). */
function queryOf(payload: Params['payload']): string {
  if (!payload || Array.isArray(payload)) return '';
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(payload)) {
    if (v === undefined || v === null) continue;
    q.set(k, typeof v === 'string' ? v : JSON.stringify(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const triggerN8nWebhook: ActionImpl = {
  plan(params) {
    const p = params as unknown as Params;
    const method = p.method ?? 'POST';
    const url = webhookUrl(endpointPlaceholder('n8n'), p.path);
    return [method === 'GET' ? { kind: 'request', method, url: `${url}${queryOf(p.payload)}` } : { kind: 'request', method, url, ...(p.payload !== undefined ? { body: p.payload } : {}) }];
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const method = p.method ?? 'POST';
    const ep = await resolveEndpoint(rt, 'n8n');
    const base = webhookUrl(ep.url, p.path);
    const hasBody = method !== 'GET' && p.payload !== undefined;
    const res = await sendWithRetries(
      rt,
      {
        method,
        url: method === 'GET' ? `${base}${queryOf(p.payload)}` : base,
        headers: { accept: 'application/json', ...(hasBody ? { 'content-type': 'application/json' } : {}) },
        ...(hasBody ? { body: JSON.stringify(p.payload) } : {}),
      },
      { retryOn: isRefusedUnacted, retryTransport: 'connection' },
    );
    const expected = p.expected_status === undefined ? [200] : Array.isArray(p.expected_status) ? p.expected_status : [p.expected_status];
    if (!expected.includes(res.status)) {
      const msg = errorMessageOf(res.body);
      if (res.status === 404) {
        throw new ActionFailedError(`n8n webhook ${method} ${p.path} is not registered (404): ${msg}`, {
          errorCode: 'n8n_webhook_not_registered',
          retryable: false,
          hint: `the n8n workflow with a ${method} Webhook node on path "${p.path}" is missing or not active (activate_n8n_workflow)`,
        });
      }
      throw new ActionFailedError(`n8n webhook ${method} ${p.path} answered ${res.status} (expected ${expected.join(' or ')}): ${msg}`, {
        errorCode: res.status === 429 ? 'api_rate_limit' : res.status >= 500 ? 'http_server_error' : 'unexpected_status',
        retryable: res.status === 429 || res.status >= 500,
      });
    }
    let json: unknown = null;
    const parsed = tryJson(res.body);
    if (parsed !== undefined) json = parsed;
    else if (p.expect_json) {
      throw new ActionFailedError(`n8n webhook ${p.path}: the response is not JSON: ${oneLine(res.body, 200)}`, { errorCode: 'bad_response', retryable: false });
    }
    return { status: res.status, body: headText(res.body), json };
  },
};
