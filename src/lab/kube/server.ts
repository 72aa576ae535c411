/**
 * The lab Kubernetes API server (node:http on 127.0.0.1, plain HTTP) that the real kubectl talks to:
 * version, discovery (aggregated and legacy), OpenAPI v3 stubs, and the REST verbs on every kind in
 * resources.ts, including watch streams, the status/scale/eviction/log subresources and Tables.
 * Requests are recorded in <lab>/requests.jsonl; a caller whose action is set to fail
 * (`Authorization: Bearer lab.<action>.<attempt>.<execution>`) gets realistic failures.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { latencyMs, recordRequest, shouldFail } from '../lab-dir.js';
import { KubeApi, patchTypeOf, type PatchType } from './api.js';
import { LabController } from './controller.js';
import { ApiError, badRequest, internalError, isPlainObject, type KObject } from './object.js';
import { jsonPatch, mergePatch } from './patch.js';
import { decodeProtobufObject, UnsupportedProtobufError } from './protobuf.js';
import {
  AGGREGATED_CONTENT_TYPE,
  VERSION_INFO,
  aggregatedDiscovery,
  apiResourceList,
  apiVersionOf,
  findResource,
  legacyApiVersions,
  legacyGroup,
  legacyGroupList,
  openApiDocument,
  openApiRoot,
  resourceKey,
  type ResourceDef,
} from './resources.js';
import { matchesFields, matchesRequirements, parseFieldSelector, parseLabelSelector, selectorString, SelectorError } from './selectors.js';
import { seedKubeState } from './seed.js';
import { KubeStore, type StoreEvent } from './store.js';
import { toTable, wantsTable } from './table.js';
import { selfSignedCertificate, type LabCertificate } from './tls.js';
import { failingDeployment, failingPod } from './views.js';
import { REVISION, ownedBy } from './workloads.js';

export interface Caller {
  actionId?: string;
  attempt: number;
  executionId?: string;
}

/** Reads `Bearer lab.<action_id>.<attempt>.<execution_id>` (the lab's kubectl credential plugin). */
export function parseLabToken(authorization: string | undefined): Caller {
  const m = /^Bearer\s+lab\.(.+?)\.(\d+)\.(.*)$/.exec(authorization ?? '');
  if (!m) return { attempt: 1 };
  return {
    ...(m[1] !== 'none' ? { actionId: m[1]! } : {}),
    attempt: Number(m[2]) || 1,
    ...(m[3] && m[3] !== 'none' ? { executionId: m[3] } : {}),
  };
}

interface Reply {
  status: number;
  body: unknown;
  contentType?: string;
}

interface Target {
  r: ResourceDef;
  ns?: string;
  name?: string;
  sub?: string;
}

const MAX_BODY = 16 * 1024 * 1024;
const NOT_FOUND_PATH = () => new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});

export interface KubeServerOptions {
  /** Simulated controller step (before latency scaling), ms. */
  stepMs?: number;
  /** Simulated pod termination time (before latency scaling), ms. */
  terminateMs?: number;
}

export class KubeServer {
  readonly store: KubeStore;
  readonly api: KubeApi;
  readonly controller: LabController;
  private server?: NetServer;
  /** The server's self-signed certificate (its own CA), PEM. */
  certificate?: LabCertificate;
  httpsUrl = '';
  private sockets = new Set<Socket>();
  private watches = new Set<() => void>();
  url = '';

  constructor(
    readonly lab: string,
    options: KubeServerOptions = {},
  ) {
    const stored = new KubeStore(lab);
    // a lab whose kube state is missing or empty (seeded by an older placeholder) gets the seed
    this.store = stored.isEmpty ? new KubeStore(lab, seedKubeState()) : stored;
    if (stored.isEmpty) this.store.markDirty();
    this.api = new KubeApi(this.store);
    const step = options.stepMs ?? 100;
    const term = options.terminateMs ?? 1000;
    this.controller = new LabController(this.store, this.api, {
      stepMs: () => latencyMs(lab, step),
      terminateMs: () => latencyMs(lab, term),
    });
  }

  /**
   * Listens on one 127.0.0.1 port that speaks both plain HTTP (REST clients such as the lab
   * stand-ins) and HTTPS (kubectl: it sends credentials, hence the action token, only over TLS).
   * The first byte of a connection decides (0x16 = TLS handshake).
   */
  async start(): Promise<string> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      void this.handle(req, res);
    };
    const plain = createServer(handler);
    this.certificate = selfSignedCertificate();
    const secure = createHttpsServer({ key: this.certificate.key, cert: this.certificate.cert }, handler);
    for (const s of [plain, secure]) s.keepAliveTimeout = 30_000;
    const server = createNetServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      socket.once('data', (first: Buffer) => {
        socket.pause();
        socket.unshift(first);
        (first[0] === 0x16 ? secure : plain).emit('connection', socket);
        process.nextTick(() => socket.resume());
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.httpsUrl = `https://127.0.0.1:${port}`;
    this.controller.start();
    return this.url;
  }

  async stop(): Promise<void> {
    this.controller.stop();
    for (const end of [...this.watches]) end();
    const server = this.server;
    this.server = undefined;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of this.sockets) s.destroy();
      });
    }
    this.store.flush();
  }

  // ---- request plumbing ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const caller = parseLabToken(req.headers.authorization);
    let status = 500;
    try {
      const body = req.method === 'GET' || req.method === 'HEAD' ? Buffer.alloc(0) : await readBody(req);
      const reply = this.dispatch(req, res, path, url.searchParams, body, caller);
      if (reply === 'streaming') {
        status = 200;
        return;
      }
      status = reply.status;
      this.commit(req);
      send(res, reply);
    } catch (e) {
      const err = e instanceof ApiError ? e : internalError((e as Error).message);
      status = err.code;
      this.commit(req);
      send(res, { status: err.code, body: err.toStatus() });
    } finally {
      this.record(req, path, url.searchParams, status, caller);
    }
  }

  /**
   * A write is on disk before it is answered, as a real API server commits to etcd first: the lab's
   * server lives in the cortex process, and a kill -9 of cortex must not take acknowledged writes
   * with it (a lost `kubectl label node` left pods no node could take). What the controllers change
   * on their own is still written within FLUSH_DELAY_MS, and derived again after a restart.
   */
  private commit(req: IncomingMessage): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') this.store.flush();
  }

  private record(req: IncomingMessage, path: string, query: URLSearchParams, status: number, caller: Caller): void {
    try {
      recordRequest(this.lab, {
        service: 'kubernetes',
        method: req.method,
        path,
        query: Object.fromEntries(query),
        status,
        action_id: caller.actionId ?? null,
        attempt: caller.attempt,
        execution_id: caller.executionId ?? null,
        user_agent: req.headers['user-agent'] ?? null,
      });
    } catch {
      // the lab dir may be gone in tests; recording must not break serving
    }
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, path: string, q: URLSearchParams, body: Buffer, caller: Caller): Reply | 'streaming' {
    const method = req.method ?? 'GET';
    const accept = String(req.headers.accept ?? '');
    const segs = path.split('/').filter(Boolean);
    // non-resource paths: never failed on purpose
    if (path === '/version') return { status: 200, body: VERSION_INFO };
    if (['/healthz', '/livez', '/readyz'].includes(path)) return { status: 200, body: 'ok', contentType: 'text/plain; charset=utf-8' };
    if (path === '/api') return discovery(accept, true, `127.0.0.1:${(this.server?.address() as AddressInfo | null)?.port ?? 0}`);
    if (path === '/apis') return discovery(accept, false, '');
    if (segs[0] === 'openapi') return openApi(segs);
    if (segs[0] === 'apis' && segs.length === 2) {
      const g = legacyGroup(segs[1]!);
      if (!g) throw NOT_FOUND_PATH();
      return { status: 200, body: g };
    }
    const isCore = segs[0] === 'api' && segs[1] === 'v1';
    if ((isCore && segs.length === 2) || (segs[0] === 'apis' && segs.length === 3)) {
      const list = isCore ? apiResourceList('', 'v1') : apiResourceList(segs[1]!, segs[2]!);
      if (!list) throw NOT_FOUND_PATH();
      return { status: 200, body: list };
    }
    const target = parseTarget(segs);
    if (!target) throw NOT_FOUND_PATH();

    // Only kubectl is failed here: the lab stand-ins (helm, talosctl) fail their own calls realistically
    // and must still be able to clean up (e.g. helm --atomic) with the same token.
    const fromKubectl = String(req.headers['user-agent'] ?? '').startsWith('kubectl/');
    const failing = fromKubectl && shouldFail(this.lab, caller.actionId, caller.attempt);
    if (failing) {
      const readable = method === 'GET' && (target.r.resource === 'deployments' || target.r.resource === 'pods') && target.sub !== 'log';
      if (!readable) throw internalError('lab injected failure');
    }
    const view = (o: KObject) => (failing ? this.failingView(target.r, o) : o);
    switch (method) {
      case 'GET':
        return this.get(req, res, target, q, accept, view);
      case 'POST':
        return this.post(target, q, body, String(req.headers['content-type'] ?? ''), req.headers['user-agent']);
      case 'PUT':
        return this.put(target, q, body, String(req.headers['content-type'] ?? ''), req.headers['user-agent']);
      case 'PATCH':
        return this.patch(target, q, body, String(req.headers['content-type'] ?? ''), req.headers['user-agent']);
      case 'DELETE':
        return this.remove(target, q, body);
      default:
        throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    }
  }

  private failingView(r: ResourceDef, o: KObject): KObject {
    if (r.resource === 'pods') return failingPod(o);
    if (r.resource !== 'deployments') return o;
    const rs = this.store
      .scan('replicasets.apps', o.metadata.namespace)
      .find((x) => ownedBy(x, o.metadata.uid) && x.metadata.annotations?.[REVISION] === o.metadata.annotations?.[REVISION]);
    return failingDeployment(o, rs?.metadata.name);
  }

  // ---- GET ----

  private get(req: IncomingMessage, res: ServerResponse, t: Target, q: URLSearchParams, accept: string, view: (o: KObject) => KObject): Reply | 'streaming' {
    const { r } = t;
    if (!t.name) {
      if (t.ns && !r.namespaced) throw NOT_FOUND_PATH();
      const labels = selectors(() => parseLabelSelector(q.get('labelSelector')));
      const fields = selectors(() => parseFieldSelector(q.get('fieldSelector')));
      if (q.get('watch') === 'true' || q.get('watch') === '1') {
        this.watch(req, res, t, q, (o) => matchesRequirements(o.metadata.labels, labels) && matchesFields(o, fields), view);
        return 'streaming';
      }
      const items = this.api.list(r, t.ns, labels, fields).map(view);
      const rv = String(this.store.resourceVersion);
      if (wantsTable(accept)) return { status: 200, body: toTable(r.kind, items, rv) };
      return { status: 200, body: { kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata: { resourceVersion: rv }, items } };
    }
    if (r.namespaced && !t.ns) throw NOT_FOUND_PATH();
    const obj = view(this.api.get(r, t.ns, t.name));
    if (!t.sub || t.sub === 'status') {
      if (wantsTable(accept)) return { status: 200, body: toTable(r.kind, [obj], obj.metadata.resourceVersion ?? '') };
      return { status: 200, body: obj };
    }
    if (t.sub === 'scale' && hasScale(r)) return { status: 200, body: scaleOf(r, obj) };
    if (t.sub === 'log' && r.resource === 'pods') return { status: 200, body: podLog(obj, q), contentType: 'text/plain' };
    throw NOT_FOUND_PATH();
  }

  private watch(req: IncomingMessage, res: ServerResponse, t: Target, q: URLSearchParams, match: (o: KObject) => boolean, view: (o: KObject) => KObject): void {
    const key = resourceKey(t.r);
    const inScope = (o: KObject) => (!t.ns || o.metadata.namespace === t.ns) && match(o);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const write = (type: string, obj: unknown) => {
      if (!res.writableEnded) res.write(`${JSON.stringify({ type, object: obj })}\n`);
    };
    const deliver = (e: StoreEvent) => {
      if (e.key !== key) return;
      const now = inScope(e.object);
      const before = e.old ? inScope(e.old) : e.type === 'MODIFIED' ? now : false;
      if (e.type === 'ADDED' && now) write('ADDED', view(e.object));
      else if (e.type === 'DELETED' && now) write('DELETED', view(e.object));
      else if (e.type === 'MODIFIED') {
        if (now && before) write('MODIFIED', view(e.object));
        else if (now) write('ADDED', view(e.object));
        else if (before) write('DELETED', view(e.object));
      }
    };
    const rvParam = q.get('resourceVersion') ?? '';
    if (rvParam === '' || rvParam === '0') {
      for (const o of this.api.list(t.r, t.ns)) if (match(o)) write('ADDED', view(o));
    } else {
      const replay = this.store.eventsSince(Number(rvParam));
      if (!replay) {
        write('ERROR', new ApiError(410, 'Expired', `too old resource version: ${rvParam} (${this.store.oldestWatchable})`).toStatus());
        res.end();
        return;
      }
      for (const e of replay) deliver(e);
    }
    const unsubscribe = this.store.subscribe(deliver);
    const timeout = Number(q.get('timeoutSeconds') ?? '1800');
    const timer = setTimeout(() => end(), Math.max(1, timeout) * 1000);
    timer.unref?.();
    const end = () => {
      unsubscribe();
      clearTimeout(timer);
      this.watches.delete(end);
      if (!res.writableEnded) res.end();
    };
    this.watches.add(end);
    req.on('close', end);
    res.on('close', end);
  }

  // ---- writes ----

  private decode(body: Buffer, contentType: string): KObject {
    const ct = contentType.split(';')[0]!.trim().toLowerCase();
    try {
      if (ct === 'application/vnd.kubernetes.protobuf') return decodeProtobufObject(body);
      const text = body.toString('utf8');
      if (ct === 'application/yaml' || ct === 'application/x-yaml') return parseYaml(text) as KObject;
      if (ct && ct !== 'application/json' && ct !== '*/*')
        throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`);
      return JSON.parse(text) as KObject;
    } catch (e) {
      if (e instanceof ApiError) throw e;
      if (e instanceof UnsupportedProtobufError) throw new ApiError(415, 'UnsupportedMediaType', e.message);
      throw badRequest(`the object provided is unrecognized (must be of type ${ct || 'JSON'}): ${(e as Error).message}`);
    }
  }

  private options(q: URLSearchParams, userAgent?: string) {
    // like a real server: without ?fieldManager the manager is the User-Agent's first segment
    const manager = q.get('fieldManager') ?? (userAgent ? userAgent.split('/')[0] : undefined);
    return {
      ...(manager ? { fieldManager: manager } : {}),
      force: q.get('force') === 'true',
      dryRun: q.getAll('dryRun').includes('All'),
    };
  }

  private post(t: Target, q: URLSearchParams, body: Buffer, contentType: string, ua?: string): Reply {
    if (!t.name) {
      const obj = this.decode(body, contentType);
      if (t.r.namespaced && !t.ns) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      return { status: 201, body: this.api.create(t.r, t.ns, obj, this.options(q, ua)) };
    }
    if (t.r.resource === 'pods' && t.sub === 'eviction' && t.ns) {
      const obj = body.length ? this.decode(body, contentType) : undefined;
      return { status: 201, body: this.api.evict(t.ns, t.name, obj) };
    }
    throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  }

  private put(t: Target, q: URLSearchParams, body: Buffer, contentType: string, ua?: string): Reply {
    if (!t.name) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    const obj = this.decode(body, contentType);
    if (t.sub === 'scale') {
      if (!hasScale(t.r)) throw NOT_FOUND_PATH();
      const replicas = (obj as { spec?: { replicas?: number } }).spec?.replicas;
      return { status: 200, body: this.scale(t, replicas, this.options(q, ua)) };
    }
    if (t.sub && t.sub !== 'status') throw NOT_FOUND_PATH();
    return { status: 200, body: this.api.update(t.r, t.ns, t.name, obj, { ...this.options(q, ua), ...(t.sub ? { subresource: t.sub } : {}) }) };
  }

  private patch(t: Target, q: URLSearchParams, body: Buffer, contentType: string, ua?: string): Reply {
    if (!t.name) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    const type: PatchType | undefined = patchTypeOf(contentType);
    if (!type)
      throw new ApiError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
      );
    const opts = type === 'apply' ? { ...this.options(q), fieldManager: q.get('fieldManager') ?? undefined } : this.options(q, ua);
    if (t.sub === 'scale') {
      if (!hasScale(t.r)) throw NOT_FOUND_PATH();
      const current = scaleOf(t.r, this.api.get(t.r, t.ns, t.name));
      const patched = patchScale(current, type, body.toString('utf8'));
      return { status: 200, body: this.scale(t, patched.spec?.replicas, opts) };
    }
    if (t.sub && t.sub !== 'status') throw NOT_FOUND_PATH();
    const { object, created } = this.api.patch(t.r, t.ns, t.name, type, body.toString('utf8'), { ...opts, ...(t.sub ? { subresource: t.sub } : {}) });
    return { status: created ? 201 : 200, body: object };
  }

  private scale(t: Target, replicas: unknown, opts: { fieldManager?: string; dryRun?: boolean }): unknown {
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0)
      throw new ApiError(422, 'Invalid', `Scale.autoscaling "${t.name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`, {
        name: t.name,
        group: 'autoscaling',
        kind: 'Scale',
      });
    const { object } = this.api.patch(t.r, t.ns, t.name!, 'merge', JSON.stringify({ spec: { replicas } }), { ...opts, subresource: undefined });
    return scaleOf(t.r, object);
  }

  private remove(t: Target, q: URLSearchParams, body: Buffer): Reply {
    let opts: Record<string, unknown> = {};
    if (body.length) {
      try {
        opts = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      } catch {
        throw badRequest('the DeleteOptions body could not be decoded');
      }
    }
    const grace = q.get('gracePeriodSeconds') ?? opts.gracePeriodSeconds;
    const deleteOptions = {
      ...(q.get('propagationPolicy') || opts.propagationPolicy ? { propagationPolicy: String(q.get('propagationPolicy') ?? opts.propagationPolicy) } : {}),
      ...(grace !== undefined && grace !== null ? { gracePeriodSeconds: Number(grace) } : {}),
      dryRun: q.getAll('dryRun').includes('All') || (Array.isArray(opts.dryRun) && opts.dryRun.includes('All')),
      ...(isPlainObject(opts.preconditions) ? { preconditions: opts.preconditions as { uid?: string } } : {}),
    };
    if (!t.name) {
      const labels = selectors(() => parseLabelSelector(q.get('labelSelector')));
      const fields = selectors(() => parseFieldSelector(q.get('fieldSelector')));
      const items = this.api.list(t.r, t.ns, labels, fields);
      for (const o of items) this.api.delete(t.r, o.metadata.namespace, o.metadata.name, deleteOptions);
      return { status: 200, body: { kind: `${t.r.kind}List`, apiVersion: apiVersionOf(t.r), metadata: { resourceVersion: String(this.store.resourceVersion) }, items } };
    }
    if (t.sub) throw NOT_FOUND_PATH();
    const out = this.api.delete(t.r, t.ns, t.name, deleteOptions);
    return { status: 200, body: out.object ?? out.status };
  }
}

// ---- helpers ----

function send(res: ServerResponse, reply: Reply): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  const isText = typeof reply.body === 'string' && reply.contentType?.startsWith('text/');
  const text = isText ? (reply.body as string) : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'Content-Type': reply.contentType ?? 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-cache, private',
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    const b = c as Buffer;
    size += b.length;
    if (size > MAX_BODY) throw new ApiError(413, 'RequestEntityTooLarge', 'the request body is too large');
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

function selectors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SelectorError) throw badRequest(e.message);
    throw e;
  }
}

function discovery(accept: string, core: boolean, hostPort: string): Reply {
  const v2 = /g=apidiscovery\.k8s\.io;\s*v=v2;\s*as=APIGroupDiscoveryList/.test(accept);
  const v2beta1 = /g=apidiscovery\.k8s\.io;\s*v=v2beta1;\s*as=APIGroupDiscoveryList/.test(accept);
  if (v2 || v2beta1) {
    const doc = aggregatedDiscovery(core);
    if (v2) return { status: 200, body: doc, contentType: AGGREGATED_CONTENT_TYPE };
    return {
      status: 200,
      body: { ...doc, apiVersion: 'apidiscovery.k8s.io/v2beta1' },
      contentType: 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList',
    };
  }
  return { status: 200, body: core ? legacyApiVersions(hostPort) : legacyGroupList() };
}

function openApi(segs: string[]): Reply {
  if (segs[1] !== 'v3') throw NOT_FOUND_PATH();
  if (segs.length === 2) return { status: 200, body: openApiRoot() };
  const doc = segs[2] === 'api' && segs[3] === 'v1' && segs.length === 4 ? openApiDocument('', 'v1') : segs[2] === 'apis' && segs.length === 5 ? openApiDocument(segs[3]!, segs[4]!) : undefined;
  if (!doc) throw NOT_FOUND_PATH();
  return { status: 200, body: doc };
}

function parseTarget(segs: string[]): Target | undefined {
  let group: string;
  let rest: string[];
  if (segs[0] === 'api' && segs[1] === 'v1') {
    group = '';
    rest = segs.slice(2);
  } else if (segs[0] === 'apis' && segs.length >= 4) {
    group = segs[1]!;
    if (segs[2] !== 'v1') return undefined;
    rest = segs.slice(3);
  } else return undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const r = findResource(group, 'v1', rest[2]!);
    if (r?.namespaced) {
      if (rest.length > 5) return undefined;
      return { r, ns: rest[1]!, ...(rest[3] ? { name: rest[3] } : {}), ...(rest[4] ? { sub: rest[4] } : {}) };
    }
  }
  const r = findResource(group, 'v1', rest[0] ?? '');
  if (!r || rest.length > 3) return undefined;
  if (rest[2] && !r.subresources.some((s) => s.name === rest[2])) return undefined;
  return { r, ...(rest[1] ? { name: rest[1] } : {}), ...(rest[2] ? { sub: rest[2] } : {}) };
}

function hasScale(r: ResourceDef): boolean {
  return r.subresources.some((s) => s.name === 'scale');
}

function scaleOf(r: ResourceDef, o: KObject): Record<string, unknown> {
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: o.metadata.name,
      namespace: o.metadata.namespace,
      uid: o.metadata.uid,
      resourceVersion: o.metadata.resourceVersion,
      creationTimestamp: o.metadata.creationTimestamp,
    },
    spec: { replicas: Number(o.spec?.replicas ?? (r.kind === 'DaemonSet' ? 0 : 1)) },
    status: { replicas: Number(o.status?.replicas ?? 0), selector: selectorString(o.spec?.selector?.matchLabels) },
  };
}

function patchScale(current: Record<string, unknown>, type: PatchType, text: string): { spec?: { replicas?: unknown } } {
  let body: unknown;
  try {
    body = type === 'apply' ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw badRequest(`error decoding patch: ${(e as Error).message}`);
  }
  if (type === 'json') return jsonPatch(current, body) as { spec?: { replicas?: unknown } };
  if (!isPlainObject(body)) throw badRequest('invalid scale patch');
  return mergePatch(current, body) as { spec?: { replicas?: unknown } };
}

/** A few plausible log lines for a running container. */
function podLog(pod: KObject, q: URLSearchParams): string {
  const containers = ((pod.spec?.containers ?? []) as { name: string; image: string; ports?: { containerPort: number }[] }[]);
  const want = q.get('container');
  const name = pod.metadata.name;
  if (!want && containers.length > 1)
    throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.map((c) => c.name).join(' ')}]`);
  const c = want ? containers.find((x) => x.name === want) : containers[0];
  if (!c) throw badRequest(`container ${want} is not valid for pod ${name}`);
  if (pod.status?.phase === 'Pending') throw badRequest(`container "${c.name}" in pod "${name}" is waiting to start: ContainerCreating`);
  const started = pod.status?.startTime ?? pod.metadata.creationTimestamp ?? new Date().toISOString();
  const port = c.ports?.[0]?.containerPort;
  const lines = [
    `time="${started}" level=info msg="starting ${c.name}" image="${c.image}"`,
    `time="${started}" level=info msg="configuration loaded" pod="${pod.metadata.namespace}/${name}" node="${pod.spec?.nodeName ?? ''}"`,
    ...(port ? [`time="${started}" level=info msg="listening" address=":${port}"`] : []),
    `time="${started}" level=info msg="ready"`,
  ];
  const tail = q.get('tailLines');
  const shown = tail !== null ? lines.slice(Math.max(0, lines.length - Number(tail))) : lines;
  const stamp = q.get('timestamps') === 'true' ? `${new Date(Date.parse(started)).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z')} ` : '';
  return shown.map((l) => `${stamp}${l}\n`).join('');
}

/** Starts a lab API server on 127.0.0.1 for `lab` (state in <lab>/state/kube.json). */
export async function startKubeServer(lab: string, options: KubeServerOptions = {}): Promise<KubeServer> {
  const s = new KubeServer(lab, options);
  await s.start();
  return s;
}
