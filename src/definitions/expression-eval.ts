import {
  type Expr,
  type PathSegment,
  type Template,
  ExpressionSyntaxError,
  parseCondition,
  parseTemplate,
} from './expression-parser.js';

/** Looks up a reference path (e.g. `['parameters', 'replicas']`); the caller decides what a missing value becomes. */
export type Resolver = (path: readonly PathSegment[], text: string) => unknown;

export class ExpressionEvalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExpressionEvalError';
  }
}

/** Walks `path` into `value`; returns `undefined` when any step is missing. Own properties only. */
export function getPath(value: unknown, path: readonly PathSegment[]): unknown {
  let cur: unknown = value;
  for (const seg of path) {
    if (cur === null || cur === undefined) return undefined;
    if (typeof seg === 'number') {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[seg];
    } else {
      if (typeof cur !== 'object' || Array.isArray(cur)) return undefined;
      if (!Object.prototype.hasOwnProperty.call(cur, seg)) return undefined;
      cur = (cur as Record<string, unknown>)[seg];
    }
  }
  return cur;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return (
    ka.length === kb.length &&
    ka.every(
      (k) =>
        Object.prototype.hasOwnProperty.call(b, k) &&
        deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
    )
  );
}

/** Truth of a condition value: false, null, missing, 0, "" and "false" are false. */
export function isTruthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '' || v === 'false') return false;
  return true;
}

function order(op: string, a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
  }
  if (typeof a === 'string' && typeof b === 'string') {
    return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
  }
  throw new ExpressionEvalError(`cannot compare ${describe(a)} ${op} ${describe(b)}: both sides must be numbers or both strings`);
}

function describe(v: unknown): string {
  if (v === undefined) return 'a missing value';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `'${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

function member(needle: unknown, hay: unknown): boolean {
  // A missing value counts as null, as it does for `==`.
  if (Array.isArray(hay)) return hay.some((x) => deepEqual(x ?? null, needle ?? null));
  if (typeof hay === 'string' && typeof needle === 'string') return hay.includes(needle);
  if (hay !== null && typeof hay === 'object' && typeof needle === 'string') {
    return Object.prototype.hasOwnProperty.call(hay, needle);
  }
  if (typeof hay === 'string' || (hay !== null && typeof hay === 'object')) {
    const what = typeof hay === 'string' ? 'a string' : 'an object';
    throw new ExpressionEvalError(`"in" with ${what} on its right needs a string on its left, got ${describe(needle)}`);
  }
  throw new ExpressionEvalError(`"in" needs a list, a string or an object on its right, got ${describe(hay)}`);
}

export function evaluate(expr: Expr, resolve: Resolver): unknown {
  switch (expr.kind) {
    case 'literal':
      return expr.value;
    case 'ref':
      return resolve(expr.path, expr.text);
    case 'list':
      return expr.items.map((i) => evaluate(i, resolve));
    case 'not':
      return !isTruthy(evaluate(expr.operand, resolve));
    case 'and':
      return isTruthy(evaluate(expr.left, resolve)) && isTruthy(evaluate(expr.right, resolve));
    case 'or':
      return isTruthy(evaluate(expr.left, resolve)) || isTruthy(evaluate(expr.right, resolve));
    case 'compare': {
      const a = evaluate(expr.left, resolve);
      const b = evaluate(expr.right, resolve);
      switch (expr.op) {
        case '==':
          return deepEqual(a ?? null, b ?? null);
        case '!=':
          return !deepEqual(a ?? null, b ?? null);
        case 'in':
          return member(a, b);
        case 'not in':
          return !member(a, b);
        default:
          return order(expr.op, a, b);
      }
    }
  }
}

/** Evaluates a condition string to a boolean. Throws ExpressionSyntaxError / ExpressionEvalError. */
export function evaluateCondition(src: string | Expr, resolve: Resolver): boolean {
  const expr = typeof src === 'string' ? parseCondition(src) : src;
  return isTruthy(evaluate(expr, resolve));
}

export function stringify(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  try {
    return JSON.stringify(v) ?? '';
  } catch (e) {
    throw new ExpressionEvalError(`cannot render ${describe(v)} as text: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Renders a parsed template: a whole `${x}` keeps x's type; anything else becomes a string. */
export function renderTemplate(t: Template, resolve: Resolver): unknown {
  if (t.isWhole) {
    const part = t.parts[0];
    if (part?.kind === 'expr') return evaluate(part.expr, resolve);
  }
  let out = '';
  for (const part of t.parts) out += part.kind === 'text' ? part.text : stringify(evaluate(part.expr, resolve));
  return out;
}

/**
 * Resolves every `${...}` in a JSON-like value (objects, arrays, strings), returning a new value.
 * Object keys are not templated. Non-string scalars pass through.
 */
export function resolveValue(value: unknown, resolve: Resolver, depth = 0): unknown {
  if (depth > 256) throw new ExpressionEvalError('value nested too deeply');
  if (typeof value === 'string') return value.includes('${') ? renderTemplate(parseTemplate(value), resolve) : value;
  if (Array.isArray(value)) return value.map((v) => resolveValue(v, resolve, depth + 1));
  if (value !== null && typeof value === 'object') {
    // fromEntries defines own properties, so a "__proto__" key stays a key instead of
    // replacing the result's prototype (`out[k] = v` would call the __proto__ setter).
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveValue(v, resolve, depth + 1)]));
  }
  return value;
}

export { ExpressionSyntaxError };
