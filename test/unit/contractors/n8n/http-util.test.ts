import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorMessageOf, httpErrorCode, isRefusedUnacted, isThrottled, retryAfterSeconds, sendWithRetries } from '../../../../src/contractors/http-util.js';
import { resolveEndpoint } from '../../../../src/contractors/endpoints.js';
import { HttpTransportError, type HttpResponse } from '../../../../src/ports/http-client.js';
import { FakeHttpClient, fakeDeps, MapSecretSource } from '../../../fakes/fakes.js';
import { makeRuntime } from '../runtime-helper.js';

const FIXTURES = JSON.parse(readFileSync(new URL('../../../fixtures/http/error-bodies.json', import.meta.url), 'utf8')) as Record<string, { status: number; body: string; message: string } | string>;
const res = (status: number, headers: Record<string, string> = {}, body = ''): HttpResponse => ({ status, headers, body, durationMs: 1 });

describe('errorMessageOf', () => {
  for (const [name, f] of Object.entries(FIXTURES)) {
    if (typeof f === 'string') continue;
    it(`reads ${name}`, () => expect(errorMessageOf(f.body)).toBe(f.message));
  }
});

describe('retry decisions', () => {
  const now = new Date('2026-11-25T12:00:00Z');
  it('Retry-After seconds or date; GitHub reset', () => {
    expect(retryAfterSeconds(res(429, { 'retry-after': '7' }), now)).toBe(7);
    expect(retryAfterSeconds(res(503, { 'retry-after': 'Wed, 25 Nov 2026 12:00:10 GMT' }), now)).toBe(10);
    expect(retryAfterSeconds(res(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now.getTime() / 1000 + 42) }), now)).toBe(42);
    expect(retryAfterSeconds(res(429), now)).toBeUndefined();
  });
  it('non-idempotent requests retry only answers where the service did not act', () => {
    expect([429, 503, 500, 502].map((s) => isRefusedUnacted(res(s)))).toEqual([true, true, false, false]);
    expect(isRefusedUnacted(res(403, { 'x-ratelimit-remaining': '0' }))).toBe(true);
    expect(isRefusedUnacted(res(403))).toBe(false);
    expect([429, 500, 502, 404].map((s) => isThrottled(res(s)))).toEqual([true, true, true, false]);
    expect([429, 500, 401, 403, 404, 409, 422, 302].map(httpErrorCode)).toEqual([
      'api_rate_limit', 'http_server_error', 'http_unauthorized', 'http_forbidden', 'http_not_found', 'http_conflict', 'http_invalid_request', 'unexpected_status',
    ]);
  });

  it('transport failures: refused connections retried with retryTransport, timeouts only with "all"', async () => {
    let n = 0;
    const refused = new FakeHttpClient(() => {
      if (n++ < 2) throw new HttpTransportError('ECONNREFUSED', 'connection');
      return { status: 200 };
    });
    const a = makeRuntime({}, { deps: fakeDeps({ http: refused }) });
    expect((await sendWithRetries(a.rt, { method: 'POST', url: 'http://x/' }, { retryTransport: 'connection' })).status).toBe(200);
    expect(a.deps.clock.sleeps).toEqual([1000, 2000]);

    const timeouts = new FakeHttpClient(() => {
      throw new HttpTransportError('timeout', 'timeout');
    });
    const b = makeRuntime({}, { deps: fakeDeps({ http: timeouts }) });
    await expect(sendWithRetries(b.rt, { method: 'POST', url: 'http://x/' }, { retryTransport: 'connection' })).rejects.toMatchObject({ errorCode: 'http_timeout' });
    expect(timeouts.requests).toHaveLength(1);
    const c = makeRuntime({}, { deps: fakeDeps({ http: timeouts }) });
    await expect(sendWithRetries(c.rt, { method: 'GET', url: 'http://x/' }, { retryTransport: 'all', retries: 2 })).rejects.toMatchObject({ errorCode: 'http_timeout' });
    expect(timeouts.requests).toHaveLength(4);
  });

  it('gives up when Retry-After does not fit in the action deadline', async () => {
    const http = new FakeHttpClient(() => ({ status: 429, headers: { 'retry-after': '50' } }));
    const { rt } = makeRuntime({}, { deps: fakeDeps({ http }), timeoutMs: 30_000 });
    expect((await sendWithRetries(rt, { method: 'GET', url: 'http://x/' })).status).toBe(429);
    expect(http.requests).toHaveLength(1);
  });
});

describe('resolveEndpoint', () => {
  const secrets = new MapSecretSource({ PD: 'pd-routing-key-0001', GH: 'gh-token-0001', J: 'jira-0001' });
  it('PagerDuty\'s secret is never a header; GitHub and PagerDuty have public default URLs; Jira is Bearer without a user', async () => {
    const { rt } = makeRuntime({}, { deps: fakeDeps({ secrets }), config: { endpoints: { pagerduty: { secret: 'PD' }, github: { secret: 'GH' }, jira: { url: 'https://jira.example/', secret: 'J' } } } });
    expect(await resolveEndpoint(rt, 'pagerduty')).toEqual({ url: 'https://events.pagerduty.com', headers: {} });
    expect(await resolveEndpoint(rt, 'github')).toEqual({ url: 'https://api.github.com', headers: { authorization: 'Bearer gh-token-0001' } });
    expect(await resolveEndpoint(rt, 'jira')).toEqual({ url: 'https://jira.example', headers: { authorization: 'Bearer jira-0001' } });
    await expect(resolveEndpoint(rt, 'slack')).rejects.toMatchObject({ errorCode: 'endpoint_not_configured' });
  });
});
