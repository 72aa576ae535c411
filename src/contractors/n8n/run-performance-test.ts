/**
 * run_performance_test: a small open-loop load generator over rt.http. Request i is sent at
 * start + i / requests_per_second (at most `concurrency` in flight; when all slots are busy the
 * next request waits for one), for `duration` seconds, shortened so the test ends inside the
 * action's deadline. Latency percentiles (nearest rank) are over the requests that got an
 * answer; errors are non-2xx answers and transport failures (refused, per-request timeout).
 *
 * Bounds: at most MAX_REQUESTS requests; at most config defaults.maxLoadTestSeconds when set
 * (the lab sets it: a rehearsal checks the workflow, not the load).
 */
import { ActionFailedError, InterruptedError } from '../../errors.js';
import type { ActionImpl } from '../action-impl.js';

interface Params {
  endpoint: string;
  path?: string;
  method?: 'GET' | 'HEAD' | 'POST';
  duration: number;
  requests_per_second: number;
  concurrency?: number;
  max_p95_latency?: number;
  max_error_rate?: number;
}

export const MAX_REQUESTS = 20_000;
const PER_REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_CONCURRENCY = 50;

/** Nearest-rank percentile of sorted values (q in 0..1), or null when there are none. */
export function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

export const runPerformanceTest: ActionImpl = {
  plan(params) {
    const p = params as unknown as Params;
    const url = `${p.endpoint.replace(/\/+$/, '')}${p.path ?? '/'}`;
    const n = Math.min(MAX_REQUESTS, Math.floor(p.duration * p.requests_per_second));
    return [
      {
        kind: 'request',
        method: p.method ?? 'GET',
        url,
        note: `x${n}: ${p.requests_per_second}/s for ${p.duration}s, at most ${p.concurrency ?? DEFAULT_CONCURRENCY} in flight`,
      },
    ];
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const url = `${p.endpoint.replace(/\/+$/, '')}${p.path ?? '/'}`;
    const method = p.method ?? 'GET';
    const rps = p.requests_per_second;
    const concurrency = p.concurrency ?? DEFAULT_CONCURRENCY;
    const perRequestMs = Math.min(PER_REQUEST_TIMEOUT_MS, Math.max(1, rt.remainingMs() / 2));

    let seconds = p.duration;
    const cap = rt.config.defaults.maxLoadTestSeconds;
    if (cap !== undefined && seconds > cap) {
      rt.debug(`performance test shortened to ${cap}s by the configuration (asked ${seconds}s)`);
      seconds = cap;
    }
    const budgetS = (rt.remainingMs() - perRequestMs - 500) / 1000;
    if (seconds > budgetS) {
      if (budgetS * rps < 1) {
        throw new ActionFailedError(`performance test needs about ${p.duration + perRequestMs / 1000}s but the action has ${Math.floor(rt.remainingMs() / 1000)}s left`, {
          errorCode: 'insufficient_time',
          retryable: false,
          hint: 'raise the action timeout above duration + 10s',
        });
      }
      rt.debug(`performance test shortened to ${budgetS.toFixed(1)}s to end before the action timeout`);
      seconds = budgetS;
    }
    const total = Math.max(1, Math.min(MAX_REQUESTS, Math.floor(seconds * rps)));
    const intervalMs = 1000 / rps;

    const latencies: number[] = [];
    let errors = 0;
    let fatal: unknown;
    const inflight = new Set<Promise<void>>();
    const sendOne = async (): Promise<void> => {
      try {
        const res = await rt.http({ method, url, headers: {}, timeoutMs: perRequestMs });
        latencies.push(res.durationMs);
        if (res.status < 200 || res.status >= 300) errors++;
      } catch (e) {
        if (e instanceof InterruptedError || !(e instanceof ActionFailedError) || e.errorCode === 'action_timeout') fatal ??= e;
        else errors++;
      }
    };

    const start = rt.now().getTime();
    let sent = 0;
    for (let i = 0; i < total && fatal === undefined; i++) {
      const delay = start + i * intervalMs - rt.now().getTime();
      if (delay >= 1) await rt.sleep(delay);
      while (inflight.size >= concurrency) await Promise.race(inflight);
      if (fatal !== undefined) break;
      const task: Promise<void> = sendOne().finally(() => inflight.delete(task));
      inflight.add(task);
      sent++;
    }
    await Promise.all(inflight);
    if (fatal !== undefined) throw fatal;

    const elapsedS = Math.max((rt.now().getTime() - start) / 1000, (sent * intervalMs) / 1000);
    const sorted = [...latencies].sort((a, b) => a - b);
    const errorRate = sent ? errors / sent : 0;
    const p95 = percentile(sorted, 0.95);
    const out = {
      requests: sent,
      errors,
      error_rate: Math.round(errorRate * 10000) / 10000,
      achieved_rps: round1(sent / elapsedS),
      p50_latency_ms: percentile(sorted, 0.5) === null ? null : round1(percentile(sorted, 0.5) as number),
      p95_latency_ms: p95 === null ? null : round1(p95),
      p99_latency_ms: percentile(sorted, 0.99) === null ? null : round1(percentile(sorted, 0.99) as number),
      passed: true,
    };
    const problems: string[] = [];
    if (p.max_p95_latency !== undefined && (p95 === null || p95 > p.max_p95_latency)) problems.push(`p95 ${out.p95_latency_ms ?? 'n/a'} ms > ${p.max_p95_latency} ms`);
    if (p.max_error_rate !== undefined && errorRate > p.max_error_rate) problems.push(`error rate ${out.error_rate} > ${p.max_error_rate}`);
    if (problems.length) {
      throw new ActionFailedError(`performance test of ${url} (${sent} requests, ${out.achieved_rps}/s): ${problems.join('; ')}`, {
        errorCode: 'performance_thresholds_exceeded',
        retryable: false,
      });
    }
    return out;
  },
};
