/**
 * Shared set-up for the n8n-contractor adapter tests: a config with every endpoint, secrets with
 * recognisable values, a routed FakeHttpClient, and a runner that returns outputs or the error
 * together with the requests made and the attempt record.
 */
import type { ConfigFile } from '../../../../src/config/config.js';
import type { ActionImpl } from '../../../../src/contractors/action-impl.js';
import { IMPLEMENTATIONS } from '../../../../src/contractors/n8n/index.js';
import { N8N_SPECS } from '../../../../src/contractors/n8n/specs.js';
import type { AttemptRecord } from '../../../../src/model/records.js';
import type { HttpRequest, HttpResponse } from '../../../../src/ports/http-client.js';
import { ActionFailedError } from '../../../../src/errors.js';
import { FakeHttpClient, fakeDeps, MapSecretSource } from '../../../fakes/fakes.js';
import { makeRuntime, type ObservationStore } from '../runtime-helper.js';

export const SECRETS = {
  N8N_API_KEY: 'n8n-api-key-SECRET-1111',
  SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0001/B0001/slackSECRETtoken',
  PD_ROUTING_KEY: 'pdroutingkeySECRET00000000000001',
  JIRA_TOKEN: 'jira-token-SECRET-2222',
  GITHUB_TOKEN: 'ghp_githubSECRET3333',
  EMAIL_KEY: 'email-key-SECRET-4444',
  GRAFANA_TOKEN: 'glsa_grafanaSECRET5555',
  TEAMS_WEBHOOK_URL: 'https://example.webhook.office.com/webhookb2/teamsSECRET6666',
};

export const CONFIG: ConfigFile = {
  endpoints: {
    n8n: { url: 'https://n8n.example.com', secret: 'N8N_API_KEY' },
    slack: { url_secret: 'SLACK_WEBHOOK_URL' },
    pagerduty: { secret: 'PD_ROUTING_KEY' },
    jira: { url: 'https://ops.atlassian.net', secret: 'JIRA_TOKEN', user: 'cortex@example.com', project: 'OPS' },
    github: { url: 'https://api.github.com', secret: 'GITHUB_TOKEN' },
    email: { url: 'https://mail.example.com', secret: 'EMAIL_KEY' },
    grafana: { url: 'https://grafana.example.com', secret: 'GRAFANA_TOKEN' },
    prometheus: { url: 'https://prometheus.example.com' },
  },
};

export type Reply = Partial<HttpResponse> | ((req: HttpRequest) => Partial<HttpResponse>);
export type Route = [method: string, url: string | RegExp, ...replies: Reply[]];

export const j = (status: number, body: unknown, headers: Record<string, string> = {}): Partial<HttpResponse> => ({
  status,
  body: typeof body === 'string' ? body : JSON.stringify(body),
  headers: { 'content-type': 'application/json', ...headers },
});

/** FakeHttpClient whose replies are matched on method + URL (exact string or regex); a route's replies are used in order, the last repeating. */
export function routedHttp(routes: Route[]): FakeHttpClient {
  const queues = routes.map(([, , ...replies]) => [...replies]);
  return new FakeHttpClient((req) => {
    const i = routes.findIndex(([m, u]) => m === req.method && (typeof u === 'string' ? req.url === u : u.test(req.url)));
    if (i < 0) return { status: 599, body: `unrouted ${req.method} ${req.url}` };
    const q = queues[i] as Reply[];
    const reply = (q.length > 1 ? q.shift() : q[0]) as Reply;
    return typeof reply === 'function' ? reply(req) : reply;
  });
}

export interface RunResult {
  outputs?: Record<string, unknown>;
  error?: ActionFailedError;
  requests: HttpRequest[];
  attempt: AttemptRecord;
  sleeps: number[];
  debug: string[];
}

export async function impl(action: string): Promise<ActionImpl> {
  const load = IMPLEMENTATIONS[action];
  if (!load) throw new Error(`no implementation of ${action}`);
  return load();
}

export async function runAction(
  action: string,
  params: Record<string, unknown>,
  http: FakeHttpClient,
  options: { config?: ConfigFile; secrets?: Record<string, string>; timeoutMs?: number; simulate?: boolean; actionId?: string; observed?: ObservationStore; attempt?: number } = {},
): Promise<RunResult> {
  const spec = N8N_SPECS.find((s) => s.name === action);
  if (!spec) throw new Error(`no spec ${action}`);
  const deps = fakeDeps({ http, secrets: new MapSecretSource(options.secrets ?? SECRETS) });
  const { rt, attempt, dispose } = makeRuntime(params, {
    spec,
    deps,
    config: options.config ?? CONFIG,
    executionId: 'deploy-20261125-120000-abcd',
    workflowId: 'app-deployment',
    actionId: options.actionId ?? 'notify',
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.simulate ? { simulate: true } : {}),
    ...(options.observed ? { observed: options.observed } : {}),
    ...(options.attempt ? { attempt: options.attempt } : {}),
  });
  const debug: string[] = [];
  (rt as { debug: (m: string) => void }).debug = (m) => debug.push(m);
  try {
    const outputs = await (await impl(action)).run(rt);
    return { outputs, requests: http.requests, attempt, sleeps: deps.clock.sleeps, debug };
  } catch (e) {
    if (!(e instanceof ActionFailedError)) throw e;
    return { error: e, requests: http.requests, attempt, sleeps: deps.clock.sleeps, debug };
  } finally {
    dispose();
  }
}

/** Method + URL of each request, for exact assertions. */
export function calls(requests: HttpRequest[]): string[] {
  return requests.map((r) => `${r.method} ${r.url}`);
}

export function bodyOf(req: HttpRequest | undefined): unknown {
  return req?.body === undefined ? undefined : JSON.parse(req.body);
}

/** Headers without credentials (so assertions can be exact). */
export function publicHeaders(req: HttpRequest | undefined): Record<string, string> {
  const h = { ...(req?.headers ?? {}) };
  for (const k of ['authorization', 'x-n8n-api-key']) if (k in h) h[k] = '<secret>';
  return h;
}

/** Every secret value must be absent from what is recorded (attempt record, error message). */
export function leakedSecrets(...texts: unknown[]): string[] {
  const all = texts.map((t) => (typeof t === 'string' ? t : JSON.stringify(t))).join('\n');
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return Object.entries(SECRETS)
    .filter(([, v]) => all.includes(v) || all.includes(encodeURIComponent(v)) || all.includes(b64(`cortex@example.com:${v}`)))
    .map(([k]) => k);
}
