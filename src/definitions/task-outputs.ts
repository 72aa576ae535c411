/**
 * The outputs a person gives a task (`cortex approve --action ID --data FILE`), checked before
 * anything is recorded: each key must be an output the task declares, and each value must fit
 * every parameter a later action fills with it (a whole `${<task>.output.<key>...}` value), by
 * that action's parameter schema; a plan's steps (execute_remediation_plan) by their own
 * actions' schemas. Pure: the caller maps the pointers to places in its file.
 */
import type { Catalogue } from '../model/catalogue.js';
import { getPath } from './expression-eval.js';
import { parseTemplate, type PathSegment } from './expression-parser.js';
import { pathToPointer, pointerToPath } from './load-document.js';
import type { ActionDef, WorkflowDefinition } from './types.js';
import { checkActionParameters } from './validate-workflow.js';

/** A problem with one output; `pointer` is a JSON pointer into the outputs (`/replacement_specs/cores`). */
export interface OutputIssue {
  pointer: string;
  message: string;
}

interface Use {
  /** Pointer in the consumer's parameters. */
  at: string;
  /** Path in the outputs. */
  path: PathSegment[];
}

/** The task output path a string refers to as a whole (`${task.output.a.b}`), if it does. */
function wholeOutputRef(value: string, taskId: string): PathSegment[] | undefined {
  if (!value.includes('${')) return undefined;
  try {
    const t = parseTemplate(value);
    const part = t.parts[0];
    if (!t.isWhole || part?.kind !== 'expr' || part.expr.kind !== 'ref') return undefined;
    const [root, second, ...rest] = part.expr.path;
    return root === taskId && second === 'output' && rest.length > 0 ? rest : undefined;
  } catch {
    return undefined;
  }
}

/** `value` with every whole reference to the task's outputs replaced by the output (null when absent). */
function substitute(value: unknown, taskId: string, outputs: Record<string, unknown>, at: string, uses: Use[]): unknown {
  if (typeof value === 'string') {
    const path = wholeOutputRef(value, taskId);
    if (!path) return value;
    uses.push({ at, path });
    const v = getPath(outputs, path);
    return v === undefined ? null : v;
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, taskId, outputs, `${at}/${i}`, uses));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, taskId, outputs, `${at}${pathToPointer([k])}`, uses)]));
  }
  return value;
}

function isUnder(pointer: string, prefix: string): boolean {
  return pointer === prefix || pointer.startsWith(`${prefix}/`);
}

function describeAt(consumer: ActionDef, at: string, params: Record<string, unknown>): string {
  const path = pointerToPath(at);
  if (path[0] === 'steps' && path[2] === 'parameters') {
    const step = (params.steps as Array<{ step_id?: string; action?: string }> | undefined)?.[Number(path[1])];
    return `action "${consumer.action_id}" passes it to plan step "${step?.step_id ?? `step-${Number(path[1]) + 1}`}" (${step?.action ?? '?'}) as ${path.slice(3).join('.')}`;
  }
  return `action "${consumer.action_id}" (${consumer.action}) uses it as ${path.join('.')}`;
}

/** Checks `outputs` for task `taskId` of `def`; empty when they may be recorded. */
export function checkTaskOutputs(def: WorkflowDefinition, catalogue: Catalogue, taskId: string, outputs: Record<string, unknown>): OutputIssue[] {
  const issues: OutputIssue[] = [];
  const phaseIndex = def.phases.findIndex((p) => p.actions.some((a) => a.action_id === taskId));
  const phase = def.phases[phaseIndex];
  if (!phase) return [{ pointer: '', message: `the workflow has no action "${taskId}"` }];
  const task = phase.actions.find((a) => a.action_id === taskId) as ActionDef;
  const spec = catalogue.get(phase.contractor, task.action);
  const declared = Object.keys(spec?.outputs ?? {});
  if (declared.length) {
    for (const key of Object.keys(outputs)) {
      if (!declared.includes(key)) issues.push({ pointer: pathToPointer([key]), message: `"${key}" is not an output of ${task.action} (its outputs: ${declared.join(', ')})` });
    }
  }
  const later = def.phases.slice(phaseIndex).flatMap((p, i) => {
    const actions = i === 0 ? p.actions.slice(p.actions.indexOf(task) + 1) : p.actions;
    return actions.map((a) => ({ action: a, contractor: p.contractor }));
  });
  for (const { action, contractor } of later) {
    const consumerSpec = catalogue.get(contractor, action.action);
    if (!consumerSpec) continue;
    const uses: Use[] = [];
    const params = substitute(action.parameters ?? {}, taskId, outputs, '', uses) as Record<string, unknown>;
    if (!uses.length) continue;
    const problems = [...checkActionParameters(consumerSpec.parameters, params)];
    if (consumerSpec.kind === 'plan' && Array.isArray(params.steps)) {
      params.steps.forEach((step: unknown, k: number) => {
        const s = (step ?? {}) as { contractor?: unknown; action?: unknown; parameters?: unknown };
        if (typeof s.contractor !== 'string' || typeof s.action !== 'string') return;
        const stepSpec = catalogue.get(s.contractor, s.action);
        if (!stepSpec) return;
        const p = (s.parameters && typeof s.parameters === 'object' ? s.parameters : {}) as Record<string, unknown>;
        for (const e of checkActionParameters(stepSpec.parameters, p)) problems.push({ pointer: `/steps/${k}/parameters${e.pointer}`, message: e.message });
      });
    }
    for (const problem of problems) {
      // Only what the outputs put there; the rest was checked when the definition was validated.
      const use = uses.find((u) => isUnder(problem.pointer, u.at));
      if (!use) continue;
      const inside = pointerToPath(problem.pointer.slice(use.at.length));
      const pointer = pathToPointer([...use.path, ...inside]);
      const where = describeAt(action, use.at, params);
      const missing = getPath(outputs, use.path) === undefined;
      issues.push({ pointer, message: missing ? `missing: ${where} (${problem.message})` : `${problem.message} (${where})` });
    }
  }
  return mergeAlternatives(issues);
}

/**
 * One line per place: `expected string` and `expected object` there (an anyOf) become `expected
 * string or object`; a type mismatch with problems below it is an anyOf branch that was not meant.
 */
function mergeAlternatives(issues: OutputIssue[]): OutputIssue[] {
  const out: OutputIssue[] = [];
  const deeper = (p: string) => issues.some((i) => i.pointer.startsWith(`${p}/`));
  for (const issue of issues) {
    if (issue.message.startsWith('expected ') && deeper(issue.pointer)) continue;
    if (out.some((o) => o.pointer === issue.pointer && o.message === issue.message)) continue;
    const m = /^expected (\w+) (\(.*\))$/.exec(issue.message);
    const same = m && out.find((o) => o.pointer === issue.pointer && o.message.startsWith('expected ') && o.message.endsWith(m[2] as string));
    if (m && same) same.message = same.message.replace(/ \(/, ` or ${m[1]} (`);
    else out.push({ ...issue });
  }
  return out;
}
