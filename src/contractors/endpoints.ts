import { ActionFailedError } from '../errors.js';
import type { ActionRuntime } from './action-impl.js';

export interface ResolvedEndpoint {
  /** Base URL without a trailing slash. */
  url: string;
  /** Authentication headers from the endpoint's configured secret. */
  headers: Record<string, string>;
}

const DEFAULT_AUTH: Record<string, string> = {
  n8n: 'header',
  github: 'bearer',
  jira: 'basic',
  grafana: 'bearer',
};

/**
 * A service from config `endpoints`: its URL (or the secret holding it, for Slack) and the auth
 * header its secret gives. Credentials only ever come from secrets.
 */
export async function resolveEndpoint(rt: ActionRuntime, name: string): Promise<ResolvedEndpoint> {
  const ep = rt.config.endpoints[name];
  if (!ep) {
    throw new ActionFailedError(`no endpoint "${name}" in config.yaml`, {
      errorCode: 'endpoint_not_configured',
      retryable: false,
      hint: `add endpoints.${name}.url (and its secret) to config.yaml`,
    });
  }
  let url = ep.url;
  if (ep.url_secret) url = await rt.secret(ep.url_secret);
  if (!url) {
    throw new ActionFailedError(`endpoint "${name}" has no url or url_secret`, { errorCode: 'endpoint_not_configured', retryable: false });
  }
  const headers: Record<string, string> = {};
  if (ep.secret) {
    const value = await rt.secret(ep.secret);
    const auth = ep.auth ?? DEFAULT_AUTH[name] ?? 'bearer';
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
