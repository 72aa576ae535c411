/**
 * Lab Prometheus, Grafana and Alertmanager (HTTP-APIS.md §6): health/readiness endpoints with
 * their exact texts, a minimal Prometheus query API, Grafana /api/health (+ bearer-protected
 * /api/*), Alertmanager /api/v2 alerts, status and silences. setHealth() switches Prometheus to
 * "starting" (/-/ready 503) or Grafana's database to "failing" (/api/health 503).
 */
import { randomUUID } from 'node:crypto';
import { bearer, json, nowIso, text, type LabReply, type LabRequest, type ServiceDef } from './server.js';
import { readHttpState, updateHttpState, type Json } from './state.js';

const STARTED = new Date().toISOString();

export function prometheusService(lab: string): ServiceDef {
  return {
    name: 'prometheus',
    unavailable: () => text(503, 'Service Unavailable'),
    handle(req) {
      const health = readHttpState(lab).health.prometheus;
      if (req.path === '/-/healthy' && (req.method === 'GET' || req.method === 'HEAD')) return text(200, 'Prometheus Server is Healthy.\n');
      if (req.path === '/-/ready' && (req.method === 'GET' || req.method === 'HEAD')) {
        return health === 'starting' ? text(503, 'Service Unavailable', 'text/plain; charset=utf-8', { 'x-prometheus-stopping': 'false' }) : text(200, 'Prometheus Server is Ready.\n');
      }
      if (req.path === '/api/v1/query' || req.path === '/api/v1/query_range') {
        const q = req.query.get('query') ?? (req.method === 'POST' ? new URLSearchParams(req.body).get('query') : null);
        if (!q) return json(400, { status: 'error', errorType: 'bad_data', error: 'invalid parameter "query": 1:1: parse error: no expression found in input' });
        const result = q.trim() === 'up' ? [{ metric: { __name__: 'up', job: 'prometheus', instance: 'localhost:9090' }, value: [Date.now() / 1000, '1'] }] : [];
        return json(200, { status: 'success', data: { resultType: 'vector', result } });
      }
      if (req.path === '/api/v1/status/buildinfo') return json(200, { status: 'success', data: { version: '2.54.1', revision: 'lab', branch: 'HEAD', goVersion: 'go1.22.6' } });
      if (req.path === '/-/reload' && req.method === 'POST') return text(403, 'Lifecycle API is not enabled.');
      return text(404, '404 page not found\n');
    },
  };
}

export function grafanaService(lab: string, token: string): ServiceDef {
  const health = (failing: boolean) => json(failing ? 503 : 200, { commit: '0c3b1d1a', database: failing ? 'failing' : 'ok', version: '11.2.0' });
  return {
    name: 'grafana',
    unavailable: () => json(503, { message: 'Service Unavailable' }),
    isOpen: (req) => req.path === '/api/health' || req.path === '/healthz' || !req.path.startsWith('/api/'),
    authorize: (req) => (bearer(req) === token ? undefined : json(401, { message: 'Unauthorized' })),
    handle(req) {
      if (req.path === '/api/health') return health(readHttpState(lab).health.grafana === 'failing');
      if (req.path === '/healthz') return text(200, 'Ok');
      if (req.path === '/api/search') return json(200, [{ id: 1, uid: 'cortex-overview', title: 'Cortex overview', type: 'dash-db', tags: ['cortex'] }]);
      if (req.path === '/api/org') return json(200, { id: 1, name: 'Main Org.' });
      return json(404, { message: 'Not found' });
    },
  };
}

function isStringMap(v: unknown): v is Record<string, string> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

const labelKey = (labels: Record<string, string>) => JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));

function postAlerts(lab: string, req: LabRequest): LabReply {
  if (req.jsonError) return json(400, 'body of the request is not valid JSON');
  if (!Array.isArray(req.json)) return json(400, 'json: cannot unmarshal object into Go value of type models.PostableAlerts');
  const alerts = req.json as unknown[];
  for (const [i, a] of alerts.entries()) {
    if (!a || typeof a !== 'object') return json(400, `${i}: alert must be an object`);
    const al = a as Json;
    if (al.labels === undefined) return json(400, `${i}.labels in body is required`);
    if (!isStringMap(al.labels)) return json(400, `${i}.labels in body must be of type object with string values`);
    if (Object.keys(al.labels).length === 0) return json(400, 'at least one label pair required');
    if (al.annotations !== undefined && !isStringMap(al.annotations)) return json(400, `${i}.annotations in body must be of type object with string values`);
    for (const f of ['startsAt', 'endsAt']) {
      if (al[f] !== undefined && Number.isNaN(Date.parse(String(al[f])))) return json(400, `${i}.${f} in body must be of type date-time: "${String(al[f])}"`);
    }
    if (al.startsAt && al.endsAt && Date.parse(String(al.endsAt)) < Date.parse(String(al.startsAt))) return json(400, 'start time must be before end time');
  }
  updateHttpState(lab, (s) => {
    for (const a of alerts as Json[]) {
      const labels = a.labels as Record<string, string>;
      const now = nowIso();
      const existing = s.alertmanager.alerts.find((x) => labelKey(x.labels as Record<string, string>) === labelKey(labels));
      const startsAt = (a.startsAt as string | undefined) ?? (existing?.startsAt as string | undefined) ?? now;
      const endsAt = (a.endsAt as string | undefined) ?? new Date(Date.now() + 5 * 60_000).toISOString();
      const next = { labels, annotations: a.annotations ?? {}, startsAt, endsAt, updatedAt: now, generatorURL: a.generatorURL ?? '', fingerprint: Buffer.from(labelKey(labels)).toString('hex').slice(0, 16) };
      if (existing) Object.assign(existing, next);
      else s.alertmanager.alerts.push(next);
    }
  });
  return { status: 200, headers: {} };
}

function silenceState(s: Json): string {
  const now = Date.now();
  if (Date.parse(String(s.endsAt)) <= now) return 'expired';
  return Date.parse(String(s.startsAt)) > now ? 'pending' : 'active';
}

function postSilence(lab: string, req: LabRequest): LabReply {
  if (req.jsonError || !req.json || typeof req.json !== 'object' || Array.isArray(req.json)) return json(400, 'body of the request is not a valid silence');
  const b = req.json as Json;
  for (const f of ['matchers', 'startsAt', 'endsAt', 'createdBy', 'comment']) if (b[f] === undefined) return json(400, `${f} in body is required`);
  if (!Array.isArray(b.matchers) || b.matchers.length === 0) return json(400, 'matchers in body should have at least 1 items');
  for (const [i, m] of (b.matchers as Json[]).entries()) {
    for (const f of ['name', 'value', 'isRegex']) if (m?.[f] === undefined) return json(400, `matchers.${i}.${f} in body is required`);
  }
  if (Date.parse(String(b.endsAt)) < Date.parse(String(b.startsAt))) return json(400, 'failed to create silence: invalid silence: end time must not be before start time');
  return updateHttpState(lab, (s) => {
    if (b.id !== undefined) {
      const ex = s.alertmanager.silences.find((x) => x.id === b.id);
      if (!ex) return json(404, `silence ${String(b.id)} not found`);
      Object.assign(ex, { matchers: b.matchers, startsAt: b.startsAt, endsAt: b.endsAt, createdBy: b.createdBy, comment: b.comment, updatedAt: nowIso() });
      return json(200, { silenceID: ex.id });
    }
    const id = randomUUID();
    s.alertmanager.silences.push({ id, matchers: b.matchers, startsAt: b.startsAt, endsAt: b.endsAt, createdBy: b.createdBy, comment: b.comment, updatedAt: nowIso() });
    return json(200, { silenceID: id });
  });
}

export function alertmanagerService(lab: string): ServiceDef {
  return {
    name: 'alertmanager',
    unavailable: () => text(503, 'Service Unavailable'),
    handle(req) {
      const get = req.method === 'GET' || req.method === 'HEAD';
      if ((req.path === '/-/healthy' || req.path === '/-/ready') && get) return text(200, 'OK');
      if (req.path === '/-/reload' && req.method === 'POST') return text(200, '');
      if (req.path === '/api/v2/status' && get) {
        return json(200, {
          cluster: { name: '01JLAB', status: 'ready', peers: [] },
          versionInfo: { version: '0.27.0', revision: 'lab', branch: 'HEAD', buildUser: 'lab', buildDate: '20240228-11:51:20', goVersion: 'go1.21.7' },
          config: { original: 'route:\n  receiver: n8n-warning\nreceivers:\n- name: n8n-warning\n- name: n8n-critical\n' },
          uptime: STARTED,
        });
      }
      if (req.path === '/api/v2/receivers' && get) return json(200, [{ name: 'n8n-warning' }, { name: 'n8n-critical' }]);
      if (req.path === '/api/v2/alerts') {
        if (req.method === 'POST') return postAlerts(lab, req);
        if (get) {
          const now = Date.now();
          const s = readHttpState(lab);
          const active = req.query.get('active') !== 'false';
          return json(
            200,
            s.alertmanager.alerts
              .filter((a) => !active || Date.parse(String(a.endsAt)) > now)
              .map((a) => ({ ...a, receivers: [{ name: (a.labels as Json).severity === 'critical' ? 'n8n-critical' : 'n8n-warning' }], status: { state: Date.parse(String(a.endsAt)) > now ? 'active' : 'unprocessed', silencedBy: [], inhibitedBy: [] } })),
          );
        }
      }
      if (req.path === '/api/v2/silences') {
        if (req.method === 'POST') return postSilence(lab, req);
        if (get) return json(200, readHttpState(lab).alertmanager.silences.map((x) => ({ ...x, status: { state: silenceState(x) } })));
      }
      const sm = /^\/api\/v2\/silence\/([^/]+)$/.exec(req.path);
      if (sm) {
        if (get) {
          const x = readHttpState(lab).alertmanager.silences.find((y) => y.id === sm[1]);
          return x ? json(200, { ...x, status: { state: silenceState(x) } }) : json(404, `silence ${sm[1]} not found`);
        }
        if (req.method === 'DELETE') {
          return updateHttpState(lab, (s) => {
            const x = s.alertmanager.silences.find((y) => y.id === sm[1]);
            if (!x) return json(404, `silence ${sm[1]} not found`);
            if (Date.parse(String(x.endsAt)) > Date.now()) x.endsAt = nowIso();
            return { status: 200, headers: {} };
          });
        }
      }
      return text(404, '404 page not found\n');
    },
  };
}
