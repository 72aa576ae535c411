/**
 * The n8n public API's request-body schemas (upstream/n8n-public-api.json: n8n 2.41.3's published
 * OpenAPI description), checked as n8n checks them: express-openapi-validator 5.5.3 runs ajv on
 * `{body}`, stops at the first error, refuses readOnly properties ("is read-only") and answers
 * 400 {message: "request/body..."}.
 */
import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { forAjv } from './upstream-schemas.js';

const require = createRequire(import.meta.url);

interface ApiDigest {
  note: string;
  source: { package: string; version: string; file: string };
  operations: Record<string, { operationId: string; body_required: boolean; body: Record<string, unknown> | null }>;
}

export const N8N_API_DIGEST = require('./upstream/n8n-public-api.json') as ApiDigest;

/** The workflow operations whose bodies n8n validates. */
export type N8nOperation = 'createWorkflow' | 'updateWorkflow' | 'activateWorkflow' | 'deactivateWorkflow';

let ajv: Ajv | undefined;
const compiled = new Map<N8nOperation, ValidateFunction | null>();

function getAjv(): Ajv {
  if (!ajv) {
    // strict: false and no allErrors, as express-openapi-validator configures ajv.
    ajv = new Ajv({ strict: false, allErrors: false, validateSchema: false });
    ajv.removeKeyword('readOnly');
    ajv.addKeyword({
      keyword: 'readOnly',
      errors: true,
      validate: function readOnly(schema: boolean, data: unknown): boolean {
        if (schema !== true || data === undefined || data === null) return true;
        (readOnly as unknown as { errors: Array<Partial<ErrorObject>> }).errors = [{ keyword: 'readOnly', message: 'is read-only', params: {} }];
        return false;
      },
    });
    // The spec's own string formats: checked loosely, as n8n registers them.
    ajv.addFormat('date-time', true);
    ajv.addFormat('jsonString', (s: string) => {
      try {
        JSON.parse(s);
        return true;
      } catch {
        return false;
      }
    });
  }
  return ajv;
}

function validatorOf(op: N8nOperation): ValidateFunction | null {
  if (!compiled.has(op)) {
    const entry = Object.values(N8N_API_DIGEST.operations).find((o) => o.operationId === op);
    if (!entry) throw new Error(`n8n digest has no operation ${op}`);
    const schema = entry.body
      ? { type: 'object', properties: { body: forAjv(entry.body) }, ...(entry.body_required ? { required: ['body'] } : {}) }
      : null;
    compiled.set(op, schema ? getAjv().compile(schema) : null);
  }
  return compiled.get(op) ?? null;
}

/**
 * n8n's answer to a request body for `op`: undefined when valid, else the message n8n sends
 * (e.g. "request/body must NOT have additional properties"). An operation without a body
 * schema (deactivate) accepts any body.
 */
export function n8nBodyError(op: N8nOperation, body: unknown): string | undefined {
  const validate = validatorOf(op);
  if (!validate) return undefined;
  // express parses an empty body as {}; the validator sees that.
  const data = { body: body === undefined ? {} : structuredClone(body) };
  if (validate(data)) return undefined;
  return getAjv().errorsText(validate.errors, { dataVar: 'request' });
}
