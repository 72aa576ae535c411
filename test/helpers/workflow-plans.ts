/**
 * The `run --dry-run` plan of every built-in workflow and template, computed in-process (no CLI
 * process per workflow): each with the parameters an operator would pass. Templates are planned
 * from a copy of coordination/workflows/templates/ placed among the workflows.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareWorkflow } from '../../src/app/prepare.js';
import type { PlannedStep } from '../../src/contractors/action-impl.js';
import type { ConfigFile } from '../../src/config/config.js';
import { planExecution, type PlannedPhase } from '../../src/engine/plan.js';
import { newExecutionRecord } from '../../src/engine/run-workflow.js';

const PROJECT = fileURLToPath(new URL('../..', import.meta.url));

/** Parameters each workflow needs (the rest keep their defaults). */
export const PLAN_PARAMS: Record<string, Record<string, unknown>> = {
  'app-deployment': { environment: 'production' },
  'security-incident-response': {
    incident_type: 'node_compromise',
    severity: 'critical',
    affected_resource: { type: 'node', identifier: 'k8s-worker-02', ip_address: '10.10.1.21', cluster: 'prod-k8s-01' },
    initial_indicators: { source: 'falco', rule_triggered: 'Drop and execute new binary in container', timestamp: '2026-11-25T18:52:41Z' },
  },
  'deployment-template': { cluster: 'prod-k8s-01', release: 'web-api', chart: 'nginx', chart_version: '15.4.0', deployment: 'web-api' },
  'maintenance-template': { cluster: 'prod-k8s-01', node: 'k8s-worker-02', node_ip: '10.10.1.21' },
  'incident-response-template': { cluster: 'prod-k8s-01', node: 'k8s-worker-02', summary: 'suspicious process on k8s-worker-02' },
};

export interface WorkflowPlan {
  workflowId: string;
  /** workflows/<file> or workflows/templates/<file> in the project. */
  source: string;
  phases: PlannedPhase[];
}

/** One planned step with where it comes from, for messages. */
export interface LocatedStep {
  where: string;
  step: PlannedStep;
}

/** Every step of every action of a plan. */
export function stepsOf(plan: WorkflowPlan): LocatedStep[] {
  return plan.phases.flatMap((p) => p.actions.flatMap((a) => a.steps.map((step) => ({ where: `${plan.workflowId}/${p.phase_id}/${a.action_id}`, step }))));
}

/** Action-level errors of a plan (an action that could not be planned). */
export function planErrors(plan: WorkflowPlan): string[] {
  return plan.phases.flatMap((p) => p.actions.filter((a) => a.error).map((a) => `${plan.workflowId}/${p.phase_id}/${a.action_id}: ${a.error}`));
}

/** Plans every built-in workflow and template with `config` as config.yaml (default: the shipped one). */
export async function builtinPlans(config?: ConfigFile): Promise<WorkflowPlan[]> {
  const root = mkdtempSync(join(tmpdir(), 'cortex-plans-'));
  try {
    const wf = join(PROJECT, 'coordination', 'workflows');
    const sources = new Map<string, string>();
    cpSync(wf, join(root, 'workflows'), { recursive: true, filter: (src) => !/\/(active|history|metrics|locks|templates)(\/|$)/.test(src) });
    for (const f of readdirSync(wf).filter((n) => /\.(json|ya?ml)$/.test(n))) sources.set(f, `workflows/${f}`);
    for (const f of readdirSync(join(wf, 'templates'))) {
      cpSync(join(wf, 'templates', f), join(root, 'workflows', `template-${f}`));
      sources.set(`template-${f}`, `workflows/templates/${f}`);
    }
    if (config) writeFileSync(join(root, 'config.yaml'), JSON.stringify(config));
    else cpSync(join(PROJECT, 'coordination', 'config.yaml'), join(root, 'config.yaml'));
    const ctx = { root: { dir: root, source: 'flag' as const, isReadOnlyPackage: false }, env: { PATH: process.env.PATH }, cwd: root };
    const out: WorkflowPlan[] = [];
    for (const file of [...sources.keys()].sort()) {
      const text = readFileSync(join(root, 'workflows', file), 'utf8');
      const id = /"workflow_id"\s*:\s*"([^"]+)"|^workflow_id:\s*(\S+)/m.exec(text);
      const workflowId = (id?.[1] ?? id?.[2]) as string;
      const prep = await prepareWorkflow(ctx, workflowId, { values: PLAN_PARAMS[workflowId] ?? {} });
      const now = '2026-11-25T19:00:00.000Z';
      const def = prep.loaded.definition;
      const record = newExecutionRecord({ executionId: `${workflowId}-dry-run`, loaded: prep.loaded, parameters: prep.maskedParams, trigger: { type: 'manual' }, now });
      const phases = await planExecution({
        loaded: prep.loaded,
        record,
        params: prep.params,
        env: {},
        catalogue: prep.catalogue,
        impls: prep.impls,
        config: prep.config,
        builtins: { workflow_id: def.workflow_id, workflow_name: def.workflow_name, execution_id: '<execution_id>', status: 'running', date: '20261125', time: '190000', timestamp: now, sequence: '<sequence>', user: 'operator', host: 'ops-host' },
      });
      out.push({ workflowId, source: sources.get(file) as string, phases });
    }
    return out;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
