import type { ExecutionSummary } from './records.js';
import { ENDED_STATUSES } from './ledger-line.js';

export { ENDED_STATUSES };

/**
 * Pure aggregation of the metrics ledger (one ExecutionSummary per finished execution) into
 * `metrics/workflow-stats.json` and `metrics/contractor-performance.json`. No I/O, no clock:
 * the same ledger and `now` always give the same output, byte for byte.
 *
 * Rules, written down once:
 * - Only ended executions count (completed, failed, rolled_back, rollback_failed, cancelled).
 *   `successful` = completed; `failed` = every other ended status. rolled_back and cancelled are
 *   also counted in their own fields.
 * - Workflow durations cover every ended execution, whatever its outcome.
 * - Percentiles use the nearest-rank method on the recorded values: the p-th percentile of n
 *   values is the ceil(p/100 * n)-th smallest. It is always a duration that was really recorded.
 * - Rates are rounded to 3 decimals, averages of seconds to 3 decimals (milliseconds), string
 *   durations ("2845s") to whole seconds.
 * - An action counts as executed unless it is pending, or skipped without having run (a skipped
 *   action with an error_code ran, failed and was skipped by on_error, so it counts as failed).
 *   Executed actions are successful when completed and failed otherwise.
 */

export interface DurationStats {
  avg_duration?: string;
  min_duration?: string;
  max_duration?: string;
  p50_duration?: string;
  p95_duration?: string;
  p99_duration?: string;
  avg_duration_seconds?: number;
  min_duration_seconds?: number;
  max_duration_seconds?: number;
  p50_duration_seconds?: number;
  p95_duration_seconds?: number;
  p99_duration_seconds?: number;
}

export interface WorkflowStatsEntry {
  workflow_id: string;
  workflow_name?: string;
  executions: {
    total: number;
    successful: number;
    failed: number;
    rolled_back?: number;
    cancelled?: number;
    success_rate: number;
  };
  performance: DurationStats;
  last_execution?: {
    execution_id?: string;
    timestamp: string;
    status: string;
    duration?: string;
    duration_seconds?: number;
    incident_type?: string;
    severity?: string;
  };
  contractor_performance?: Record<string, { avg_duration?: string; avg_duration_seconds: number; error_count: number }>;
  common_errors?: Array<{ error: string; count: number; contractor?: string }>;
  incident_breakdown?: Record<string, number>;
}

export interface WorkflowStats {
  last_updated: string;
  workflows: WorkflowStatsEntry[];
  summary: {
    total_workflow_executions: number;
    total_successful: number;
    total_failed: number;
    overall_success_rate: number;
    avg_workflow_duration_seconds: number;
    most_executed_workflow: string | null;
    most_reliable_workflow: string | null;
    most_common_error: string | null;
  };
}

export type Trend = 'stable' | 'improving' | 'degrading' | 'insufficient_data';

export interface TrendWindow {
  success_rate?: number;
  avg_duration_seconds?: number;
  executions: number;
  trend: Trend;
}

export interface ContractorEntry {
  contractor_id: string;
  contractor: string;
  contractor_name: string;
  specialization?: string;
  workflows_participated: number;
  avg_handoff_time?: string;
  error_rate: number;
  statistics: {
    workflows_participated: number;
    total_actions_executed: number;
    successful_actions: number;
    failed_actions: number;
    success_rate: number;
    error_rate: number;
    avg_action_duration_seconds?: number;
    avg_handoff_time_seconds?: number;
  };
  performance_by_action_type: Record<
    string,
    { executions: number; avg_duration_seconds: number; p95_duration_seconds: number; success_rate: number; error_rate: number }
  >;
  common_errors: Array<{ error_code: string; error: string; count: number; description?: string; last_seen: string }>;
  performance_trends: { last_30_days: TrendWindow; last_7_days: TrendWindow };
}

export interface ContractorPerformance {
  last_updated: string;
  contractors: ContractorEntry[];
  cross_contractor_metrics: {
    avg_handoff_latency_seconds?: number;
    handoff_success_rate?: number;
    total_handoffs: number;
    failed_handoffs: number;
    avg_contractor_coordination_time_seconds?: number;
  };
  summary: {
    total_workflow_executions: number;
    total_actions_executed: number;
    overall_success_rate: number;
    most_reliable_contractor: string | null;
    fastest_contractor: string | null;
    most_active_contractor: string | null;
    coordination_efficiency?: number;
  };
}

export const DAY_MS = 86_400_000;
/** Success-rate difference below which a trend is "stable". */
export const TREND_TOLERANCE = 0.02;
/** Fewer executed actions than this in a window give "insufficient_data". */
export const TREND_MIN_SAMPLES = 3;

/** Display names of the built-in contractors (contractor-performance.json). */
export const CONTRACTOR_INFO: Readonly<Record<string, { name: string; specialization: string }>> = {
  'infrastructure-contractor': { name: 'Infrastructure Contractor', specialization: 'Physical/virtual infrastructure management' },
  'talos-contractor': { name: 'Talos Contractor', specialization: 'Kubernetes and Talos Linux management' },
  'n8n-contractor': { name: 'n8n Contractor', specialization: 'Workflow orchestration and automation' },
  'security-master': { name: 'Security Master', specialization: 'Security incident investigation and remediation' },
};

/** Rounds to `digits` decimals (half away from zero), without -0. */
export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  const r = Math.sign(value) * Math.round(Math.abs(value) * f) / f;
  return r === 0 ? 0 : r;
}

/** `2845.4` → `"2845s"` (the seed's duration strings). */
export function durationString(seconds: number): string {
  return `${Math.max(0, Math.round(seconds))}s`;
}

/** Nearest-rank percentile (q in (0, 1]) of already recorded values; undefined when empty. */
export function percentile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  // The epsilon keeps float noise (0.07 * 100 = 7.000000000000001) from moving up a rank.
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length - 1e-9)));
  return sorted[rank - 1];
}

function mean(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  return values.reduce((a, b) => a + b, 0) / values.length;
}

export function rate(part: number, whole: number): number {
  return whole === 0 ? 0 : round(part / whole);
}

export function seconds(value: number | undefined | null): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

export function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Keeps only ended executions, in a stable order (finished_at, then execution_id). */
export function endedExecutions(summaries: readonly ExecutionSummary[]): ExecutionSummary[] {
  return summaries
    .filter((s) => ENDED_STATUSES.has(s.status))
    .sort((a, b) => byString(a.finished_at, b.finished_at) || byString(a.execution_id, b.execution_id));
}

export function durationStats(values: readonly number[]): DurationStats {
  const avg = mean(values);
  if (avg === undefined) return {};
  // Not Math.min(...values): with some 125,000 values (cron's runs of a few months) that overflows the stack.
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const p50 = percentile(values, 0.5) as number;
  const p95 = percentile(values, 0.95) as number;
  const p99 = percentile(values, 0.99) as number;
  return {
    avg_duration: durationString(avg),
    min_duration: durationString(min),
    max_duration: durationString(max),
    p50_duration: durationString(p50),
    p95_duration: durationString(p95),
    p99_duration: durationString(p99),
    avg_duration_seconds: round(avg),
    min_duration_seconds: round(min),
    max_duration_seconds: round(max),
    p50_duration_seconds: round(p50),
    p95_duration_seconds: round(p95),
    p99_duration_seconds: round(p99),
  };
}

/** The key with the highest count; ties go to the alphabetically first key. */
function topKey(counts: ReadonlyMap<string, number>): string | null {
  let best: string | null = null;
  let bestCount = -1;
  for (const [key, count] of counts) {
    if (count > bestCount || (count === bestCount && best !== null && key < best)) {
      best = key;
      bestCount = count;
    }
  }
  return best;
}

function increment(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

export function stringParam(summary: ExecutionSummary, key: string): string | undefined {
  const value = summary.parameters?.[key];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** Aggregates per workflow for `metrics/workflow-stats.json` (see the module comment for the rules). */
export function computeWorkflowStats(summaries: readonly ExecutionSummary[], now: Date): WorkflowStats {
  const byWorkflow = new Map<string, ExecutionSummary[]>();
  for (const s of endedExecutions(summaries)) {
    const list = byWorkflow.get(s.workflow_id) ?? [];
    list.push(s);
    byWorkflow.set(s.workflow_id, list);
  }

  const workflows: WorkflowStatsEntry[] = [];
  const allErrors = new Map<string, number>();
  for (const workflowId of [...byWorkflow.keys()].sort(byString)) {
    const runs = byWorkflow.get(workflowId) as ExecutionSummary[];
    const successful = runs.filter((r) => r.status === 'completed').length;
    const rolledBack = runs.filter((r) => r.status === 'rolled_back').length;
    const cancelled = runs.filter((r) => r.status === 'cancelled').length;
    // Runs are sorted by finished_at, so the last one is the latest.
    const last = runs[runs.length - 1] as ExecutionSummary;

    const contractorDurations = new Map<string, number[]>();
    const contractorErrors = new Map<string, number>();
    for (const run of runs) {
      for (const [contractor, perf] of Object.entries(run.contractors ?? {})) {
        const list = contractorDurations.get(contractor) ?? [];
        list.push(seconds(perf.duration_seconds));
        contractorDurations.set(contractor, list);
        increment(contractorErrors, contractor, perf.errors ?? 0);
      }
    }
    const contractorPerformance: NonNullable<WorkflowStatsEntry['contractor_performance']> = {};
    for (const contractor of [...contractorDurations.keys()].sort(byString)) {
      const avg = mean(contractorDurations.get(contractor) as number[]) ?? 0;
      contractorPerformance[contractor] = {
        avg_duration: durationString(avg),
        avg_duration_seconds: round(avg),
        error_count: contractorErrors.get(contractor) ?? 0,
      };
    }

    const errorCounts = new Map<string, { error: string; contractor: string; count: number }>();
    for (const run of runs) {
      for (const e of run.errors ?? []) {
        const key = `${e.error}\u0000${e.contractor}`;
        const entry = errorCounts.get(key) ?? { error: e.error, contractor: e.contractor, count: 0 };
        entry.count++;
        errorCounts.set(key, entry);
        increment(allErrors, e.error);
      }
    }
    const commonErrors = [...errorCounts.values()]
      .sort((a, b) => b.count - a.count || byString(a.error, b.error) || byString(a.contractor, b.contractor))
      .map(({ error, count, contractor }) => ({ error, count, contractor }));

    const lastExecution: NonNullable<WorkflowStatsEntry['last_execution']> = {
      execution_id: last.execution_id,
      timestamp: last.finished_at,
      status: last.status,
      duration: durationString(seconds(last.duration_seconds)),
      duration_seconds: round(seconds(last.duration_seconds)),
    };
    const incidentType = stringParam(last, 'incident_type');
    const severity = stringParam(last, 'severity');
    if (incidentType !== undefined) lastExecution.incident_type = incidentType;
    if (severity !== undefined) lastExecution.severity = severity;

    const entry: WorkflowStatsEntry = {
      workflow_id: workflowId,
      workflow_name: last.workflow_name,
      executions: {
        total: runs.length,
        successful,
        failed: runs.length - successful,
        rolled_back: rolledBack,
        cancelled,
        success_rate: rate(successful, runs.length),
      },
      performance: durationStats(runs.map((r) => seconds(r.duration_seconds))),
      last_execution: lastExecution,
      contractor_performance: contractorPerformance,
      common_errors: commonErrors,
    };

    const incidents = new Map<string, number>();
    for (const run of runs) {
      const type = stringParam(run, 'incident_type');
      if (type !== undefined) increment(incidents, type);
    }
    if (incidents.size > 0) {
      entry.incident_breakdown = Object.fromEntries([...incidents.entries()].sort((a, b) => byString(a[0], b[0])));
    }
    workflows.push(entry);
  }

  return workflowStatsOf(workflows, allErrors, now);
}

/** workflow-stats.json from its entries (in order) and every error's count: the summary's rules, once. */
export function workflowStatsOf(workflows: WorkflowStatsEntry[], allErrors: ReadonlyMap<string, number>, now: Date): WorkflowStats {
  const totalExecutions = workflows.reduce((n, w) => n + w.executions.total, 0);
  const totalSuccessful = workflows.reduce((n, w) => n + w.executions.successful, 0);
  const workflowAverages = workflows.map((w) => w.performance.avg_duration_seconds ?? 0);
  let mostReliable: WorkflowStatsEntry | undefined;
  for (const w of workflows) {
    // Highest success rate; ties go to the workflow with more executions (more evidence), then the id.
    if (
      mostReliable === undefined ||
      w.executions.success_rate > mostReliable.executions.success_rate ||
      (w.executions.success_rate === mostReliable.executions.success_rate && w.executions.total > mostReliable.executions.total)
    ) {
      mostReliable = w;
    }
  }

  return {
    last_updated: now.toISOString(),
    workflows,
    summary: {
      total_workflow_executions: totalExecutions,
      total_successful: totalSuccessful,
      total_failed: totalExecutions - totalSuccessful,
      overall_success_rate: rate(totalSuccessful, totalExecutions),
      // Unweighted mean of the workflow averages, as the reference file computes it.
      avg_workflow_duration_seconds: round(mean(workflowAverages) ?? 0),
      most_executed_workflow: topKey(new Map(workflows.map((w) => [w.workflow_id, w.executions.total]))),
      most_reliable_workflow: mostReliable?.workflow_id ?? null,
      most_common_error: topKey(allErrors),
    },
  };
}

export interface ActionFact {
  contractor: string;
  action: string;
  isSuccessful: boolean;
  duration: number;
  errorCode?: string;
  errorMessage?: string;
  finishedAt: string;
  finishedMs: number;
  executionId: string;
}

export function isExecutedAction(a: ExecutionSummary['actions'][number]): boolean {
  if (a.status === 'pending') return false;
  if (a.status === 'skipped') return a.error_code !== undefined;
  return true;
}

export function actionFacts(runs: readonly ExecutionSummary[]): ActionFact[] {
  const facts: ActionFact[] = [];
  for (const run of runs) {
    const finishedMs = Date.parse(run.finished_at);
    for (const a of run.actions ?? []) {
      if (!isExecutedAction(a)) continue;
      const fact: ActionFact = {
        contractor: a.contractor,
        action: a.action,
        isSuccessful: a.status === 'completed',
        duration: seconds(a.duration_seconds),
        finishedAt: run.finished_at,
        finishedMs: Number.isNaN(finishedMs) ? 0 : finishedMs,
        executionId: run.execution_id,
      };
      if (a.error_code !== undefined) fact.errorCode = a.error_code;
      if (a.error_message !== undefined) fact.errorMessage = a.error_message;
      facts.push(fact);
    }
  }
  return facts;
}

function trendWindow(facts: readonly ActionFact[], sinceMs: number, baseline: readonly ActionFact[]): TrendWindow {
  const inWindow = facts.filter((f) => f.finishedMs >= sinceMs);
  const window: TrendWindow = { executions: inWindow.length, trend: 'insufficient_data' };
  if (inWindow.length === 0) return window;
  const successRate = inWindow.filter((f) => f.isSuccessful).length / inWindow.length;
  window.success_rate = round(successRate);
  window.avg_duration_seconds = round(mean(inWindow.map((f) => f.duration)) ?? 0);
  if (inWindow.length >= TREND_MIN_SAMPLES && baseline.length > 0) {
    const baselineRate = baseline.filter((f) => f.isSuccessful).length / baseline.length;
    const delta = successRate - baselineRate;
    window.trend = Math.abs(delta) <= TREND_TOLERANCE ? 'stable' : delta > 0 ? 'improving' : 'degrading';
  }
  return window;
}

/**
 * Aggregates per contractor for `metrics/contractor-performance.json`. Handoff time of a
 * contractor = mean latency of the handoffs it sent or received. Trends: last_7_days compares
 * the 7-day action success rate with the 30-day one, last_30_days the 30-day one with all time.
 */
export function computeContractorPerformance(summaries: readonly ExecutionSummary[], now: Date): ContractorPerformance {
  const runs = endedExecutions(summaries);
  const facts = actionFacts(runs);
  const nowMs = now.getTime();

  const contractorIds = new Set<string>();
  for (const f of facts) contractorIds.add(f.contractor);
  for (const run of runs) for (const c of Object.keys(run.contractors ?? {})) contractorIds.add(c);

  const handoffs = runs.flatMap((r) => r.handoffs ?? []);
  const contractors: ContractorEntry[] = [];
  for (const id of [...contractorIds].sort(byString)) {
    const mine = facts.filter((f) => f.contractor === id);
    const successfulActions = mine.filter((f) => f.isSuccessful).length;
    const failedActions = mine.length - successfulActions;
    const participated = new Set(mine.map((f) => f.executionId)).size;
    const errorRate = rate(failedActions, mine.length);
    const handoffLatencies = handoffs
      .filter((h) => (h.from === id || h.to === id) && typeof h.latency_seconds === 'number')
      .map((h) => seconds(h.latency_seconds));
    const avgHandoff = mean(handoffLatencies);
    const avgAction = mean(mine.map((f) => f.duration));

    const statistics: ContractorEntry['statistics'] = {
      workflows_participated: participated,
      total_actions_executed: mine.length,
      successful_actions: successfulActions,
      failed_actions: failedActions,
      success_rate: rate(successfulActions, mine.length),
      error_rate: errorRate,
    };
    if (avgAction !== undefined) statistics.avg_action_duration_seconds = round(avgAction);
    if (avgHandoff !== undefined) statistics.avg_handoff_time_seconds = round(avgHandoff);

    const byAction: ContractorEntry['performance_by_action_type'] = {};
    for (const action of [...new Set(mine.map((f) => f.action))].sort(byString)) {
      const list = mine.filter((f) => f.action === action);
      const ok = list.filter((f) => f.isSuccessful).length;
      const durations = list.map((f) => f.duration);
      byAction[action] = {
        executions: list.length,
        avg_duration_seconds: round(mean(durations) ?? 0),
        p95_duration_seconds: round(percentile(durations, 0.95) ?? 0),
        success_rate: rate(ok, list.length),
        error_rate: rate(list.length - ok, list.length),
      };
    }

    const errors = new Map<string, { count: number; latest: ActionFact }>();
    for (const f of mine) {
      if (f.isSuccessful) continue;
      const code = f.errorCode ?? 'unknown_error';
      const entry = errors.get(code);
      if (!entry) errors.set(code, { count: 1, latest: f });
      else {
        entry.count++;
        // Facts come in finished_at order, so a later one is at least as recent.
        entry.latest = f;
      }
    }
    const commonErrors = [...errors.entries()]
      .sort((a, b) => b[1].count - a[1].count || byString(a[0], b[0]))
      .map(([code, { count, latest }]) => {
        const item: ContractorEntry['common_errors'][number] = { error_code: code, error: code, count, last_seen: latest.finishedAt };
        if (latest.errorMessage !== undefined) item.description = latest.errorMessage;
        return item;
      });

    const last30 = mine.filter((f) => f.finishedMs >= nowMs - 30 * DAY_MS);
    const info = CONTRACTOR_INFO[id];
    const entry: ContractorEntry = {
      contractor_id: id,
      contractor: id,
      contractor_name: info?.name ?? titleCase(id),
      workflows_participated: participated,
      error_rate: errorRate,
      statistics,
      performance_by_action_type: byAction,
      common_errors: commonErrors,
      performance_trends: {
        last_30_days: trendWindow(mine, nowMs - 30 * DAY_MS, mine),
        last_7_days: trendWindow(mine, nowMs - 7 * DAY_MS, last30),
      },
    };
    if (info) entry.specialization = info.specialization;
    if (avgHandoff !== undefined) entry.avg_handoff_time = durationString(avgHandoff);
    contractors.push(entry);
  }

  const failedHandoffs = handoffs.filter((h) => h.status === 'failed').length;
  const latencies = handoffs.filter((h) => typeof h.latency_seconds === 'number').map((h) => seconds(h.latency_seconds));
  const avgLatency = mean(latencies);
  const cross: ContractorPerformance['cross_contractor_metrics'] = { total_handoffs: handoffs.length, failed_handoffs: failedHandoffs };
  if (avgLatency !== undefined) {
    cross.avg_handoff_latency_seconds = round(avgLatency);
    cross.avg_contractor_coordination_time_seconds = round(avgLatency);
  }
  if (handoffs.length > 0) cross.handoff_success_rate = rate(handoffs.length - failedHandoffs, handoffs.length);

  const totalActions = facts.length;
  const summary: ContractorPerformance['summary'] = {
    total_workflow_executions: runs.length,
    total_actions_executed: totalActions,
    overall_success_rate: rate(facts.filter((f) => f.isSuccessful).length, totalActions),
    most_reliable_contractor: best(contractors, (a, b) => b.statistics.success_rate - a.statistics.success_rate || b.statistics.total_actions_executed - a.statistics.total_actions_executed),
    fastest_contractor: best(
      contractors.filter((c) => c.statistics.avg_action_duration_seconds !== undefined),
      (a, b) => (a.statistics.avg_action_duration_seconds ?? 0) - (b.statistics.avg_action_duration_seconds ?? 0),
    ),
    most_active_contractor: best(contractors, (a, b) => b.statistics.total_actions_executed - a.statistics.total_actions_executed),
  };
  if (cross.handoff_success_rate !== undefined) summary.coordination_efficiency = cross.handoff_success_rate;

  return { last_updated: now.toISOString(), contractors, cross_contractor_metrics: cross, summary };
}

/** First contractor under `order` among those that executed actions; ties broken by id. */
export function best(entries: readonly ContractorEntry[], order: (a: ContractorEntry, b: ContractorEntry) => number): string | null {
  const candidates = entries.filter((e) => e.statistics.total_actions_executed > 0);
  const sorted = [...candidates].sort((a, b) => order(a, b) || byString(a.contractor_id, b.contractor_id));
  return sorted[0]?.contractor_id ?? null;
}

export function titleCase(id: string): string {
  return id
    .split(/[-_]/)
    .filter((w) => w.length > 0)
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join(' ');
}
