import fc from 'fast-check';
import type { ExecutionSummary } from '../../../src/model/records.js';

/** Random ledger summaries of the shape cortex writes, for oracle tests of the metrics fold. */

export const BASE_MS = Date.parse('2025-12-01T00:00:00.000Z');
const WORKFLOWS = ['wf-a', 'wf-b', 'security-incident-response'];
const CONTRACTORS = ['infrastructure-contractor', 'talos-contractor', 'n8n-contractor', 'custom_ops-team'];
const STATUSES = ['completed', 'completed', 'completed', 'failed', 'rolled_back', 'rollback_failed', 'cancelled', 'running', 'pending'];
const ACTION_STATUSES = ['completed', 'completed', 'failed', 'skipped', 'pending', 'running'];

/** Durations as cortex records them (2 decimals) and as any float (sums must be added in the reference's order). */
const duration = fc.oneof(
  fc.integer({ min: 0, max: 500_000 }).map((n) => n / 100),
  fc.double({ min: -5, max: 1e6, noNaN: true, noDefaultInfinity: true }),
  fc.constant(0),
);

const action = fc.record(
  {
    contractor: fc.constantFrom(...CONTRACTORS),
    action: fc.constantFrom('provision_vm', 'install_helm_chart', 'execute_command', 'notify'),
    status: fc.constantFrom(...ACTION_STATUSES),
    duration_seconds: duration,
    error_code: fc.constantFrom('command_failed', 'timeout', 'helm_install_failed'),
    error_message: fc.constantFrom('exit 1', 'timed out after 30s', 'chart not found'),
  },
  { requiredKeys: ['contractor', 'action', 'status', 'duration_seconds'] },
);

/** A summary without its execution id and finish time (the caller numbers them). */
export const summaryBody = fc.record({
  workflow_id: fc.constantFrom(...WORKFLOWS),
  workflow_name: fc.option(fc.constantFrom('Workflow A', 'Workflow B', 'Security'), { nil: undefined }),
  status: fc.constantFrom(...STATUSES),
  duration_seconds: duration,
  parameters: fc.option(
    fc.record({ incident_type: fc.constantFrom('malware', 'ddos', ''), severity: fc.constantFrom('high', 'low') }, { requiredKeys: [] }),
    { nil: undefined },
  ),
  contractors: fc.dictionary(fc.constantFrom(...CONTRACTORS), fc.record({ duration_seconds: duration, errors: fc.nat(3) })),
  actions: fc.array(action, { maxLength: 4 }),
  errors: fc.array(fc.record({ error: fc.constantFrom('command_failed', 'timeout', 'helm_install_failed'), contractor: fc.constantFrom(...CONTRACTORS) }), { maxLength: 2 }),
  handoffs: fc.array(
    fc.record({
      from: fc.constantFrom(...CONTRACTORS),
      to: fc.constantFrom(...CONTRACTORS),
      status: fc.constantFrom('completed', 'failed', 'pending'),
      latency_seconds: fc.option(duration, { nil: null }),
    }),
    { maxLength: 2 },
  ),
});

export type SummaryBody = typeof summaryBody extends fc.Arbitrary<infer T> ? T : never;

/** Minutes after BASE_MS when it finished: mostly later than the previous one, sometimes not. */
export const finishStep = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 3 * 24 * 60 }) }, { weight: 1, arbitrary: fc.integer({ min: -600, max: -1 }) });

export function makeSummary(body: SummaryBody, id: string, finishedMs: number): ExecutionSummary {
  const finished = new Date(finishedMs).toISOString();
  const s = { execution_id: id, ...body, started_at: finished, finished_at: finished } as Record<string, unknown>;
  for (const key of Object.keys(s)) if (s[key] === undefined) delete s[key];
  return s as unknown as ExecutionSummary;
}
