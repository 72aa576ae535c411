import type { ErrorObject } from 'ajv';
import type { Issue } from '../errors.js';
import type { ActionSpec, Catalogue } from '../model/catalogue.js';
import { CommandTemplateError, splitCommandTemplate } from './command-template.js';
import { collectRefs, ExpressionSyntaxError, parseCondition, parseTemplate, type Expr } from './expression-parser.js';
import { checkReference, RESERVED_ROOTS, type RefScope } from './references.js';
import { compileSchema, describeAjvError, selectAjvErrors, validatorFor } from './schemas.js';
import { pathToPointer, pointerToPath, type SourceDocument } from './load-document.js';
import { checkDefaults } from './parameters.js';
import { checkTrigger } from './check-trigger.js';
import { phaseCondition, type ActionDef, type PhaseDef, type WorkflowDefinition } from './types.js';

/** Result of validating one definition: errors make it unusable, warnings are printed only. */
export interface ValidationResult {
  definition?: WorkflowDefinition;
  errors: Issue[];
  warnings: Issue[];
}

const CONTINUING_ON_ERROR = new Set(['skip_action', 'continue_phase', 'skip_phase', 'alert_only']);

function isExpressionString(v: unknown): boolean {
  return typeof v === 'string' && v.includes('${');
}

/** Value at an ajv instancePath inside `data`. */
function valueAt(data: unknown, pointer: string): unknown {
  let cur = data;
  for (const seg of pointerToPath(pointer)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

/**
 * Validates `params` against an action's schema, ignoring errors at (or under) a value that is a
 * `${...}` string: those are resolved, and checked again, at run time.
 */
export function checkActionParameters(
  schema: object,
  params: Record<string, unknown>,
): Array<{ pointer: string; message: string }> {
  const validate = compileSchema(schema);
  if (validate(params)) return [];
  const out: Array<{ pointer: string; message: string }> = [];
  for (const e of selectAjvErrors(validate.errors ?? [])) {
    const segments = pointerToPath(e.instancePath);
    let skip = false;
    for (let i = 0; i <= segments.length; i++) {
      if (isExpressionString(valueAt(params, pathToPointer(segments.slice(0, i))))) skip = true;
    }
    if (!skip) out.push(describeAjvError(e));
  }
  return out;
}

class WorkflowChecker {
  readonly errors: Issue[] = [];
  readonly warnings: Issue[] = [];
  private readonly def: WorkflowDefinition;
  private readonly allActions = new Set<string>();
  private readonly allPhases = new Set<string>();
  private readonly actionOnError = new Map<string, string>();

  constructor(
    private readonly doc: SourceDocument,
    private readonly catalogue: Catalogue,
  ) {
    this.def = doc.data as WorkflowDefinition;
  }

  private error(pointer: string, message: string): void {
    this.errors.push(this.doc.issueAt(pointer, message));
  }

  private warn(pointer: string, message: string): void {
    this.warnings.push(this.doc.issueAt(pointer, message));
  }

  run(): void {
    this.checkIds();
    for (const issue of checkDefaults(this.def)) this.errors.push(this.doc.issueAt(issue.pointer ?? '', issue.message));
    const owners = this.def.phases.map((p) => p.contractor);
    if (this.def.contractors) {
      this.def.phases.forEach((p, i) => {
        if (!this.def.contractors?.includes(p.contractor)) {
          this.error(`/phases/${i}/contractor`, `contractor "${p.contractor}" is not listed in /contractors (${this.def.contractors?.join(', ')})`);
        }
      });
    }
    const scope: RefScope = { params: this.def.parameters ?? {}, actions: new Map(), phases: new Map(), allActions: this.allActions, allPhases: this.allPhases };
    this.def.phases.forEach((phase, i) => this.checkPhase(phase, i, scope, owners));
    this.checkRollback(scope);
    this.def.escalation_rules?.forEach((rule, i) => this.checkCondition(rule.condition, `/escalation_rules/${i}/condition`, scope));
    this.checkTriggers();
  }

  private checkIds(): void {
    const phases = new Map<string, number>();
    const actions = new Map<string, string>();
    this.def.phases.forEach((phase, i) => {
      const prev = phases.get(phase.phase_id);
      if (prev !== undefined) this.error(`/phases/${i}/phase_id`, `duplicate phase_id "${phase.phase_id}" (also /phases/${prev})`);
      phases.set(phase.phase_id, i);
      if (RESERVED_ROOTS.has(phase.phase_id)) this.error(`/phases/${i}/phase_id`, `"${phase.phase_id}" is reserved for references; choose another phase_id`);
      this.allPhases.add(phase.phase_id);
      phase.actions.forEach((action, j) => {
        const pointer = `/phases/${i}/actions/${j}/action_id`;
        const prevA = actions.get(action.action_id);
        if (prevA !== undefined) this.error(pointer, `duplicate action_id "${action.action_id}" (also ${prevA}); action ids are unique in a workflow`);
        actions.set(action.action_id, `/phases/${i}/actions/${j}`);
        if (RESERVED_ROOTS.has(action.action_id)) this.error(pointer, `"${action.action_id}" is reserved for references; choose another action_id`);
        this.allActions.add(action.action_id);
        this.actionOnError.set(action.action_id, action.on_error ?? 'fail_workflow');
      });
    });
    for (const id of actions.keys()) {
      const p = phases.get(id);
      if (p !== undefined) this.error(`/phases/${p}/phase_id`, `"${id}" is both a phase_id and an action_id; references would be ambiguous`);
    }
  }

  /** Parses every `${...}` in a value and checks each reference against `scope`. */
  private checkValue(value: unknown, pointer: string, scope: RefScope): void {
    if (typeof value === 'string') {
      if (!value.includes('${')) return;
      try {
        const t = parseTemplate(value);
        for (const part of t.parts) if (part.kind === 'expr') this.checkRefs(part.expr, pointer, scope);
      } catch (e) {
        if (e instanceof ExpressionSyntaxError) this.error(pointer, `bad expression in "${value}": ${e.message}`);
        else throw e;
      }
    } else if (Array.isArray(value)) value.forEach((v, i) => this.checkValue(v, `${pointer}/${i}`, scope));
    else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) this.checkValue(v, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, scope);
    }
  }

  private checkRefs(expr: Expr, pointer: string, scope: RefScope): void {
    for (const ref of collectRefs(expr)) {
      const problem = checkReference(ref.path, scope);
      if (problem) {
        this.error(pointer, problem);
        continue;
      }
      const root = ref.path[0];
      if (typeof root === 'string' && scope.actions.has(root) && ref.path[1] === 'output') {
        const onError = this.actionOnError.get(root);
        if (onError && CONTINUING_ON_ERROR.has(onError)) {
          this.warn(pointer, `\${${ref.text}} may be null at run time: action "${root}" has on_error ${onError}, so the workflow goes on when it fails`);
        }
      }
    }
  }

  private checkCondition(src: string, pointer: string, scope: RefScope): void {
    try {
      this.checkRefs(parseCondition(src), pointer, scope);
    } catch (e) {
      if (e instanceof ExpressionSyntaxError) this.error(pointer, `bad condition "${src}": ${e.message}`);
      else throw e;
    }
  }

  /**
   * Splits the string form of the spec's command-line parameters into argument arrays (in place:
   * the definition the engine gets), so that each `${…}` stays one argument.
   */
  private splitArgv(spec: ActionSpec | undefined, params: Record<string, unknown> | undefined, pointer: string): void {
    if (!spec?.argvParameters || !params) return;
    for (const key of spec.argvParameters) {
      const value = params[key];
      if (typeof value !== 'string' || !value.includes('${')) continue;
      try {
        params[key] = splitCommandTemplate(value);
      } catch (e) {
        if (!(e instanceof CommandTemplateError)) throw e;
        this.error(`${pointer}/${key}`, `cannot split the command into arguments: ${e.message}`);
      }
    }
  }

  private checkAction(action: ActionDef, contractor: string, pointer: string, scope: RefScope): void {
    const spec = this.catalogue.get(contractor, action.action);
    this.splitArgv(spec, action.parameters, `${pointer}/parameters`);
    this.splitArgv(spec, action.retry?.fallback_parameters, `${pointer}/retry/fallback_parameters`);
    if (action.compensation) this.splitArgv(this.catalogue.get(contractor, action.compensation.action), action.compensation.parameters, `${pointer}/compensation/parameters`);
    if (!spec) {
      const known = this.catalogue.actionsOf(contractor).map((a) => a.name);
      const guess = closest(action.action, known);
      this.error(
        `${pointer}/action`,
        `unknown action "${action.action}" for ${contractor}${guess ? ` (did you mean "${guess}"?)` : ''}; "cortex actions ${contractor}" lists them`,
      );
    } else {
      const params = action.parameters ?? {};
      for (const p of checkActionParameters(spec.parameters, params)) this.error(`${pointer}/parameters${p.pointer}`, p.message);
      if (action.retry?.fallback_parameters) {
        const merged = { ...params, ...action.retry.fallback_parameters };
        for (const p of checkActionParameters(spec.parameters, merged)) this.error(`${pointer}/retry/fallback_parameters${p.pointer}`, p.message);
      }
      if (spec.kind === 'plan') this.checkPlanSteps(params, `${pointer}/parameters`, scope);
    }
    if (action.compensation && !this.catalogue.get(contractor, action.compensation.action)) {
      this.error(`${pointer}/compensation/action`, `unknown action "${action.compensation.action}" for ${contractor}`);
    }
    if (action.condition !== undefined) this.checkCondition(action.condition, `${pointer}/condition`, scope);
    this.checkValue(action.parameters ?? {}, `${pointer}/parameters`, scope);
    if (action.retry?.fallback_parameters) this.checkValue(action.retry.fallback_parameters, `${pointer}/retry/fallback_parameters`, scope);
  }

  /** `execute_remediation_plan` steps: each one validated like an action of its contractor. */
  private checkPlanSteps(params: Record<string, unknown>, pointer: string, scope: RefScope): void {
    const steps = params.steps;
    if (!Array.isArray(steps)) return;
    steps.forEach((step, k) => {
      if (step === null || typeof step !== 'object') return;
      const s = step as { contractor?: unknown; action?: unknown; parameters?: unknown };
      const at = `${pointer}/steps/${k}`;
      if (typeof s.contractor !== 'string' || !this.catalogue.isKnownContractor(s.contractor)) {
        this.error(`${at}/contractor`, `unknown contractor ${JSON.stringify(s.contractor)} (known: ${this.catalogue.contractors().join(', ')})`);
        return;
      }
      if (typeof s.action !== 'string') return;
      const spec = this.catalogue.get(s.contractor, s.action);
      if (!spec) {
        this.error(`${at}/action`, `unknown action "${s.action}" for ${s.contractor}`);
        return;
      }
      const p = (s.parameters ?? {}) as Record<string, unknown>;
      this.splitArgv(spec, p, `${at}/parameters`);
      for (const e of checkActionParameters(spec.parameters, p)) this.error(`${at}/parameters${e.pointer}`, e.message);
      void scope;
    });
  }

  private checkPhase(phase: PhaseDef, i: number, scope: RefScope, owners: string[]): void {
    const pointer = `/phases/${i}`;
    if (!this.catalogue.isKnownContractor(phase.contractor)) {
      this.error(`${pointer}/contractor`, `unknown contractor "${phase.contractor}" (known: ${this.catalogue.contractors().join(', ')})`);
    }
    if (phase.condition !== undefined && phase.conditional !== undefined) {
      this.error(`${pointer}/conditional`, 'give either condition or conditional, not both');
    }
    const cond = phaseCondition(phase);
    if (cond !== undefined) this.checkCondition(cond, `${pointer}/${phase.condition !== undefined ? 'condition' : 'conditional'}`, scope);
    if (typeof phase.requires_approval === 'string') this.checkCondition(phase.requires_approval, `${pointer}/requires_approval`, scope);

    const inner: RefScope = { ...scope, actions: new Map(scope.actions) };
    const outputsByAction = new Map<string, string[] | undefined>();
    phase.actions.forEach((action, j) => {
      // Actions of a parallel phase run at once, so they cannot read each other's outputs.
      this.checkAction(action, phase.contractor, `${pointer}/actions/${j}`, phase.parallel ? scope : inner);
      const spec = this.catalogue.get(phase.contractor, action.action);
      const outputs = spec ? Object.keys(spec.outputs) : undefined;
      outputsByAction.set(action.action_id, spec?.operatorDefined && outputs?.length === 0 ? undefined : outputs);
      inner.actions.set(action.action_id, { outputs: outputsByAction.get(action.action_id), phaseId: phase.phase_id });
    });

    const later = (c: string): boolean => owners.slice(i + 1).includes(c);
    if (phase.handoff_to === 'conditional') {
      if (!phase.handoff_decision) this.error(`${pointer}/handoff_to`, 'handoff_to "conditional" needs a handoff_decision {if, then, else}');
      else {
        this.checkCondition(phase.handoff_decision.if, `${pointer}/handoff_decision/if`, inner);
        for (const k of ['then', 'else'] as const) {
          const c = phase.handoff_decision[k];
          if (!later(c)) this.error(`${pointer}/handoff_decision/${k}`, `"${c}" owns no later phase to receive the handoff`);
        }
      }
    } else if (phase.handoff_to !== undefined) {
      if (phase.handoff_decision) this.error(`${pointer}/handoff_decision`, 'handoff_decision is only used with handoff_to "conditional"');
      if (!later(phase.handoff_to)) this.error(`${pointer}/handoff_to`, `"${phase.handoff_to}" owns no later phase to receive the handoff`);
    }

    let keys: string[] = [];
    if (Array.isArray(phase.handoff_data)) {
      keys = phase.handoff_data;
      keys.forEach((key, k) => {
        const produced = [...outputsByAction.values()].some((o) => o === undefined || o.includes(key));
        if (!produced) this.error(`${pointer}/handoff_data/${k}`, `no action of phase "${phase.phase_id}" outputs "${key}"`);
      });
    } else if (phase.handoff_data) {
      keys = Object.keys(phase.handoff_data);
      this.checkValue(phase.handoff_data, `${pointer}/handoff_data`, inner);
    }
    if (phase.handoff_data && phase.handoff_to === undefined) {
      this.warn(`${pointer}/handoff_data`, 'handoff_data without handoff_to: the data is recorded but no handoff file is written');
    }
    for (const [id, outputs] of outputsByAction) scope.actions.set(id, { outputs, phaseId: phase.phase_id });
    scope.phases.set(phase.phase_id, keys);
  }

  private checkRollback(scope: RefScope): void {
    const proc = this.def.rollback_procedure;
    if (!proc) return;
    const ids = new Set(this.def.phases.map((p) => p.phase_id));
    proc.phases.forEach((entry, i) => {
      const pointer = `/rollback_procedure/phases/${i}`;
      if (typeof entry === 'string') {
        const target = entry.endsWith('-rollback') && !ids.has(entry) ? entry.slice(0, -'-rollback'.length) : entry;
        if (!ids.has(target)) {
          this.error(pointer, `"${entry}" names no phase: use a phase_id (or <phase_id>-rollback) to compensate that phase, or an inline step {phase_id, contractor, action, parameters}`);
        }
        return;
      }
      if (!this.catalogue.isKnownContractor(entry.contractor)) {
        this.error(`${pointer}/contractor`, `unknown contractor "${entry.contractor}"`);
        return;
      }
      const actions: ActionDef[] = entry.actions ?? [
        { action_id: entry.phase_id, action: entry.action as string, parameters: entry.parameters ?? {} },
      ];
      actions.forEach((a, j) => {
        const at = entry.actions ? `${pointer}/actions/${j}` : pointer;
        const spec = this.catalogue.get(entry.contractor, a.action);
        if (!spec) {
          this.error(`${at}/action`, `unknown action "${a.action}" for ${entry.contractor}`);
          return;
        }
        this.splitArgv(spec, a.parameters, `${at}/parameters`);
        for (const p of checkActionParameters(spec.parameters, a.parameters ?? {})) this.error(`${at}/parameters${p.pointer}`, p.message);
        this.checkValue(a.parameters ?? {}, `${at}/parameters`, scope);
      });
    });
  }

  /** Trigger checks are shared with trigger files (src/triggers/load.ts), so they have a module of their own. */
  private checkTriggers(): void {
    const sink = { error: (p: string, m: string) => this.error(p, m), warn: (p: string, m: string) => this.warn(p, m) };
    this.def.triggers?.forEach((t, i) => checkTrigger(t, { workflowId: this.def.workflow_id, params: this.def.parameters ?? {} }, `/triggers/${i}`, sink));
  }
}

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function closest(word: string, options: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const o of options) {
    const d = levenshtein(word, o);
    if (d < bestD) {
      bestD = d;
      best = o;
    }
  }
  return bestD <= Math.max(2, Math.floor(word.length / 4)) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] as number;
}

/** Schema check, then the semantic checks (ids, contractors, actions, references, conditions, handoffs). */
export function validateWorkflowDocument(doc: SourceDocument, catalogue: Catalogue): ValidationResult {
  const validate = validatorFor('workflow');
  if (!validate(doc.data)) {
    const errors = selectAjvErrors(validate.errors as ErrorObject[]).map((e) => {
      const d = describeAjvError(e);
      return doc.issueAt(d.pointer, d.message);
    });
    return { errors, warnings: [] };
  }
  const checker = new WorkflowChecker(doc, catalogue);
  checker.run();
  return {
    definition: checker.errors.length ? undefined : (doc.data as WorkflowDefinition),
    errors: checker.errors,
    warnings: checker.warnings,
  };
}
