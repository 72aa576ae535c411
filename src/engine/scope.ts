import { isSecretEnvName, secretEnvMessage } from '../definitions/references.js';
import { ExpressionEvalError, getPath, type Resolver } from '../definitions/expression-eval.js';
import type { PathSegment } from '../definitions/expression-parser.js';
import { formatPath } from '../definitions/expression-parser.js';
import type { WorkflowDefinition } from '../definitions/types.js';
import type { ExecutionRecord } from '../model/records.js';

/** Values that are already known when an expression is evaluated, plus how to get the rest. */
export interface ScopeSources {
  def: WorkflowDefinition;
  record: ExecutionRecord;
  /** Unmasked parameter values (the record's copy has secret parameters masked). */
  params: Record<string, unknown>;
  env: Record<string, string | undefined>;
  /** Secret values resolved before evaluation (expressions are synchronous). */
  secrets: Map<string, string>;
  builtins: Record<string, unknown>;
  /** Extra roots (`input`/`output` for compensations, `event`/`trigger` for trigger mappings). */
  extra?: Record<string, unknown>;
  /**
   * 'run': outputs of actions that did not complete resolve to null (reported through onNull).
   * 'plan': values not known before running become "<action.output.key>" placeholders.
   */
  mode: 'run' | 'plan';
  onNull?: (text: string, why: string) => void;
}

function actionIndex(record: ExecutionRecord): Map<string, { status: string; outputs?: Record<string, unknown> }> {
  const m = new Map<string, { status: string; outputs?: Record<string, unknown> }>();
  for (const p of record.phases) for (const a of p.actions) m.set(a.action_id, { status: a.status, outputs: a.outputs });
  return m;
}

/** Builds the resolver that `${...}` references are evaluated with during an execution. */
export function createResolver(src: ScopeSources): Resolver {
  // Built on the first reference to an action or phase, not per resolver: one is made for every
  // action, and an index of every action each time made a run quadratic in its size (issue 14).
  let actions: ReturnType<typeof actionIndex> | undefined;
  let phases: Map<string, ExecutionRecord['phases'][number]> | undefined;
  return (path: readonly PathSegment[], text: string): unknown => {
    const [root, second] = path;
    if (typeof root !== 'string') throw new ExpressionEvalError(`bad reference \${${text}}`);
    if (src.extra && root in src.extra) return getPath(src.extra[root], path.slice(1)) ?? null;
    if (root === 'parameters') return getPath(src.params, path.slice(1)) ?? null;
    if (root === 'secrets') {
      const name = String(second);
      if (src.mode === 'plan') return '***';
      const v = src.secrets.get(name);
      if (v === undefined) throw new ExpressionEvalError(`secret "${name}" is not set`);
      return v;
    }
    if (root === 'env' || (path.length === 1 && /^[A-Z][A-Z0-9_]*$/.test(root) && !(root in src.builtins))) {
      const name = root === 'env' ? String(second) : root;
      if (isSecretEnvName(name)) throw new ExpressionEvalError(secretEnvMessage(name));
      const v = src.env[name];
      if (v === undefined) {
        if (src.mode === 'plan') return `<env.${name}>`;
        throw new ExpressionEvalError(`environment variable ${name} is not set (referenced as \${${text}})`);
      }
      return v;
    }
    if (root in src.builtins) {
      const v = src.builtins[root];
      return typeof v === 'function' ? (v as () => unknown)() : v;
    }
    const action = (actions ??= actionIndex(src.record)).get(root);
    if (action) {
      if (second === 'status') return action.status;
      if (action.status === 'completed') return getPath(action.outputs ?? {}, path.slice(2)) ?? null;
      if (src.mode === 'plan') return `<${formatPath(path)}>`;
      src.onNull?.(text, `action "${root}" is ${action.status}`);
      return null;
    }
    const phase = (phases ??= new Map(src.record.phases.map((p) => [p.phase_id, p]))).get(root);
    if (phase) {
      if (second === 'status') return phase.status;
      if (phase.handoff_data) return getPath(phase.handoff_data, path.slice(2)) ?? null;
      if (src.mode === 'plan') return `<${formatPath(path)}>`;
      src.onNull?.(text, `phase "${root}" is ${phase.status} and handed nothing off`);
      return null;
    }
    throw new ExpressionEvalError(`unknown reference \${${text}}`);
  };
}

/** Secret names a value refers to (so they can be fetched before synchronous evaluation). */
export function secretNamesIn(value: unknown, out = new Set<string>()): Set<string> {
  if (typeof value === 'string') {
    for (const m of value.matchAll(/secrets\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)/g)) out.add(m[1] as string);
  } else if (Array.isArray(value)) value.forEach((v) => secretNamesIn(v, out));
  else if (value !== null && typeof value === 'object') Object.values(value).forEach((v) => secretNamesIn(v, out));
  return out;
}
