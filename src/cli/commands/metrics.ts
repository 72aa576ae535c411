import { ExitCode } from '../../errors.js';
import { readJsonFile } from '../../adapters/record-files.js';
import { layout } from '../../layout.js';
import type { CommandContext } from '../context.js';
import { table } from '../render/table.js';

interface WorkflowStats {
  last_updated: string;
  workflows: Array<{
    workflow_id: string;
    executions: { total: number; successful: number; failed: number; success_rate: number };
    performance: Record<string, number | string | undefined>;
  }>;
}
interface ContractorPerformance {
  contractors: Array<{
    contractor_id: string;
    statistics: { total_actions_executed: number; successful_actions: number; failed_actions: number; avg_action_duration_seconds?: number };
    performance_by_action_type?: Record<string, { executions: number; success_rate: number; avg_duration_seconds?: number }>;
  }>;
}

function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Prometheus text exposition of the metrics files (passes `promtool check metrics`). */
export function toPrometheus(stats: WorkflowStats | undefined, perf: ContractorPerformance | undefined): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string, samples: string[]) => {
    if (!samples.length) return;
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
  };
  const wfs = stats?.workflows ?? [];
  family(
    'cortex_workflow_executions_total',
    'counter',
    'Ended executions per workflow and outcome.',
    wfs.flatMap((w) => [
      `cortex_workflow_executions_total{workflow="${label(w.workflow_id)}",outcome="successful"} ${w.executions.successful}`,
      `cortex_workflow_executions_total{workflow="${label(w.workflow_id)}",outcome="failed"} ${w.executions.failed}`,
    ]),
  );
  family(
    'cortex_workflow_duration_seconds',
    'gauge',
    'Execution duration percentiles per workflow, from the recorded executions.',
    wfs.flatMap((w) =>
      (['p50', 'p95', 'p99'] as const).flatMap((q) => {
        const v = w.performance[`${q}_duration_seconds`];
        return typeof v === 'number' ? [`cortex_workflow_duration_seconds{workflow="${label(w.workflow_id)}",quantile="0.${q.slice(1)}"} ${v}`] : [];
      }),
    ),
  );
  family('cortex_workflow_success_ratio', 'gauge', 'Share of ended executions that completed.', wfs.map((w) => `cortex_workflow_success_ratio{workflow="${label(w.workflow_id)}"} ${w.executions.success_rate}`));
  const cs = perf?.contractors ?? [];
  family(
    'cortex_contractor_actions_total',
    'counter',
    'Actions executed per contractor and outcome.',
    cs.flatMap((c) => [
      `cortex_contractor_actions_total{contractor="${label(c.contractor_id)}",outcome="successful"} ${c.statistics.successful_actions}`,
      `cortex_contractor_actions_total{contractor="${label(c.contractor_id)}",outcome="failed"} ${c.statistics.failed_actions}`,
    ]),
  );
  family(
    'cortex_action_executions_total',
    'counter',
    'Executions per action type.',
    cs.flatMap((c) => Object.entries(c.performance_by_action_type ?? {}).map(([a, v]) => `cortex_action_executions_total{contractor="${label(c.contractor_id)}",action="${label(a)}"} ${v.executions}`)),
  );
  return out.length ? `${out.join('\n')}\n` : '';
}

/** `cortex metrics [WORKFLOW_ID] [--prometheus]`: the aggregates in workflows/metrics/. */
export async function metrics(ctx: CommandContext, args: unknown[], opts: { prometheus?: boolean }): Promise<number> {
  const L = layout(ctx.root.dir);
  const stats = readJsonFile<WorkflowStats>(L.workflowStats);
  const perf = readJsonFile<ContractorPerformance>(L.contractorPerformance);
  const only = args[0] as string | undefined;
  if (opts.prometheus) {
    process.stdout.write(toPrometheus(stats && only ? { ...stats, workflows: stats.workflows.filter((w) => w.workflow_id === only) } : stats, perf));
    return ExitCode.OK;
  }
  if (ctx.out.json) {
    ctx.out.data({ workflow_stats: stats ?? null, contractor_performance: perf ?? null });
    return ExitCode.OK;
  }
  if (!stats) {
    ctx.out.line('no metrics yet: they are written when an execution ends');
    return ExitCode.OK;
  }
  ctx.out.line(
    table(
      ['WORKFLOW', 'RUNS', 'OK', 'FAILED', 'SUCCESS', 'P50', 'P95', 'P99'],
      stats.workflows
        .filter((w) => !only || w.workflow_id === only)
        .map((w) => [w.workflow_id, String(w.executions.total), String(w.executions.successful), String(w.executions.failed), `${Math.round(w.executions.success_rate * 1000) / 10}%`, String(w.performance.p50_duration ?? '-'), String(w.performance.p95_duration ?? '-'), String(w.performance.p99_duration ?? '-')]),
    ),
  );
  if (perf?.contractors.length) {
    ctx.out.line('');
    ctx.out.line(table(['CONTRACTOR', 'ACTIONS', 'FAILED', 'AVG'], perf.contractors.map((c) => [c.contractor_id, String(c.statistics.total_actions_executed), String(c.statistics.failed_actions), `${c.statistics.avg_action_duration_seconds ?? '-'}s`])));
  }
  ctx.out.line(ctx.out.style.dim(`updated ${stats.last_updated}; files: ${L.workflowStats}, ${L.contractorPerformance}`));
  return ExitCode.OK;
}
