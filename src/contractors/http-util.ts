import { ActionFailedError } from '../errors.js';
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

export function isThrottled(res: HttpResponse): boolean {
  return res.status === 429 || res.status >= 500 || (res.status === 403 && res.headers['x-ratelimit-remaining'] === '0');
}

/**
 * Sends a request, retrying 429/5xx (and GitHub's rate-limit 403) up to the configured number of
 * times, waiting Retry-After when given (capped), else an exponential backoff (1 s, 2 s, 4 s...).
 * Only used for requests that are safe to repeat or that the service de-duplicates.
 */
export async function sendWithRetries(rt: ActionRuntime, req: HttpRequest, options: { retries?: number } = {}): Promise<HttpResponse> {
  const retries = options.retries ?? rt.config.defaults.httpMaxRetries;
  const cap = rt.config.defaults.maxRetryAfterSeconds;
  for (let i = 0; ; i++) {
    const res = await rt.http(req);
    if (!isThrottled(res) || i >= retries) return res;
    const wait = Math.min(cap, retryAfterSeconds(res, rt.now()) ?? 2 ** i);
    if (wait * 1000 > rt.remainingMs()) return res;
    rt.debug(`${res.status} from ${req.method} ${req.url}: retrying in ${wait}s (${i + 1}/${retries})`);
    await rt.sleep(wait * 1000);
  }
}

export function parseJsonBody(res: HttpResponse, what: string): unknown {
  try {
    return JSON.parse(res.body);
  } catch {
    throw new ActionFailedError(`${what}: response is not JSON: ${res.body.slice(0, 200)}`, { errorCode: 'bad_response', retryable: false });
  }
}

/** Cuts a text to its first `max` characters, marking the cut. */
export function headText(text: string, max = 64 * 1024): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** Keeps the last `max` characters of a text, marking the cut. */
export function tailText(text: string, max = 64 * 1024): string {
  return text.length <= max ? text : `…${text.slice(text.length - max)}`;
}
