/**
 * The lab's Proxmox REST API over HTTPS (127.0.0.1, a throwaway self-signed certificate): the same
 * routes, schema checks, state and failure injection as the lab's pvesh (core.ts), answered as
 * pve-http-server and PVE::HTTPServer::rest_handler answer (proxmox/pve-http-server @ 5c9e4ea7,
 * pve-manager @ 14a22df3):
 *   - `/api2/json/<path>`, token auth `Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET`
 *     (none: 401 "No ticket"; wrong: 401 "Authentication failed!");
 *   - no such method: 501 "Method 'GET /x' not implemented";
 *   - a schema violation: 400, reason "Parameter verification failed.", body
 *     `{"data":null,"message":"Parameter verification failed.\n","errors":{...}}`;
 *   - a method's own error: 500 (or its code) with the message; success: `{"data": ...}`, and a
 *     worker call answers its UPID at once while the task runs on.
 * Every request is recorded in <lab>/requests.jsonl with service "proxmox".
 */
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { latencyMs, recordRequest, writeLabFile, type CallContext } from '../lab-dir.js';
import { selfSignedCertificate } from '../kube/tls.js';
import { labSecretValue, LAB_PVE_AUDIT_TOKEN_SECRET, LAB_PVE_TOKEN_SECRET } from '../secrets.js';
import { execute, finishTask, resolve, TASK_MS, verify, type Executed } from './core.js';
import { PveError, paramError } from './params.js';
import { validateCall, type ApiValue, type HttpMethod } from './schema.js';

const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE']);
const MAX_BODY = 4 * 1024 * 1024;

/** The CA file (the certificate itself) a rehearsal pins. */
export function labCaFile(lab: string): string {
  return join(lab, 'pve-ca.crt');
}

/** SHA-256 fingerprint of a PEM certificate, AA:BB:... as Proxmox shows it. */
export function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** pve-http-server's decode_urlencoded: `+` is a space, a repeated key becomes a list. */
function decodeForm(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const kv of text.split(/[&;]/)) {
    if (!kv) continue;
    const [rawK = '', rawV] = kv.split('=');
    const dec = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    const k = dec(rawK);
    if (rawV === undefined) continue;
    const v = dec(rawV);
    const have = out[k];
    out[k] = have === undefined ? v : Array.isArray(have) ? [...have, v] : [have, v];
  }
  return out;
}

interface Answer {
  status: number;
  reason: string;
  body?: unknown;
}

function errorAnswer(e: PveError): Answer {
  const status = e.code ?? 500;
  const message = e.message.endsWith('\n') ? e.message : `${e.message}\n`;
  return { status, reason: message.split('\n')[0] as string, body: { data: null, message, ...(e.errors ? { errors: e.errors } : {}) } };
}

export interface RunningPveApi {
  url: string;
  stop(): Promise<void>;
}

/** Starts the API on 127.0.0.1 (a free port); writes the certificate to <lab>/pve-ca.crt. */
export async function startPveApi(lab: string): Promise<RunningPveApi> {
  const certificate = selfSignedCertificate('cortex-lab-pve');
  writeLabFile(labCaFile(lab), certificate.cert);
  const token = labSecretValue(LAB_PVE_TOKEN_SECRET);
  const auditToken = labSecretValue(LAB_PVE_AUDIT_TOKEN_SECRET);
  const tokenId = (t: string) => t.slice(0, t.indexOf('='));
  const running = new Map<string, { timer: NodeJS.Timeout; done: Extract<Executed, { kind: 'task' }> }>();

  const handle = async (method: string, rawUrl: string, headers: Record<string, string | string[] | undefined>, bodyText: string): Promise<{ answer: Answer; call?: CallContext; path: string }> => {
    const url = new URL(rawUrl, 'https://127.0.0.1');
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return { answer: { status: 400, reason: 'Bad Request' }, path: url.pathname };
    }
    const m = /^\/api2\/json(\/.*)?$/.exec(path);
    if (!m) return { answer: { status: 501, reason: 'no such uri' }, path };
    const rel = m[1] && m[1] !== '/' ? m[1].replace(/\/+$/, '') : '/';
    const auth = String(headers.authorization ?? '');
    const given = /^PVEAPIToken=(.+)$/.exec(auth)?.[1];
    if (!given) return { answer: { status: 401, reason: 'No ticket' }, path };
    if (given !== token && given !== auditToken) return { answer: { status: 401, reason: 'Authentication failed!' }, path };
    const one = (h: string) => {
      const v = headers[h];
      return Array.isArray(v) ? v[0] : v;
    };
    const call: CallContext = {
      lab,
      ...(one('x-cortex-execution') ? { executionId: one('x-cortex-execution') as string } : {}),
      ...(one('x-cortex-action') ? { actionId: one('x-cortex-action') as string } : {}),
      attempt: Number(one('x-cortex-attempt') ?? '1') || 1,
    };
    if (!METHODS.has(method)) return { answer: { status: 501, reason: `method '${method}' not available` }, call, path };
    const { resolved, labMissing } = resolve(method as HttpMethod, rel);
    if (!resolved) {
      const message = `Method '${method} ${rel}' not implemented${labMissing ? ' (not in the cortex lab)' : ''}`;
      return { answer: { status: 501, reason: message, body: { data: null, message } }, call, path };
    }
    const params: Record<string, ApiValue> = {};
    for (const [k, v] of Object.entries(decodeForm(url.search.slice(1)))) params[k] = v;
    if (bodyText) {
      const ct = String(headers['content-type'] ?? '');
      const parsed = ct.startsWith('application/json') ? (JSON.parse(bodyText) as Record<string, ApiValue>) : decodeForm(bodyText);
      Object.assign(params, parsed);
    }
    try {
      const conflicts: Record<string, string> = {};
      for (const [k, v] of Object.entries(params)) {
        if (k in resolved.pathParams && String(v) !== resolved.pathParams[k]) conflicts[k] = 'duplicate parameter (already defined in URI) with conflicting values!';
      }
      if (Object.keys(conflicts).length) throw paramError(conflicts);
      const apiParams = { ...params, ...resolved.pathParams };
      verify(resolved.schema, apiParams);
      const wait = latencyMs(lab, 2);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const r = execute(call, resolved, rel, apiParams, tokenId(given));
      if (r.kind === 'error') throw new PveError(r.message);
      if (r.kind === 'data') return { answer: { status: 200, reason: 'OK', body: { data: r.data } }, call, path };
      // A worker: the UPID now, the task ends later (its status shows it running until then).
      const timer = setTimeout(() => {
        running.delete(r.upid);
        finishTask(lab, r);
      }, latencyMs(lab, TASK_MS));
      running.set(r.upid, { timer, done: r });
      return { answer: { status: 200, reason: 'OK', body: { data: r.upid } }, call, path };
    } catch (e) {
      if (e instanceof PveError) return { answer: errorAnswer(e), call, path };
      throw e;
    }
  };

  const server: Server = createServer({ key: certificate.key, cert: certificate.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      void (async () => {
        const method = (req.method ?? 'GET').toUpperCase();
        const bodyText = Buffer.concat(chunks).toString('utf8');
        let out: Awaited<ReturnType<typeof handle>>;
        try {
          out = await handle(method, req.url ?? '/', req.headers, bodyText);
        } catch (e) {
          const message = `${e instanceof Error ? e.message : String(e)}\n`;
          out = { answer: { status: 500, reason: message.split('\n')[0] as string, body: { data: null, message } }, path: req.url ?? '/' };
        }
        const { answer, call } = out;
        try {
          const url = new URL(req.url ?? '/', 'https://127.0.0.1');
          recordRequest(lab, {
            service: 'proxmox',
            method,
            path: url.pathname,
            ...(url.search ? { query: url.search.slice(1) } : {}),
            status: answer.status,
            action: call?.actionId ?? null,
            attempt: call?.attempt ?? null,
            execution: call?.executionId ?? null,
            body: bodyText ? JSON.parse(JSON.stringify(decodeForm(bodyText)).replace(/lab-secret-[a-z0-9_.-]+?-0123456789/gi, '***')) : null,
          });
        } catch {
          // recording must never break the answer
        }
        const payload = answer.body === undefined ? '' : JSON.stringify(answer.body);
        res.writeHead(answer.status, answer.reason.replace(/[^\x20-\x7e]/g, ' '), { 'content-type': 'application/json;charset=UTF-8', 'content-length': String(Buffer.byteLength(payload)) });
        res.end(payload);
      })();
    });
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    // Never beyond the loopback interface.
    server.listen(0, '127.0.0.1', () => done());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    async stop() {
      // Tasks still running end now, so the state never keeps a task running forever.
      for (const { timer, done } of running.values()) {
        clearTimeout(timer);
        finishTask(lab, done);
      }
      running.clear();
      await new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections?.();
      });
    },
  };
}

const PLACEHOLDER = /<[^<>\s]+>/;

/**
 * What the Proxmox API would refuse in a planned request (`url` under .../api2/json, `body` the
 * form as an object), without sending it: no such method, or the schema's errors. Values with
 * <placeholders> are taken as valid. Empty when Proxmox would accept it.
 */
export function checkApiRequest(method: string, url: string, body?: Record<string, unknown>): string[] {
  const u = new URL(url.replace(/<[^<>\s]+>/g, (p) => encodeURIComponent(p)));
  const m = /\/api2\/json(\/.*)$/.exec(decodeURIComponent(u.pathname));
  if (!m) return [`not a Proxmox API URL: ${url}`];
  const rel = (m[1] as string).replace(/\/+$/, '') || '/';
  const { resolved } = resolve(method as HttpMethod, rel);
  if (!resolved) return [`Method '${method} ${rel}' not implemented`];
  const params: Record<string, ApiValue> = { ...decodeForm(u.search.slice(1)) };
  for (const [k, v] of Object.entries(body ?? {})) params[k] = Array.isArray(v) ? v.map(String) : String(v);
  const all = { ...params, ...resolved.pathParams };
  const errors = validateCall(resolved.schema, all);
  return Object.entries(errors)
    .filter(([k]) => {
      const v = all[k.split('.')[0] as string];
      return !(v !== undefined && (Array.isArray(v) ? v.some((x) => PLACEHOLDER.test(String(x))) : PLACEHOLDER.test(String(v))));
    })
    .map(([k, e]) => `${k}: ${e.trimEnd()}`);
}
