/**
 * Lab forensics service (config endpoints.forensics; Bearer FORENSICS_TOKEN). Its API, for the
 * actions that use it (start/stop_packet_capture, capture_cluster_state uploads):
 *
 *   POST /api/v1/captures {node, interface, output, duration?, filter?, max_size_mb?, vmid?, target?}
 *        -> 201 capture; a capture still running for the same node + interface + output -> 200 it
 *   GET  /api/v1/captures[?status=&node=&interface=&vmid=] -> 200 {captures: [...]}
 *   GET  /api/v1/captures/{id} -> 200 capture | 404 {error}
 *   POST /api/v1/captures/{id}/stop -> 200 capture (status stopped; a finished or stopped one as it is)
 *   PUT  /api/v1/uploads?location=<destination incl. file name>  (raw body) -> 201 {location, bytes, sha256}
 *
 *   capture = {id, status: running|stopped|finished, node, interface, vmid, output, location,
 *              filter, started_at, ends_at, stopped_at, bytes}
 *   errors: 400/401/404/503 {error: "..."}
 * Uploaded bodies are kept under <lab>/files/forensics/.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { labPaths, writeLabFile } from '../lab-dir.js';
import { bearer, json, nowIso, type LabReply, type ServiceDef } from './server.js';
import { readHttpState, updateHttpState, type Json } from './state.js';

const err = (status: number, error: string): LabReply => json(status, { error });

/** A capture as it is now: running ones end by themselves at ends_at; bytes grow while running. */
function view(c: Json): Json {
  const now = Date.now();
  const status = c.status === 'running' && Date.parse(String(c.ends_at)) <= now ? 'finished' : c.status;
  const until = status === 'running' ? now : Date.parse(String(c.stopped_at ?? c.ends_at));
  const bytes = Math.max(0, Math.round(((until - Date.parse(String(c.started_at))) / 1000) * 24_576));
  return { ...c, status, bytes };
}

export function forensicsService(lab: string, token: string): ServiceDef {
  return {
    name: 'forensics',
    unavailable: () => err(503, 'forensics service unavailable'),
    throttled: (retryAfter) => json(429, { error: 'too many requests' }, { 'retry-after': String(retryAfter) }),
    authorize: (req) => (bearer(req) === token ? undefined : err(401, 'unauthorized')),
    handle(req) {
      if (req.path === '/healthz') return json(200, { status: 'ok' });
      if (req.path === '/api/v1/captures' && req.method === 'POST') {
        if (req.jsonError || !req.json || typeof req.json !== 'object' || Array.isArray(req.json)) return err(400, 'body must be a JSON object');
        const b = req.json as Json;
        for (const f of ['node', 'interface', 'output']) if (typeof b[f] !== 'string' || !b[f]) return err(400, `${f} is required`);
        if (!/^(tap\d+i\d+|vmbr\d+|eth\d+|ens\d+)$/.test(String(b.interface))) return err(400, `tcpdump: ${String(b.interface)}: No such device exists`);
        const duration = b.duration === undefined ? 3600 : Number(b.duration);
        if (!Number.isInteger(duration) || duration < 1) return err(400, 'duration must be a positive integer (seconds)');
        return updateHttpState(lab, (s) => {
          const running = s.forensics.captures.map(view).find((c) => c.status === 'running' && c.node === b.node && c.interface === b.interface && c.output === b.output);
          if (running) return json(200, running);
          const id = `cap-${String(s.forensics.next_id++).padStart(4, '0')}`;
          const started = nowIso();
          const output = String(b.output);
          const c: Json = {
            id,
            status: 'running',
            node: b.node,
            interface: b.interface,
            vmid: b.vmid ?? null,
            target: b.target ?? null,
            output,
            location: `${output.replace(/\/?$/, '/')}${id}.pcap`,
            filter: b.filter ?? null,
            max_size_mb: b.max_size_mb ?? null,
            started_at: started,
            ends_at: new Date(Date.parse(started) + duration * 1000).toISOString(),
            stopped_at: null,
          };
          s.forensics.captures.push(c);
          return json(201, view(c));
        });
      }
      if (req.path === '/api/v1/captures' && req.method === 'GET') {
        const q = req.query;
        const list = readHttpState(lab)
          .forensics.captures.map(view)
          .filter((c) => ['status', 'node', 'interface', 'vmid'].every((f) => !q.get(f) || String(c[f]) === q.get(f)));
        return json(200, { captures: list });
      }
      const m = /^\/api\/v1\/captures\/([^/]+)(\/stop)?$/.exec(req.path);
      if (m && ((req.method === 'GET' && !m[2]) || (req.method === 'POST' && m[2]))) {
        return updateHttpState(lab, (s) => {
          const c = s.forensics.captures.find((x) => x.id === m[1]);
          if (!c) return err(404, `capture ${m[1]} not found`);
          if (m[2] && view(c).status === 'running') {
            c.status = 'stopped';
            c.stopped_at = nowIso();
          } else if (m[2] && c.status === 'running') {
            c.status = 'finished';
          }
          return json(200, view(c));
        });
      }
      if (req.path === '/api/v1/uploads' && req.method === 'PUT') {
        const location = req.query.get('location');
        if (!location) return err(400, 'location is required');
        const bytes = Buffer.byteLength(req.body);
        const sha = createHash('sha256').update(req.body).digest('hex');
        const file = join(labPaths(lab).files, 'forensics', location.replace(/^[a-z0-9]+:\/\//i, '').replace(/\.\.+/g, '_'));
        writeLabFile(file, req.body);
        updateHttpState(lab, (s) => {
          s.forensics.uploads.push({ location, bytes, sha256: sha, time: nowIso(), action: req.action ?? null });
        });
        return json(201, { location, bytes, sha256: sha });
      }
      return err(404, 'not found');
    },
  };
}
