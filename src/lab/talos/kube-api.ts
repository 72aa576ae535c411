import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { labPaths, type CallContext } from '../lab-dir.js';

/**
 * The lab Kubernetes API server as the stand-ins reach it: plain JSON over HTTP on 127.0.0.1,
 * with the same bearer token the kubectl credential plugin produces
 * (`lab.<action>.<attempt>.<execution>`), so the server can attribute (and fail) the calls.
 */
export interface LabKube {
  url: string;
  token: string;
}

export interface KubeReply {
  /** 0 when the server could not be reached. */
  status: number;
  body: unknown;
  text: string;
}

/** The API server URL from <lab>/services.json (or the URL given), or undefined when none runs. */
export function labKube(ctx: CallContext, url?: string): LabKube | undefined {
  let base = url;
  if (!base) {
    try {
      const services = JSON.parse(readFileSync(labPaths(ctx.lab).services, 'utf8')) as { urls?: Record<string, string> };
      base = services.urls?.kubernetes;
    } catch {
      base = undefined;
    }
  }
  if (!base) return undefined;
  return { url: base.replace(/\/+$/, ''), token: `lab.${ctx.actionId ?? 'none'}.${ctx.attempt}.${ctx.executionId ?? 'none'}` };
}

/**
 * One request to the lab API server. Over node:http for the server's plain http:// face (what
 * services.json gives the stand-ins): fetch would load undici, most of a short stand-in's own CPU
 * (talosctl apply-config ~60 ms of ~250). Same replies and failure texts as fetch (`fetch failed`,
 * and the timeout's abort message), which helm's `Kubernetes cluster unreachable: ...` shows.
 */
export async function kubeRequest(k: LabKube, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<KubeReply> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${k.token}`,
    accept: 'application/json',
    'user-agent': 'cortex-lab-standin',
    ...(body !== undefined ? { 'content-type': contentType } : {}),
  };
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  try {
    const { status, text } = k.url.startsWith('http:') ? await httpRequest(`${k.url}${path}`, method, headers, payload) : await fetchRequest(`${k.url}${path}`, method, headers, payload);
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status, body: parsed, text };
  } catch (e) {
    return { status: 0, body: undefined, text: (e as Error).message };
  }
}

const TIMEOUT_MS = 10_000;

async function fetchRequest(url: string, method: string, headers: Record<string, string>, payload: string | undefined): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method, headers, ...(payload !== undefined ? { body: payload } : {}), signal: AbortSignal.timeout(TIMEOUT_MS) });
  return { status: res.status, text: await res.text() };
}

function httpRequest(url: string, method: string, headers: Record<string, string>, payload: string | undefined): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const body = payload === undefined ? undefined : Buffer.from(payload, 'utf8');
    const req = request(url, { method, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', () => {
        clearTimeout(timer);
        fail(new TypeError('fetch failed'));
      });
    });
    // AbortSignal.timeout's reason, as fetch reports it.
    const timer = setTimeout(() => {
      req.destroy();
      fail(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    }, TIMEOUT_MS);
    timer.unref();
    req.on('error', () => {
      clearTimeout(timer);
      fail(new TypeError('fetch failed'));
    });
    req.end(body);
  });
}

/** Collection path of an object kind the stand-ins write. */
export function collectionPath(kind: string, namespace?: string): string {
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  switch (kind) {
    case 'Namespace':
      return '/api/v1/namespaces';
    case 'Node':
      return '/api/v1/nodes';
    case 'Service':
      return `/api/v1${ns}/services`;
    case 'ConfigMap':
      return `/api/v1${ns}/configmaps`;
    case 'Secret':
      return `/api/v1${ns}/secrets`;
    case 'Deployment':
      return `/apis/apps/v1${ns}/deployments`;
    case 'StatefulSet':
      return `/apis/apps/v1${ns}/statefulsets`;
    case 'DaemonSet':
      return `/apis/apps/v1${ns}/daemonsets`;
    default:
      throw new Error(`no API path for kind ${kind}`);
  }
}

export interface MinimalObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: unknown;
  status?: unknown;
}

export function objectPath(o: Pick<MinimalObject, 'kind' | 'metadata'>): string {
  return `${collectionPath(o.kind, o.metadata.namespace)}/${encodeURIComponent(o.metadata.name)}`;
}

/**
 * Creates an object (POST JSON); when it exists already (409), updates its labels, annotations
 * and spec with a JSON merge patch. Returns the final HTTP status.
 */
export async function createOrUpdate(k: LabKube, o: MinimalObject): Promise<KubeReply> {
  const created = await kubeRequest(k, 'POST', collectionPath(o.kind, o.metadata.namespace), o);
  if (created.status !== 409) return created;
  const patch: Record<string, unknown> = { metadata: { labels: o.metadata.labels ?? {}, annotations: o.metadata.annotations ?? {} } };
  if (o.spec !== undefined) patch.spec = o.spec;
  return kubeRequest(k, 'PATCH', objectPath(o), patch, 'application/merge-patch+json');
}

/** DELETE; 404 counts as deleted. */
export async function deleteObject(k: LabKube, o: Pick<MinimalObject, 'kind' | 'metadata'>): Promise<KubeReply> {
  return kubeRequest(k, 'DELETE', objectPath(o));
}
