/**
 * `cortex serve`: the HTTP receiver for Alertmanager, GitHub, Falco (falcosidekick) and generic
 * webhooks (node:http).
 *
 *   POST /webhook/alertmanager | /webhook/github | /webhook/falco   triggers of that source without a path
 *   POST /webhook/<path>                                             triggers with that `path`
 *   GET  /healthz                                                    200 {"status":"ok"} ({"status":"degraded","problems":[…]}
 *                                                                    while an edited definition or trigger file is invalid)
 *
 * Order of the checks: unknown path 404; wrong method 405 (with Allow); a Content-Length over the
 * limit 413; bearer-token routes 401 before the body is read; body over the limit 413; GitHub (and
 * hmac-sha256) routes: X-Hub-Signature-256 over the raw bytes, 401; JSON 400; not the source's
 * payload shape 400. Then: 202 {"executions": [...], "matched": n, ...} when a run started (its
 * execution record exists), 429 (workflow at its concurrency limit) or 503 (too many runs starting,
 * state/dedup.json is damaged, or in queue mode Redis does not answer) with Retry-After when none could start for now (the event is not marked seen), 200
 * when nothing matched or everything was a duplicate, 422 when matches could not start (their
 * parameters do not fit, or the run refused to start: the body says why; resending will not help).
 *
 * Secrets are compared in constant time: the SHA-256 digests of both sides (equal lengths, so the
 * comparison says nothing about the secret's length) through crypto.timingSafeEqual. A request
 * authenticated by an HMAC over its body is marked `signed`: its runs are deduplicated on the
 * body's digest too, so a replayed body starts nothing whatever its delivery header says. Every
 * request is one line in <root>/state/serve.log: time, client, method, path (no query), status,
 * duration, and what happened; never a header value, a secret or a body.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { BadEventError, parseEventJson } from './render.js';
import { secretNameOf } from '../definitions/check-trigger.js';
import type { DispatchResult } from './dispatch.js';
import { EVENT_SOURCES, type EventSource, type TriggerEntry } from './load.js';
import type { IncomingEvent } from './match.js';

/** Why serve answers 503 while state/dedup.json cannot be read (the log names the file and the copy). */
const DEDUP_DAMAGED = 'state/dedup.json is damaged: no deduplicated event starts a run until an operator repairs it';
/** Why serve answers 503 in queue mode while Redis does not answer (the log has the error). */
const QUEUE_UNREACHABLE = 'the queue (Redis) does not answer: no run was created; send it again later';

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export interface ServeConfig {
  /** Secret name of the bearer token for alertmanager, falco and generic routes (config serve.token_secret). */
  tokenSecret?: string;
  /** Secret name of the GitHub webhook secret (config serve.github_secret). */
  githubSecret?: string;
  maxBodyBytes?: number;
}

export interface ServerDeps {
  /** The current triggers (reloaded by the caller when the definitions change). */
  entries: () => Promise<TriggerEntry[]>;
  config: ServeConfig;
  /** Resolves a secret by name (undefined when not set; throws when it is set but unsafe to use). */
  secret: (name: string) => Promise<string | undefined>;
  /** Problems of the definitions and trigger files now in force (their triggers are ignored); /healthz reports them. */
  problems?: () => Promise<string[]>;
  dispatch: (entries: TriggerEntry[], ev: IncomingEvent) => Promise<DispatchResult>;
  log: (line: string) => void;
  now?: () => Date;
}

interface Route {
  name: string;
  source: EventSource;
  entries: TriggerEntry[];
}

type AuthSpec = { kind: 'none' } | { kind: 'bearer' | 'hmac'; secretName?: string };

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Routes from the triggers: fixed source paths plus every trigger `path`. */
export function routesOf(entries: TriggerEntry[]): Map<string, Route> {
  const routes = new Map<string, Route>();
  for (const s of EVENT_SOURCES) if (s !== 'generic') routes.set(s, { name: s, source: s, entries: [] });
  for (const e of entries) {
    if (!e.route || !e.source) continue;
    let r = routes.get(e.route);
    if (!r) {
      r = { name: e.route, source: e.source, entries: [] };
      routes.set(e.route, r);
    }
    r.entries.push(e);
  }
  return routes;
}

/** How a trigger's requests authenticate. */
export function authOf(entry: TriggerEntry | undefined, source: EventSource, config: ServeConfig): AuthSpec {
  const t = entry?.trigger;
  const auth = (t?.auth ?? undefined) as { type?: string; secret?: string } | undefined;
  if (auth?.type === 'none') return { kind: 'none' };
  const githubish = source === 'github' && auth?.type !== 'bearer';
  const kind = auth?.type === 'hmac-sha256' || githubish ? 'hmac' : 'bearer';
  const named = secretNameOf(t?.secret) ?? secretNameOf(auth?.secret);
  const secretName = named ?? (kind === 'hmac' ? config.githubSecret : config.tokenSecret);
  return secretName ? { kind, secretName } : { kind };
}

/**
 * Whether `given` equals `expected`, in time that depends on neither: both are hashed first, so
 * the constant-time comparison always sees two 32-byte buffers (a length check would return early).
 */
export function secretsEqual(given: string, expected: string, compare: (a: Buffer, b: Buffer) => boolean = timingSafeEqual): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return compare(digest(given), digest(expected));
}

function bearerOf(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m ? (m[1] as string).trim() : undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        reject(new HttpError(413, `body larger than ${limit} bytes`, { Connection: 'close' }));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks));
      }
    });
    req.on('error', (e) => {
      if (!done) {
        done = true;
        reject(e);
      }
    });
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

function clean(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').replace(/"/g, "'").slice(0, 200);
}

/** Creates the server (not listening yet). */
export function createTriggerServer(deps: ServerDeps): Server {
  const maxBody = deps.config.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const now = deps.now ?? (() => new Date());

  async function authenticate(route: Route, req: IncomingMessage, body: Buffer | undefined): Promise<{ entries: TriggerEntry[]; needBody: boolean; signed?: boolean; reason?: string }> {
    const specs = new Map<string, { spec: AuthSpec; entries: TriggerEntry[] }>();
    const list: Array<TriggerEntry | undefined> = route.entries.length ? route.entries : [undefined];
    for (const e of list) {
      const spec = authOf(e, route.source, deps.config);
      const k = JSON.stringify(spec);
      const g = specs.get(k) ?? { spec, entries: [] };
      if (e) g.entries.push(e);
      specs.set(k, g);
    }
    if (!body && [...specs.values()].some((g) => g.spec.kind === 'hmac')) return { entries: [], needBody: true };
    const ok: TriggerEntry[] = [];
    let passed = false;
    let signed = false;
    let reason = 'no credentials';
    for (const { spec, entries } of specs.values()) {
      if (spec.kind === 'none') {
        ok.push(...entries);
        passed = true;
        continue;
      }
      if (!spec.secretName) {
        reason = `no ${spec.kind === 'hmac' ? 'webhook secret' : 'token'} configured for this path`;
        continue;
      }
      let secret: string | undefined;
      try {
        secret = await deps.secret(spec.secretName);
      } catch (e) {
        // Set but unusable (a secret file readable by others): say so, not "not set".
        reason = `secret ${spec.secretName} cannot be used: ${(e as Error).message}`;
        continue;
      }
      if (secret === undefined || secret === '') {
        reason = `secret ${spec.secretName} is not set`;
        continue;
      }
      if (spec.kind === 'bearer') {
        const token = bearerOf(req);
        if (token === undefined) {
          reason = 'no bearer token';
          continue;
        }
        if (!secretsEqual(token, secret)) {
          reason = 'wrong bearer token';
          continue;
        }
      } else {
        const sig = header(req, 'x-hub-signature-256');
        if (!sig) {
          reason = 'no X-Hub-Signature-256';
          continue;
        }
        const expected = `sha256=${createHmac('sha256', secret).update(body as Buffer).digest('hex')}`;
        if (!secretsEqual(sig.trim().toLowerCase(), expected)) {
          reason = 'X-Hub-Signature-256 does not match the body';
          continue;
        }
        signed = true;
      }
      ok.push(...entries);
      passed = true;
    }
    return passed ? { entries: ok, needBody: false, signed } : { entries: [], needBody: false, reason };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, note: Record<string, string | number>): Promise<number> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'use GET', { Allow: 'GET, HEAD' });
      const problems = (await deps.problems?.()) ?? [];
      // Still 200: the receiver works for every valid trigger; "degraded" says some are ignored.
      send(res, 200, problems.length ? { status: 'degraded', problems } : { status: 'ok' });
      return 200;
    }
    const m = /^\/webhook\/([A-Za-z0-9][A-Za-z0-9/_-]*?)\/?$/.exec(path);
    const routes = routesOf(await deps.entries());
    const route = m ? routes.get(m[1] as string) : undefined;
    if (!route) throw new HttpError(404, `no trigger receives ${path}`);
    note.route = route.name;
    if (req.method !== 'POST') throw new HttpError(405, 'use POST', { Allow: 'POST' });
    const declared = Number(header(req, 'content-length'));
    if (Number.isFinite(declared) && declared > maxBody) throw new HttpError(413, `body larger than ${maxBody} bytes`, { Connection: 'close' });

    let auth = await authenticate(route, req, undefined);
    let body: Buffer | undefined;
    if (auth.needBody) {
      body = await readBody(req, maxBody);
      auth = await authenticate(route, req, body);
    }
    if (auth.reason) {
      note.reason = auth.reason;
      throw new HttpError(401, 'unauthenticated', { 'WWW-Authenticate': route.source === 'github' ? 'HMAC-SHA256' : 'Bearer', Connection: 'close' });
    }
    body ??= await readBody(req, maxBody);
    let payload: unknown;
    try {
      payload = parseEventJson(body.toString('utf8'));
    } catch (e) {
      if (e instanceof BadEventError) throw new HttpError(400, e.message);
      throw e;
    }
    const ev: IncomingEvent = {
      source: route.source,
      payload,
      rawBody: body,
      receivedAt: now(),
      ...(auth.signed ? { signed: true } : {}),
      ...(route.source === 'github' ? { githubEvent: header(req, 'x-github-event'), delivery: header(req, 'x-github-delivery') } : {}),
      ...(route.source === 'generic' && header(req, 'idempotency-key') ? { delivery: header(req, 'idempotency-key') } : {}),
    };
    if (ev.githubEvent) note.github_event = ev.githubEvent;
    let result: DispatchResult;
    try {
      result = await deps.dispatch(auth.entries, ev);
    } catch (e) {
      if (e instanceof BadEventError) throw new HttpError(400, e.message);
      throw e;
    }
    // A queued run's record exists too: accepted like a started one.
    const started = result.runs.filter((r) => r.status === 'started' || r.status === 'queued').length;
    const duplicates = result.runs.filter((r) => r.status === 'duplicate').length;
    const failed = result.runs.filter((r) => r.status === 'failed' || r.status === 'invalid_parameters');
    note.matched = result.matched;
    note.started = started;
    note.duplicates = duplicates;
    if (failed.length) note.failed = failed.length;
    if (result.runs.length) note.events = [...new Set(result.runs.map((r) => r.event_id))].join(',');
    if (result.executions.length) note.executions = result.executions.join(',');
    const busy = result.runs.filter((r) => r.status === 'busy');
    if (busy.length) note.busy = busy.length;
    // 202 only for runs whose record exists; runs refused for now get 429 (the workflow is at its
    // concurrency limit) or 503 (too many starting), with Retry-After, and the event stays unseen.
    // 503 too when the dedup state is damaged: nothing deduplicated starts until it is repaired.
    // 503 also in queue mode while Redis does not answer: a run no worker could take is not created.
    const unavailable = busy.some((r) => r.busy === 'unavailable');
    const queueDown = busy.some((r) => r.busy === 'queue_unreachable');
    if (unavailable) note.reason = busy.find((r) => r.busy === 'unavailable')?.message ?? DEDUP_DAMAGED;
    else if (queueDown) note.reason = busy.find((r) => r.busy === 'queue_unreachable')?.message ?? QUEUE_UNREACHABLE;
    const overloaded = unavailable || queueDown || busy.some((r) => r.busy === 'overloaded');
    const status = started > 0 ? 202 : busy.length ? (overloaded ? 503 : 429) : failed.length ? 422 : 200;
    send(
      res,
      status,
      {
        executions: result.executions,
        matched: result.matched,
        duplicates,
        // Parameter values are never echoed: a route without auth must not become a way to read them.
        // Nor the coordination directory's paths: the damaged file is named in serve.log only.
        // Nor the queue's address: the error is in serve.log.
        runs: result.runs.map(({ parameters: _parameters, ...rest }) =>
          rest.busy === 'unavailable' ? { ...rest, message: DEDUP_DAMAGED } : rest.busy === 'queue_unreachable' ? { ...rest, message: QUEUE_UNREACHABLE } : rest,
        ),
        ...(ev.githubEvent === 'ping' ? { message: 'pong' } : {}),
        ...(unavailable ? { reason: DEDUP_DAMAGED } : queueDown ? { reason: QUEUE_UNREACHABLE } : {}),
      },
      busy.length && !started ? { 'Retry-After': unavailable ? '60' : queueDown ? '30' : overloaded ? '5' : '30' } : {},
    );
    return status;
  }

  const server = createServer((req, res) => {
    const started = performance.now();
    const note: Record<string, string | number> = {};
    const finish = (status: number) => {
      const path = (req.url ?? '/').split('?')[0] as string;
      const extras = Object.entries(note)
        .map(([k, v]) => `${k}=${typeof v === 'number' ? v : `"${clean(v)}"`}`)
        .join(' ');
      deps.log(
        `${now().toISOString()} ${req.socket.remoteAddress ?? '-'} ${clean(req.method ?? '-')} ${clean(path)} ${status} ${Math.round(performance.now() - started)}ms${extras ? ` ${extras}` : ''} ua="${clean(String(req.headers['user-agent'] ?? '-'))}"`,
      );
    };
    handle(req, res, note).then(finish, (e: unknown) => {
      const err = e instanceof HttpError ? e : new HttpError(500, 'internal error');
      if (!(e instanceof HttpError)) note.reason = e instanceof Error ? e.message : String(e);
      else if (!note.reason) note.reason = err.message;
      send(res, err.status, { error: err.message, status: err.status }, err.headers);
      if (err.headers.Connection === 'close') req.resume();
      finish(err.status);
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  return server;
}

/** `127.0.0.1:8080`, `[::1]:8080`, `0.0.0.0:9000`, `:8080` (127.0.0.1) or `8080`. */
export function parseListen(s: string): { host: string; port: number } {
  const text = s.trim();
  let host = '127.0.0.1';
  let portText = text;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (v6) {
    host = v6[1] as string;
    portText = v6[2] as string;
  } else if (text.includes(':')) {
    const i = text.lastIndexOf(':');
    host = text.slice(0, i) || '127.0.0.1';
    portText = text.slice(i + 1);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new Error(`"${s}" is not HOST:PORT`);
  return { host, port };
}
