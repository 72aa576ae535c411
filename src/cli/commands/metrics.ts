import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ExitCode, UsageError } from '../../errors.js';
import { readJsonFile, readLedgerFile } from '../../adapters/record-files.js';
import { writeFileAtomic } from '../../adapters/atomic-file.js';
import { toPrometheusText } from '../../model/prometheus.js';
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

/**
 * node_exporter's textfile collector reads the file as its own user: it is world-readable (0644),
 * unlike every other file cortex writes. It holds only counts and durations per workflow,
 * contractor and action name: no parameter, output or secret.
 */
const TEXTFILE_MODE = 0o644;

/** `cortex metrics [WORKFLOW_ID] [--prometheus] [--textfile FILE]`: the aggregates in workflows/metrics/. */
export async function metrics(ctx: CommandContext, args: unknown[], opts: { prometheus?: boolean; textfile?: string }): Promise<number> {
  const L = layout(ctx.root.dir);
  const only = args[0] as string | undefined;
  if (opts.prometheus || opts.textfile !== undefined) {
    const ledger = readLedgerFile(L.ledger).filter((s) => !only || s.workflow_id === only);
    const text = toPrometheusText(ledger);
    if (opts.textfile === undefined) {
      process.stdout.write(text);
      return ExitCode.OK;
    }
    if (!opts.textfile.endsWith('.prom')) throw new UsageError(`--textfile ${opts.textfile}: node_exporter's textfile collector reads only *.prom files`, { hint: 'e.g. --textfile /var/lib/prometheus/node-exporter/cortex.prom' });
    const path = resolve(ctx.cwd, opts.textfile);
    // The collector's directory belongs to node_exporter's set-up: never created here (it would be 0700).
    if (!existsSync(dirname(path))) throw new UsageError(`--textfile: the directory ${dirname(path)} does not exist`, { hint: "it is node_exporter's --collector.textfile.directory" });
    // Temp file in the same directory, then rename: the collector never reads half a file.
    await writeFileAtomic(path, text, TEXTFILE_MODE);
    if (ctx.out.json) ctx.out.data({ textfile: path, bytes: Buffer.byteLength(text), executions: ledger.length });
    else if (opts.prometheus) process.stdout.write(text);
    else if (ctx.out.verbose) ctx.out.line(`wrote ${path}`);
    return ExitCode.OK;
  }
  const stats = readJsonFile<WorkflowStats>(L.workflowStats);
  const perf = readJsonFile<ContractorPerformance>(L.contractorPerformance);
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
