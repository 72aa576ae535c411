/**
 * Request-body schemas the services publish, for the lab services and for the plan checks:
 * GitHub REST (upstream/github-rest.json) and PagerDuty Events v2 (upstream/pagerduty-events-v2.json).
 * Each check returns the problems as `<path> <message>` lines; none means valid.
 */
import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

const require = createRequire(import.meta.url);

interface GithubDigest {
  note: string;
  source: Record<string, string>;
  operations: Record<string, { operationId: string; body: Record<string, unknown> }>;
}

interface PagerdutyDigest {
  note: string;
  source: Record<string, string>;
  enqueue: Record<string, unknown>;
}

export const GITHUB_REST_DIGEST = require('./upstream/github-rest.json') as GithubDigest;
export const PAGERDUTY_DIGEST = require('./upstream/pagerduty-events-v2.json') as PagerdutyDigest;

export type GithubOperation = 'repos/create-deployment' | 'repos/create-deployment-status' | 'issues/create' | 'repos/create-commit-comment';

let ajv: Ajv | undefined;
const compiled = new Map<string, ValidateFunction>();

function getAjv(): Ajv {
  // OpenAPI 3.0 schemas: nullable, formats as annotations (GitHub's "uri", PagerDuty's "url").
  ajv ??= new Ajv({ strict: false, allErrors: true, validateFormats: false });
  return ajv;
}

/**
 * An OpenAPI 3.0 schema as ajv takes it: `nullable` without a `type` (OpenAPI's "any value, or
 * null") is dropped, since ajv refuses it there.
 */
export function forAjv(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(forAjv);
  if (!schema || typeof schema !== 'object') return schema;
  const s = schema as Record<string, unknown>;
  return Object.fromEntries(Object.entries(s).filter(([k]) => !(k === 'nullable' && s.type === undefined)).map(([k, v]) => [k, forAjv(v)]));
}

function validator(key: string, schema: () => Record<string, unknown>): ValidateFunction {
  let v = compiled.get(key);
  if (!v) {
    v = getAjv().compile(forAjv(schema()) as Record<string, unknown>);
    compiled.set(key, v);
  }
  return v;
}

/** One line per ajv error: the JSON pointer of the value (or the missing property) and the message. */
export function ajvProblems(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => {
    const at = e.keyword === 'required' ? `${e.instancePath}/${String((e.params as { missingProperty: string }).missingProperty)}` : e.instancePath;
    const allowed = e.keyword === 'enum' ? `: ${(e.params as { allowedValues: unknown[] }).allowedValues.map((x) => JSON.stringify(x)).join(', ')}` : '';
    return `${at || '/'} ${e.keyword === 'required' ? 'is required' : `${e.message ?? 'is invalid'}${allowed}`}`;
  });
}

/** Problems of a GitHub request body against the operation's published schema. */
export function githubBodyProblems(op: GithubOperation, body: unknown): string[] {
  const validate = validator(`github:${op}`, () => {
    const entry = Object.values(GITHUB_REST_DIGEST.operations).find((o) => o.operationId === op);
    if (!entry) throw new Error(`GitHub digest has no operation ${op}`);
    return entry.body;
  });
  const problems = validate(body) ? [] : ajvProblems(validate.errors);
  // What the published description says in words.
  const b = body as Record<string, unknown> | null;
  if (op === 'repos/create-deployment-status' && typeof b?.description === 'string' && b.description.length > 140) problems.push('/description is longer than 140 characters');
  return problems;
}

/**
 * Problems of a PagerDuty Events v2 event: the published enqueue schema, then what PagerDuty's
 * documentation adds (routing_key of 32 characters, payload for trigger, dedup_key for
 * acknowledge/resolve, lengths).
 */
export function pagerdutyEventProblems(event: unknown): string[] {
  const validate = validator('pagerduty:enqueue', () => PAGERDUTY_DIGEST.enqueue);
  const problems = validate(event) ? [] : ajvProblems(validate.errors);
  if (!event || typeof event !== 'object' || Array.isArray(event)) return problems.length ? problems : ['/ must be object'];
  const ev = event as Record<string, unknown>;
  if (typeof ev.routing_key === 'string' && ev.routing_key.length !== 32) problems.push("/routing_key Length of 'routing_key' is incorrect (should be 32 characters)");
  if (ev.event_action === 'trigger') {
    const p = ev.payload as Record<string, unknown> | undefined;
    if (!p || typeof p !== 'object') problems.push('/payload is required for trigger');
    else if (typeof p.summary === 'string' && p.summary.length > 1024) problems.push('/payload/summary is longer than 1024 characters');
  }
  if ((ev.event_action === 'acknowledge' || ev.event_action === 'resolve') && (typeof ev.dedup_key !== 'string' || !ev.dedup_key)) problems.push(`/dedup_key is required for ${ev.event_action}`);
  if (typeof ev.dedup_key === 'string' && ev.dedup_key.length > 255) problems.push('/dedup_key is longer than 255 characters');
  return problems;
}
