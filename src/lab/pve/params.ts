/**
 * pvesh argument handling: `--name value` API parameters checked against a small schema per
 * endpoint, with Proxmox's own error texts (PVE::JSONSchema):
 *   400 Parameter verification failed.
 *   <param>: property is not defined in schema and the schema does not allow additional properties
 */

export class PveError extends Error {
  constructor(
    message: string,
    readonly exitCode = 255,
  ) {
    super(message);
  }
}

/** Raised like PVE::Exception::raise_param_exc: one `name: message` line per parameter, sorted. */
export function paramError(errors: Record<string, string>): PveError {
  const lines = Object.keys(errors)
    .sort()
    .map((k) => `${k}: ${errors[k]}`);
  return new PveError(`400 Parameter verification failed.\n${lines.join('\n')}`);
}

export type ParamValue = string | number | boolean | string[];

export interface ParamDef {
  type: 'string' | 'integer' | 'number' | 'boolean';
  optional?: boolean;
  enum?: readonly string[];
  minimum?: number;
  maximum?: number;
  /** Repeatable (an array parameter): `--command a --command b`. */
  array?: boolean;
  /** Returns an error text when the value has the wrong format. */
  check?: (value: string) => string | undefined;
}

export interface ParamSchema {
  props: Record<string, ParamDef>;
  /** Families like net0..net31: [regex, def]. */
  patterns?: Array<[RegExp, ParamDef]>;
}

export const S = (extra: Partial<ParamDef> = {}): ParamDef => ({ type: 'string', optional: true, ...extra });
export const I = (extra: Partial<ParamDef> = {}): ParamDef => ({ type: 'integer', optional: true, ...extra });
export const N = (extra: Partial<ParamDef> = {}): ParamDef => ({ type: 'number', optional: true, ...extra });
export const B = (extra: Partial<ParamDef> = {}): ParamDef => ({ type: 'boolean', optional: true, ...extra });
export const E = (values: readonly string[], extra: Partial<ParamDef> = {}): ParamDef => ({ type: 'string', optional: true, enum: values, ...extra });
export const req = (d: ParamDef): ParamDef => ({ ...d, optional: false });

export const FORMAT_OPTIONS: Record<string, ParamDef> = {
  'output-format': E(['text', 'json', 'json-pretty', 'yaml']),
  noborder: B(),
  noheader: B(),
  'human-readable': B(),
  quiet: B(),
  noproxy: B(),
};

export interface ParsedArgs {
  /** Raw values by name (arrays for repeated flags). */
  raw: Record<string, string[]>;
  format: { outputFormat: string; noborder: boolean; noheader: boolean; quiet: boolean; humanReadable: boolean };
}

const BOOL_TRUE = new Set(['1', 'true', 'yes', 'on']);
const BOOL_FALSE = new Set(['0', 'false', 'no', 'off']);

/** Splits `--name value`, `--name=value` and bare boolean flags. */
export function splitOptions(args: readonly string[], isBoolean: (name: string) => boolean): Record<string, string[]> {
  const raw: Record<string, string[]> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const m = /^--?([A-Za-z][A-Za-z0-9_-]*)(?:=(.*))?$/s.exec(a);
    if (!m) throw new PveError(`400 unable to parse option\nunexpected argument '${a}'`);
    const name = m[1] as string;
    let value = m[2];
    if (value === undefined) {
      const next = args[i + 1];
      if (isBoolean(name) && (next === undefined || !(BOOL_TRUE.has(next) || BOOL_FALSE.has(next)))) value = '1';
      else if (next === undefined) throw new PveError(`400 unable to parse option\nOption ${name} requires an argument`);
      else {
        value = next;
        i++;
      }
    }
    (raw[name] ??= []).push(value);
  }
  return raw;
}

export function defOf(schema: ParamSchema, name: string): ParamDef | undefined {
  return schema.props[name] ?? schema.patterns?.find(([re]) => re.test(name))?.[1];
}

function convert(name: string, def: ParamDef, v: string, errors: Record<string, string>): ParamValue | undefined {
  switch (def.type) {
    case 'integer': {
      if (!/^[+-]?\d+$/.test(v)) {
        errors[name] = `type check ('integer') failed - got '${v}'`;
        return undefined;
      }
      const n = Number(v);
      if (def.minimum !== undefined && n < def.minimum) errors[name] = `value must have a minimum value of ${def.minimum}`;
      else if (def.maximum !== undefined && n > def.maximum) errors[name] = `value may not exceed ${def.maximum}`;
      return n;
    }
    case 'number': {
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v)) {
        errors[name] = `type check ('number') failed - got '${v}'`;
        return undefined;
      }
      return Number(v);
    }
    case 'boolean': {
      const l = v.toLowerCase();
      if (BOOL_TRUE.has(l)) return true;
      if (BOOL_FALSE.has(l)) return false;
      errors[name] = `type check ('boolean') failed - got '${v}'`;
      return undefined;
    }
    default: {
      if (def.enum && !def.enum.includes(v)) {
        errors[name] = `value '${v}' does not have a value in the enumeration '${def.enum.join(', ')}'`;
        return undefined;
      }
      const problem = def.check?.(v);
      if (problem) {
        errors[name] = problem;
        return undefined;
      }
      return v;
    }
  }
}

/** Checks raw options against a schema; throws the 400 error listing every problem. */
export function validateParams(schema: ParamSchema, raw: Record<string, string[]>, pathParams: Record<string, string> = {}): Record<string, ParamValue> {
  const errors: Record<string, string> = {};
  const out: Record<string, ParamValue> = {};
  for (const [name, values] of Object.entries(raw)) {
    const def = defOf(schema, name);
    if (!def || name in pathParams) {
      errors[name] = 'property is not defined in schema and the schema does not allow additional properties';
      continue;
    }
    if (def.array) {
      const converted = values.map((v) => convert(name, def, v, errors));
      out[name] = converted.map(String);
    } else {
      const v = convert(name, def, values[values.length - 1] as string, errors);
      if (v !== undefined) out[name] = v;
    }
  }
  for (const [name, def] of Object.entries(schema.props)) {
    if (!def.optional && !(name in raw) && !(name in errors)) errors[name] = 'property is missing and it is not optional';
  }
  if (Object.keys(errors).length > 0) throw paramError(errors);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Formats shared by several endpoints

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

export function isIp(s: string): boolean {
  return IPV4.test(s) || (s.includes(':') && /^[0-9A-Fa-f:.]+$/.test(s));
}

export function isCidr(s: string): boolean {
  const [ip, prefix, ...rest] = s.split('/');
  if (rest.length || !ip || !isIp(ip)) return false;
  if (prefix === undefined) return true;
  const p = Number(prefix);
  return /^\d+$/.test(prefix) && p >= 0 && p <= (ip.includes(':') ? 128 : 32);
}

export const pveConfigId = (v: string) => (/^[A-Za-z][A-Za-z0-9_-]+$/.test(v) && v.length <= 40 ? undefined : `invalid format - invalid configuration ID '${v}'`);

export const dnsName = (v: string) =>
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(v) ? undefined : `invalid format - value does not look like a valid DNS name`;

export const cidrFormat = (v: string) => (isCidr(v) ? undefined : `invalid format - value does not look like a valid CIDR network`);

export const ipFormat = (v: string) => (isIp(v) ? undefined : `invalid format - value does not look like a valid IP address`);

export const netFormat = (v: string) => {
  const parts = v.split(',');
  const head = parts[0] ?? '';
  const model = head.split('=')[0] ?? '';
  if (!['virtio', 'e1000', 'e1000e', 'rtl8139', 'vmxnet3'].includes(model) && !head.startsWith('model=')) {
    return `invalid format - format error\nmodel: property is missing and it is not optional`;
  }
  const macPart = head.split('=')[1];
  if (macPart !== undefined && !/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/.test(macPart)) return `invalid format - format error\nmacaddr: value does not look like a valid MAC address`;
  for (const p of parts.slice(1)) {
    const [k, val] = p.split('=');
    if (!['bridge', 'tag', 'firewall', 'rate', 'queues', 'mtu', 'link_down', 'trunks', 'macaddr', 'model'].includes(k ?? '')) return `invalid format - format error\n${k}: property is not defined in schema and the schema does not allow additional properties`;
    if (k === 'tag' && !(/^\d+$/.test(val ?? '') && Number(val) >= 1 && Number(val) <= 4094)) return `invalid format - format error\ntag: value must have a minimum value of 1`;
  }
  return undefined;
};

export const ipconfigFormat = (v: string) => {
  for (const p of v.split(',')) {
    const [k, val = ''] = p.split('=');
    if (k === 'ip' && val !== 'dhcp' && !(isCidr(val) && val.includes('/'))) return `invalid format - format error\nip: invalid format - value does not look like a valid CIDR network`;
    if (k === 'gw' && !isIp(val)) return `invalid format - format error\ngw: invalid format - value does not look like a valid IP address`;
    if (!['ip', 'gw', 'ip6', 'gw6'].includes(k ?? '')) return `invalid format - format error\n${k}: property is not defined in schema and the schema does not allow additional properties`;
  }
  return undefined;
};

export const tagsFormat = (v: string) => {
  for (const t of v.split(/[;, ]+/).filter(Boolean)) {
    if (!/^[a-z0-9_][a-z0-9_+.-]*$/i.test(t)) return `invalid format - invalid tag '${t}'`;
  }
  return undefined;
};
