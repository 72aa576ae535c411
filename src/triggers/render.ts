/**
 * From a matched trigger to the parameters of its run: the trigger's `parameters` mapping is
 * rendered with the expression evaluator (`${event.<path>}`: the payload, `${trigger.*}`: what
 * matched, `${env.NAME}`), text values are converted to the declared types exactly like `-p`
 * values, and the result is checked with resolveParameters. The run receives them as `-p` options.
 */
import { CortexError, ExitCode } from '../errors.js';
import { ExpressionEvalError, ExpressionSyntaxError, evaluateCondition, getPath, resolveValue, type Resolver } from '../definitions/expression-eval.js';
import { coerce, resolveParameters } from '../definitions/parameters.js';
import { isSecretEnvName, secretEnvMessage } from '../definitions/references.js';
import type { ParamSpec, WorkflowDefinition } from '../definitions/types.js';
import { conditionPath } from '../definitions/check-trigger.js';
import { jsonDepth, MAX_DOCUMENT_DEPTH } from '../definitions/load-document.js';
import type { TriggerEntry } from './load.js';

/** An event that is not what its source sends (HTTP 400; exit 2). */
export class BadEventError extends CortexError {
  readonly code = 'CORTEX_EVENT_INVALID';
  readonly exitCode = ExitCode.INVALID_INPUT;
}

/**
 * Parses an event body: JSON nested at most MAX_DOCUMENT_DEPTH levels (matching, hashing and
 * recording walk it; a 50 000-level body would exhaust the stack). Throws BadEventError (exit 2,
 * HTTP 400) with one line.
 */
export function parseEventJson(text: string): unknown {
  const { depth } = jsonDepth(text);
  if (depth > MAX_DOCUMENT_DEPTH) throw new BadEventError(`the event nests deeper than ${MAX_DOCUMENT_DEPTH} levels`);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new BadEventError(`the event is not JSON: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** What `${trigger.*}` reads. */
export type TriggerVars = Record<string, unknown>;

export function makeResolver(event: unknown, trigger: TriggerVars, env: Record<string, string | undefined>): Resolver {
  return (path, text) => {
    const [root, ...rest] = path;
    if (root === 'event') return getPath(event, rest);
    if (root === 'trigger') return getPath(trigger, rest);
    if (root === 'env' && rest.length === 1 && typeof rest[0] === 'string') {
      if (isSecretEnvName(rest[0])) throw new ExpressionEvalError(secretEnvMessage(rest[0]));
      return env[rest[0]];
    }
    throw new ExpressionEvalError(`\${${text}}: a trigger knows only \${event.*}, \${trigger.*} and \${env.NAME}`);
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Does `actual` satisfy `expected`? A list means any of; an object each of its keys; an array actual: any element. */
export function valueMatches(actual: unknown, expected: unknown): boolean {
  if (Array.isArray(expected)) return expected.some((e) => valueMatches(actual, e));
  if (isPlainObject(expected)) return isPlainObject(actual) && Object.entries(expected).every(([k, v]) => valueMatches(Object.prototype.hasOwnProperty.call(actual, k) ? actual[k] : undefined, v));
  if (Array.isArray(actual)) return actual.some((a) => valueMatches(a, expected));
  if (expected === null) return actual === null || actual === undefined;
  if (actual === null || actual === undefined || typeof actual === 'object') return false;
  if (typeof actual === typeof expected) return actual === expected;
  return String(actual) === String(expected);
}

function show(v: unknown): string {
  if (v === undefined) return 'missing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

/** The trigger's `conditions` and `condition` on this event: undefined when they hold, else why not. */
export function conditionsFailure(entry: TriggerEntry, event: unknown, trigger: TriggerVars, env: Record<string, string | undefined>): string | undefined {
  const t = entry.trigger;
  const resolver = makeResolver(event, trigger, env);
  if (isPlainObject(t.conditions)) {
    for (const [key, raw] of Object.entries(t.conditions)) {
      const actual = getPath(event, conditionPath(key));
      const expected = resolveValue(raw, resolver);
      if (!valueMatches(actual, expected)) return `${key} is ${show(actual)}, expected ${show(expected)}`;
    }
  }
  if (typeof t.condition === 'string') {
    try {
      if (!evaluateCondition(t.condition, resolver)) return `condition "${t.condition}" is false`;
    } catch (e) {
      if (e instanceof ExpressionEvalError || e instanceof ExpressionSyntaxError) return `condition "${t.condition}" cannot be evaluated: ${e.message}`;
      throw e;
    }
  }
  return undefined;
}

/** Converts text to the declared type like `-p` does; other values pass unchanged (resolveParameters checks them). */
function toDeclaredType(value: unknown, spec: ParamSpec | undefined): unknown {
  if (!spec) return value;
  if (typeof value === 'string' && spec.type !== 'string') {
    const c = coerce(value, spec);
    return c.ok ? c.value : value;
  }
  if ((typeof value === 'number' || typeof value === 'boolean') && spec.type === 'string') return String(value);
  if (isPlainObject(value) && spec.type === 'object' && spec.properties) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: toDeclaredType(v, spec.properties[k]), enumerable: true, writable: true, configurable: true });
    return out;
  }
  if (Array.isArray(value) && spec.type === 'array' && spec.items) {
    const items = spec.items;
    return value.map((v) => toDeclaredType(v, items));
  }
  return value;
}

export interface RenderedParameters {
  /** The mapped values, typed (only the parameters the trigger sets: defaults are left to the run). */
  values: Record<string, unknown>;
  /** `-p name=value` arguments: the text for string parameters, JSON for the others. */
  assignments: string[];
}

/**
 * Renders the trigger's parameter mapping for one event. Throws ParametersInvalidError (the
 * values do not fit the workflow's parameters) or ExpressionEvalError.
 */
export function renderParameters(def: WorkflowDefinition, mapping: Record<string, unknown> | undefined, event: unknown, trigger: TriggerVars, env: Record<string, string | undefined>): RenderedParameters {
  const resolver = makeResolver(event, trigger, env);
  const specs = def.parameters ?? {};
  const values: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(mapping ?? {})) {
    let v = resolveValue(raw, resolver);
    if (v === undefined) continue; // a payload field that is absent: the parameter's default applies
    // Drops undefined nested values (absent fields inside an object mapping).
    v = JSON.parse(JSON.stringify(v)) as unknown;
    Object.defineProperty(values, name, { value: toDeclaredType(v, specs[name]), enumerable: true, writable: true, configurable: true });
  }
  resolveParameters(def, { values });
  const assignments = Object.entries(values).map(([k, v]) => `${k}=${specs[k]?.type === 'string' && typeof v === 'string' ? v : JSON.stringify(v)}`);
  return { values, assignments };
}
