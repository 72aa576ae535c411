/**
 * The Proxmox API schema the lab answers by (upstream/pve-api.json, generated from proxmox/pve-docs
 * api-viewer/apidata.js by scripts/pve-api-digest.mjs) and PVE::JSONSchema's validation of a call
 * against it: check_object / check_prop / check_type / parse_property_string of proxmox/pve-common
 * src/PVE/JSONSchema.pm @ f665029eac78022e81810ab2e44eace57ade13fb, with its error texts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../paths.js';
import { checkNamedFormat } from './formats.js';

export interface PropSchema {
  type?: string;
  format?: string | Record<string, PropSchema>;
  pattern?: string;
  enum?: string[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  optional?: number;
  default?: unknown;
  default_key?: number;
  alias?: string;
  keyAlias?: string;
  requires?: string;
  items?: PropSchema;
}

export interface MethodSchema {
  params: Record<string, PropSchema>;
  additional_properties?: number;
  protected?: number;
  returns: string | null;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface ApiDigest {
  source: string;
  commit: string;
  indexed: { counts: Record<string, number> };
  named_formats: { formats: Record<string, Record<string, PropSchema>> };
  endpoints: Record<string, Partial<Record<HttpMethod, MethodSchema>>>;
}

export const DIGEST_PATH = join(PACKAGE_ROOT, 'upstream', 'pve-api.json');

let digest: ApiDigest | undefined;

/** The digest (read once per process). */
export function apiDigest(): ApiDigest {
  return (digest ??= JSON.parse(readFileSync(DIGEST_PATH, 'utf8')) as ApiDigest);
}

/** pvesh command -> HTTP method (PVE::CLI::pvesh $method_map). */
export const METHOD_OF: Record<string, HttpMethod> = { get: 'GET', set: 'PUT', create: 'POST', delete: 'DELETE' };

/**
 * The endpoint a concrete path belongs to, like PVE::API2->find_handler: literal segments win
 * over placeholders. Returns the template and the path parameters.
 */
export function findEndpoint(apiPath: string): { template: string; params: Record<string, string> } | undefined {
  const segs = apiPath.split('/').filter(Boolean);
  let best: { template: string; params: Record<string, string>; literals: number } | undefined;
  for (const template of Object.keys(apiDigest().endpoints)) {
    const tpl = template.split('/').filter(Boolean);
    if (tpl.length !== segs.length) continue;
    const params: Record<string, string> = {};
    let literals = 0;
    let ok = true;
    for (let i = 0; i < tpl.length && ok; i++) {
      const t = tpl[i] as string;
      const s = segs[i] as string;
      if (t.startsWith('{')) params[t.slice(1, -1)] = s;
      else if (t === s) literals++;
      else ok = false;
    }
    if (ok && (!best || literals > best.literals)) best = { template, params, literals };
  }
  return best && { template: best.template, params: best.params };
}

export function methodSchema(template: string, method: HttpMethod): MethodSchema | undefined {
  return apiDigest().endpoints[template]?.[method];
}

/** The schema of one parameter: its own entry, or x0..x<count-1> of an indexed `x[n]`. */
export function propertyOf(ms: MethodSchema, name: string): PropSchema | undefined {
  const own = ms.params[name];
  if (own && !name.endsWith('[n]')) return own;
  const m = /^([a-z]+)(\d+)$/.exec(name);
  if (!m) return undefined;
  const family = ms.params[`${m[1]}[n]`];
  const count = apiDigest().indexed.counts[m[1] as string];
  return family && count !== undefined && Number(m[2]) < count && String(Number(m[2])) === m[2] ? family : undefined;
}

/** A value as Proxmox's handler sees it: strings (CLI, form bodies), arrays (repeated keys), JSON scalars. */
export type ApiValue = string | number | boolean | ApiValue[] | null | undefined;

export type Errors = Record<string, string>;

/** PVE::JSONSchema::add_error: a second message on the same path is joined with a literal '\n'. */
function addError(errors: Errors, path: string, msg: string): void {
  const p = path || '_root';
  errors[p] = errors[p] !== undefined ? `${errors[p]}\\n${msg}` : msg;
}

const isNumber = (v: string) => /^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$/.test(v);
const isInteger = (v: string) => /^[+-]?\d+$/.test(v);

function perlRef(v: ApiValue): string {
  if (Array.isArray(v)) return 'ARRAY';
  if (typeof v === 'boolean') return 'JSON::PP::Boolean';
  if (v !== null && typeof v === 'object') return 'HASH';
  return '';
}

function scalarText(v: ApiValue): string {
  return typeof v === 'number' ? String(v) : String(v);
}

function checkType(path: string, type: string | undefined, value: ApiValue, errors: Errors): boolean {
  if (!type || type === 'any') return true;
  const vt = perlRef(value);
  if (type === 'array') {
    if (vt !== 'ARRAY') {
      addError(errors, path, `type check ('${type}') failed`);
      return false;
    }
    return true;
  }
  if (type === 'object') {
    if (vt !== 'HASH') {
      addError(errors, path, `type check ('${type}') failed`);
      return false;
    }
    return true;
  }
  if (vt) {
    if (type === 'boolean' && vt === 'JSON::PP::Boolean') return true;
    addError(errors, path, `type check ('${type}') failed - got ${vt}`);
    return false;
  }
  const s = scalarText(value);
  if (type === 'boolean' && s !== '1' && s !== '0') {
    addError(errors, path, `type check ('${type}') failed - got '${s}'`);
    return false;
  }
  if (type === 'integer' && !isInteger(s)) {
    addError(errors, path, `type check ('${type}') failed - got '${s}'`);
    return false;
  }
  if (type === 'number' && !isNumber(s)) {
    addError(errors, path, `type check ('${type}') failed - got '${s}'`);
    return false;
  }
  return true;
}

/** A Perl pattern as JS: `(?^:x)` (a stringified qr//) is a plain group. */
function perlPattern(p: string): RegExp {
  return new RegExp(`^(?:${p.replace(/\(\?\^([a-z]*):/g, (_m, flags: string) => (flags ? '(?:' : '(?:'))})$`);
}

const PARSE_BOOLEAN_TRUE = /^(1|on|yes|true)$/i;
const PARSE_BOOLEAN_FALSE = /^(0|off|no|false)$/i;

/** PVE::JSONSchema::parse_boolean: 1/0, or undefined. */
export function parseBoolean(v: string): string | undefined {
  if (PARSE_BOOLEAN_TRUE.test(v)) return '1';
  if (PARSE_BOOLEAN_FALSE.test(v)) return '0';
  return undefined;
}

/** The stringified PVE::Exception of `raise "format error\n", errors => {...}`. */
function formatErrorText(errors: Errors): string {
  return `format error\n${Object.keys(errors)
    .sort()
    .map((k) => `${k}: ${errors[k]}\n`)
    .join('')}`;
}

/** PVE::JSONSchema::parse_property_string: undefined, or the text it dies with. */
export function parsePropertyString(format: Record<string, PropSchema>, data: string, path: string): string | undefined {
  const res: Record<string, string> = {};
  let defaultKey: string | undefined;
  for (const part of data.split(',')) {
    if (/^\s*$/.test(part)) continue;
    const m = /^([^=]+)=([\s\S]+)$/.exec(part);
    if (m) {
      let k = m[1] as string;
      let v = m[2] as string;
      if (res[k] !== undefined) return `duplicate key in comma-separated list property: ${k}\n`;
      let schema = format[k];
      if (schema?.alias) {
        if (schema.keyAlias) {
          if (res[schema.keyAlias] !== undefined) return `key alias '${schema.keyAlias}' is already defined\n`;
          res[schema.keyAlias] = k;
        }
        k = schema.alias;
        schema = format[k];
        if (res[k] !== undefined) return `key '${k}' is already defined (via alias)\n`;
      }
      if (!schema) return `invalid key in comma-separated list property: ${k}\n`;
      if (schema.type === 'boolean') v = parseBoolean(v) ?? v;
      res[k] = v;
    } else if (!part.includes('=')) {
      if (defaultKey) return `duplicate key in comma-separated list property: ${defaultKey}\n`;
      let value = part;
      for (const [key, s] of Object.entries(format)) {
        if (!s.default_key) continue;
        defaultKey = key;
        if (res[key]) return `duplicate key in comma-separated list property: ${key}\n`;
        if (s.type === 'boolean') value = parseBoolean(value) ?? value;
        res[key] = value;
        break;
      }
      if (!defaultKey) return 'value without key, but schema does not define a default key\n';
    } else {
      return 'missing key in comma-separated list property\n';
    }
  }
  const errors: Errors = {};
  checkObject(path, format, res, false, errors);
  return Object.keys(errors).length ? formatErrorText(errors) : undefined;
}

function checkFormat(format: PropSchema['format'], value: string, path: string): string | undefined {
  if (!format) return undefined;
  if (typeof format === 'object') return parsePropertyString(format, value, path);
  const named = apiDigest().named_formats.formats[format];
  if (named) return parsePropertyString(named, value, path);
  return checkNamedFormat(format, value);
}

/** PVE::JSONSchema::check_prop. */
export function checkProp(value: ApiValue, schema: PropSchema, path: string, errors: Errors): void {
  if (schema.alias) return;
  if (value === undefined || value === null) {
    if (schema.type === 'null') return;
    if (!schema.optional) addError(errors, path, 'property is missing and it is not optional');
    return;
  }
  if (!checkType(path, schema.type, value, errors)) return;
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((el, i) => checkProp(el, schema.items as PropSchema, `${path}[${i}]`, errors));
    return;
  }
  const s = scalarText(value);
  const formatError = checkFormat(schema.format, s, path);
  if (formatError) {
    addError(errors, path, `invalid format - ${formatError}`);
    return;
  }
  if (schema.pattern && !perlPattern(schema.pattern).test(s)) {
    addError(errors, path, 'value does not match the regex pattern');
    return;
  }
  if (schema.maxLength !== undefined && [...s].length > schema.maxLength) {
    addError(errors, path, `value may only be ${schema.maxLength} characters long`);
    return;
  }
  if (schema.minLength !== undefined && [...s].length < schema.minLength) {
    addError(errors, path, `value must be at least ${schema.minLength} characters long`);
    return;
  }
  if (isNumber(s)) {
    if (schema.maximum !== undefined && Number(s) > schema.maximum) {
      addError(errors, path, `value must have a maximum value of ${schema.maximum}`);
      return;
    }
    if (schema.minimum !== undefined && Number(s) < schema.minimum) {
      addError(errors, path, `value must have a minimum value of ${schema.minimum}`);
      return;
    }
  }
  if (schema.enum && !schema.enum.includes(s)) addError(errors, path, `value '${s}' does not have a value in the enumeration '${schema.enum.join(', ')}'`);
}

/** PVE::JSONSchema::check_object, with `lookup` resolving a key to its schema (indexed keys). */
function checkObject(path: string, schema: Record<string, PropSchema>, value: Record<string, ApiValue>, additional: boolean, errors: Errors, lookup: (k: string) => PropSchema | undefined = (k) => schema[k]): void {
  const sub = (k: string) => (path ? `${path}.${k}` : k);
  for (const [k, s] of Object.entries(schema)) {
    if (k.endsWith('[n]')) continue;
    checkProp(value[k], s, sub(k), errors);
  }
  for (const k of Object.keys(value)) {
    const s = lookup(k);
    if (s) {
      if (k in schema && !k.endsWith('[n]')) {
        if (s.requires && value[s.requires] === undefined) addError(errors, sub(s.requires), `missing property required by '${sub(k)}'`);
        continue;
      }
      checkProp(value[k], s, sub(k), errors);
      continue;
    }
    if (!additional) addError(errors, sub(k), 'property is not defined in schema and the schema does not allow additional properties');
  }
}

/**
 * Validates a call's parameters (path parameters included) against its method schema, as
 * PVE::RESTHandler::handle does before running the method. Returns the errors by parameter.
 */
export function validateCall(ms: MethodSchema, params: Record<string, ApiValue>): Errors {
  const errors: Errors = {};
  const normalized = { ...params };
  for (const [k, v] of Object.entries(normalized)) {
    const s = propertyOf(ms, k);
    // RESTHandler's $normalize_legacy_param_formats: a list for a `-list` string, a scalar for an array.
    if (s && Array.isArray(v) && s.type === 'string' && typeof s.format === 'string' && s.format.endsWith('-list')) normalized[k] = v.join(',');
    else if (s && v !== undefined && v !== '' && !Array.isArray(v) && s.type === 'array') normalized[k] = [v];
  }
  checkObject('', ms.params, normalized, Boolean(ms.additional_properties), errors, (k) => propertyOf(ms, k));
  return errors;
}
