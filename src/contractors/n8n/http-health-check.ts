/**
 * http_health_check: probes a URL (or a path under a config endpoint, so --simulate can point it
 * at the lab) up to 1 + retries times, interval_seconds apart, until the status is expected and
 * the body contains the text. Made by cortex; changes nothing. Fails when no probe passed.
 */
import { ActionFailedError, InterruptedError } from '../../errors.js';
import type { HttpResponse } from '../../ports/http-client.js';
import type { ActionImpl, ActionRuntime } from '../action-impl.js';
import { endpointPlaceholder, resolveEndpoint } from '../endpoints.js';

interface Params {
  url?: string;
  endpoint?: string;
  path?: string;
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  expected_status?: number | number[];
  expect_body_contains?: string;
  retries?: number;
  interval_seconds?: number;
  timeout_seconds?: number;
}

export function statusList(v: number | number[] | undefined, fallback: number[]): number[] {
  return v === undefined ? fallback : Array.isArray(v) ? v : [v];
}

/** Result of one probe: a response, or the transport error that replaced it. */
export interface Probe {
  res?: HttpResponse;
  error?: string;
  passed: boolean;
  why?: string;
}

/** One request whose transport failures (refused, timeout) are a failed probe, not a failed action. */
export async function probe(
  rt: ActionRuntime,
  req: { method: string; url: string; headers?: Record<string, string>; body?: string; timeoutMs: number },
  expected: number[],
  contains: string | undefined,
): Promise<Probe> {
  let res: HttpResponse;
  try {
    res = await rt.http({ method: req.method, url: req.url, headers: req.headers ?? {}, ...(req.body !== undefined ? { body: req.body } : {}), timeoutMs: req.timeoutMs });
  } catch (e) {
    if (e instanceof InterruptedError || !(e instanceof ActionFailedError) || e.errorCode === 'action_timeout') throw e;
    return { error: e.message, passed: false, why: e.message };
  }
  if (!expected.includes(res.status)) return { res, passed: false, why: `status ${res.status} (expected ${expected.join(' or ')})` };
  if (contains !== undefined && !res.body.includes(contains)) return { res, passed: false, why: `body does not contain ${JSON.stringify(contains)}` };
  return { res, passed: true };
}

function lowerKeys(h: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

export const httpHealthCheck: ActionImpl = {
  plan(params) {
    const p = params as Params;
    const url = p.url ?? `${endpointPlaceholder(p.endpoint ?? '')}${p.path ?? ''}`;
    return [{ kind: 'request', method: p.method ?? 'GET', url, note: `up to ${1 + (p.retries ?? 3)} probes, ${p.interval_seconds ?? 10}s apart` }];
  },
  async run(rt) {
    const p = rt.params as Params;
    let url = p.url;
    let headers = lowerKeys(p.headers);
    if (!url) {
      const ep = await resolveEndpoint(rt, p.endpoint as string);
      url = `${ep.url}${p.path ?? ''}`;
      headers = { ...ep.headers, ...headers };
    }
    const method = p.method ?? 'GET';
    const expected = statusList(p.expected_status, [200]);
    const tries = 1 + (p.retries ?? 3);
    const intervalMs = (p.interval_seconds ?? 10) * 1000;
    const timeoutMs = (p.timeout_seconds ?? 10) * 1000;
    let last: Probe | undefined;
    let attempts = 0;
    for (let i = 0; i < tries; i++) {
      if (i > 0) {
        // Another pause must leave room for a probe; otherwise report what we have.
        if (intervalMs >= rt.remainingMs()) break;
        await rt.sleep(intervalMs);
      }
      attempts++;
      last = await probe(rt, { method, url, headers, timeoutMs }, expected, p.expect_body_contains);
      if (last.passed) break;
      rt.debug(`health probe ${attempts}/${tries} of ${url}: ${last.why}`);
    }
    const res = last?.res;
    const outputs = {
      healthy: Boolean(last?.passed),
      status: res?.status ?? null,
      attempts,
      latency_ms: res ? Math.round(res.durationMs) : null,
      body_excerpt: res ? res.body.slice(0, 512) : (last?.error ?? null),
    };
    if (!outputs.healthy) {
      throw new ActionFailedError(`${method} ${url} not healthy after ${attempts} probe(s): ${last?.why ?? 'no probe made'}`, {
        errorCode: 'health_check_failed',
        retryable: true,
      });
    }
    return outputs;
  },
};
