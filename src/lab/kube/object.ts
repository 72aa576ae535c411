/** Kubernetes objects as the lab stores them (plain JSON), and the Status errors it answers with. */
import { randomUUID } from 'node:crypto';

/* eslint-disable @typescript-eslint/no-explicit-any -- objects are schemaless JSON, as on a real API server */
export interface KMeta {
  name: string;
  namespace?: string;
  generateName?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: any[];
  [k: string]: any;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KObject {
  apiVersion?: string;
  kind?: string;
  metadata: KMeta;
  spec?: any;
  status?: any;
  [k: string]: any;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** RFC 3339 with second precision, like metav1.Time. */
export function k8sTime(ms: number = Date.now()): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function newUid(): string {
  return randomUUID();
}

const SAFE = 'bcdfghjklmnpqrstvwxz2456789';

/** Random suffix in the alphabet Kubernetes uses for generated names. */
export function randomSuffix(n = 5): string {
  let s = '';
  for (let i = 0; i < n; i++) s += SAFE[Math.floor(Math.random() * SAFE.length)];
  return s;
}

/** Deterministic hash (fnv-1a 32 bit), encoded like pod-template-hash. */
export function templateHash(value: unknown, collision = 0): string {
  const text = canonicalJson(value) + (collision ? String(collision) : '');
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // rand.SafeEncodeString(fmt.Sprint(hash)), as the deployment controller does.
  return [...String(h)].map((c) => SAFE[c.charCodeAt(0) % SAFE.length]).join('');
}

/** JSON with sorted keys, nulls and empty objects dropped (so equal templates compare equal). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(normalize(value) ?? null);
}

export function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => normalize(v) ?? null);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = normalize(value[k]);
      if (v === undefined || v === null) continue;
      if (isPlainObject(v) && Object.keys(v).length === 0) continue;
      out[k] = v;
    }
    return out;
  }
  return value;
}

export function deepEqualNormalized(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

// ---- Status errors ----

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: { type?: string; reason?: string; message: string; field?: string }[];
  retryAfterSeconds?: number;
}

/** An API error: answered as a metav1.Status with this code and reason. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }

  toStatus() {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** "deployments.apps" / "namespaces": how API messages name a resource. */
export function qualified(resource: string, group: string): string {
  return group ? `${resource}.${group}` : resource;
}

export function notFound(resource: string, group: string, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualified(resource, group)} "${name}" not found`, {
    name,
    ...(group ? { group } : {}),
    kind: resource,
  });
}

export function alreadyExists(resource: string, group: string, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualified(resource, group)} "${name}" already exists`, {
    name,
    ...(group ? { group } : {}),
    kind: resource,
  });
}

export function conflict(resource: string, group: string, name: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(resource, group)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, ...(group ? { group } : {}), kind: resource },
  );
}

const CAUSE_TYPES: Array<[string, string]> = [
  ['Required value', 'FieldValueRequired'],
  ['Forbidden', 'FieldValueForbidden'],
  ['Too long', 'FieldValueTooLong'],
  ['Unsupported value', 'FieldValueNotSupported'],
  ['Duplicate value', 'FieldValueDuplicate'],
];

/**
 * 422 Invalid, as apierrors.NewInvalid builds it: `<Kind>[.<group>] "<name>" is invalid: <errors>`
 * (one error as is, several as `[a, b]`, duplicates dropped), one cause per field error whose
 * `reason` is the field error type and whose `message` is the error body (`Invalid value: ...`).
 */
export function invalid(kind: string, group: string, name: string, causes: { field: string; message: string; type?: string }[]): ApiError {
  const what = group ? `${kind}.${group}` : kind;
  const msgs = [...new Set(causes.map((c) => `${c.field}: ${c.message}`))];
  const text = msgs.length === 1 ? msgs[0] : `[${msgs.join(', ')}]`;
  return new ApiError(422, 'Invalid', `${what} "${name}" is invalid: ${text}`, {
    name,
    ...(group ? { group } : {}),
    kind,
    causes: causes.map((c) => ({ reason: c.type ?? CAUSE_TYPES.find(([p]) => c.message.startsWith(p))?.[1] ?? 'FieldValueInvalid', message: c.message, field: c.field })),
  });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

export function internalError(message: string): ApiError {
  return new ApiError(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });
}
