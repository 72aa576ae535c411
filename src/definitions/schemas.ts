import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Ajv2020, ErrorObject, Options, ValidateFunction } from 'ajv/dist/2020.js';
import { PACKAGE_ROOT, SCHEMAS_DIR } from '../paths.js';

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

/**
 * Validators compiled at build time (scripts/build-validators.mjs, run by `npm run build` and
 * `prepare`): ajv's standalone code of the same schemas with the same options, so a command does
 * not generate and compile them again on every start (about a second of CPU for `run` on these
 * machines). Each file names the hash of the schema it was made from; a missing or different one
 * (an unbuilt checkout, a schema edited since the build) falls back to compiling at run time.
 */
export const VALIDATORS_DIR = join(PACKAGE_ROOT, 'dist', 'validators');
const requireCjs = createRequire(import.meta.url);

/** The two ajv flavours: `definitions` checks files as written, `runtime` also fills in defaults. */
export type AjvFlavour = 'definitions' | 'runtime';

/** Options of both flavours (the build script compiles with exactly these, plus code.source). */
export function ajvOptions(flavour: AjvFlavour): Options {
  // verbose: errors carry their schema, so a long pattern is explained by its description.
  return { strict: true, allowUnionTypes: true, allErrors: true, verbose: true, ...(flavour === 'runtime' ? { useDefaults: true } : {}) };
}

/** A new ajv instance of a flavour, with formats (`extra`: the build script adds code.source). */
export function createAjv(flavour: AjvFlavour, extra: Options = {}): Ajv2020 {
  // Loaded on first use: with the precompiled validators most commands never compile a schema,
  // and ajv's compiler is most of its 230 KB (the validators need only its small runtime files).
  const { Ajv2020: AjvClass } = requireCjs('ajv/dist/2020.js') as { Ajv2020: new (o: Options) => Ajv2020 };
  const formats = requireCjs('ajv-formats') as ((a: Ajv2020) => void) & { default?: (a: Ajv2020) => void };
  const a = new AjvClass({ ...ajvOptions(flavour), ...extra });
  (formats.default ?? formats)(a);
  return a;
}

/** The hash a precompiled validator is keyed by: of a schema file's text, or of an ad-hoc schema. */
export function schemaHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** File name of the precompiled validator of an ad-hoc schema (action parameters) of a flavour. */
export function adHocValidatorFile(flavour: AjvFlavour, schema: object): { file: string; hash: string } {
  const hash = schemaHash(JSON.stringify(schema));
  return { file: `params-${flavour}-${hash.slice(0, 32)}.cjs`, hash };
}

/** The validator in `dir`/`file` if it was made from the schema with this hash; else undefined. */
export function loadPrecompiled(dir: string, file: string, hash: string): ValidateFunction | undefined {
  try {
    const mod = requireCjs(join(dir, file)) as { hash?: unknown; validate?: unknown };
    if (mod.hash === hash && typeof mod.validate === 'function') return mod.validate as ValidateFunction;
  } catch {
    // not built (or built from another schema): compile at run time
  }
  return undefined;
}

let ajv: Ajv2020 | undefined;
const compiled = new Map<string, ValidateFunction>();

/** The shared ajv instance: draft 2020-12, strict mode, formats. */
export function getAjv(): Ajv2020 {
  ajv ??= createAjv('definitions');
  return ajv;
}

function schemaText(name: SchemaName): string {
  return readFileSync(join(SCHEMAS_DIR, `${name}.schema.json`), 'utf8');
}

export function loadSchema(name: SchemaName): Record<string, unknown> {
  return JSON.parse(schemaText(name)) as Record<string, unknown>;
}

/**
 * Compiled validator for one of the schemas under schemas/ (once per process): the build's
 * precompiled one when it was made from this very schema file, else compiled now.
 */
export function validatorFor(name: SchemaName): ValidateFunction {
  let v = compiled.get(name);
  if (!v) {
    const text = schemaText(name);
    v = loadPrecompiled(VALIDATORS_DIR, `${name}.cjs`, schemaHash(text)) ?? compileNamed(JSON.parse(text) as Record<string, unknown>);
    compiled.set(name, v);
  }
  return v;
}

/** Compiles a schema of schemas/ into the shared instance (once: ajv refuses a second $id). */
function compileNamed(schema: Record<string, unknown>): ValidateFunction {
  const id = schema.$id;
  const known = typeof id === 'string' ? getAjv().getSchema(id) : undefined;
  return known ?? getAjv().compile(schema);
}

/**
 * The shared instance with schemas/ files registered, for validators made from references into
 * them (`{ $ref: "<$id>#/oneOf/0" }`); a precompiled validator does not register its schema.
 */
export function ajvWith(...names: SchemaName[]): Ajv2020 {
  for (const n of names) compileNamed(loadSchema(n));
  return getAjv();
}

let runtimeAjv: Ajv2020 | undefined;

/** Like getAjv, but fills in schema defaults: used on resolved action parameters at run time. */
function getRuntimeAjv(): Ajv2020 {
  runtimeAjv ??= createAjv('runtime');
  return runtimeAjv;
}

/** Compiles an ad-hoc schema (action parameters), cached by identity; precompiled for built-in actions. */
const adHoc = new WeakMap<object, ValidateFunction>();
const adHocRuntime = new WeakMap<object, ValidateFunction>();
export function compileSchema(schema: object, options: { useDefaults?: boolean } = {}): ValidateFunction {
  const cache = options.useDefaults ? adHocRuntime : adHoc;
  let v = cache.get(schema);
  if (!v) {
    const flavour: AjvFlavour = options.useDefaults ? 'runtime' : 'definitions';
    const { file, hash } = adHocValidatorFile(flavour, schema);
    v = loadPrecompiled(VALIDATORS_DIR, file, hash) ?? (options.useDefaults ? getRuntimeAjv() : getAjv()).compile(schema);
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
