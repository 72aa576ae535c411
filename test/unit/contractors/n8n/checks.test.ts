import { describe, expect, it } from 'vitest';
import { HttpTransportError } from '../../../../src/ports/http-client.js';
import { percentile } from '../../../../src/contractors/n8n/run-performance-test.js';
import { FakeHttpClient } from '../../../fakes/fakes.js';
import { SECRETS, calls, j, leakedSecrets, routedHttp, runAction } from './helpers.js';

describe('http_health_check', () => {
  it('probes endpoint + path with the endpoint\'s auth until healthy, interval_seconds apart', async () => {
    const http = routedHttp([
      ['GET', 'https://grafana.example.com/api/health', j(503, { database: 'failing' }), j(503, { database: 'failing' }), j(200, { database: 'ok', version: '11.2.0' })],
    ]);
    const r = await runAction('http_health_check', { endpoint: 'grafana', path: '/api/health', retries: 10, interval_seconds: 15 }, http);
    expect(r.outputs).toEqual({ healthy: true, status: 200, attempts: 3, latency_ms: 1, body_excerpt: '{"database":"ok","version":"11.2.0"}' });
    expect(r.sleeps).toEqual([15000, 15000]);
    expect(http.requests[0]?.headers?.authorization).toBe(`Bearer ${SECRETS.GRAFANA_TOKEN}`);
    expect(leakedSecrets(r.attempt)).toEqual([]);
  });

  it('checks the body text, counts transport failures as failed probes, and fails after the last probe', async () => {
    let n = 0;
    const http = new FakeHttpClient(() => {
      n++;
      if (n === 1) throw new HttpTransportError('connect ECONNREFUSED', 'connection');
      return { status: 200, body: 'Prometheus Server is Starting.' };
    });
    const r = await runAction('http_health_check', { url: 'http://prom:9090/-/healthy', expect_body_contains: 'Healthy', retries: 2, interval_seconds: 1 }, http);
    expect(calls(http.requests)).toEqual(Array(3).fill('GET http://prom:9090/-/healthy'));
    expect(r.error?.errorCode).toBe('health_check_failed');
    expect(r.error?.message).toContain('not healthy after 3 probe(s): body does not contain "Healthy"');
  });

  it('stops probing when another interval would not fit before the action timeout', async () => {
    const http = routedHttp([['GET', /./, { status: 500, body: '' }]]);
    const r = await runAction('http_health_check', { url: 'http://x/', retries: 10, interval_seconds: 15 }, http, { timeoutMs: 40_000 });
    expect(http.requests).toHaveLength(3);
    expect(r.error?.errorCode).toBe('health_check_failed');
  });
});

describe('run_smoke_tests', () => {
  const tests = [
    { name: 'health_check', path: '/health', expected_status: 200 },
    { name: 'version_check', path: '/version', expected_status: 200, expected_body_contains: 'abc123' },
  ];

  it('runs every test against endpoint + path', async () => {
    const http = routedHttp([
      ['GET', 'http://10.0.0.5:30080/health', { status: 200, body: 'ok' }],
      ['GET', 'http://10.0.0.5:30080/version', { status: 200, body: 'abc123' }],
    ]);
    const r = await runAction('run_smoke_tests', { endpoint: 'http://10.0.0.5:30080/', tests }, http);
    expect(r.outputs).toEqual({
      passed: 2,
      failed: 0,
      all_passed: true,
      results: [
        { name: 'health_check', passed: true, status: 200, duration_ms: 1, error: null },
        { name: 'version_check', passed: true, status: 200, duration_ms: 1, error: null },
      ],
    });
  });

  it('retries a failing test, then fails the action listing what failed', async () => {
    const http = routedHttp([
      ['GET', 'http://lb/health', { status: 200, body: 'ok' }],
      ['GET', 'http://lb/version', { status: 200, body: 'old' }],
    ]);
    const r = await runAction('run_smoke_tests', { endpoint: 'http://lb', tests, retries: 2 }, http);
    expect(calls(http.requests)).toEqual(['GET http://lb/health', 'GET http://lb/version', 'GET http://lb/version', 'GET http://lb/version']);
    expect(r.sleeps).toEqual([1000, 1000]);
    expect(r.error?.errorCode).toBe('smoke_tests_failed');
    expect(r.error?.message).toBe('1 of 2 smoke test(s) failed against http://lb: version_check (body does not contain "abc123")');
  });

  it('stop_on_failure skips the rest; a body is sent as JSON', async () => {
    const http = routedHttp([['POST', 'http://lb/api', { status: 500, body: '' }]]);
    const r = await runAction('run_smoke_tests', { endpoint: 'http://lb', stop_on_failure: true, tests: [{ name: 'post', path: '/api', method: 'POST', body: { a: 1 } }, ...tests] }, http);
    expect(http.requests).toHaveLength(1);
    expect(http.requests[0]?.headers).toEqual({ 'content-type': 'application/json' });
    expect(r.error?.message).toContain('2 not run (stop_on_failure)');
  });
});

describe('run_performance_test', () => {
  it('sends duration x rate requests at the target rate and computes latency percentiles and error rate', async () => {
    let i = 0;
    const http = new FakeHttpClient(() => {
      i++;
      return { status: i % 50 === 0 ? 503 : 200, body: 'ok', durationMs: i };
    });
    const r = await runAction('run_performance_test', { endpoint: 'http://lb', path: '/health', duration: 2, requests_per_second: 100, max_p95_latency: 200, max_error_rate: 0.05 }, http);
    expect(r.error).toBeUndefined();
    expect(http.requests).toHaveLength(200);
    expect(new Set(calls(http.requests))).toEqual(new Set(['GET http://lb/health']));
    expect(r.outputs).toEqual({ requests: 200, errors: 4, error_rate: 0.02, achieved_rps: 100, p50_latency_ms: 100, p95_latency_ms: 190, p99_latency_ms: 198, passed: true });
    // Paced: about 10 ms apart on the (manual) clock.
    expect(r.sleeps.length).toBeGreaterThan(150);
    expect(r.sleeps.every((s) => s > 0 && s <= 10)).toBe(true);
  });

  it('fails when a threshold is exceeded; transport failures are errors', async () => {
    let i = 0;
    const http = new FakeHttpClient(() => {
      i++;
      if (i % 4 === 0) throw new HttpTransportError('timeout', 'timeout');
      return { status: 200, body: 'ok', durationMs: 300 };
    });
    const r = await runAction('run_performance_test', { endpoint: 'http://lb', duration: 1, requests_per_second: 20, max_p95_latency: 200, max_error_rate: 0.01 }, http);
    expect(http.requests).toHaveLength(20);
    expect(r.error?.errorCode).toBe('performance_thresholds_exceeded');
    expect(r.error?.message).toBe('performance test of http://lb/ (20 requests, 20/s): p95 300 ms > 200 ms; error rate 0.25 > 0.01');
  });

  it('keeps the test inside the action deadline, and under --simulate to a couple of seconds', async () => {
    const http = new FakeHttpClient(() => ({ status: 200, body: '' }));
    const r = await runAction('run_performance_test', { endpoint: 'http://lb', duration: 60, requests_per_second: 10 }, http, { timeoutMs: 30_000 });
    // 30 s action - 10 s per-request allowance - 0.5 s margin = 19.5 s of load.
    expect(r.outputs?.requests).toBe(195);
    const sim = new FakeHttpClient(() => ({ status: 200, body: '' }));
    const s = await runAction('run_performance_test', { endpoint: 'http://lb', duration: 60, requests_per_second: 100 }, sim, { simulate: true });
    expect(s.outputs?.requests).toBe(200);
  });

  it('respects concurrency: never more than `concurrency` requests in flight', async () => {
    let inflight = 0;
    let peak = 0;
    const slow = {
      requests: [] as unknown[],
      async request() {
        inflight++;
        peak = Math.max(peak, inflight);
        await new Promise((res) => setTimeout(res, 2));
        inflight--;
        return { status: 200, headers: {}, body: '', durationMs: 2 };
      },
    };
    const r = await runAction('run_performance_test', { endpoint: 'http://lb', duration: 1, requests_per_second: 200, concurrency: 3 }, slow as unknown as FakeHttpClient);
    expect(r.outputs?.requests).toBe(200);
    expect(peak).toBeLessThanOrEqual(3);
  });

  it('nearest-rank percentiles', () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([5], 0.99)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.95)).toBe(10);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5)).toBe(5);
  });
});
