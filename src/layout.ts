import { join } from 'node:path';
import { masterDir } from './model/catalogue.js';

/** Every path cortex reads or writes under a coordination directory (the file contract). */
export function layout(root: string) {
  const workflows = join(root, 'workflows');
  // A run asks for a contractor's paths twice per action (its log lines): built once per contractor.
  const masters = new Map<string, ReturnType<typeof masterPaths>>();
  return {
    root,
    config: join(root, 'config.yaml'),
    workflows,
    templates: join(workflows, 'templates'),
    active: join(workflows, 'active'),
    history: join(workflows, 'history'),
    metrics: join(workflows, 'metrics'),
    workflowStats: join(workflows, 'metrics', 'workflow-stats.json'),
    contractorPerformance: join(workflows, 'metrics', 'contractor-performance.json'),
    ledger: join(workflows, 'metrics', 'executions.jsonl'),
    /** Derived from the ledger, rebuilt whenever it does not match it (adapters/metrics-ledger.ts). */
    ledgerIndex: join(workflows, 'metrics', '.executions-index.json'),
    locks: join(workflows, 'locks'),
    contractors: join(root, 'contractors'),
    triggers: join(root, 'triggers'),
    secrets: join(root, 'secrets'),
    audit: join(root, 'audit', 'audit.jsonl'),
    state: join(root, 'state'),
    /** Per-execution journals of the steps not yet in the record file (state/journal/workflow-<id>.journal). */
    journals: join(root, 'state', 'journal'),
    /** Files actions keep after an execution: artifacts/<execution_id>/<action_id>/. */
    artifacts: join(root, 'state', 'artifacts'),
    /** Generated cluster files (talosconfig, kubeconfig, machine configs) when no talosconfig is configured. */
    clusters: join(root, 'clusters'),
    lab: join(root, 'lab'),
    master: (contractor: string) => {
      let paths = masters.get(contractor);
      if (paths === undefined) masters.set(contractor, (paths = masterPaths(root, contractor)));
      return paths;
    },
    activeRecord: (executionId: string) => join(workflows, 'active', `workflow-${executionId}.json`),
    historyRecord: (executionId: string) => join(workflows, 'history', `workflow-${executionId}.json`),
    journal: (executionId: string) => join(root, 'state', 'journal', `workflow-${executionId}.journal`),
  };
}
export type Layout = ReturnType<typeof layout>;

/** The paths of one contractor's master folder (read-only: layout() hands the same object out again). */
function masterPaths(root: string, contractor: string) {
  const base = join(root, 'masters', masterDir(contractor));
  return Object.freeze({
    base,
    handoffs: join(base, 'handoffs'),
    logs: join(base, 'logs'),
    contractorLog: join(base, 'logs', 'contractor.log'),
    debugLog: join(base, 'logs', 'debug.log'),
    context: join(base, 'context'),
    debugFlag: join(base, 'context', 'debug-flag.json'),
  });
}
