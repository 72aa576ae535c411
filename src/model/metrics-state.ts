import type { ExecutionSummary } from './records.js';
import {
  CONTRACTOR_INFO,
  DAY_MS,
  ENDED_STATUSES,
  TREND_MIN_SAMPLES,
  TREND_TOLERANCE,
  best,
  byString,
  durationString,
  isExecutedAction,
  rate,
  round,
  seconds,
  stringParam,
  titleCase,
  type ContractorEntry,
  type ContractorPerformance,
  type DurationStats,
  type TrendWindow,
  type WorkflowStats,
  type WorkflowStatsEntry,
  workflowStatsOf,
} from './metrics.js';
import { isRegularSummary } from './ledger-line.js';

export { isRegularSummary };

/**
 * The metrics ledger folded one summary at a time: what computeWorkflowStats and
 * computeContractorPerformance need, kept so that their output can be produced without the
 * ledger, byte for byte the same (they stay the reference; test/unit/model/metrics-state tests
 * it). Means are running sums, added in the order the reference adds them: that is why ended runs
 * must come in the reference's order (finished_at, then execution_id), and why addRun refuses a
 * run that sorts before the last one (the caller then folds the whole ledger again, sorted).
 * A summary whose fields do not have the types cortex writes, or an execution id seen twice,
 * cannot be folded exactly (the reference's Maps and string joins would see other keys):
 * addRun says so, and the caller falls back to the reference.
 */

export const METRICS_STATE_VERSION = 1;

export type AddResult = 'added' | 'out_of_order' | 'irregular';

interface LastRun {
  execution_id: string;
  finished_at: string;
  status: string;
  duration: number;
  workflow_name?: string;
  incident_type?: string;
  severity?: string;
}

interface WorkflowAgg {
  total: number;
  successful: number;
  rolledBack: number;
  cancelled: number;
  /** seconds(duration_seconds) of each ended run, in order. */
  durations: Column;
  last: LastRun;
  /** Per contractor: running sum and count of seconds(duration_seconds), sum of errors. */
  contractors: Map<string, { sum: number; n: number; errors: number }>;
  /** Keyed `${error}\0${contractor}` as the reference keys them. */
  errors: Map<string, { error: string; contractor: string; count: number }>;
  incidents: Map<string, number>;
}

interface ContractorAgg {
  /** One entry per executed action of this contractor, in order: its run's Date.parse(finished_at) (NaN: 0), duration, 1 when completed. */
  finishedMs: Column;
  durations: Column;
  success: Column;
  /** Runs with at least one executed action of this contractor (execution ids are unique). */
  participated: number;
  actions: Map<string, { ok: number; durations: Column }>;
  errors: Map<string, { count: number; lastSeen: string; description?: string }>;
}

/** The serialized form (the `state` of metrics/.executions-index.json; schemas/metrics-index.schema.json). */
export interface MetricsStateJson {
  /** Every execution id, each after a newline and the last followed by one ("\n" when none). */
  ids: string;
  last_key: [string, string] | null;
  runs: number;
  facts: number;
  facts_ok: number;
  handoffs: { total: number; failed: number; latency_sum: number; latency_n: number };
  handoff_latency_by_contractor: Array<[string, number, number]>;
  all_errors: Array<[string, number]>;
  workflows: Array<{
    workflow_id: string;
    total: number;
    successful: number;
    rolled_back: number;
    cancelled: number;
    durations: string;
    last: LastRun;
    contractors: Array<[string, number, number, number]>;
    errors: Array<[string, string, number]>;
    incidents: Array<[string, number]>;
  }>;
  contractors: Array<{
    contractor_id: string;
    participated: number;
    finished_ms: string;
    durations: string;
    success: string;
    actions: Array<[string, number, string]>;
    errors: Array<[string, number, string, string | null]>;
  }>;
}

function increment<K>(map: Map<K, number>, key: K, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

/** A growing list of numbers in a typed array: decoded from the index without a number per element for the GC. */
export class Column {
  length: number;
  constructor(
    private data: Float64Array | Uint8Array,
    length = data.length,
  ) {
    this.length = length;
  }

  static f64(): Column {
    return new Column(new Float64Array(16), 0);
  }

  static u8(): Column {
    return new Column(new Uint8Array(16), 0);
  }

  push(value: number): void {
    if (this.length === this.data.length) {
      const next = this.data instanceof Float64Array ? new Float64Array(this.length * 2 + 16) : new Uint8Array(this.length * 2 + 16);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = value;
  }

  get values(): Float64Array | Uint8Array {
    return this.data.subarray(0, this.length);
  }
}

/** The sum in index order, as the reference's reduce((a, b) => a + b, 0) adds. */
function sumOf(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] as number;
  return sum;
}

/** Typed arrays are in the machine's byte order; the index stores little-endian. */
const IS_LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

/** Base64 of the values as little-endian float64 (exact, and far cheaper to parse than JSON numbers). */
export function encodeF64(column: Column): string {
  const values = column.values;
  if (IS_LITTLE_ENDIAN) return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
  const buf = Buffer.allocUnsafe(values.length * 8);
  for (let i = 0; i < values.length; i++) buf.writeDoubleLE(values[i] as number, i * 8);
  return buf.toString('base64');
}

export function decodeF64(text: string): Column {
  const buf = Buffer.from(text, 'base64');
  if (buf.length % 8 !== 0) throw new Error('not a list of float64');
  const values = new Float64Array(buf.length / 8);
  // Copied: the decoded bytes need not be 8-byte aligned for a Float64Array view.
  if (IS_LITTLE_ENDIAN) new Uint8Array(values.buffer).set(buf);
  else for (let i = 0; i < values.length; i++) values[i] = buf.readDoubleLE(i * 8);
  return new Column(values);
}

/** The reference's durationStats (metrics.ts), sorting once and numerically (no NaN or -0 here: values went through seconds()). */
function fastDurationStats(values: Float64Array | Uint8Array): DurationStats {
  if (values.length === 0) return {};
  const avg = sumOf(values) / values.length;
  const sorted = Float64Array.from(values).sort();
  const p50 = sortedPercentile(sorted, 0.5);
  const p95 = sortedPercentile(sorted, 0.95);
  const p99 = sortedPercentile(sorted, 0.99);
  const min = sorted[0] as number;
  const max = sorted[sorted.length - 1] as number;
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

/** percentile() (metrics.ts) of values already sorted, not empty. */
function sortedPercentile(sorted: Float64Array, q: number): number {
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length - 1e-9)));
  return sorted[rank - 1] as number;
}

function encodeBits(column: Column): string {
  const values = column.values;
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
}

function decodeBits(text: string): Column {
  return new Column(new Uint8Array(Buffer.from(text, 'base64')));
}

export class MetricsState {
  /** Every execution id added, each followed by a newline (ids with one are irregular): cheap to load and search. */
  private idsText = '\n';
  /** Built for folding many runs (a rebuild); one search of idsText is cheaper than building it. */
  private idSet: Set<string> | undefined;
  private lastKey: [string, string] | null = null;
  private runs = 0;
  private facts = 0;
  private factsOk = 0;
  private handoffs = { total: 0, failed: 0, latency_sum: 0, latency_n: 0 };
  private readonly handoffLatency = new Map<string, { sum: number; n: number }>();
  private readonly allErrors = new Map<string, number>();
  private readonly workflows = new Map<string, WorkflowAgg>();
  private readonly contractors = new Map<string, ContractorAgg>();

  /** Whether a summary with this execution id has been added. */
  has(executionId: string): boolean {
    return this.idSet ? this.idSet.has(executionId) : this.idsText.includes(`\n${executionId}\n`);
  }

  /** Before adding many runs: has() by a Set. */
  indexIds(): void {
    this.idSet = new Set(this.idsText.split('\n').filter((id) => id !== ''));
  }

  /**
   * Folds one ledger summary in. Nothing changes unless it returns 'added': 'irregular' for a
   * repeated execution id or a field of another type (see isRegularSummary), 'out_of_order' for
   * an ended run sorting before the last one added.
   */
  addRun(s: ExecutionSummary): AddResult {
    if (this.has(s.execution_id) || !isRegularSummary(s)) return 'irregular';
    if (!ENDED_STATUSES.has(s.status)) {
      this.addId(s.execution_id);
      return 'added';
    }
    if (this.lastKey !== null && (byString(s.finished_at, this.lastKey[0]) || byString(s.execution_id, this.lastKey[1])) < 0) return 'out_of_order';
    this.addId(s.execution_id);
    this.lastKey = [s.finished_at, s.execution_id];
    this.runs++;
    this.addToWorkflow(s);
    this.addToContractors(s);
    return 'added';
  }

  private addId(id: string): void {
    this.idsText += `${id}\n`;
    this.idSet?.add(id);
  }

  private addToWorkflow(run: ExecutionSummary): void {
    let w = this.workflows.get(run.workflow_id);
    const duration = seconds(run.duration_seconds);
    const last: LastRun = { execution_id: run.execution_id, finished_at: run.finished_at, status: run.status, duration };
    if (run.workflow_name !== undefined) last.workflow_name = run.workflow_name;
    const incidentType = stringParam(run, 'incident_type');
    const severity = stringParam(run, 'severity');
    if (incidentType !== undefined) last.incident_type = incidentType;
    if (severity !== undefined) last.severity = severity;
    if (!w) {
      w = { total: 0, successful: 0, rolledBack: 0, cancelled: 0, durations: Column.f64(), last, contractors: new Map(), errors: new Map(), incidents: new Map() };
      this.workflows.set(run.workflow_id, w);
    }
    w.total++;
    if (run.status === 'completed') w.successful++;
    if (run.status === 'rolled_back') w.rolledBack++;
    if (run.status === 'cancelled') w.cancelled++;
    w.durations.push(duration);
    w.last = last;
    for (const [contractor, perf] of Object.entries(run.contractors ?? {})) {
      const c = w.contractors.get(contractor) ?? { sum: 0, n: 0, errors: 0 };
      c.sum += seconds(perf.duration_seconds);
      c.n++;
      c.errors += perf.errors ?? 0;
      w.contractors.set(contractor, c);
    }
    for (const e of run.errors ?? []) {
      const key = `${e.error}\u0000${e.contractor}`;
      const entry = w.errors.get(key) ?? { error: e.error, contractor: e.contractor, count: 0 };
      entry.count++;
      w.errors.set(key, entry);
      increment(this.allErrors, e.error);
    }
    if (incidentType !== undefined) increment(w.incidents, incidentType);
  }

  private contractor(id: string): ContractorAgg {
    let c = this.contractors.get(id);
    if (!c) {
      c = { finishedMs: Column.f64(), durations: Column.f64(), success: Column.u8(), participated: 0, actions: new Map(), errors: new Map() };
      this.contractors.set(id, c);
    }
    return c;
  }

  private addToContractors(run: ExecutionSummary): void {
    const parsed = Date.parse(run.finished_at);
    const finishedMs = Number.isNaN(parsed) ? 0 : parsed;
    const seen = new Set<string>();
    for (const a of run.actions ?? []) {
      if (!isExecutedAction(a)) continue;
      const c = this.contractor(a.contractor);
      if (!seen.has(a.contractor)) {
        seen.add(a.contractor);
        c.participated++;
      }
      const isSuccessful = a.status === 'completed';
      const duration = seconds(a.duration_seconds);
      c.finishedMs.push(finishedMs);
      c.durations.push(duration);
      c.success.push(isSuccessful ? 1 : 0);
      const action = c.actions.get(a.action) ?? { ok: 0, durations: Column.f64() };
      action.durations.push(duration);
      if (isSuccessful) action.ok++;
      c.actions.set(a.action, action);
      this.facts++;
      if (isSuccessful) this.factsOk++;
      else {
        const code = a.error_code ?? 'unknown_error';
        const entry = c.errors.get(code) ?? { count: 0, lastSeen: run.finished_at };
        entry.count++;
        entry.lastSeen = run.finished_at;
        if (a.error_message !== undefined) entry.description = a.error_message;
        else delete entry.description;
        c.errors.set(code, entry);
      }
    }
    for (const id of Object.keys(run.contractors ?? {})) this.contractor(id);
    for (const h of run.handoffs ?? []) {
      this.handoffs.total++;
      if (h.status === 'failed') this.handoffs.failed++;
      if (typeof h.latency_seconds !== 'number') continue;
      const latency = seconds(h.latency_seconds);
      this.handoffs.latency_sum += latency;
      this.handoffs.latency_n++;
      const ends = h.from === h.to ? [h.from] : [h.from, h.to];
      for (const end of ends) {
        if (typeof end !== 'string') continue;
        const l = this.handoffLatency.get(end) ?? { sum: 0, n: 0 };
        l.sum += latency;
        l.n++;
        this.handoffLatency.set(end, l);
      }
    }
  }

  /** computeWorkflowStats(ledger, now), from the state. */
  workflowStats(now: Date): WorkflowStats {
    const workflows: WorkflowStatsEntry[] = [];
    for (const workflowId of [...this.workflows.keys()].sort(byString)) {
      const w = this.workflows.get(workflowId) as WorkflowAgg;
      const contractorPerformance: NonNullable<WorkflowStatsEntry['contractor_performance']> = {};
      for (const contractor of [...w.contractors.keys()].sort(byString)) {
        const c = w.contractors.get(contractor) as { sum: number; n: number; errors: number };
        const avg = c.sum / c.n;
        contractorPerformance[contractor] = { avg_duration: durationString(avg), avg_duration_seconds: round(avg), error_count: c.errors };
      }
      const commonErrors = [...w.errors.values()]
        .sort((a, b) => b.count - a.count || byString(a.error, b.error) || byString(a.contractor, b.contractor))
        .map(({ error, count, contractor }) => ({ error, count, contractor }));
      const lastExecution: NonNullable<WorkflowStatsEntry['last_execution']> = {
        execution_id: w.last.execution_id,
        timestamp: w.last.finished_at,
        status: w.last.status,
        duration: durationString(w.last.duration),
        duration_seconds: round(w.last.duration),
      };
      if (w.last.incident_type !== undefined) lastExecution.incident_type = w.last.incident_type;
      if (w.last.severity !== undefined) lastExecution.severity = w.last.severity;
      const entry: WorkflowStatsEntry = {
        workflow_id: workflowId,
        workflow_name: w.last.workflow_name as string,
        executions: {
          total: w.total,
          successful: w.successful,
          failed: w.total - w.successful,
          rolled_back: w.rolledBack,
          cancelled: w.cancelled,
          success_rate: rate(w.successful, w.total),
        },
        performance: fastDurationStats(w.durations.values),
        last_execution: lastExecution,
        contractor_performance: contractorPerformance,
        common_errors: commonErrors,
      };
      if (w.incidents.size > 0) entry.incident_breakdown = Object.fromEntries([...w.incidents.entries()].sort((a, b) => byString(a[0], b[0])));
      workflows.push(entry);
    }

    return workflowStatsOf(workflows, this.allErrors, now);
  }

  /** computeContractorPerformance(ledger, now), from the state. */
  contractorPerformance(now: Date): ContractorPerformance {
    const nowMs = now.getTime();
    const contractors: ContractorEntry[] = [];
    for (const id of [...this.contractors.keys()].sort(byString)) {
      const c = this.contractors.get(id) as ContractorAgg;
      const total = c.durations.length;
      const successfulActions = sumOf(c.success.values);
      const durationSum = sumOf(c.durations.values);
      const failedActions = total - successfulActions;
      const errorRate = rate(failedActions, total);
      const handoff = this.handoffLatency.get(id);
      const avgHandoff = handoff ? handoff.sum / handoff.n : undefined;
      const avgAction = total === 0 ? undefined : durationSum / total;
      const statistics: ContractorEntry['statistics'] = {
        workflows_participated: c.participated,
        total_actions_executed: total,
        successful_actions: successfulActions,
        failed_actions: failedActions,
        success_rate: rate(successfulActions, total),
        error_rate: errorRate,
      };
      if (avgAction !== undefined) statistics.avg_action_duration_seconds = round(avgAction);
      if (avgHandoff !== undefined) statistics.avg_handoff_time_seconds = round(avgHandoff);

      const byAction: ContractorEntry['performance_by_action_type'] = {};
      for (const action of [...c.actions.keys()].sort(byString)) {
        const a = c.actions.get(action) as { ok: number; durations: Column };
        const n = a.durations.length;
        const durations = a.durations.values;
        byAction[action] = {
          executions: n,
          avg_duration_seconds: round(n === 0 ? 0 : sumOf(durations) / n),
          p95_duration_seconds: round(n === 0 ? 0 : sortedPercentile(Float64Array.from(durations).sort(), 0.95)),
          success_rate: rate(a.ok, n),
          error_rate: rate(n - a.ok, n),
        };
      }
      const commonErrors = [...c.errors.entries()]
        .sort((a, b) => b[1].count - a[1].count || byString(a[0], b[0]))
        .map(([code, { count, lastSeen, description }]) => {
          const item: ContractorEntry['common_errors'][number] = { error_code: code, error: code, count, last_seen: lastSeen };
          if (description !== undefined) item.description = description;
          return item;
        });

      const since30 = nowMs - 30 * DAY_MS;
      let ok30 = 0;
      let n30 = 0;
      const finished = c.finishedMs.values;
      const success = c.success.values;
      for (let i = 0; i < total; i++) {
        if ((finished[i] as number) >= since30) {
          n30++;
          ok30 += success[i] as number;
        }
      }
      const info = CONTRACTOR_INFO[id];
      const entry: ContractorEntry = {
        contractor_id: id,
        contractor: id,
        contractor_name: info?.name ?? titleCase(id),
        workflows_participated: c.participated,
        error_rate: errorRate,
        statistics,
        performance_by_action_type: byAction,
        common_errors: commonErrors,
        performance_trends: {
          last_30_days: trendWindow(c, since30, total === 0 ? undefined : successfulActions / total),
          last_7_days: trendWindow(c, nowMs - 7 * DAY_MS, n30 === 0 ? undefined : ok30 / n30),
        },
      };
      if (info) entry.specialization = info.specialization;
      if (avgHandoff !== undefined) entry.avg_handoff_time = durationString(avgHandoff);
      contractors.push(entry);
    }

    const h = this.handoffs;
    const cross: ContractorPerformance['cross_contractor_metrics'] = { total_handoffs: h.total, failed_handoffs: h.failed };
    if (h.latency_n > 0) {
      cross.avg_handoff_latency_seconds = round(h.latency_sum / h.latency_n);
      cross.avg_contractor_coordination_time_seconds = round(h.latency_sum / h.latency_n);
    }
    if (h.total > 0) cross.handoff_success_rate = rate(h.total - h.failed, h.total);
    const summary: ContractorPerformance['summary'] = {
      total_workflow_executions: this.runs,
      total_actions_executed: this.facts,
      overall_success_rate: rate(this.factsOk, this.facts),
      most_reliable_contractor: best(contractors, (a, b) => b.statistics.success_rate - a.statistics.success_rate || b.statistics.total_actions_executed - a.statistics.total_actions_executed),
      fastest_contractor: best(
        contractors.filter((x) => x.statistics.avg_action_duration_seconds !== undefined),
        (a, b) => (a.statistics.avg_action_duration_seconds ?? 0) - (b.statistics.avg_action_duration_seconds ?? 0),
      ),
      most_active_contractor: best(contractors, (a, b) => b.statistics.total_actions_executed - a.statistics.total_actions_executed),
    };
    if (cross.handoff_success_rate !== undefined) summary.coordination_efficiency = cross.handoff_success_rate;
    return { last_updated: now.toISOString(), contractors, cross_contractor_metrics: cross, summary };
  }

  /** The state as JSON, or undefined when a running sum is not finite (JSON would not keep it). */
  serialize(): MetricsStateJson | undefined {
    const sums = [this.handoffs.latency_sum, ...[...this.handoffLatency.values()].map((l) => l.sum)];
    for (const w of this.workflows.values()) for (const c of w.contractors.values()) sums.push(c.sum, c.errors);
    if (!sums.every((x) => Number.isFinite(x))) return undefined;
    return {
      ids: this.idsText,
      last_key: this.lastKey,
      runs: this.runs,
      facts: this.facts,
      facts_ok: this.factsOk,
      handoffs: { ...this.handoffs },
      handoff_latency_by_contractor: [...this.handoffLatency.entries()].map(([k, l]) => [k, l.sum, l.n]),
      all_errors: [...this.allErrors.entries()],
      workflows: [...this.workflows.entries()].map(([id, w]) => ({
        workflow_id: id,
        total: w.total,
        successful: w.successful,
        rolled_back: w.rolledBack,
        cancelled: w.cancelled,
        durations: encodeF64(w.durations),
        last: w.last,
        contractors: [...w.contractors.entries()].map(([k, c]) => [k, c.sum, c.n, c.errors]),
        errors: [...w.errors.values()].map((e) => [e.error, e.contractor, e.count]),
        incidents: [...w.incidents.entries()],
      })),
      contractors: [...this.contractors.entries()].map(([id, c]) => ({
        contractor_id: id,
        participated: c.participated,
        finished_ms: encodeF64(c.finishedMs),
        durations: encodeF64(c.durations),
        success: encodeBits(c.success),
        actions: [...c.actions.entries()].map(([k, a]) => [k, a.ok, encodeF64(a.durations)]),
        errors: [...c.errors.entries()].map(([k, e]) => [k, e.count, e.lastSeen, e.description ?? null]),
      })),
    };
  }

  /** The state serialize() gave; throws on a shape it cannot have written (the caller rebuilds). */
  static deserialize(json: MetricsStateJson): MetricsState {
    const s = new MetricsState();
    if (typeof json.ids !== 'string' || !json.ids.startsWith('\n') || !json.ids.endsWith('\n')) throw new Error('ids');
    s.idsText = json.ids;
    s.lastKey = json.last_key;
    s.runs = json.runs;
    s.facts = json.facts;
    s.factsOk = json.facts_ok;
    s.handoffs = { ...json.handoffs };
    for (const [k, sum, n] of json.handoff_latency_by_contractor) s.handoffLatency.set(k, { sum, n });
    for (const [k, n] of json.all_errors) s.allErrors.set(k, n);
    for (const w of json.workflows) {
      s.workflows.set(w.workflow_id, {
        total: w.total,
        successful: w.successful,
        rolledBack: w.rolled_back,
        cancelled: w.cancelled,
        durations: decodeF64(w.durations),
        last: { ...w.last },
        contractors: new Map(w.contractors.map(([k, sum, n, errors]) => [k, { sum, n, errors }])),
        errors: new Map(w.errors.map(([error, contractor, count]) => [`${error}\u0000${contractor}`, { error, contractor, count }])),
        incidents: new Map(w.incidents),
      });
    }
    for (const c of json.contractors) {
      const agg: ContractorAgg = {
        finishedMs: decodeF64(c.finished_ms),
        durations: decodeF64(c.durations),
        success: decodeBits(c.success),
        participated: c.participated,
        actions: new Map(c.actions.map(([k, ok, d]) => [k, { ok, durations: decodeF64(d) }])),
        errors: new Map(
          c.errors.map(([k, count, lastSeen, description]) => [k, description === null ? { count, lastSeen } : { count, lastSeen, description }]),
        ),
      };
      if (agg.durations.length !== agg.finishedMs.length || agg.success.length !== agg.finishedMs.length) throw new Error('columns');
      s.contractors.set(c.contractor_id, agg);
    }
    return s;
  }
}

/** The reference's trendWindow over a contractor's columns; baselineRate undefined: no baseline. */
function trendWindow(c: ContractorAgg, sinceMs: number, baselineRate: number | undefined): TrendWindow {
  let n = 0;
  let ok = 0;
  let sum = 0;
  const finished = c.finishedMs.values;
  const success = c.success.values;
  const durations = c.durations.values;
  for (let i = 0; i < finished.length; i++) {
    if ((finished[i] as number) < sinceMs) continue;
    n++;
    ok += success[i] as number;
    sum += durations[i] as number;
  }
  const window: TrendWindow = { executions: n, trend: 'insufficient_data' };
  if (n === 0) return window;
  const successRate = ok / n;
  window.success_rate = round(successRate);
  window.avg_duration_seconds = round(sum / n);
  if (n >= TREND_MIN_SAMPLES && baselineRate !== undefined) {
    const delta = successRate - baselineRate;
    window.trend = Math.abs(delta) <= TREND_TOLERANCE ? 'stable' : delta > 0 ? 'improving' : 'degrading';
  }
  return window;
}
