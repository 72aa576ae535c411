import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { builtinSpecs, createCatalogue } from '../../../src/contractors/catalogue.js';
import type { ActionSpec } from '../../../src/model/catalogue.js';
import { HAVE_SHARED, REFERENCE_DIR, itWithShared } from '../../helpers/shared.js';

const WORKFLOWS_DIR = fileURLToPath(new URL('../../../coordination/workflows/', import.meta.url));
const WORKFLOW_SCHEMA = fileURLToPath(new URL('../../../schemas/workflow.schema.json', import.meta.url));

const BUILTIN_WORKFLOWS = [
  'deploy-monitoring-stack',
  'build-k8s-cluster',
  'disaster-recovery-failover',
  'app-deployment',
  'security-incident-response',
];
const TEMPLATES: Record<string, string> = {
  'deployment-workflow.json': 'deployment-template',
  'maintenance-workflow.json': 'maintenance-template',
  'incident-response-workflow.json': 'incident-response-template',
};
const BUILTIN_NAMES = new Set(['workflow_id', 'workflow_name', 'execution_id', 'status', 'date', 'timestamp', 'sequence']);

function newAjv(options: { strictRequired?: boolean } = {}): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true, ...options });
  const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv2020) => void;
  addFormats(ajv);
  return ajv;
}

const ajv = newAjv();
const validators = new Map<ActionSpec, ValidateFunction>();
function validatorOf(spec: ActionSpec): ValidateFunction {
  let v = validators.get(spec);
  if (!v) {
    v = ajv.compile(spec.parameters);
    validators.set(spec, v);
  }
  return v;
}

type Json = unknown;
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Value at a JSON pointer (ajv instancePath), or undefined. */
function atPointer(root: Json, pointer: string): unknown {
  if (pointer === '') return root;
  let cur: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) cur = cur[Number(seg)];
    else if (isObj(cur)) cur = cur[seg];
    else return undefined;
  }
  return cur;
}

const hasExpr = (v: unknown): v is string => typeof v === 'string' && v.includes('${');
const isWholeExpr = (v: string): boolean => /^\$\{[^{}]*\}$/.test(v);

/**
 * ajv errors that matter when `${...}` strings are placeholders resolved at run time: errors at a
 * whole expression are dropped (its value is unknown until then); an interpolated string is known
 * to be a string, so only a type error that rejects strings outright is kept.
 */
function realErrors(errors: ErrorObject[] | null | undefined, data: Json): ErrorObject[] {
  const all = errors ?? [];
  return all.filter((e) => {
    const value = atPointer(data, e.instancePath);
    if (!hasExpr(value)) return true;
    if (isWholeExpr(value)) return false;
    const union = all.some((o) => o.instancePath === e.instancePath && (o.keyword === 'anyOf' || o.keyword === 'oneOf'));
    return !union && e.keyword === 'type' && !String((e.params as Obj).type).split(',').includes('string');
  });
}

function validateParams(spec: ActionSpec, parameters: Json): string[] {
  const v = validatorOf(spec);
  v(parameters);
  return realErrors(v.errors, parameters).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`);
}

/** Every `${...}` body inside strings anywhere in `value`. */
function expressions(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    for (const m of value.matchAll(/\$\{([^{}]*)\}/g)) out.push((m[1] as string).trim());
  } else if (Array.isArray(value)) value.forEach((v) => expressions(v, out));
  else if (isObj(value)) Object.values(value).forEach((v) => expressions(v, out));
  return out;
}

/** Splits a reference path `a.b[0].c` into names (indexes dropped); null when it is not a plain path. */
function pathOf(expr: string): string[] | null {
  if (!/^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*|\[[0-9]+\])*$/.test(expr)) return null;
  return expr.replace(/\[[0-9]+\]/g, '').split('.');
}

/** References inside conditions: `${...}` parts, then plain paths. */
function conditionPaths(condition: string): string[][] {
  return expressions(condition)
    .map(pathOf)
    .filter((p): p is string[] => p !== null);
}

/** Definition files under `dir`: not the records a run of the quick start leaves in its state folders. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (!['active', 'history', 'metrics', 'locks'].includes(name)) out.push(...filesUnder(p));
    } else if (name.endsWith('.json')) out.push(p);
  }
  return out;
}

interface Workflow {
  file: string;
  def: Obj;
}

function loadWorkflows(): Workflow[] {
  // The upstream reference templates join the built-ins when ../shared is there (see itWithShared below).
  const reference = HAVE_SHARED ? readdirSync(REFERENCE_DIR).map((n) => join(REFERENCE_DIR, n)) : [];
  const files = [...reference, ...filesUnder(WORKFLOWS_DIR)];
  return files
    .filter((f) => f.endsWith('.json'))
    .map((file) => ({ file, def: JSON.parse(readFileSync(file, 'utf8')) as Obj }))
    .filter((w) => Array.isArray(w.def.phases));
}

const specs = builtinSpecs();
const catalogue = createCatalogue();
const workflows = loadWorkflows();

describe('action catalogue specs', () => {
  it('has specs for every contractor, and each parameter schema compiles under ajv strict mode', () => {
    expect(new Set(specs.map((s) => s.contractor))).toEqual(
      new Set(['*', 'infrastructure-contractor', 'talos-contractor', 'n8n-contractor', 'security-master']),
    );
    for (const spec of specs) {
      expect(() => validatorOf(spec), `${spec.contractor}/${spec.name}`).not.toThrow();
      expect(spec.parameters.type).toBe('object');
      expect(spec.parameters.additionalProperties, `${spec.name} parameters are closed`).toBe(false);
      expect(spec.name).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(spec.summary.length).toBeGreaterThan(20);
      expect(Object.keys(spec.outputs).length, `${spec.name} declares outputs`).toBeGreaterThan(0);
    }
  });

  it('has no duplicate contractor + action name', () => {
    const seen = new Set<string>();
    for (const spec of specs) {
      const k = `${spec.contractor}/${spec.name}`;
      expect(seen.has(k), k).toBe(false);
      seen.add(k);
    }
  });

  it('documents every property and spells out time units (*_seconds, *_minutes, *_ms)', () => {
    const problems: string[] = [];
    const walk = (schema: unknown, where: string): void => {
      if (!isObj(schema)) return;
      const props = schema.properties;
      if (isObj(props)) {
        for (const [name, sub] of Object.entries(props)) {
          if (sub === true) continue;
          if (!(isObj(sub) && typeof sub.description === 'string')) problems.push(`${where}.${name} has no description`);
          if (/(^|_)(secs?|mins?)$/.test(name)) problems.push(`${where}.${name}`);
          walk(sub, `${where}.${name}`);
        }
      }
      for (const k of ['items', 'additionalProperties']) walk(schema[k], `${where}[]`);
      for (const k of ['anyOf', 'oneOf', 'allOf']) if (Array.isArray(schema[k])) (schema[k] as unknown[]).forEach((s) => walk(s, where));
    };
    for (const spec of specs) walk(spec.parameters, `${spec.contractor}/${spec.name}`);
    expect(problems).toEqual([]);
  });

  it('has compensations that name an action of the same contractor and reference only declared inputs and outputs', () => {
    for (const spec of specs) {
      const comp = spec.compensation;
      if (!comp) continue;
      const where = `${spec.contractor}/${spec.name}`;
      const target = catalogue.get(spec.contractor, comp.action);
      expect(target, `${where} compensation ${comp.action}`).toBeDefined();
      expect(target?.contractor, where).toBe(spec.contractor);
      const inputs = Object.keys((spec.parameters.properties ?? {}) as Obj);
      for (const expr of expressions(comp.parameters)) {
        const path = pathOf(expr);
        expect(path, `${where}: ${expr}`).not.toBeNull();
        const [root, name] = path as [string, string];
        expect(['input', 'output'], `${where}: ${expr}`).toContain(root);
        if (root === 'input') expect(inputs, `${where}: ${expr}`).toContain(name);
        else expect(Object.keys(spec.outputs), `${where}: ${expr}`).toContain(name);
      }
      for (const k of comp.requires_outputs ?? []) expect(Object.keys(spec.outputs), `${where} requires ${k}`).toContain(k);
      expect(validateParams(target as ActionSpec, comp.parameters), `${where} compensation parameters`).toEqual([]);
    }
  });

  it('offers generic actions to every known contractor and lets operator specs override built-ins', () => {
    for (const c of ['infrastructure-contractor', 'talos-contractor', 'n8n-contractor', 'security-master']) {
      expect(catalogue.isKnownContractor(c)).toBe(true);
      expect(catalogue.get(c, 'execute_command')?.contractor).toBe('*');
      expect(catalogue.actionsOf(c).some((s) => s.name === 'wait')).toBe(true);
    }
    expect(catalogue.isKnownContractor('backup-contractor')).toBe(false);
    expect(catalogue.get('backup-contractor', 'execute_command')).toBeUndefined();
    expect(catalogue.get('talos-contractor', 'provision_vm')).toBeUndefined();

    const mine: ActionSpec = {
      contractor: 'backup-contractor',
      name: 'run_backup',
      summary: 'Runs the backup job defined by the operator.',
      kind: 'tool',
      uses: ['restic'],
      parameters: { type: 'object', additionalProperties: false, properties: {} },
      outputs: { snapshot: 'Snapshot id.' },
      idempotent: true,
      operatorDefined: true,
    };
    const override: ActionSpec = { ...(catalogue.get('talos-contractor', 'cordon_node') as ActionSpec), summary: 'operator version', operatorDefined: true };
    const extended = createCatalogue([mine, override]);
    expect(extended.isKnownContractor('backup-contractor')).toBe(true);
    expect(extended.contractors()).toContain('backup-contractor');
    expect(extended.get('backup-contractor', 'run_backup')).toBe(mine);
    expect(extended.get('backup-contractor', 'http_request')?.contractor).toBe('*');
    expect(extended.get('talos-contractor', 'cordon_node')?.summary).toBe('operator version');
    expect(extended.actionsOf('talos-contractor').filter((s) => s.name === 'cordon_node')).toHaveLength(1);
  });
});

describe('parameter checking with run-time expressions', () => {
  const spec = (contractor: string, name: string): ActionSpec => catalogue.get(contractor, name) as ActionSpec;

  it('catches a misspelt parameter and a missing required one', () => {
    const ns = spec('talos-contractor', 'verify_namespace_exists');
    expect(validateParams(ns, { cluster: 'c', namespace: 'web', create_if_misisng: true }).join()).toMatch(/additional/);
    expect(validateParams(ns, { cluster: 'c' }).join()).toMatch(/namespace/);
  });

  it('skips whole expressions, and interpolated strings except where a string is not allowed', () => {
    const rollout = spec('talos-contractor', 'wait_for_rollout');
    const base = { cluster: 'c', namespace: 'web', deployment: 'api' };
    expect(validateParams(rollout, { ...base, timeout: '${parameters.timeout}' })).toEqual([]);
    expect(validateParams(rollout, { ...base, timeout: '${parameters.timeout}s' })).not.toEqual([]);
    expect(validateParams(rollout, { ...base, deployment: 'api-${parameters.suffix}' })).toEqual([]);
    expect(validateParams(rollout, { ...base, deployment: 'Not A Name' })).not.toEqual([]);
    const lb = spec('infrastructure-contractor', 'update_load_balancer');
    expect(
      validateParams(lb, {
        load_balancer: 'lb',
        backend_pool: '${parameters.app}',
        backend_config: { servers: '${deploy.handoff_data.node_ips}', port: '${deploy.handoff_data.node_ports[0]}' },
      }),
    ).toEqual([]);
  });

  it('requires one way of naming a VM', () => {
    const stop = spec('infrastructure-contractor', 'stop_vm');
    expect(validateParams(stop, { node: 'pve-01' })).not.toEqual([]);
    expect(validateParams(stop, { vm: 'k8s-worker-02' })).toEqual([]);
    expect(validateParams(stop, { vmid: 121, node: 'pve-01' })).toEqual([]);
  });
});

describe('workflow definitions use the catalogue correctly', () => {
  // strictRequired off here only: the workflow schema's rollbackStep uses oneOf [{required: [action]}, ...].
  const schemaValidator = newAjv({ strictRequired: false }).compile(JSON.parse(readFileSync(WORKFLOW_SCHEMA, 'utf8')) as object);

  itWithShared('finds the reference templates', () => {
    const ids = workflows.map((w) => w.def.workflow_id);
    expect(ids).toEqual(expect.arrayContaining(['app-deployment-template', 'security-incident-response']));
  });

  it('finds the five built-ins and the three templates', () => {
    const ids = workflows.map((w) => w.def.workflow_id);
    expect(ids).toEqual(expect.arrayContaining([...BUILTIN_WORKFLOWS]));
    for (const id of BUILTIN_WORKFLOWS) {
      const w = workflows.find((x) => x.file === join(WORKFLOWS_DIR, `${id}.json`));
      expect(w?.def.workflow_id, `${id}.json`).toBe(id);
    }
    for (const [file, id] of Object.entries(TEMPLATES)) {
      const w = workflows.find((x) => x.file === join(WORKFLOWS_DIR, 'templates', file));
      expect(w?.def.workflow_id, file).toBe(id);
    }
  });

  for (const { file, def } of workflows) {
    const name = file.startsWith(REFERENCE_DIR) ? `reference ${String(def.workflow_id)}` : String(def.workflow_id);
    const phases = def.phases as Obj[];

    describe(name, () => {
      it('validates against schemas/workflow.schema.json', () => {
        schemaValidator(def);
        expect(schemaValidator.errors ?? []).toEqual([]);
      });

      it('uses only catalogue actions, with parameters that match their schemas', () => {
        const problems: string[] = [];
        const check = (contractor: string, action: string, parameters: unknown, where: string): void => {
          const spec = catalogue.get(contractor, action);
          if (!spec) {
            problems.push(`${where}: ${contractor} has no action ${action}`);
            return;
          }
          for (const p of validateParams(spec, parameters ?? {})) problems.push(`${where} (${action}): ${p}`);
          if (action === 'execute_remediation_plan' && isObj(parameters) && Array.isArray(parameters.steps)) {
            (parameters.steps as Obj[]).forEach((step, i) =>
              check(String(step.contractor), String(step.action), step.parameters, `${where} step ${i}`),
            );
          }
        };
        for (const phase of phases) {
          for (const action of phase.actions as Obj[]) {
            check(String(phase.contractor), String(action.action), action.parameters, `${String(phase.phase_id)}/${String(action.action_id)}`);
            const comp = action.compensation;
            if (isObj(comp)) check(String(phase.contractor), String(comp.action), comp.parameters, `${String(action.action_id)} compensation`);
          }
        }
        const rollback = def.rollback_procedure;
        if (isObj(rollback)) {
          for (const step of rollback.phases as unknown[]) {
            if (!isObj(step)) continue;
            if (typeof step.action === 'string') check(String(step.contractor), step.action, step.parameters, `rollback ${String(step.phase_id)}`);
            for (const a of (step.actions ?? []) as Obj[]) check(String(step.contractor), String(a.action), a.parameters, `rollback ${String(step.phase_id)}`);
          }
        }
        expect(problems).toEqual([]);
      });

      it('references only declared parameters, earlier action outputs and earlier handoff data', () => {
        const problems: string[] = [];
        const declared = new Set(Object.keys((def.parameters ?? {}) as Obj));
        const actions = new Map<string, { phase: number; index: number; spec: ActionSpec | undefined }>();
        const handoffKeys = new Map<string, { phase: number; keys: Set<string> }>();
        phases.forEach((phase, p) => {
          (phase.actions as Obj[]).forEach((a, i) =>
            actions.set(String(a.action_id), { phase: p, index: i, spec: catalogue.get(String(phase.contractor), String(a.action)) }),
          );
          const hd = phase.handoff_data;
          const keys = Array.isArray(hd) ? hd.map(String) : isObj(hd) ? Object.keys(hd) : [];
          handoffKeys.set(String(phase.phase_id), { phase: p, keys: new Set(keys) });
        });

        const checkPath = (path: string[], here: { phase: number; index: number } | 'rollback', where: string): void => {
          const [root, second, key] = path as [string, string | undefined, string | undefined];
          if (root === 'parameters') {
            if (!declared.has(second ?? '')) problems.push(`${where}: undeclared parameter ${path.join('.')}`);
          } else if (root === 'secrets' || root === 'env') {
            if (!second) problems.push(`${where}: ${root} needs a name`);
          } else if (second === 'output') {
            const a = actions.get(root);
            if (!a) problems.push(`${where}: unknown action ${root}`);
            else {
              if (here !== 'rollback' && (a.phase > here.phase || (a.phase === here.phase && a.index >= here.index)))
                problems.push(`${where}: ${root} does not run before this point`);
              if (a.spec && !(key !== undefined && key in a.spec.outputs)) problems.push(`${where}: ${root} has no output ${key}`);
            }
          } else if (second === 'handoff_data') {
            const h = handoffKeys.get(root);
            if (!h) problems.push(`${where}: unknown phase ${root}`);
            else {
              if (here !== 'rollback' && h.phase >= here.phase) problems.push(`${where}: phase ${root} is not earlier`);
              if (!h.keys.has(key ?? '')) problems.push(`${where}: ${root} hands off no ${key}`);
            }
          } else if (!(path.length === 1 && BUILTIN_NAMES.has(root))) {
            problems.push(`${where}: unknown reference ${path.join('.')}`);
          }
        };
        const scan = (value: unknown, here: { phase: number; index: number } | 'rollback', where: string): void => {
          for (const expr of expressions(value)) {
            const path = pathOf(expr);
            if (path) checkPath(path, here, where);
            else for (const p of conditionPaths(`\${${expr}}`)) checkPath(p, here, where);
          }
        };

        phases.forEach((phase, p) => {
          const pid = String(phase.phase_id);
          scan([phase.condition, phase.conditional, phase.requires_approval, phase.handoff_decision], { phase: p, index: 0 }, pid);
          (phase.actions as Obj[]).forEach((a, i) => {
            scan([a.parameters, a.condition, isObj(a.retry) ? a.retry.fallback_parameters : undefined], { phase: p, index: i }, `${pid}/${String(a.action_id)}`);
          });
          scan(phase.handoff_data, { phase: p, index: (phase.actions as Obj[]).length }, `${pid} handoff_data`);
        });
        if (isObj(def.rollback_procedure)) scan(def.rollback_procedure, 'rollback', 'rollback_procedure');
        expect(problems).toEqual([]);
      });
    });
  }
});

describe('built-in workflows and templates', () => {
  const ours = workflows.filter((w) => w.file.startsWith(WORKFLOWS_DIR));

  for (const { def } of ours) {
    describe(String(def.workflow_id), () => {
      const phases = def.phases as Obj[];

      it('has unique phase and action ids, none used for both', () => {
        const ids = [...phases.map((p) => String(p.phase_id)), ...phases.flatMap((p) => (p.actions as Obj[]).map((a) => String(a.action_id)))];
        expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
      });

      it('puts a timeout and an on_error on every action', () => {
        for (const phase of phases)
          for (const a of phase.actions as Obj[]) {
            expect(typeof a.timeout, `${String(a.action_id)} timeout`).toBe('number');
            expect(typeof a.on_error, `${String(a.action_id)} on_error`).toBe('string');
          }
      });

      it('declares its contractors in phase order and hands off to the next phase\'s contractor', () => {
        const used = [...new Set(phases.map((p) => String(p.contractor)))];
        expect(new Set(def.contractors as string[])).toEqual(new Set(used));
        phases.forEach((phase, i) => {
          const next = phases[i + 1];
          if (!next) expect(phase.handoff_to, `${String(phase.phase_id)} is last`).toBeUndefined();
          else if (phase.handoff_to !== 'conditional') expect(phase.handoff_to, String(phase.phase_id)).toBe(next.contractor);
        });
      });

      it('has a rollback procedure whose id entries name its phases, success criteria and metadata', () => {
        const ids = new Set(phases.map((p) => String(p.phase_id)));
        const rb = def.rollback_procedure as Obj | undefined;
        expect(rb).toBeDefined();
        for (const entry of (rb?.phases ?? []) as unknown[]) {
          if (typeof entry === 'string') expect(ids.has(entry.replace(/-rollback$/, '')), entry).toBe(true);
        }
        expect((def.success_criteria as unknown[]).length).toBeGreaterThan(2);
        expect(def.estimated_duration).toBeTypeOf('string');
        expect(def.metadata).toBeTypeOf('object');
      });
    });
  }

  it('use every on_error kind and a retry policy across the five built-ins', () => {
    const actions = ours
      .filter((w) => BUILTIN_WORKFLOWS.includes(String(w.def.workflow_id)))
      .flatMap((w) => (w.def.phases as Obj[]).flatMap((p) => p.actions as Obj[]));
    const kinds = new Set(actions.map((a) => a.on_error));
    for (const k of ['fail_workflow', 'rollback', 'rollback_deployment', 'rollback_workflow', 'skip_action', 'continue_phase', 'skip_phase', 'alert_only', 'pause'])
      expect(kinds.has(k), k).toBe(true);
    expect(actions.some((a) => isObj(a.retry) && isObj(a.retry.fallback_parameters))).toBe(true);
  });

  it('gives every parameter of the first four built-ins a default, so `cortex run <id>` needs no -p', () => {
    for (const id of BUILTIN_WORKFLOWS.slice(0, 4)) {
      const def = ours.find((w) => w.def.workflow_id === id)?.def as Obj;
      for (const [name, spec] of Object.entries(def.parameters as Record<string, Obj>)) {
        expect(spec.required === true && spec.default === undefined, `${id}: ${name}`).toBe(false);
      }
    }
  });
});
