import { ActionFailedError } from '../errors.js';
import type { ActionRuntime } from './action-impl.js';

export interface ResolvedEndpoint {
  /** Base URL without a trailing slash. */
  url: string;
  /** Authentication headers from the endpoint's configured secret. */
  headers: Record<string, string>;
}

/**
 * How an endpoint's `secret` is sent when config gives no `auth`. PagerDuty's secret is the
 * routing key (it goes in the event body, never in a header); Slack's credential is its URL.
 * Jira: Basic email:token when `user` is set, else Bearer (a Data Center PAT).
 */
const DEFAULT_AUTH: Record<string, string> = {
  n8n: 'header',
  github: 'bearer',
  grafana: 'bearer',
  pagerduty: 'routing_key',
  slack: 'none',
};

/** Well-known public base URLs used when config gives none. */
const DEFAULT_URLS: Record<string, string> = {
  pagerduty: 'https://events.pagerduty.com',
  github: 'https://api.github.com',
};

function notConfigured(name: string, what: string): ActionFailedError {
  return new ActionFailedError(`endpoint "${name}" ${what}`, {
    errorCode: 'endpoint_not_configured',
    retryable: false,
    hint: `set endpoints.${name}.url (or url_secret) and its secret in config.yaml`,
  });
}

/**
 * A service from config `endpoints`: its URL (or the secret holding it, for Slack) and the auth
 * header its secret gives. Credentials only ever come from secrets (rt.secret masks them).
 */
export async function resolveEndpoint(rt: ActionRuntime, name: string): Promise<ResolvedEndpoint> {
  const ep = rt.config.endpoints[name];
  if (!ep && !DEFAULT_URLS[name]) {
    throw new ActionFailedError(`no endpoint "${name}" in config.yaml`, {
      errorCode: 'endpoint_not_configured',
      retryable: false,
      hint: `add endpoints.${name}.url (and its secret) to config.yaml`,
    });
  }
  let url = ep?.url;
  if (ep?.url_secret) url = await rt.secret(ep.url_secret);
  url ??= DEFAULT_URLS[name];
  if (!url) throw notConfigured(name, 'has no url or url_secret');
  const headers: Record<string, string> = {};
  if (ep?.secret) {
    const value = await rt.secret(ep.secret);
    const auth = ep.auth ?? DEFAULT_AUTH[name] ?? (name === 'jira' && !ep.user ? 'bearer' : name === 'jira' ? 'basic' : 'bearer');
    switch (auth) {
      case 'bearer':
        headers.authorization = `Bearer ${value}`;
        break;
      case 'token':
        headers.authorization = `token ${value}`;
        break;
      case 'basic':
        headers.authorization = `Basic ${Buffer.from(`${ep.user ?? ''}:${value}`).toString('base64')}`;
        break;
      case 'header':
        headers[(ep.header ?? (name === 'n8n' ? 'X-N8N-API-KEY' : 'X-API-Key')).toLowerCase()] = value;
        break;
      default:
        // none / routing_key: the secret is not a header (endpointSecret gives it to the caller).
        break;
    }
  }
  return { url: url.replace(/\/+$/, ''), headers };
}

/** The configured secret value for an endpoint (PagerDuty routing key), or undefined. */
export async function endpointSecret(rt: ActionRuntime, name: string): Promise<string | undefined> {
  const ep = rt.config.endpoints[name];
  return ep?.secret ? rt.secret(ep.secret) : undefined;
}

/** For dry-run plans: `<endpoints.NAME>` (the URL is only known, and may be secret, at run time). */
export function endpointPlaceholder(name: string): string {
  return `<endpoints.${name}>`;
}
