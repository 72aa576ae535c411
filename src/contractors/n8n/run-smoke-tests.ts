/**
 * run_smoke_tests: one HTTP request per test against endpoint + path, made by cortex. A test
 * passes when its status is expected (default 200) and the body contains the text; a failing
 * test is tried again up to `retries` times, a second apart. Fails when any test failed.
 */
import { ActionFailedError } from '../../errors.js';
import type { ActionImpl } from '../action-impl.js';
import { probe, statusList, type Probe } from './http-health-check.js';

interface SmokeTest {
  name: string;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  expected_status?: number | number[];
  expected_body_contains?: string;
}

interface Params {
  endpoint: string;
  tests: SmokeTest[];
  stop_on_failure?: boolean;
  retries?: number;
  timeout_seconds?: number;
}

const RETRY_PAUSE_MS = 1000;

function encode(t: SmokeTest): { body?: string; headers: Record<string, string> } {
  const headers = Object.fromEntries(Object.entries(t.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  // GET and HEAD requests carry no body.
  if (t.body === undefined || /^(GET|HEAD)$/.test(t.method ?? 'GET')) return { headers };
  if (typeof t.body === 'string') return { body: t.body, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers } };
  return { body: JSON.stringify(t.body), headers: { 'content-type': 'application/json', ...headers } };
}

export const runSmokeTests: ActionImpl = {
  plan(params) {
    const p = params as unknown as Params;
    const base = p.endpoint.replace(/\/+$/, '');
    return p.tests.map((t) => ({
      kind: 'request' as const,
      method: t.method ?? 'GET',
      url: `${base}${t.path}`,
      ...(t.body !== undefined ? { body: t.body } : {}),
      note: `${t.name}: expect ${statusList(t.expected_status, [200]).join('/')}${t.expected_body_contains ? ` containing ${JSON.stringify(t.expected_body_contains)}` : ''}`,
    }));
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const base = p.endpoint.replace(/\/+$/, '');
    const timeoutMs = (p.timeout_seconds ?? 10) * 1000;
    const results: Array<{ name: string; passed: boolean; status: number | null; duration_ms: number | null; error: string | null }> = [];
    for (const t of p.tests) {
      const { body, headers } = encode(t);
      const expected = statusList(t.expected_status, [200]);
      let last: Probe | undefined;
      for (let i = 0; i <= (p.retries ?? 0); i++) {
        if (i > 0) {
          if (RETRY_PAUSE_MS >= rt.remainingMs()) break;
          await rt.sleep(RETRY_PAUSE_MS);
        }
        last = await probe(rt, { method: t.method ?? 'GET', url: `${base}${t.path}`, headers, ...(body !== undefined ? { body } : {}), timeoutMs }, expected, t.expected_body_contains);
        if (last.passed) break;
      }
      results.push({
        name: t.name,
        passed: Boolean(last?.passed),
        status: last?.res?.status ?? null,
        duration_ms: last?.res ? Math.round(last.res.durationMs) : null,
        error: last?.passed ? null : (last?.why ?? 'not run'),
      });
      if (!last?.passed && p.stop_on_failure) break;
    }
    const passed = results.filter((r) => r.passed).length;
    const failed = results.length - passed;
    const notRun = p.tests.length - results.length;
    if (failed > 0) {
      throw new ActionFailedError(
        `${failed} of ${p.tests.length} smoke test(s) failed against ${base}: ${results
          .filter((r) => !r.passed)
          .map((r) => `${r.name} (${r.error})`)
          .join('; ')}${notRun ? `; ${notRun} not run (stop_on_failure)` : ''}`,
        { errorCode: 'smoke_tests_failed', retryable: true },
      );
    }
    return { passed, failed, all_passed: true, results };
  },
};
