/**
 * One lab HTTP service: a node:http server on 127.0.0.1 (a free port), request parsing, then in
 * order: failure injection (x-cortex-action/x-cortex-attempt + shouldFail -> 503 in the
 * service's native shape), authentication, switchable rate limiting, the service's handler.
 * Every request is recorded in <lab>/requests.jsonl with lab secret values masked.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { latencyMs, recordRequest, shouldFail } from '../lab-dir.js';
import { readHttpState, updateHttpState } from './state.js';

export interface LabRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
  /** Parsed JSON body; undefined when empty or not JSON (see jsonError). */
  json: unknown;
  jsonError: boolean;
  action?: string;
  execution?: string;
  attempt: number;
}

export interface LabReply {
  status: number;
  headers?: Record<string, string>;
  /** A string is sent as is (content type from headers, default text/plain); anything else as JSON. */
  body?: unknown;
}

export interface ServiceDef {
  name: string;
  /** 503 in the service's own error shape (failure injection). */
  unavailable(req: LabRequest): LabReply;
  /** A reply when the request is not authenticated; undefined when it may go on. */
  authorize?(req: LabRequest): LabReply | undefined;
  /** The service's rate-limit answer, when it has one. */
  throttled?(retryAfter: number, req: LabRequest): LabReply;
  /** Requests exempt from throttling and auth (health endpoints). */
  isOpen?(req: LabRequest): boolean;
  handle(req: LabRequest): LabReply | Promise<LabReply>;
  /** Base latency of a request, ms (scaled by the lab latency). */
  latencyMs?: number;
}

export class LabHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}): LabReply => ({ status, body, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } });
export const text = (status: number, body: string, contentType = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): LabReply => ({
  status,
  body,
  headers: { 'content-type': contentType, ...headers },
});

/** Lab secret values (`lab-secret-<name>-0123456789`) replaced with *** before anything is recorded. */
export function maskLabSecrets(s: string): string {
  return s.replace(/lab-secret-[a-z0-9_.-]+?-0123456789/gi, '***');
}

const MAX_BODY = 5 * 1024 * 1024;

function readBody(req: import('node:http').IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new LabHttpError(413, 'request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Consumes one throttled request of the service; returns its Retry-After, or undefined. */
function takeThrottle(lab: string, service: string): number | undefined {
  // Most requests find no throttle: check without taking the lock or writing.
  if (!readHttpState(lab).throttle[service]) return undefined;
  return updateHttpState(lab, (s) => {
    const t = s.throttle[service];
    if (!t || t.count <= 0) return undefined;
    t.count -= 1;
    if (t.count <= 0) delete s.throttle[service];
    return t.retry_after;
  });
}

export interface StartedService {
  url: string;
  server: Server;
}

export async function startService(lab: string, def: ServiceDef): Promise<StartedService> {
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      let bodyText = '';
      let reply: LabReply;
      let lr: LabRequest | undefined;
      try {
        bodyText = await readBody(req);
        let path: string;
        try {
          path = decodeURIComponent(url.pathname);
        } catch {
          throw new LabHttpError(400, 'malformed URL path');
        }
        let parsed: unknown;
        let jsonError = false;
        if (bodyText.trim()) {
          try {
            parsed = JSON.parse(bodyText);
          } catch {
            jsonError = true;
          }
        }
        const attempt = Number(header(req.headers, 'x-cortex-attempt') ?? '1') || 1;
        lr = {
          method: (req.method ?? 'GET').toUpperCase(),
          path,
          query: url.searchParams,
          headers: req.headers,
          body: bodyText,
          json: parsed,
          jsonError,
          attempt,
          ...(header(req.headers, 'x-cortex-action') ? { action: header(req.headers, 'x-cortex-action') } : {}),
          ...(header(req.headers, 'x-cortex-execution') ? { execution: header(req.headers, 'x-cortex-execution') } : {}),
        };
        const wait = latencyMs(lab, def.latencyMs ?? 2);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (shouldFail(lab, lr.action, lr.attempt)) {
          reply = def.unavailable(lr);
        } else {
          const open = def.isOpen?.(lr) ?? false;
          const denied = open ? undefined : def.authorize?.(lr);
          if (denied) reply = denied;
          else {
            const retryAfter = !open && def.throttled ? takeThrottle(lab, def.name) : undefined;
            reply = retryAfter !== undefined && def.throttled ? def.throttled(retryAfter, lr) : await def.handle(lr);
          }
        }
      } catch (e) {
        if (e instanceof LabHttpError) reply = json(e.status, { message: e.message });
        else reply = json(500, { message: e instanceof Error ? e.message : String(e) });
      }
      const payload = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : `${JSON.stringify(reply.body, null, def.name === 'grafana' ? 2 : undefined)}`;
      const headers = { ...(reply.body !== undefined && typeof reply.body !== 'string' ? { 'content-type': 'application/json; charset=utf-8' } : {}), ...(reply.headers ?? {}) };
      try {
        recordRequest(lab, {
          service: def.name,
          method: lr?.method ?? req.method,
          path: url.pathname,
          ...(url.search ? { query: maskLabSecrets(url.search.slice(1)) } : {}),
          status: reply.status,
          action: lr?.action ?? null,
          attempt: lr?.attempt ?? null,
          execution: lr?.execution ?? null,
          body: recordedBody(lr, bodyText),
        });
      } catch {
        // recording must never break the answer
      }
      res.writeHead(reply.status, headers);
      res.end(lr?.method === 'HEAD' ? undefined : payload);
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Never beyond the loopback interface.
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
}

function recordedBody(lr: LabRequest | undefined, bodyText: string): unknown {
  if (!bodyText) return null;
  if (lr && lr.json !== undefined) return JSON.parse(maskLabSecrets(JSON.stringify(lr.json)));
  return maskLabSecrets(bodyText.length > 4096 ? `${bodyText.slice(0, 4096)}…` : bodyText);
}

export function stopServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}

/** The bearer token (or `token <x>`) of a request. */
export function bearer(req: LabRequest): string | undefined {
  const a = header(req.headers, 'authorization');
  const m = a ? /^(?:Bearer|token)\s+(.+)$/i.exec(a) : null;
  return m?.[1]?.trim();
}

/** The password of a Basic authorization header. */
export function basicPassword(req: LabRequest): string | undefined {
  const a = header(req.headers, 'authorization');
  const m = a ? /^Basic\s+(.+)$/i.exec(a) : null;
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i < 0 ? undefined : decoded.slice(i + 1);
}

export function headerOf(req: LabRequest, name: string): string | undefined {
  return header(req.headers, name.toLowerCase());
}

export function nowIso(): string {
  return new Date().toISOString();
}
