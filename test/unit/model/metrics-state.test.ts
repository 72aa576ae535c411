import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { computeContractorPerformance, computeWorkflowStats, endedExecutions } from '../../../src/model/metrics.js';
import { MetricsState, isRegularSummary } from '../../../src/model/metrics-state.js';
import type { ExecutionSummary } from '../../../src/model/records.js';
import { BASE_MS, finishStep, makeSummary, summaryBody } from './summary-arbitrary.js';

const text = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/** Folds in the reference's order, through serialize/deserialize at every `saveEvery`-th run. */
function fold(summaries: readonly ExecutionSummary[], saveEvery: number): MetricsState {
  let state = new MetricsState();
  const ended = new Set(endedExecutions(summaries));
  const order = [...summaries.filter((s) => !ended.has(s)), ...ended];
  order.forEach((s, i) => {
    expect(state.addRun(s)).toBe('added');
    if (i % saveEvery === 0) state = MetricsState.deserialize(JSON.parse(JSON.stringify(state.serialize())) as never);
  });
  return state;
}

describe('MetricsState (oracle: computeWorkflowStats / computeContractorPerformance)', () => {
  it('gives the reference output byte for byte, for any ledger and any now', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(summaryBody, finishStep), { maxLength: 40 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: -40, max: 60 }),
        (runs, saveEvery, nowDays) => {
          let t = BASE_MS;
          const summaries = runs.map(([body, step], i) => makeSummary(body, `${body.workflow_id}-${i}`, (t += step * 60_000)));
          const state = fold(summaries, saveEvery);
          const now = new Date(t + nowDays * 86_400_000);
          expect(text(state.workflowStats(now))).toBe(text(computeWorkflowStats(summaries, now)));
          expect(text(state.contractorPerformance(now))).toBe(text(computeContractorPerformance(summaries, now)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('picks the same nearest-rank percentiles at every list length up to 250 (float noise in q * n)', () => {
    const state = new MetricsState();
    const summaries: ExecutionSummary[] = [];
    const now = new Date(BASE_MS + 300 * 60_000);
    for (let n = 1; n <= 250; n++) {
      const s = makeSummary(
        {
          workflow_id: 'wf',
          status: 'completed',
          duration_seconds: (n * 7919) % 251,
          contractors: {},
          actions: [{ contractor: 'c', action: 'a', status: 'completed', duration_seconds: (n * 104_729) % 257 }],
          errors: [],
          handoffs: [],
        } as never,
        `wf-${1000 + n}`,
        BASE_MS + n * 60_000,
      );
      summaries.push(s);
      expect(state.addRun(s)).toBe('added');
      expect(text(state.workflowStats(now))).toBe(text(computeWorkflowStats(summaries, now)));
      expect(text(state.contractorPerformance(now))).toBe(text(computeContractorPerformance(summaries, now)));
    }
  });

  it('refuses, unchanged, a run that sorts before the last one, a repeated id, and fields of other types', () => {
    const state = new MetricsState();
    const body = { workflow_id: 'wf', status: 'completed', duration_seconds: 1, contractors: {}, actions: [], errors: [], handoffs: [] };
    const a = makeSummary(body as never, 'wf-2', BASE_MS + 60_000);
    expect(state.addRun(a)).toBe('added');
    const before = JSON.stringify(state.serialize());
    expect(state.addRun(makeSummary(body as never, 'wf-1', BASE_MS))).toBe('out_of_order');
    // Same finish time, smaller id: the reference sorts it first.
    expect(state.addRun(makeSummary(body as never, 'wf-1', BASE_MS + 60_000))).toBe('out_of_order');
    expect(state.addRun(makeSummary({ ...body, status: 'running' } as never, 'wf-2', BASE_MS + 120_000))).toBe('irregular');
    expect(state.addRun(makeSummary({ ...body, workflow_id: 7 } as never, 'wf-3', BASE_MS + 120_000))).toBe('irregular');
    expect(state.addRun(makeSummary({ ...body, errors: [{ error: { a: 1 }, contractor: 'x' }] } as never, 'wf-3', BASE_MS + 120_000))).toBe('irregular');
    expect(JSON.stringify(state.serialize())).toBe(before);
    expect(isRegularSummary(makeSummary({ ...body, contractors: { x: { duration_seconds: 1, errors: '2' } } } as never, 'wf-4', BASE_MS))).toBe(false);
    expect(isRegularSummary(makeSummary({ ...body, status: 'running', workflow_id: 7 } as never, 'wf-4', BASE_MS))).toBe(true);
  });

  it('does not serialize a running sum that JSON cannot keep', () => {
    const state = new MetricsState();
    const body = { workflow_id: 'wf', status: 'completed', duration_seconds: 1, contractors: { c: { duration_seconds: 1e308, errors: 0 } }, actions: [], errors: [], handoffs: [] };
    state.addRun(makeSummary(body as never, 'wf-1', BASE_MS));
    expect(state.serialize()).toBeDefined();
    state.addRun(makeSummary(body as never, 'wf-2', BASE_MS + 1));
    expect(state.serialize()).toBeUndefined();
  });
});

describe('the reference at a ledger size cron reaches (a run a minute: 200,000 in under five months)', () => {
  it('200,000 ended runs of one workflow: computeWorkflowStats gives what the fold gives, no stack overflow', () => {
    const runs = Array.from({ length: 200_000 }, (_, i) =>
      makeSummary({ workflow_id: 'wf-a', status: 'completed', duration_seconds: (i % 997) / 10, contractors: {}, actions: [], errors: [], handoffs: [] } as never, `r-${i}`, BASE_MS + i * 60_000),
    );
    const state = new MetricsState();
    state.indexIds();
    for (const s of runs) expect(state.addRun(s)).toBe('added');
    const now = new Date(BASE_MS + 200_000 * 60_000);
    expect(text(computeWorkflowStats(runs, now))).toBe(text(state.workflowStats(now)));
  }, 60_000);
});
