/**
 * Small builders for action parameter schemas (JSON Schema draft 2020-12, valid under ajv strict
 * mode). Every object they build is closed (`additionalProperties: false`) unless it is a map or
 * deliberately open payload (a Kubernetes manifest, Helm values, an n8n node).
 */
import type { ParamSchema } from '../model/catalogue.js';

export type Schema = Record<string, unknown>;

type Extra = Schema;

export function str(description: string, extra: Extra = {}): Schema {
  return { type: 'string', description, ...extra };
}

export function int(description: string, extra: Extra = {}): Schema {
  return { type: 'integer', description, ...extra };
}

export function num(description: string, extra: Extra = {}): Schema {
  return { type: 'number', description, ...extra };
}

export function bool(description: string, defaultValue?: boolean): Schema {
  return defaultValue === undefined ? { type: 'boolean', description } : { type: 'boolean', description, default: defaultValue };
}

export function arr(items: Schema, description: string, extra: Extra = {}): Schema {
  return { type: 'array', items, description, ...extra };
}

export function strEnum(values: readonly string[], description: string, extra: Extra = {}): Schema {
  return { type: 'string', enum: [...values], description, ...extra };
}

/** An object whose keys are free-form and whose values all match `values` (labels, env vars). */
export function map(values: Schema, description: string): Schema {
  return { type: 'object', additionalProperties: values, description };
}

/** A free-form object passed through to a tool or service (manifest, Helm values, n8n node). */
export function openObject(description: string): Schema {
  return { type: 'object', description };
}

/** A closed object: only the listed properties. */
export function closed(properties: Record<string, Schema>, required: string[] = [], description?: string): Schema {
  const s: Schema = { type: 'object', additionalProperties: false, properties };
  if (required.length > 0) s.required = required;
  if (description !== undefined) s.description = description;
  return s;
}

/**
 * "At least one of these properties": an anyOf whose branches redeclare the property as `true`
 * (ajv strictRequired wants every required name declared next to it).
 */
export function atLeastOne(...names: string[]): Schema[] {
  return names.map((n) => ({ properties: { [n]: true }, required: [n] }));
}

/** The top-level parameter schema of an action: closed, with `required` and optional anyOf groups. */
export function params(
  properties: Record<string, Schema>,
  required: string[] = [],
  options: { anyOf?: Schema[]; allOf?: Schema[] } = {},
): ParamSchema {
  const s: ParamSchema = { type: 'object', additionalProperties: false, properties };
  if (required.length > 0) s.required = required;
  if (options.anyOf) s.anyOf = options.anyOf;
  if (options.allOf) s.allOf = options.allOf;
  return s;
}

/** Integer-or-list-of-integers (HTTP status codes, exit codes). */
export function intOrIntList(description: string, extra: Extra = {}): Schema {
  return {
    description,
    anyOf: [
      { type: 'integer', ...extra },
      { type: 'array', items: { type: 'integer', ...extra }, minItems: 1 },
    ],
  };
}

/** Kubernetes DNS-1123 label (namespaces, Helm releases). */
export const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** Kubernetes DNS-1123 subdomain (most object names, node names). */
export const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$';
/** Proxmox VM name / node name: a DNS name. */
export const HOSTNAME = '^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$';
const IPV4_PART = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const IPV4 = `${IPV4_PART}(?:\\.${IPV4_PART}){3}`;
const IPV6 = '[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}';
/** A DNS name whose last label is not all digits (so `10.10.1.300` is neither an address nor a name). */
const DNS_NAME = '(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
/**
 * Exactly one machine: an IPv4 or IPv6 address or a DNS name. No list (`a,b` would make talosctl
 * act on several nodes at once), no spaces, nothing starting with `-`.
 */
export const HOST_OR_IP = `^(?:${IPV4}|${IPV6}|${DNS_NAME})$`;
/** One machine with an optional port: `10.10.1.10`, `cp1.lab:50000`, `[fd00::1]:50000`. */
export const HOST_OR_IP_PORT = `^(?:${IPV4}|${DNS_NAME}|\\[${IPV6}\\]|${IPV6})(?::[0-9]{1,5})?$`;
/**
 * Not an option: a value a tool gets as a positional argument (a chart, a path) must not start
 * with `-`, or the tool would read it as a flag.
 */
export const NOT_AN_OPTION = '^[^-\\s]';
/** Kubernetes label key: [prefix/]name (a leading `-` would make `kubectl label` read a flag). */
export const LABEL_KEY = '^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$';
/** Kubernetes label value: empty, or alphanumerics with - _ . inside. */
export const LABEL_VALUE = '^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$';
/** IPv4 or IPv6 address with a prefix length, e.g. `10.10.1.10/24`. */
export const CIDR = '^[0-9A-Fa-f:.]+/[0-9]{1,3}$';
