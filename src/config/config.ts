import { existsSync } from 'node:fs';
import type { ErrorObject } from 'ajv';
import { DefinitionInvalidError, EnvironmentError, UsageError } from '../errors.js';
import { loadDocument } from '../definitions/load-document.js';
import { describeAjvError, selectAjvErrors, validatorFor } from '../definitions/schemas.js';

export type ToolName = 'pvesh' | 'talosctl' | 'kubectl' | 'helm';
export const TOOL_NAMES: readonly ToolName[] = ['pvesh', 'talosctl', 'kubectl', 'helm'];

export interface ClusterConfig {
  kubeconfig?: string;
  context?: string;
  talosconfig?: string;
  endpoint?: string;
  control_plane_nodes?: string[];
  worker_nodes?: string[];
}

export interface EndpointConfig {
  url?: string;
  url_secret?: string;
  secret?: string;
  auth?: 'none' | 'bearer' | 'basic' | 'header' | 'token' | 'routing_key';
  header?: string;
  user?: string;
  project?: string;
  timeout_seconds?: number;
}

/** proxmox.api: the REST API over HTTPS with an API token from a secret. */
export interface ProxmoxApiConfig {
  url: string;
  /** Name of the secret whose value is USER@REALM!TOKENID=SECRET. */
  token_secret: string;
  /** CA to verify the node's certificate with (instead of the system's). */
  ca_file?: string;
  /** SHA-256 fingerprint the node's certificate must have (instead of a CA). */
  fingerprint?: string;
  timeout_seconds?: number;
}

/** config.yaml as written by the operator (schemas/config.schema.json). */
export interface ConfigFile {
  tools?: Partial<Record<ToolName, string[]>> & { helm_major?: 3 | 4 };
  clusters?: Record<string, ClusterConfig>;
  proxmox?: {
    node?: string;
    fallback_node?: string;
    storage?: string;
    bridge?: string;
    template_vmid?: number;
    task_poll_seconds?: number;
    gateway?: string;
    load_balancer_vmid?: number;
    /** The HTTPS API transport (used instead of pvesh when set). */
    api?: ProxmoxApiConfig;
  };
  endpoints?: Partial<Record<string, EndpointConfig>>;
  defaults?: {
    action_timeout_seconds?: number;
    http_timeout_seconds?: number;
    kill_grace_seconds?: number;
    max_parallel?: number;
    output_tail_bytes?: number;
    http_max_retries?: number;
    max_retry_after_seconds?: number;
  };
  serve?: {
    listen?: string;
    token_secret?: string;
    github_secret?: string;
    max_body_bytes?: number;
    /** Runs serve drives at the same time (default 4). */
    max_running?: number;
    /** Runs created by serve that may wait for a slot (default 256); beyond it serve answers 503. */
    max_queued?: number;
    /** How long a stopping serve lets the runs it drives end before pausing them (default 20). */
    stop_grace_seconds?: number;
  };
  queue?: { url: string; lock_seconds?: number; contractors?: string[] };
}

/** Queue mode: where the Redis queue is (url checked) and how long a job's hold lasts. */
export interface QueueConfig {
  url: string;
  /** A dead worker's job is handed to another worker after about this long. */
  lockSeconds: number;
  /** Contractors whose actions are jobs on their own queue (cortex worker --contractor NAME); the others run where the execution is driven. */
  contractors: string[];
}

/** Config after defaults and environment overrides: what the engine and adapters read. */
export interface ResolvedConfig {
  tools: Record<ToolName, string[]>;
  helmMajor?: 3 | 4;
  clusters: Record<string, ClusterConfig>;
  proxmox: NonNullable<ConfigFile['proxmox']>;
  endpoints: Partial<Record<string, EndpointConfig>>;
  defaults: {
    actionTimeoutSeconds: number;
    httpTimeoutSeconds: number;
    killGraceSeconds: number;
    maxParallel: number;
    outputTailBytes: number;
    httpMaxRetries: number;
    maxRetryAfterSeconds: number;
    /** Longest load test run_performance_test makes (set by the lab; unset: as asked). */
    maxLoadTestSeconds?: number;
  };
  serve: NonNullable<ConfigFile['serve']>;
  /** Present in queue mode (config `queue:` or CORTEX_QUEUE_URL). */
  queue?: QueueConfig;
  /** Where it came from, for doctor and error messages. */
  source: string | null;
}

const ENV_OVERRIDES: Record<ToolName, string> = {
  pvesh: 'CORTEX_PVESH',
  talosctl: 'CORTEX_TALOSCTL',
  kubectl: 'CORTEX_KUBECTL',
  helm: 'CORTEX_HELM',
};

/** Splits an override like `ssh root@pve01 pvesh` into words (no shell: whitespace only, quotes respected). */
export function splitWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let has = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      has = true;
    } else {
      cur += c;
      has = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote`);
  if (has || cur) out.push(cur);
  return out;
}

export function resolveConfig(file: ConfigFile, env: Record<string, string | undefined>, source: string | null): ResolvedConfig {
  const tools = {} as Record<ToolName, string[]>;
  for (const t of TOOL_NAMES) {
    const override = env[ENV_OVERRIDES[t]];
    try {
      tools[t] = override ? splitWords(override) : (file.tools?.[t] ?? [t]);
    } catch (e) {
      throw new EnvironmentError(`${ENV_OVERRIDES[t]}="${override}": ${(e as Error).message}`, { hint: 'quote each word that contains spaces, e.g. CORTEX_PVESH="ssh root@pve01 pvesh"' });
    }
    if (tools[t].length === 0) throw new EnvironmentError(`${ENV_OVERRIDES[t]} is set but empty`);
  }
  const d = file.defaults ?? {};
  const queue = resolveQueue(file, env);
  return {
    tools,
    helmMajor: file.tools?.helm_major,
    clusters: file.clusters ?? {},
    proxmox: file.proxmox ?? {},
    endpoints: file.endpoints ?? {},
    defaults: {
      actionTimeoutSeconds: d.action_timeout_seconds ?? 600,
      httpTimeoutSeconds: d.http_timeout_seconds ?? 30,
      killGraceSeconds: d.kill_grace_seconds ?? 5,
      maxParallel: d.max_parallel ?? 4,
      outputTailBytes: d.output_tail_bytes ?? 2048,
      httpMaxRetries: d.http_max_retries ?? 3,
      maxRetryAfterSeconds: d.max_retry_after_seconds ?? 60,
    },
    serve: file.serve ?? {},
    ...(queue ? { queue } : {}),
    source,
  };
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}

/**
 * Checks a queue URL: redis:// or rediss://, a host, an optional port and database number.
 * Throws UsageError (exit 2) naming where it came from.
 */
export function checkQueueUrl(url: string, where: string): string {
  const bad = (why: string) =>
    new UsageError(`${where} is not a Redis URL (${why}): "${redactUrl(url)}"`, { hint: 'e.g. redis://127.0.0.1:6379/0 or rediss://user:password@redis.example:6380/1' });
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad('it does not parse as a URL');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw bad(`scheme ${u.protocol.replace(/:$/, '')}, expected redis or rediss`);
  if (!u.hostname) throw bad('no host');
  if (u.pathname && u.pathname !== '/' && !/^\/[0-9]{1,5}$/.test(u.pathname)) throw bad('the path must be a database number, like /0');
  if (u.search || u.hash) throw bad('no query or fragment is allowed');
  return url;
}

function resolveQueue(file: ConfigFile, env: Record<string, string | undefined>): QueueConfig | undefined {
  const fromEnv = env.CORTEX_QUEUE_URL;
  if (fromEnv !== undefined && fromEnv !== '') return { url: checkQueueUrl(fromEnv, 'CORTEX_QUEUE_URL'), lockSeconds: file.queue?.lock_seconds ?? 30, contractors: file.queue?.contractors ?? [] };
  if (!file.queue) return undefined;
  return { url: checkQueueUrl(file.queue.url, 'config.yaml queue.url'), lockSeconds: file.queue.lock_seconds ?? 30, contractors: file.queue.contractors ?? [] };
}

/** Reads and validates <root>/config.yaml (absent: defaults). Throws DefinitionInvalidError. */
export async function loadConfig(path: string, env: Record<string, string | undefined>, displayPath = 'config.yaml'): Promise<ResolvedConfig> {
  if (!existsSync(path)) return resolveConfig({}, env, null);
  const doc = await loadDocument(path, displayPath);
  const data = doc.data ?? {};
  const validate = validatorFor('config');
  if (!validate(data)) {
    throw new DefinitionInvalidError(
      selectAjvErrors(validate.errors as ErrorObject[]).map((e) => {
        const d = describeAjvError(e);
        return doc.issueAt(d.pointer, d.message);
      }),
      { code: 'CORTEX_CONFIG_INVALID', summary: `${displayPath} is not a valid configuration:` },
    );
  }
  return resolveConfig(data as ConfigFile, env, path);
}
