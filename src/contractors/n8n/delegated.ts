/**
 * Actions n8n performs (CI steps, forensics, incident records, DNS): `POST <n8n>/webhook/cortex/<action>`
 * with `{execution_id, workflow_id, action_id, parameters}`; the n8n workflow behind that path
 * answers with the action's outputs as JSON ("respond with last node" or a Respond to Webhook
 * node). Declared outputs missing from the answer are null. These actions are idempotent on the
 * n8n side, so 429/5xx and refused connections are retried (Retry-After honoured).
 */
import { ActionFailedError, oneLine } from '../../errors.js';
import type { HttpResponse } from '../../ports/http-client.js';
import type { ActionImpl, ActionRuntime } from '../action-impl.js';
import { endpointPlaceholder, resolveEndpoint } from '../endpoints.js';
import { errorMessageOf, isSuccess, sendWithRetries, tryJson } from '../http-util.js';
import { N8N_SPECS } from './specs.js';
import { delegatedWebhookPath } from './delegated-actions.js';
import { webhookUrl } from './n8n-api.js';

/** n8n's answer in "Immediately" mode: the workflow is misconfigured for cortex. */
const STARTED = 'Workflow was started';

function outputsOf(action: string): string[] {
  const spec = N8N_SPECS.find((s) => s.name === action);
  if (!spec) throw new Error(`no n8n-contractor spec for ${action}`);
  return Object.keys(spec.outputs);
}

/** The JSON object n8n answered: an object, or the first item of an array ("all entries" mode). */
function answerObject(json: unknown): Record<string, unknown> | undefined {
  let v = json;
  if (Array.isArray(v)) v = v[0];
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    // An item as n8n passes it between nodes: {json: {...}}.
    if (Object.keys(o).length === 1 && o.json && typeof o.json === 'object' && !Array.isArray(o.json)) return o.json as Record<string, unknown>;
    return o;
  }
  return undefined;
}

function failureOf(action: string, res: HttpResponse): ActionFailedError {
  const msg = errorMessageOf(res.body);
  // n8n's own 404 says the webhook "is not registered"; any other 404 is the workflow's answer.
  if (res.status === 404 && /not registered/i.test(msg)) {
    return new ActionFailedError(`n8n has no active workflow for ${action} (POST /webhook/${delegatedWebhookPath(action)} answered 404): ${msg}`, {
      errorCode: 'n8n_webhook_not_registered',
      retryable: false,
      hint: `import the n8n workflow with a POST Webhook node on path "${delegatedWebhookPath(action)}" and activate it`,
    });
  }
  return new ActionFailedError(`n8n ${action} failed (${res.status}): ${msg}`, {
    errorCode: res.status === 429 ? 'api_rate_limit' : res.status >= 500 ? 'n8n_workflow_failed' : 'n8n_request_rejected',
    retryable: res.status === 429 || res.status >= 500,
  });
}

/**
 * Outputs that describe the state before the action, which its compensation restores. n8n looks
 * and changes in one request, so cortex keeps the first answer's value: a re-run's answer would
 * describe what the earlier attempt left. (A crash between n8n's change and its answer is not
 * covered; the request carries execution_id and action_id for an n8n workflow that keys on them.)
 */
const BEFORE_OUTPUTS: Record<string, readonly string[]> = {
  update_dns_records: ['previous_records'],
};

/** Checks an action's outputs beyond their presence (e.g. a failed security scan fails the action). */
type PostCheck = (rt: ActionRuntime, outputs: Record<string, unknown>) => void;

const POST_CHECKS: Record<string, PostCheck> = {
  security_scan(rt, out) {
    const failOn = (rt.params.fail_on_vulnerabilities as boolean | undefined) ?? true;
    if (out.passed === false && failOn) {
      throw new ActionFailedError(
        `security scan of ${String(rt.params.image)} found ${String(out.vulnerabilities ?? 'some')} vulnerabilities at the threshold ${JSON.stringify(rt.params.severity_threshold ?? 'default')}: ${JSON.stringify(out.results)}${out.report_url ? ` (report ${String(out.report_url)})` : ''}`,
        { errorCode: 'vulnerabilities_found', retryable: false },
      );
    }
  },
};

export function delegatedAction(action: string): ActionImpl {
  const outputs = outputsOf(action);
  const path = delegatedWebhookPath(action);
  return {
    plan(params, ctx) {
      return [
        {
          kind: 'request',
          method: 'POST',
          url: webhookUrl(endpointPlaceholder('n8n'), path),
          body: { execution_id: ctx.executionId, workflow_id: ctx.workflowId, action_id: ctx.actionId, parameters: params },
        },
      ];
    },
    async run(rt) {
      const ep = await resolveEndpoint(rt, 'n8n');
      const body = { execution_id: rt.executionId, workflow_id: rt.workflowId, action_id: rt.actionId, parameters: rt.params };
      const res = await sendWithRetries(
        rt,
        {
          method: 'POST',
          url: webhookUrl(ep.url, path),
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify(body),
        },
        { retryTransport: 'all' },
      );
      if (!isSuccess(res.status)) throw failureOf(action, res);
      const obj = answerObject(tryJson(res.body));
      if (!obj) {
        throw new ActionFailedError(`n8n ${action}: the answer is not a JSON object: ${oneLine(res.body, 200)}`, {
          errorCode: 'n8n_bad_response',
          retryable: false,
          hint: `the Webhook node on "${path}" must respond with the last node's JSON (or a Respond to Webhook node)`,
        });
      }
      const present = outputs.filter((k) => k in obj);
      if (present.length === 0) {
        // {code, message, hint}: an n8n error answered with 2xx; {"message":"Workflow was started"}: wrong response mode.
        if (typeof obj.message === 'string' && (typeof obj.code === 'number' || typeof obj.code === 'string')) {
          throw new ActionFailedError(`n8n ${action} failed: ${errorMessageOf(res.body)}`, { errorCode: 'n8n_workflow_failed', retryable: false });
        }
        if (obj.message === STARTED) {
          throw new ActionFailedError(`n8n ${action}: the workflow answered "${STARTED}" instead of its outputs`, {
            errorCode: 'n8n_bad_response',
            retryable: false,
            hint: `set the Webhook node on "${path}" to respond "When last node finishes" (or use a Respond to Webhook node)`,
          });
        }
      }
      const missing = outputs.filter((k) => !(k in obj));
      if (missing.length) rt.debug(`n8n ${action}: answer lacks ${missing.join(', ')} (recorded as null)`);
      const out = Object.fromEntries(outputs.map((k) => [k, obj[k] ?? null]));
      for (const key of BEFORE_OUTPUTS[action] ?? []) {
        const answered = out[key];
        if (answered !== null && answered !== undefined) out[key] = await rt.remember(key, async () => answered);
      }
      POST_CHECKS[action]?.(rt, out);
      return out;
    },
  };
}
