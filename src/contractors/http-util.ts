import { ActionFailedError, oneLine } from '../errors.js';
import type { HttpRequest, HttpResponse } from '../ports/http-client.js';
import type { ActionRuntime } from './action-impl.js';

/** Seconds to wait from a Retry-After header (seconds or HTTP date), GitHub's x-ratelimit-reset, or undefined. */
export function retryAfterSeconds(res: HttpResponse, now: Date): number | undefined {
  const ra = res.headers['retry-after'];
  if (ra !== undefined) {
    if (/^\d+(\.\d+)?$/.test(ra.trim())) return Number(ra);
    const t = Date.parse(ra);
    if (!Number.isNaN(t)) return Math.max(0, (t - now.getTime()) / 1000);
  }
  if (res.headers['x-ratelimit-remaining'] === '0' && res.headers['x-ratelimit-reset']) {
    const reset = Number(res.headers['x-ratelimit-reset']);
    if (Number.isFinite(reset)) return Math.max(0, reset - now.getTime() / 1000);
  }
  return undefined;
}

/** GitHub's primary/secondary rate limit answer: 403 with x-ratelimit-remaining 0 (or a retry-after). */
export function isRateLimit403(res: HttpResponse): boolean {
  return res.status === 403 && (res.headers['x-ratelimit-remaining'] === '0' || res.headers['retry-after'] !== undefined);
}

/** Worth retrying for a request that is safe to repeat: 429, 5xx, GitHub's rate-limit 403. */
export function isThrottled(res: HttpResponse): boolean {
  return res.status === 429 || res.status >= 500 || isRateLimit403(res);
}

/**
 * Worth retrying for a request that is NOT safe to repeat (Slack post, Jira create, GitHub
 * status): only answers that say the service did not act — 429, 503, GitHub's rate-limit 403.
 */
export function isRefusedUnacted(res: HttpResponse): boolean {
  return res.status === 429 || res.status === 503 || isRateLimit403(res);
}

export interface RetryOptions {
  /** Retries after the first try (default config defaults.http_max_retries). */
  retries?: number;
  /** Which answers to retry (default isThrottled). Use isRefusedUnacted for non-idempotent requests. */
  retryOn?: (res: HttpResponse) => boolean;
  /**
   * Also retry transport failures: 'connection' = refused/unreachable only (the request never
   * arrived), 'all' = timeouts too (only for requests safe to repeat). Default: none.
   */
  retryTransport?: 'connection' | 'all';
}

/**
 * Sends a request, retrying what `retryOn` accepts (default 429/5xx and GitHub's rate-limit
 * 403) up to `retries` times, waiting Retry-After when given (capped at
 * defaults.max_retry_after_seconds), else an exponential backoff (1 s, 2 s, 4 s...). Gives up
 * early (returning the last answer) when the wait would not fit in the action's deadline.
 */
export async function sendWithRetries(rt: ActionRuntime, req: HttpRequest, options: RetryOptions = {}): Promise<HttpResponse> {
  const retries = options.retries ?? rt.config.defaults.httpMaxRetries;
  const cap = rt.config.defaults.maxRetryAfterSeconds;
  const retryOn = options.retryOn ?? isThrottled;
  for (let i = 0; ; i++) {
    let res: HttpResponse;
    try {
      res = await rt.http(req);
    } catch (e) {
      const code = e instanceof ActionFailedError ? e.errorCode : undefined;
      const transient = code === 'http_unreachable' || (code === 'http_timeout' && options.retryTransport === 'all');
      if (!options.retryTransport || !transient || i >= retries) throw e;
      const wait = Math.min(cap, 2 ** i);
      if (wait * 1000 >= rt.remainingMs()) throw e;
      rt.debug(`${req.method} ${req.url}: ${(e as Error).message}; retrying in ${wait}s (${i + 1}/${retries})`);
      await rt.sleep(wait * 1000);
      continue;
    }
    if (!retryOn(res) || i >= retries) return res;
    const wait = Math.min(cap, retryAfterSeconds(res, rt.now()) ?? 2 ** i);
    if (wait * 1000 >= rt.remainingMs()) return res;
    rt.debug(`${res.status} from ${req.method} ${req.url}: retrying in ${wait}s (${i + 1}/${retries})`);
    await rt.sleep(wait * 1000);
  }
}

export function parseJsonBody(res: HttpResponse, what: string): unknown {
  try {
    return JSON.parse(res.body);
  } catch {
    throw new ActionFailedError(`${what}: response is not JSON: ${oneLine(res.body, 200)}`, { errorCode: 'bad_response', retryable: false });
  }
}

/** The body as JSON, or undefined when it is empty or not JSON. */
export function tryJson(body: string): unknown {
  if (!body.trim()) return undefined;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** Headers for a JSON request/response exchange. */
export function jsonHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { 'content-type': 'application/json', accept: 'application/json', ...extra };
}

/**
 * The message a service put in its error body, whatever its native shape: n8n `{message}` /
 * `{code,message,hint}`, PagerDuty `{status,message,errors[]}`, Jira `{errorMessages[],errors{}}`,
 * GitHub `{message,errors[]}`, Alertmanager a bare JSON string, Slack a plain-text token.
 */
export function errorMessageOf(body: string): string {
  return oneLine(serviceMessage(body), 300);
}

function serviceMessage(body: string): string {
  const json = tryJson(body);
  if (typeof json === 'string') return json;
  if (json && typeof json === 'object' && !Array.isArray(json)) {
    const o = json as Record<string, unknown>;
    const parts: string[] = [];
    if (Array.isArray(o.errorMessages)) parts.push(...o.errorMessages.map(String));
    if (o.errors && typeof o.errors === 'object' && !Array.isArray(o.errors)) {
      parts.push(...Object.entries(o.errors as Record<string, unknown>).map(([k, v]) => `${k}: ${String(v)}`));
    }
    if (typeof o.message === 'string') parts.unshift(o.message);
    if (Array.isArray(o.errors)) {
      parts.push(
        ...o.errors.map((e) =>
          typeof e === 'string' ? e : e && typeof e === 'object' ? (((e as Record<string, unknown>).message as string | undefined) ?? JSON.stringify(e)) : String(e),
        ),
      );
    }
    if (typeof o.hint === 'string' && o.hint) parts.push(`hint: ${o.hint}`);
    if (typeof o.error === 'string') parts.push(o.error);
    if (parts.length) return parts.join('; ');
  }
  return body;
}

/** Stable error code for an unwanted HTTP status. */
export function httpErrorCode(status: number): string {
  if (status === 429) return 'api_rate_limit';
  if (status >= 500) return 'http_server_error';
  if (status === 401) return 'http_unauthorized';
  if (status === 403) return 'http_forbidden';
  if (status === 404) return 'http_not_found';
  if (status === 409) return 'http_conflict';
  if (status === 400 || status === 422) return 'http_invalid_request';
  return 'unexpected_status';
}

/** An ActionFailedError for an answer the action cannot use, with the service's own message. */
export function httpFailure(what: string, res: HttpResponse, details: { errorCode?: string; hint?: string; retryable?: boolean } = {}): ActionFailedError {
  const msg = errorMessageOf(res.body);
  return new ActionFailedError(`${what} answered ${res.status}${msg ? `: ${msg}` : ''}`, {
    errorCode: details.errorCode ?? httpErrorCode(res.status),
    retryable: details.retryable ?? (res.status === 429 || res.status >= 500 || isRateLimit403(res)),
    ...(details.hint ? { hint: details.hint } : {}),
  });
}

export function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/** Cuts a text to its first `max` characters, marking the cut. */
export function headText(text: string, max = 64 * 1024): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** Keeps the last `max` characters of a text, marking the cut. */
export function tailText(text: string, max = 64 * 1024): string {
  return text.length <= max ? text : `…${text.slice(text.length - max)}`;
}

/** Drops undefined members (so request bodies only carry what was given). */
export function compact<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
