import type { ExecutionSummary } from './records.js';
import { actionFacts, endedExecutions, round } from './metrics.js';

/**
 * The metrics ledger in the Prometheus text exposition format (version 0.0.4), as
 * `promtool check metrics` wants it: every family with HELP and TYPE, counters ending in
 * `_total`, durations as histograms in seconds (aggregatable across workflows and hosts, unlike
 * precomputed quantiles), timestamps as `_timestamp_seconds` gauges. No sample timestamps, so the
 * same text serves node_exporter's textfile collector. Pure: the same ledger gives the same text.
 */

/** Upper bounds of the duration buckets, seconds: from a quick check to a long cluster build. */
export const DURATION_BUCKETS: readonly number[] = [1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];

const ENDED = ['completed', 'failed', 'rolled_back', 'rollback_failed', 'cancelled'] as const;

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  return String(round(v, 6));
}

function byKey<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    m.set(k, [...(m.get(k) ?? []), it]);
  }
  return new Map([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function histogram(name: string, l: Record<string, string>, values: readonly number[]): string[] {
  const out: string[] = [];
  for (const le of DURATION_BUCKETS) out.push(`${name}_bucket${labels({ ...l, le: String(le) })} ${values.filter((v) => v <= le).length}`);
  out.push(`${name}_bucket${labels({ ...l, le: '+Inf' })} ${values.length}`);
  out.push(`${name}_sum${labels(l)} ${num(values.reduce((a, b) => a + b, 0))}`);
  out.push(`${name}_count${labels(l)} ${values.length}`);
  return out;
}

/** The exposition text ('' when nothing has ended yet). */
export function toPrometheusText(summaries: readonly ExecutionSummary[]): string {
  const out: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge' | 'histogram', help: string, samples: string[]) => {
    if (samples.length) out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
  };
  const runs = endedExecutions(summaries);
  const perWorkflow = byKey(runs, (r) => r.workflow_id);
  const seconds = (v: number | undefined) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

  family(
    'cortex_workflow_executions_total',
    'counter',
    'Ended executions per workflow and final status.',
    [...perWorkflow].flatMap(([wf, list]) => ENDED.map((s) => `cortex_workflow_executions_total${labels({ workflow: wf, status: s })} ${list.filter((r) => r.status === s).length}`)),
  );
  family(
    'cortex_workflow_duration_seconds',
    'histogram',
    'Duration of ended executions per workflow, whatever their outcome.',
    [...perWorkflow].flatMap(([wf, list]) => histogram('cortex_workflow_duration_seconds', { workflow: wf }, list.map((r) => seconds(r.duration_seconds)))),
  );
  family(
    'cortex_workflow_success_ratio',
    'gauge',
    'Share of the ended executions of a workflow that completed.',
    [...perWorkflow].map(([wf, list]) => `cortex_workflow_success_ratio${labels({ workflow: wf })} ${num(list.filter((r) => r.status === 'completed').length / list.length)}`),
  );
  const stamp = (iso: string | undefined) => {
    const ms = iso ? Date.parse(iso) : NaN;
    return Number.isNaN(ms) ? undefined : ms / 1000;
  };
  family(
    'cortex_workflow_last_execution_timestamp_seconds',
    'gauge',
    'When the latest execution of a workflow ended (Unix time).',
    [...perWorkflow].flatMap(([wf, list]) => {
      const t = stamp(list[list.length - 1]?.finished_at);
      return t === undefined ? [] : [`cortex_workflow_last_execution_timestamp_seconds${labels({ workflow: wf })} ${num(t)}`];
    }),
  );
  family(
    'cortex_workflow_last_success_timestamp_seconds',
    'gauge',
    'When the latest completed execution of a workflow ended (Unix time); absent until one completed.',
    [...perWorkflow].flatMap(([wf, list]) => {
      const t = stamp(list.filter((r) => r.status === 'completed').pop()?.finished_at);
      return t === undefined ? [] : [`cortex_workflow_last_success_timestamp_seconds${labels({ workflow: wf })} ${num(t)}`];
    }),
  );

  const facts = actionFacts(runs);
  const perContractor = byKey(facts, (f) => f.contractor);
  family(
    'cortex_contractor_actions_total',
    'counter',
    'Actions executed per contractor and outcome.',
    [...perContractor].flatMap(([c, list]) => [
      `cortex_contractor_actions_total${labels({ contractor: c, outcome: 'successful' })} ${list.filter((f) => f.isSuccessful).length}`,
      `cortex_contractor_actions_total${labels({ contractor: c, outcome: 'failed' })} ${list.filter((f) => !f.isSuccessful).length}`,
    ]),
  );
  const perAction = byKey(facts, (f) => `${f.contractor}\u0000${f.action}`);
  family(
    'cortex_action_executions_total',
    'counter',
    'Executions per action type and outcome.',
    [...perAction].flatMap(([, list]) => {
      const l = { contractor: list[0]!.contractor, action: list[0]!.action };
      return [
        `cortex_action_executions_total${labels({ ...l, outcome: 'successful' })} ${list.filter((f) => f.isSuccessful).length}`,
        `cortex_action_executions_total${labels({ ...l, outcome: 'failed' })} ${list.filter((f) => !f.isSuccessful).length}`,
      ];
    }),
  );
  family(
    'cortex_action_duration_seconds',
    'histogram',
    'Duration of executed actions per action type.',
    [...perAction].flatMap(([, list]) => histogram('cortex_action_duration_seconds', { contractor: list[0]!.contractor, action: list[0]!.action }, list.map((f) => f.duration))),
  );
  return out.length ? `${out.join('\n')}\n` : '';
}
