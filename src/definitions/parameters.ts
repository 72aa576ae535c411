/**
 * Run parameters: `-p key=value` assignments, a parameters file and programmatic values are
 * merged over the definition's defaults, coerced and checked against the declared ParamSpecs.
 * Every problem is collected and reported at once. Pure: no I/O, inputs are never mutated.
 *
 * Decisions:
 * - precedence: `-p` > `values` > file > defaults (nested property defaults included);
 * - unknown top-level parameters are rejected; unknown keys inside an object parameter are allowed;
 * - values from the file or `values` are already typed and are never coerced: an integer given as
 *   the string "3" in a YAML file is an error;
 * - a default that contains `${` is an expression resolved later by the engine: it is kept as is
 *   and not type-checked. Values given by the operator are never treated that way;
 * - the value of a `secret: true` parameter is never echoed in a message.
 */
import { ParametersInvalidError, UsageError, type Issue } from '../errors.js';
import type { ParamSpec, ParamType, WorkflowDefinition } from './types.js';
import { parseJsonBounded, TooDeepError } from './load-document.js';

/** One `-p key=value`: `key` may be dotted (`affected_resource.type`), `raw` is the text after the first `=`. */
export interface ParamAssignment {
  key: string;
  raw: string;
}

export interface ParametersInput {
  /** Repeatable `-p key=value` strings, in command-line order (later ones win). */
  assignments?: string[];
  /** An already parsed parameters file (JSON or YAML mapping). */
  file?: Record<string, unknown>;
  /** How to name the parameters file in issues (`Issue.file`). */
  fileName?: string;
  /** Values given programmatically (trigger payloads, API calls). */
  values?: Record<string, unknown>;
}

export type CoerceResult = { ok: true; value: unknown } | { ok: false; message: string };

/** What a masked value is replaced with. */
export const MASK = '***';

type Segment = string | number;
type Origin = 'default' | 'file' | 'values' | 'assignment';

const MAX_SHOWN = 60;

// ---------------------------------------------------------------------------------------------
// small helpers

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function hasOwn(o: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key);
}

/** Defines an own data property: a key named "__proto__" stays a key and never changes a prototype. */
function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function ownSpec(specs: Record<string, ParamSpec> | undefined, name: string): ParamSpec | undefined {
  return specs !== undefined && hasOwn(specs, name) ? specs[name] : undefined;
}

function copyObject(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) setOwn(out, k, o[k]);
  return out;
}

/** A JSON pointer (RFC 6901) for a path: `['affected_resource', 'type']` → `/affected_resource/type`. */
function pointerOf(path: readonly Segment[]): string {
  return path.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/** A default (or any string) holding `${...}`: an expression the engine resolves later. */
export function isExpressionString(v: unknown): v is string {
  return typeof v === 'string' && v.includes('${');
}

function quote(s: string): string {
  return JSON.stringify(s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}…` : s);
}

function show(v: unknown): string {
  if (typeof v === 'string') return quote(v);
  if (v === undefined) return 'nothing';
  if (typeof v !== 'object') return String(v);
  try {
    const s = JSON.stringify(v) ?? String(v);
    return s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}…` : s;
  } catch {
    return String(v);
  }
}

/** `string "3"`, `number 3.5`, `boolean true`, `null`, `an array`, `an object`. */
function describeValue(v: unknown, secret: boolean): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (secret) return `a ${typeof v} (value not shown: secret)`;
  if (typeof v === 'string') return `string ${quote(v)}`;
  return `${typeof v} ${show(v)}`;
}

function typeMatches(type: ParamType, v: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isSafeInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'array':
      return Array.isArray(v);
    case 'object':
      return isPlainObject(v);
  }
}

function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

function suggestion(name: string, declared: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const d of declared) {
    const dist = editDistance(name.toLowerCase(), d.toLowerCase());
    if (dist < bestDistance) {
      best = d;
      bestDistance = dist;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? `; did you mean "${best}"?` : '';
}

// ---------------------------------------------------------------------------------------------
// -p key=value

function splitAssignments(list: readonly string[]): { assignments: ParamAssignment[]; issues: Issue[] } {
  const assignments: ParamAssignment[] = [];
  const issues: Issue[] = [];
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq < 0) {
      issues.push({ message: `-p ${quote(item)}: expected key=value` });
      continue;
    }
    const key = item.slice(0, eq).trim();
    if (key === '') {
      issues.push({ message: '-p with an empty name before "=": write -p name=value' });
      continue;
    }
    if (key.split('.').some((s) => s === '')) {
      issues.push({ message: `-p ${quote(key)}: empty part in the name; nested names look like affected_resource.type` });
      continue;
    }
    assignments.push({ key, raw: item.slice(eq + 1) });
  }
  return { assignments, issues };
}

/**
 * Splits repeatable `-p key=value` options at the first `=`. Throws a UsageError listing every
 * malformed one (no `=`, empty name, empty part in a dotted name).
 */
export function parseParamAssignments(list: string[]): ParamAssignment[] {
  const { assignments, issues } = splitAssignments(list);
  if (issues.length === 1) throw new UsageError((issues[0] as Issue).message, { hint: 'write -p name=value, e.g. -p replicas=3' });
  if (issues.length > 1) {
    throw new UsageError([`${issues.length} malformed -p options:`, ...issues.map((i) => `  ${i.message}`)].join('\n'), {
      hint: 'write -p name=value, e.g. -p replicas=3',
    });
  }
  return assignments;
}

// ---------------------------------------------------------------------------------------------
// coercion of command-line text

const INTEGER_TEXT = /^[+-]?[0-9]+$/;
const NUMBER_TEXT = /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/;
const BOOLEANS: Readonly<Record<string, boolean>> = { true: true, false: false, yes: true, no: false, '1': true, '0': false };

/**
 * Turns the text of a `-p` value into the declared type: string as is; integer (a safe integer);
 * number; boolean (true/false/yes/no/1/0, any case); array and object as JSON of that type.
 * For a dotted key pass the nested property's spec.
 */
export function coerce(raw: string, spec: ParamSpec): CoerceResult {
  const shown = spec.secret === true ? '(value not shown: secret)' : quote(raw);
  const text = raw.trim();
  switch (spec.type) {
    case 'string':
      return { ok: true, value: raw };
    case 'integer': {
      const n = Number(text);
      if (INTEGER_TEXT.test(text) && Number.isSafeInteger(n)) return { ok: true, value: n };
      return {
        ok: false,
        message: INTEGER_TEXT.test(text) ? `expected integer, got ${shown} (outside the safe integer range)` : `expected integer, got ${shown}`,
      };
    }
    case 'number': {
      const n = Number(text);
      if (NUMBER_TEXT.test(text) && Number.isFinite(n)) return { ok: true, value: n };
      return { ok: false, message: `expected number, got ${shown}` };
    }
    case 'boolean': {
      const key = text.toLowerCase();
      if (hasOwn(BOOLEANS, key)) return { ok: true, value: BOOLEANS[key] };
      return { ok: false, message: `expected boolean, got ${shown} (use true/false, yes/no or 1/0)` };
    }
    case 'array':
    case 'object': {
      const example = spec.type === 'array' ? `'["a","b"]'` : `'{"key":"value"}'`;
      let parsed: unknown;
      try {
        parsed = parseJsonBounded(text);
      } catch (e) {
        if (e instanceof TooDeepError) return { ok: false, message: `expected ${spec.type}: ${e.message}` };
        return { ok: false, message: `expected ${spec.type}, got ${shown} (give it as JSON, e.g. ${example})` };
      }
      if (!typeMatches(spec.type, parsed)) {
        return { ok: false, message: `expected ${spec.type}, got JSON ${describeValue(parsed, spec.secret === true)}` };
      }
      return { ok: true, value: parsed };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// checking values against specs

interface CheckOptions {
  /** Expression strings anywhere are accepted (the value is, or comes from, a default). */
  allowExpressions: boolean;
  file?: string;
  /** Pointers already reported (a failed `-p`): not checked again. */
  skip?: ReadonlySet<string>;
}

function issue(path: readonly Segment[], message: string, file?: string): Issue {
  return file === undefined ? { pointer: pointerOf(path), message } : { file, pointer: pointerOf(path), message };
}

function enumText(values: readonly unknown[]): string {
  return values.map((v) => show(v)).join(', ');
}

function checkValue(value: unknown, spec: ParamSpec, path: Segment[], opts: CheckOptions, issues: Issue[]): void {
  if (opts.skip?.has(pointerOf(path))) return;
  if (isExpressionString(value) && (opts.allowExpressions || value === spec.default)) return;
  const secret = spec.secret === true;
  if (!typeMatches(spec.type, value)) {
    issues.push(issue(path, `expected ${spec.type}, got ${describeValue(value, secret)}`, opts.file));
    return;
  }
  if (spec.enum !== undefined && !spec.enum.some((e) => jsonEqual(e, value))) {
    const got = secret ? '' : `, got ${show(value)}`;
    issues.push(issue(path, `expected one of ${enumText(spec.enum)}${got}`, opts.file));
  }
  if (spec.type === 'object' && spec.properties !== undefined && isPlainObject(value)) {
    for (const [name, prop] of Object.entries(spec.properties)) {
      const sub = [...path, name];
      if (hasOwn(value, name) && value[name] !== undefined) checkValue(value[name], prop, sub, opts, issues);
      else if (prop.required === true && !opts.skip?.has(pointerOf(sub))) {
        issues.push(issue(sub, 'missing required property', opts.file));
      }
    }
  }
  if (spec.type === 'array' && spec.items !== undefined && Array.isArray(value)) {
    const items = spec.items;
    value.forEach((item, i) => checkValue(item, items, [...path, i], opts, issues));
  }
}

/** Fills in nested property defaults (recursively) without touching `value`. */
function withNestedDefaults(value: unknown, spec: ParamSpec): unknown {
  if (spec.type === 'array' && spec.items !== undefined && Array.isArray(value)) {
    const items = spec.items;
    let changed = false;
    const out = value.map((v) => {
      const w = withNestedDefaults(v, items);
      if (w !== v) changed = true;
      return w;
    });
    return changed ? out : value;
  }
  if (spec.properties === undefined || !isPlainObject(value)) return value;
  let out: Record<string, unknown> | undefined;
  for (const [name, prop] of Object.entries(spec.properties)) {
    const current = hasOwn(value, name) ? value[name] : undefined;
    const next = current === undefined ? (prop.default === undefined ? undefined : structuredClone(prop.default)) : withNestedDefaults(current, prop);
    if (next !== current) {
      out ??= copyObject(value);
      setOwn(out, name, withNestedDefaults(next, prop));
    }
  }
  return out ?? value;
}

// ---------------------------------------------------------------------------------------------
// resolveParameters

/** Applies one `-p` to `merged`; reports a problem instead when the key does not fit the specs. */
function applyAssignment(
  a: ParamAssignment,
  specs: Record<string, ParamSpec> | undefined,
  merged: Map<string, { value: unknown; origin: Origin }>,
  failed: Set<string>,
  issues: Issue[],
): void {
  const segments = a.key.split('.');
  const top = segments[0] as string;
  const topSpec = ownSpec(specs, top);
  if (topSpec === undefined) {
    // Reported as unknown with the other unknown names.
    merged.set(top, { value: a.raw, origin: 'assignment' });
    return;
  }
  // Walk the specs down the dotted key; past an undeclared nested key anything goes.
  let spec: ParamSpec | undefined = topSpec;
  for (let i = 1; i < segments.length; i++) {
    if (spec === undefined) break;
    if (spec.type !== 'object') {
      const prefix = segments.slice(0, i).join('.');
      issues.push(issue(segments.slice(0, i + 1), `cannot set "${a.key}": "${prefix}" is declared ${spec.type}, not object`));
      failed.add(pointerOf([top]));
      return;
    }
    spec = ownSpec(spec.properties, segments[i] as string);
  }
  let value: unknown = a.raw;
  if (spec !== undefined) {
    const c = coerce(a.raw, spec);
    if (!c.ok) {
      issues.push(issue(segments, c.message));
      failed.add(pointerOf(segments));
      return;
    }
    value = c.value;
  }
  if (segments.length === 1) {
    merged.set(top, { value, origin: 'assignment' });
    return;
  }
  // Copy on write along the path, so neither the file nor earlier values are mutated.
  const prev = merged.get(top)?.value;
  const root = isPlainObject(prev) ? copyObject(prev) : {};
  let cur = root;
  for (let i = 1; i < segments.length - 1; i++) {
    const key = segments[i] as string;
    const child = hasOwn(cur, key) ? cur[key] : undefined;
    const copy = isPlainObject(child) ? copyObject(child) : {};
    setOwn(cur, key, copy);
    cur = copy;
  }
  setOwn(cur, segments[segments.length - 1] as string, value);
  merged.set(top, { value: root, origin: 'assignment' });
}

/**
 * The parameters of a run: `-p` assignments and `values` over the file over the defaults,
 * coerced and checked. Throws one ParametersInvalidError listing every problem.
 * Defaults that are expression strings (`"${GIT_SHA}"`) are returned as they are.
 */
export function resolveParameters(def: WorkflowDefinition, input: ParametersInput = {}): Record<string, unknown> {
  const specs = def.parameters ?? {};
  const declared = Object.keys(specs);
  const issues: Issue[] = [];
  const failed = new Set<string>();
  const merged = new Map<string, { value: unknown; origin: Origin }>();

  if (input.file !== undefined) {
    if (!isPlainObject(input.file)) {
      issues.push({
        ...(input.fileName === undefined ? {} : { file: input.fileName }),
        message: `a parameters file holds a mapping of parameter names to values, got ${describeValue(input.file, false)}`,
      });
    } else {
      for (const k of Object.keys(input.file)) {
        if (input.file[k] !== undefined) merged.set(k, { value: input.file[k], origin: 'file' });
      }
    }
  }
  if (input.values !== undefined) {
    for (const k of Object.keys(input.values)) {
      if (input.values[k] !== undefined) merged.set(k, { value: input.values[k], origin: 'values' });
    }
  }
  if (input.assignments !== undefined) {
    const split = splitAssignments(input.assignments);
    issues.push(...split.issues);
    for (const a of split.assignments) applyAssignment(a, specs, merged, failed, issues);
  }

  for (const [name, { origin }] of merged) {
    if (ownSpec(specs, name) !== undefined) continue;
    const list = declared.length ? `(declared: ${declared.join(', ')})` : '(this workflow declares no parameters)';
    issues.push(issue([name], `unknown parameter "${name}" ${list}${suggestion(name, declared)}`, origin === 'file' ? input.fileName : undefined));
  }

  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const given = merged.get(name);
    let value = given?.value;
    const origin: Origin = given === undefined ? 'default' : given.origin;
    if (value === undefined && spec.default !== undefined) value = structuredClone(spec.default);
    if (value === undefined) {
      if (spec.required === true && !failed.has(pointerOf([name]))) issues.push(issue([name], 'missing required parameter'));
      continue;
    }
    value = withNestedDefaults(value, spec);
    checkValue(value, spec, [name], { allowExpressions: origin === 'default', file: origin === 'file' ? input.fileName : undefined, skip: failed }, issues);
    checkText(value, [name], origin === 'file' ? input.fileName : undefined, issues);
    setOwn(out, name, value);
  }

  if (issues.length > 0) throw new ParametersInvalidError(issues, def.workflow_id);
  return out;
}

/** A UTF-16 surrogate without its pair: not Unicode, so no UTF-8 file (or jq) can hold it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Strings (and keys) a parameter may not hold: a NUL byte (no program argument or file name can
 * carry it) or a lone surrogate. Iterative: a deep value cannot overflow the stack.
 */
function checkText(value: unknown, path: Segment[], file: string | undefined, issues: Issue[]): void {
  const stack: Array<{ v: unknown; path: Segment[] }> = [{ v: value, path }];
  while (stack.length) {
    const { v, path: at } = stack.pop() as { v: unknown; path: Segment[] };
    const texts: Array<{ s: string; at: Segment[]; what: string }> = [];
    if (typeof v === 'string') texts.push({ s: v, at, what: 'the value' });
    else if (Array.isArray(v)) v.forEach((x, i) => stack.push({ v: x, path: [...at, i] }));
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        texts.push({ s: k, at: [...at, k], what: 'the key' });
        stack.push({ v: x, path: [...at, k] });
      }
    }
    for (const t of texts) {
      if (t.s.includes('\u0000')) issues.push(issue(t.at, `${t.what} contains a NUL byte (\\u0000), which no argument or file can carry`, file));
      else if (LONE_SURROGATE.test(t.s)) issues.push(issue(t.at, `${t.what} contains a lone UTF-16 surrogate: it is not valid Unicode text`, file));
    }
  }
}

/** Why `value` cannot be recorded: its first NUL byte or lone surrogate (pointer: message), else undefined. */
export function unrecordableText(value: unknown): string | undefined {
  const issues: Issue[] = [];
  checkText(value, [], undefined, issues);
  const first = issues[0];
  return first ? `${first.pointer ?? ''}: ${first.message}` : undefined;
}

// ---------------------------------------------------------------------------------------------
// validator support

function checkSpecDefaults(spec: ParamSpec, path: Segment[], issues: Issue[]): void {
  spec.enum?.forEach((e, i) => {
    if (!isExpressionString(e) && !typeMatches(spec.type, e)) {
      issues.push(issue([...path, 'enum', i], `enum value ${show(e)} is not of the declared type ${spec.type}`));
    }
  });
  if (spec.default !== undefined && !isExpressionString(spec.default)) {
    checkValue(withNestedDefaults(spec.default, spec), spec, [...path, 'default'], { allowExpressions: true }, issues);
  }
  for (const [name, prop] of Object.entries(spec.properties ?? {})) checkSpecDefaults(prop, [...path, 'properties', name], issues);
  if (spec.items !== undefined) checkSpecDefaults(spec.items, [...path, 'items'], issues);
}

/**
 * Declaration problems for the validator: every default (and nested property default) has its
 * declared type and is one of its enum; every enum value has the declared type. Expression
 * defaults (`"${GIT_SHA}"`) are skipped. Pointers look like `/parameters/replicas/default`.
 */
export function checkDefaults(def: WorkflowDefinition): Issue[] {
  const issues: Issue[] = [];
  for (const [name, spec] of Object.entries(def.parameters ?? {})) checkSpecDefaults(spec, ['parameters', name], issues);
  return issues;
}

// ---------------------------------------------------------------------------------------------
// secrets

function maskBySpec(value: unknown, spec: ParamSpec | undefined): unknown {
  if (spec === undefined) return value;
  if (spec.secret === true) return MASK;
  if (Array.isArray(value) && spec.items !== undefined) {
    const items = spec.items;
    return value.map((v) => maskBySpec(v, items));
  }
  if (isPlainObject(value) && spec.properties !== undefined) {
    const out = copyObject(value);
    for (const k of Object.keys(out)) setOwn(out, k, maskBySpec(out[k], ownSpec(spec.properties, k)));
    return out;
  }
  return value;
}

function maskStrings(value: unknown, secrets: readonly string[], depth: number): unknown {
  if (typeof value === 'string') {
    let s = value;
    for (const secret of secrets) if (s.includes(secret)) s = s.split(secret).join(MASK);
    return s;
  }
  if (depth > 256) return MASK;
  if (Array.isArray(value)) return value.map((v) => maskStrings(v, secrets, depth + 1));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value)) setOwn(out, k, maskStrings(value[k], secrets, depth + 1));
    return out;
  }
  return value;
}

/**
 * A copy of `params` safe to record or print: parameters (and nested properties) declared
 * `secret: true` become "***", and every occurrence of a known secret value (for example the
 * resolved `${secrets.NAME}` values) inside any string is replaced by "***".
 */
export function maskParameters(
  def: WorkflowDefinition,
  params: Record<string, unknown>,
  secretValues: Iterable<string> = [],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(params)) setOwn(out, k, maskBySpec(params[k], ownSpec(def.parameters, k)));
  const secrets = [...new Set(secretValues)].filter((s) => s !== '').sort((a, b) => b.length - a.length);
  return secrets.length ? (maskStrings(out, secrets, 0) as Record<string, unknown>) : out;
}

/** The string forms of the values of secret parameters: add them to the run's secret list so logs mask them too. */
export function secretParameterValues(def: WorkflowDefinition, params: Record<string, unknown>): string[] {
  const found: string[] = [];
  const walk = (value: unknown, spec: ParamSpec | undefined): void => {
    if (spec === undefined || value === undefined || value === null) return;
    if (spec.secret === true) {
      if (typeof value === 'string') found.push(value);
      else if (typeof value === 'number') found.push(String(value));
      else if (typeof value === 'object') found.push(JSON.stringify(value));
      // A boolean secret is not masked inside other strings: every "true" would become "***".
      return;
    }
    if (Array.isArray(value) && spec.items !== undefined) for (const v of value) walk(v, spec.items);
    if (isPlainObject(value) && spec.properties !== undefined) {
      for (const k of Object.keys(value)) walk(value[k], ownSpec(spec.properties, k));
    }
  };
  for (const k of Object.keys(params)) walk(params[k], ownSpec(def.parameters, k));
  return found.filter((s) => s !== '');
}
