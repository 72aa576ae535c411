import { describe, expect, it } from 'vitest';
import { DURATION_BUCKETS, toPrometheusText } from '../../../src/model/prometheus.js';
import type { ExecutionSummary } from '../../../src/model/records.js';

function run(id: string, workflow: string, status: string, duration: number, finished: string, actions: ExecutionSummary['actions'] = []): ExecutionSummary {
  return { execution_id: id, workflow_id: workflow, workflow_name: workflow, status, started_at: finished, finished_at: finished, duration_seconds: duration, contractors: {}, actions, errors: [], handoffs: [] };
}

/** The samples of one metric name (with labels) as a map. */
function samples(text: string, name: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const r = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (r) m.set(r[1] ?? '', Number(r[2]));
  }
  return m;
}

describe('toPrometheusText', () => {
  const ledger = [
    run('a-1', 'deploy', 'completed', 3, '2026-03-01T10:00:00Z', [{ contractor: 'talos-contractor', action: 'install_helm_chart', status: 'completed', duration_seconds: 2.5 }]),
    run('a-2', 'deploy', 'failed', 400, '2026-03-01T11:00:00Z', [{ contractor: 'talos-contractor', action: 'install_helm_chart', status: 'failed', duration_seconds: 399, error_code: 'timeout' }]),
    run('a-3', 'deploy', 'running', 1, '2026-03-01T12:00:00Z'),
  ];
  const text = toPrometheusText(ledger);

  it('durations are a histogram in seconds: cumulative buckets, +Inf = count, sum of the recorded values', () => {
    const b = samples(text, 'cortex_workflow_duration_seconds_bucket');
    expect(b.get('{workflow="deploy",le="1"}')).toBe(0);
    expect(b.get('{workflow="deploy",le="5"}')).toBe(1);
    expect(b.get('{workflow="deploy",le="300"}')).toBe(1);
    expect(b.get('{workflow="deploy",le="600"}')).toBe(2);
    expect(b.get('{workflow="deploy",le="+Inf"}')).toBe(2);
    expect(b.size).toBe(DURATION_BUCKETS.length + 1);
    expect(samples(text, 'cortex_workflow_duration_seconds_sum').get('{workflow="deploy"}')).toBe(403);
    expect(samples(text, 'cortex_workflow_duration_seconds_count').get('{workflow="deploy"}')).toBe(2);
    expect(text).toMatch(/^# TYPE cortex_workflow_duration_seconds histogram$/m);
    expect(text).not.toMatch(/quantile/);
  });

  it('counts only ended executions, per final status, and says when the last one (and the last success) ended', () => {
    const c = samples(text, 'cortex_workflow_executions_total');
    expect(Object.fromEntries(c)).toEqual({
      '{workflow="deploy",status="completed"}': 1,
      '{workflow="deploy",status="failed"}': 1,
      '{workflow="deploy",status="rolled_back"}': 0,
      '{workflow="deploy",status="rollback_failed"}': 0,
      '{workflow="deploy",status="cancelled"}': 0,
    });
    expect(samples(text, 'cortex_workflow_last_execution_timestamp_seconds').get('{workflow="deploy"}')).toBe(Date.parse('2026-03-01T11:00:00Z') / 1000);
    expect(samples(text, 'cortex_workflow_last_success_timestamp_seconds').get('{workflow="deploy"}')).toBe(Date.parse('2026-03-01T10:00:00Z') / 1000);
    expect(samples(text, 'cortex_action_executions_total').get('{contractor="talos-contractor",action="install_helm_chart",outcome="failed"}')).toBe(1);
    expect(samples(text, 'cortex_action_duration_seconds_count').get('{contractor="talos-contractor",action="install_helm_chart"}')).toBe(2);
  });

  it('every family has HELP and TYPE before its samples; label values are escaped', () => {
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) expect(text).toContain(`# HELP ${m[1]} `);
    const odd = toPrometheusText([run('x-1', 'w', 'completed', 1, '2026-03-01T10:00:00Z', [{ contractor: 'my"co\\n', action: 'a\nb', status: 'completed', duration_seconds: 1 }])]);
    expect(odd).toContain('contractor="my\\"co\\\\n",action="a\\nb"');
    expect(toPrometheusText([])).toBe('');
  });
});
