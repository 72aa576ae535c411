/**
 * A tiny stand-in for the lab Kubernetes API server (owned by another module): JSON objects by
 * path, POST/PATCH (merge)/GET/DELETE, Status errors, and every request recorded. Workloads report
 * ready (or never, with `ready: false`), as the real lab's controller would.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  path: string;
  contentType?: string;
  authorization?: string;
  body?: unknown;
}

export interface FakeKube {
  url: string;
  requests: Recorded[];
  objects: Map<string, Record<string, unknown>>;
  ready: boolean;
  close(): Promise<void>;
}

function status(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

function merge(a: unknown, b: unknown): unknown {
  if (b && typeof b === 'object' && !Array.isArray(b) && a && typeof a === 'object' && !Array.isArray(a)) {
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b)) {
      if (v === null) delete out[k];
      else out[k] = merge(out[k], v);
    }
    return out;
  }
  return b;
}

function withStatus(path: string, o: Record<string, unknown>, ready: boolean): Record<string, unknown> {
  if (!/\/(deployments|statefulsets|daemonsets)\//.test(path)) return o;
  const spec = (o.spec ?? {}) as { replicas?: number };
  const n = ready ? (spec.replicas ?? 1) : 0;
  return {
    ...o,
    status: path.includes('/daemonsets/')
      ? { desiredNumberScheduled: 3, numberReady: ready ? 3 : 0, observedGeneration: 1 }
      : { replicas: spec.replicas ?? 1, readyReplicas: n, updatedReplicas: n, availableReplicas: n, observedGeneration: 1 },
  };
}

export async function startFakeKube(namespaces: string[] = ['default', 'kube-system', 'monitoring']): Promise<FakeKube> {
  const objects = new Map<string, Record<string, unknown>>();
  for (const ns of namespaces) objects.set(`/api/v1/namespaces/${ns}`, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const fake: FakeKube = { url: '', requests: [], objects, ready: true, close: async () => undefined };
  const server: Server = createServer(async (req, res) => {
    const text = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] as string;
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    fake.requests.push({ method: req.method ?? 'GET', path, contentType: req.headers['content-type'], authorization: req.headers.authorization, body });
    res.setHeader('content-type', 'application/json');
    const send = (code: number, payload: string) => {
      res.statusCode = code;
      res.end(payload);
    };
    const existing = objects.get(path);
    switch (req.method) {
      case 'POST': {
        const o = body as { metadata: { name: string } };
        const key = `${path}/${o.metadata.name}`;
        if (objects.has(key)) return send(409, status(409, 'AlreadyExists', `"${o.metadata.name}" already exists`));
        const ns = /^\/api(?:s\/[^/]+)?\/v1\/namespaces\/([^/]+)\//.exec(path)?.[1];
        if (ns && !objects.has(`/api/v1/namespaces/${ns}`)) return send(404, status(404, 'NotFound', `namespaces "${ns}" not found`));
        objects.set(key, { ...(o as Record<string, unknown>), metadata: { ...o.metadata, generation: 1, uid: `uid-${objects.size}` } });
        return send(201, JSON.stringify(objects.get(key)));
      }
      case 'PATCH':
        if (!existing) return send(404, status(404, 'NotFound', 'not found'));
        objects.set(path, merge(existing, body) as Record<string, unknown>);
        return send(200, JSON.stringify(objects.get(path)));
      case 'GET':
        if (!existing) return send(404, status(404, 'NotFound', 'not found'));
        return send(200, JSON.stringify(withStatus(path, existing, fake.ready)));
      case 'DELETE':
        if (!existing) return send(404, status(404, 'NotFound', 'not found'));
        objects.delete(path);
        return send(200, JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Success' }));
      default:
        return send(405, status(405, 'MethodNotAllowed', 'no'));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise((r) => server.close(() => r()));
  return fake;
}
