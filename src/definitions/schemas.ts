import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { SCHEMAS_DIR } from '../paths.js';

/** Names of the JSON Schemas under schemas/: the file contract. */
export type SchemaName =
  | 'workflow'
  | 'execution'
  | 'handoff'
  | 'workflow-stats'
  | 'contractor-performance'
  | 'config'
  | 'contractor-actions'
  | 'audit-entry'
  | 'trigger-file'
  | 'lab-state'
  | 'plan';

let ajv: Ajv2020 | undefined;
const compiled = new Map<string, ValidateFunction>();

/** The shared ajv instance: draft 2020-12, strict mode, formats. */
export function getAjv(): Ajv2020 {
  if (!ajv) {
    // verbose: errors carry their schema, so a long pattern is explained by its description.
    ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true, verbose: true });
    const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  }
  return ajv;
}

export function loadSchema(name: SchemaName): Record<string, unknown> {
  return JSON.parse(readFileSync(join(SCHEMAS_DIR, `${name}.schema.json`), 'utf8')) as Record<string, unknown>;
}

/** Compiled validator for one of the schemas under schemas/ (compiled once per process). */
export function validatorFor(name: SchemaName): ValidateFunction {
  let v = compiled.get(name);
  if (!v) {
    v = getAjv().compile(loadSchema(name));
    compiled.set(name, v);
  }
  return v;
}

let runtimeAjv: Ajv2020 | undefined;

/** Like getAjv, but fills in schema defaults: used on resolved action parameters at run time. */
function getRuntimeAjv(): Ajv2020 {
  if (!runtimeAjv) {
    runtimeAjv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true, useDefaults: true, verbose: true });
    const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;
    (addFormats as unknown as (a: Ajv2020) => void)(runtimeAjv);
  }
  return runtimeAjv;
}

/** Compiles an ad-hoc schema (action parameters), cached by identity. */
const adHoc = new WeakMap<object, ValidateFunction>();
const adHocRuntime = new WeakMap<object, ValidateFunction>();
export function compileSchema(schema: object, options: { useDefaults?: boolean } = {}): ValidateFunction {
  const cache = options.useDefaults ? adHocRuntime : adHoc;
  let v = cache.get(schema);
  if (!v) {
    v = (options.useDefaults ? getRuntimeAjv() : getAjv()).compile(schema);
    cache.set(schema, v);
  }
  return v;
}

/** Turns one ajv error into a sentence that says what was expected. */
export function describeAjvError(e: ErrorObject): { pointer: string; message: string } {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { pointer: e.instancePath, message: `missing required property "${String(p.missingProperty)}"` };
    case 'additionalProperties':
      return {
        pointer: `${e.instancePath}/${String(p.additionalProperty)}`,
        message: `unknown property "${String(p.additionalProperty)}" (not allowed here)`,
      };
    case 'enum':
      return {
        pointer: e.instancePath,
        message: `expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'const':
      return { pointer: e.instancePath, message: `expected ${JSON.stringify(p.allowedValue)}` };
    case 'type':
      return { pointer: e.instancePath, message: `expected ${String(p.type).replace(',', ' or ')}` };
    case 'pattern': {
      // A long pattern says little to a person: its schema's description says what is expected.
      const description = (e.parentSchema as { description?: unknown } | undefined)?.description;
      if (String(p.pattern).length > 60 && typeof description === 'string') return { pointer: e.instancePath, message: `is not of the expected form: ${description}` };
      return { pointer: e.instancePath, message: `does not match the expected form ${String(p.pattern)}` };
    }
    case 'format':
      return { pointer: e.instancePath, message: `expected a ${String(p.format)}` };
    default:
      return { pointer: e.instancePath, message: e.message ?? e.keyword };
  }
}

/**
 * Picks the most useful errors: ajv reports every branch of a oneOf/anyOf; keep the deepest
 * errors and drop the generic "must match a schema in oneOf" when a more specific one exists.
 */
export function selectAjvErrors(errors: readonly ErrorObject[]): ErrorObject[] {
  const specific = errors.filter((e) => !['oneOf', 'anyOf', 'if', 'allOf'].includes(e.keyword));
  const list = specific.length ? specific : [...errors];
  const seen = new Set<string>();
  const out: ErrorObject[] = [];
  for (const e of list) {
    const d = describeAjvError(e);
    const key = `${d.pointer}|${d.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(e);
    }
  }
  return out;
}
