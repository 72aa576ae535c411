import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import {
  computeContractorPerformance,
  computeWorkflowStats,
  durationString,
  percentile,
  round,
} from '../../../src/model/metrics.js';
import type { ExecutionSummary } from '../../../src/model/records.js';
import { describeWithShared, referencePath } from '../../helpers/shared.js';

const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv2020) => void;
addFormats(ajv);

function readJson(url: URL): unknown {
  return JSON.parse(readFileSync(url, 'utf8'));
}
const validateStats = ajv.compile(readJson(new URL('../../../schemas/workflow-stats.schema.json', import.meta.url)) as object);
const validatePerf = ajv.compile(readJson(new URL('../../../schemas/contractor-performance.schema.json', import.meta.url)) as object);

function expectValid(validate: typeof validateStats, value: unknown): void {
  const ok = validate(value);
  expect(validate.errors ?? []).toEqual([]);
  expect(ok).toBe(true);
}

const NOW = new Date('2025-12-09T00:00:00.000Z');
const DAY = 86_400_000;
let seq = 0;

function summary(overrides: Partial<ExecutionSummary> & { daysAgo?: number } = {}): ExecutionSummary {
  const { daysAgo = 1, ...rest } = overrides;
  seq++;
  const finished = new Date(NOW.getTime() - daysAgo * DAY);
  const duration = rest.duration_seconds ?? 100;
  return {
    execution_id: `wf-a-${String(seq).padStart(4, '0')}`,
    workflow_id: 'wf-a',
    workflow_name: 'Workflow A',
    status: 'completed',
    started_at: new Date(finished.getTime() - duration * 1000).toISOString(),
    finished_at: finished.toISOString(),
    duration_seconds: duration,
    contractors: {},
    actions: [],
    errors: [],
    handoffs: [],
    ...rest,
  };
}

describe('percentile (nearest rank)', () => {
  const oneTo100 = Array.from({ length: 100 }, (_, i) => i + 1);
  it('returns recorded values at rank ceil(q*n)', () => {
    expect(percentile(oneTo100, 0.5)).toBe(50);
    expect(percentile(oneTo100, 0.95)).toBe(95);
    expect(percentile(oneTo100, 0.99)).toBe(99);
    expect(percentile(oneTo100, 0.07)).toBe(7);
    expect(percentile([40, 10, 30, 20], 0.5)).toBe(20);
    expect(percentile([40, 10, 30, 20], 0.95)).toBe(40);
    expect(percentile(Array.from({ length: 20 }, (_, i) => i + 1), 0.95)).toBe(19);
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([], 0.5)).toBeUndefined();
  });

  it('formats durations and rounds rates', () => {
    expect(durationString(2845.4)).toBe('2845s');
    expect(durationString(2845.5)).toBe('2846s');
    expect(round(2 / 3)).toBe(0.667);
    expect(round(40 / 42)).toBe(0.952);
  });
});

describe('computeWorkflowStats', () => {
  it('counts outcomes, rates and exact duration statistics', () => {
    const runs = [
      ...[100, 200, 300, 400, 500, 600, 700, 800, 900, 1000].map((d, i) => summary({ duration_seconds: d, daysAgo: 10 - i })),
      summary({ status: 'failed', duration_seconds: 50, daysAgo: 0.5, errors: [{ error: 'helm_install_failed', contractor: 'talos-contractor' }] }),
      summary({ status: 'rolled_back', duration_seconds: 60, daysAgo: 0.4, errors: [{ error: 'helm_install_failed', contractor: 'talos-contractor' }] }),
      summary({ status: 'cancelled', duration_seconds: 70, daysAgo: 0.3 }),
      summary({ status: 'running', duration_seconds: 9999, daysAgo: 0.1 }),
    ];
    const stats = computeWorkflowStats(runs, NOW);
    expectValid(validateStats, stats);
    expect(stats.last_updated).toBe(NOW.toISOString());
    const wf = stats.workflows[0]!;
    expect(wf.executions).toEqual({ total: 13, successful: 10, failed: 3, rolled_back: 1, cancelled: 1, success_rate: 0.769 });
    const durations = [50, 60, 70, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000];
    const avg = durations.reduce((a, b) => a + b, 0) / 13;
    expect(wf.performance).toEqual({
      avg_duration: `${Math.round(avg)}s`,
      min_duration: '50s',
      max_duration: '1000s',
      p50_duration: '400s',
      p95_duration: '1000s',
      p99_duration: '1000s',
      avg_duration_seconds: round(avg),
      min_duration_seconds: 50,
      max_duration_seconds: 1000,
      p50_duration_seconds: 400,
      p95_duration_seconds: 1000,
      p99_duration_seconds: 1000,
    });
    expect(wf.last_execution).toEqual({
      execution_id: runs[12]!.execution_id,
      timestamp: runs[12]!.finished_at,
      status: 'cancelled',
      duration: '70s',
      duration_seconds: 70,
    });
    expect(wf.common_errors).toEqual([{ error: 'helm_install_failed', count: 2, contractor: 'talos-contractor' }]);
    expect(stats.summary.most_common_error).toBe('helm_install_failed');
  });

  it('reports contractor durations and errors, incident breakdown, and a summary like the reference', () => {
    const runs = [
      summary({
        workflow_id: 'security-incident-response',
        workflow_name: 'Security Incident Response',
        duration_seconds: 600,
        parameters: { incident_type: 'node_compromise', severity: 'high' },
        contractors: { 'n8n-contractor': { duration_seconds: 100, errors: 0 }, 'talos-contractor': { duration_seconds: 500, errors: 1 } },
        daysAgo: 2,
      }),
      summary({
        workflow_id: 'security-incident-response',
        workflow_name: 'Security Incident Response',
        duration_seconds: 400,
        parameters: { incident_type: 'malware_detection', severity: 'critical' },
        contractors: { 'talos-contractor': { duration_seconds: 300, errors: 0 } },
        daysAgo: 1,
      }),
      summary({ workflow_id: 'app-deployment', duration_seconds: 100 }),
      summary({ workflow_id: 'app-deployment', duration_seconds: 100, status: 'failed' }),
      summary({ workflow_id: 'app-deployment', duration_seconds: 100 }),
    ];
    const stats = computeWorkflowStats(runs, NOW);
    expectValid(validateStats, stats);
    expect(stats.workflows.map((w) => w.workflow_id)).toEqual(['app-deployment', 'security-incident-response']);
    const sir = stats.workflows[1]!;
    expect(sir.contractor_performance).toEqual({
      'n8n-contractor': { avg_duration: '100s', avg_duration_seconds: 100, error_count: 0 },
      'talos-contractor': { avg_duration: '400s', avg_duration_seconds: 400, error_count: 1 },
    });
    expect(Object.keys(sir.contractor_performance!)).toEqual(['n8n-contractor', 'talos-contractor']);
    expect(sir.incident_breakdown).toEqual({ malware_detection: 1, node_compromise: 1 });
    expect(sir.last_execution).toMatchObject({ incident_type: 'malware_detection', severity: 'critical' });
    expect(stats.summary).toEqual({
      total_workflow_executions: 5,
      total_successful: 4,
      total_failed: 1,
      overall_success_rate: 0.8,
      avg_workflow_duration_seconds: 300, // (100 + 500) / 2: unweighted
      most_executed_workflow: 'app-deployment',
      most_reliable_workflow: 'security-incident-response',
      most_common_error: null,
    });
  });

  it('is deterministic whatever the ledger order', () => {
    const runs = Array.from({ length: 12 }, (_, i) =>
      summary({
        workflow_id: i % 3 === 0 ? 'b' : 'a',
        duration_seconds: 10 + i,
        status: i % 4 === 0 ? 'failed' : 'completed',
        errors: i % 4 === 0 ? [{ error: `e${i % 3}`, contractor: 'n8n-contractor' }] : [],
        daysAgo: i,
      }),
    );
    const shuffled = [...runs].reverse();
    expect(JSON.stringify(computeWorkflowStats(shuffled, NOW))).toBe(JSON.stringify(computeWorkflowStats(runs, NOW)));
    expect(JSON.stringify(computeContractorPerformance(shuffled, NOW))).toBe(JSON.stringify(computeContractorPerformance(runs, NOW)));
  });

  it('handles an empty ledger', () => {
    const stats = computeWorkflowStats([], NOW);
    expectValid(validateStats, stats);
    expect(stats.summary.total_workflow_executions).toBe(0);
    const perf = computeContractorPerformance([], NOW);
    expectValid(validatePerf, perf);
    expect(perf.contractors).toEqual([]);
  });
});

describe('computeContractorPerformance', () => {
  const infra = 'infrastructure-contractor';
  const talos = 'talos-contractor';

  function deployRun(daysAgo: number, ok: boolean): ExecutionSummary {
    return summary({
      daysAgo,
      status: ok ? 'completed' : 'failed',
      duration_seconds: 300,
      actions: [
        { contractor: infra, action: 'provision_vm', status: 'completed', duration_seconds: 100 },
        ok
          ? { contractor: talos, action: 'install_helm_chart', status: 'completed', duration_seconds: 200 }
          : {
              contractor: talos,
              action: 'install_helm_chart',
              status: 'failed',
              duration_seconds: 50,
              error_code: 'helm_install_failed',
              error_message: `helm failed ${daysAgo}`,
            },
        { contractor: talos, action: 'verify', status: 'skipped', duration_seconds: 0 },
        { contractor: 'n8n-contractor', action: 'send_notification', status: 'pending', duration_seconds: 0 },
      ],
      handoffs: [{ from: infra, to: talos, status: ok ? 'completed' : 'failed', latency_seconds: 10 }],
    });
  }

  it('aggregates actions, errors, handoffs and trends', () => {
    // 40 days ago: 4 failures; within 30 days: 6 successes and 1 failure (3 days ago).
    const runs = [
      ...[40, 39, 38, 37].map((d) => deployRun(d, false)),
      ...[20, 15, 10, 6, 5, 2].map((d) => deployRun(d, true)),
      deployRun(3, false),
    ];
    const perf = computeContractorPerformance(runs, NOW);
    expectValid(validatePerf, perf);
    expect(perf.contractors.map((c) => c.contractor_id)).toEqual([infra, talos]);

    const t = perf.contractors[1]!;
    expect(t).toMatchObject({
      contractor_id: talos,
      contractor: talos,
      contractor_name: 'Talos Contractor',
      specialization: 'Kubernetes and Talos Linux management',
      workflows_participated: 11,
      avg_handoff_time: '10s',
      error_rate: 0.455,
    });
    expect(t.statistics).toEqual({
      workflows_participated: 11,
      total_actions_executed: 11,
      successful_actions: 6,
      failed_actions: 5,
      success_rate: 0.545,
      error_rate: 0.455,
      avg_action_duration_seconds: round((6 * 200 + 5 * 50) / 11),
      avg_handoff_time_seconds: 10,
    });
    expect(t.performance_by_action_type).toEqual({
      install_helm_chart: {
        executions: 11,
        avg_duration_seconds: round((6 * 200 + 5 * 50) / 11),
        p95_duration_seconds: 200,
        success_rate: 0.545,
        error_rate: 0.455,
      },
    });
    expect(t.common_errors).toEqual([
      {
        error_code: 'helm_install_failed',
        error: 'helm_install_failed',
        count: 5,
        description: 'helm failed 3',
        last_seen: new Date(NOW.getTime() - 3 * DAY).toISOString(),
      },
    ]);
    // 30 days: 6/7 = 0.857 vs all time 6/11 = 0.545 -> improving; 7 days: 3/4 = 0.75 vs 0.857 -> degrading.
    expect(t.performance_trends.last_30_days).toEqual({ success_rate: 0.857, avg_duration_seconds: round((6 * 200 + 50) / 7), executions: 7, trend: 'improving' });
    expect(t.performance_trends.last_7_days).toEqual({ success_rate: 0.75, avg_duration_seconds: 162.5, executions: 4, trend: 'degrading' });

    const i = perf.contractors[0]!;
    expect(i.statistics.success_rate).toBe(1);
    expect(i.performance_trends.last_7_days.trend).toBe('stable');
    expect(i.common_errors).toEqual([]);

    expect(perf.cross_contractor_metrics).toEqual({
      total_handoffs: 11,
      failed_handoffs: 5,
      handoff_success_rate: 0.545,
      avg_handoff_latency_seconds: 10,
      avg_contractor_coordination_time_seconds: 10,
    });
    expect(perf.summary).toEqual({
      total_workflow_executions: 11,
      total_actions_executed: 22,
      overall_success_rate: round(17 / 22),
      most_reliable_contractor: infra,
      fastest_contractor: infra, // 100 s against talos's 131.8 s
      most_active_contractor: infra, // 11 each: tie broken by id
      coordination_efficiency: 0.545,
    });
  });

  it('counts a skipped action that ran and failed, but not one that never ran', () => {
    const run = summary({
      status: 'completed',
      actions: [
        { contractor: 'n8n-contractor', action: 'notify', status: 'skipped', duration_seconds: 2, error_code: 'webhook_delivery_failed', error_message: 'HTTP 502' },
        { contractor: 'n8n-contractor', action: 'notify', status: 'skipped', duration_seconds: 0 },
      ],
    });
    const perf = computeContractorPerformance([run], NOW);
    expectValid(validatePerf, perf);
    const n8n = perf.contractors[0]!;
    expect(n8n.statistics).toMatchObject({ total_actions_executed: 1, failed_actions: 1, success_rate: 0 });
    expect(n8n.performance_trends.last_7_days.trend).toBe('insufficient_data');
    expect(n8n.contractor_name).toBe('n8n Contractor');
  });

  it('names unknown contractors from their id', () => {
    const perf = computeContractorPerformance(
      [summary({ actions: [{ contractor: 'monitoring-operations', action: 'x', status: 'completed', duration_seconds: 1 }] })],
      NOW,
    );
    expect(perf.contractors[0]).toMatchObject({ contractor_id: 'monitoring-operations', contractor_name: 'Monitoring Operations' });
    expect(perf.contractors[0]!.specialization).toBeUndefined();
    expectValid(validatePerf, perf);
  });
});

describeWithShared('reference metrics files', () => {
  it('reference/workflow-stats.json validates against the schema', () => {
    expectValid(validateStats, readJson(pathToFileURL(referencePath('workflow-stats.json'))));
  });
  it('reference/contractor-performance.json validates against the schema', () => {
    expectValid(validatePerf, readJson(pathToFileURL(referencePath('contractor-performance.json'))));
  });
});
