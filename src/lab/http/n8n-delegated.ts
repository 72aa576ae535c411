/**
 * What the lab's `cortex-<action>` n8n workflows do: realistic outputs for every action n8n
 * performs for cortex, with state where later steps look at it (incidents, DNS records, images,
 * reviews). clone_repository makes a REAL checkout directory under <lab>/files/workspace/<repo>
 * in which `npm ci` and `npm test` run offline (no dependencies).
 */
import { rmSync, existsSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { labPaths, mkdirLab, writeLabFile } from '../lab-dir.js';
import { LabHttpError, nowIso } from './server.js';
import { sha1, sha256, updateHttpState, type Json } from './state.js';

export interface DelegatedCall {
  lab: string;
  params: Json;
  /** The whole webhook body: execution_id, workflow_id, action_id. */
  meta: Json;
  selfUrl: string;
}

type Handler = (call: DelegatedCall) => Json | Promise<Json>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function day(d = new Date()): string {
  return d.toISOString().slice(0, 10).replace(/-/g, '');
}

/** owner/name for a repository given as owner/name or a clone URL. */
export function repoPath(repository: string): string[] {
  let r = repository.trim().replace(/\.git$/, '');
  const url = /^[a-z]+:\/\/[^/]+\/(.+)$/i.exec(r) ?? /^[^@]+@[^:]+:(.+)$/.exec(r);
  if (url?.[1]) r = url[1];
  const parts = r.split('/').filter((p) => p && p !== '.' && p !== '..').map((p) => p.replace(/[^A-Za-z0-9_.-]/g, '-'));
  if (parts.length === 0) throw new LabHttpError(400, `invalid repository "${repository}"`);
  return parts.slice(-2);
}

function npmName(name: string): string {
  const n = name.toLowerCase().replace(/[^a-z0-9._-]/g, '-').replace(/^[._]+/, '');
  return n || 'app';
}

const cloneRepository: Handler = ({ lab, params }) => {
  const repository = str(params.repository);
  if (!repository) throw new LabHttpError(400, 'repository is required');
  const branch = str(params.branch) ?? 'main';
  const ref = str(params.ref) ?? 'HEAD';
  const parts = repoPath(repository);
  const root = resolve(labPaths(lab).files, 'workspace');
  const dir = resolve(root, ...parts);
  if (!dir.startsWith(root + sep)) throw new LabHttpError(400, `invalid repository "${repository}"`);
  const commit = /^[0-9a-f]{40}$/i.test(ref) ? ref.toLowerCase() : ref === 'HEAD' ? sha1(`${parts.join('/')}@${branch}`) : sha1(`${parts.join('/')}@${ref}`);
  const name = npmName(parts[parts.length - 1] as string);
  rmSync(dir, { recursive: true, force: true });
  mkdirLab(dir);
  const pkg = {
    name,
    version: '1.0.0',
    private: true,
    description: `lab checkout of ${parts.join('/')}@${commit.slice(0, 12)}`,
    main: 'server.js',
    scripts: { test: 'node -e ""', start: 'node server.js' },
  };
  const lock = { name, version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name, version: '1.0.0' } } };
  writeLabFile(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  writeLabFile(join(dir, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
  writeLabFile(
    join(dir, 'server.js'),
    [
      "const http = require('node:http');",
      `const version = process.env.APP_VERSION || ${JSON.stringify(commit)};`,
      'http.createServer((req, res) => {',
      "  if (req.url === '/health' || req.url === '/ready') return res.end('ok');",
      "  if (req.url === '/version') return res.end(version);",
      '  res.statusCode = 404; res.end();',
      '}).listen(Number(process.env.PORT || 3000));',
      '',
    ].join('\n'),
  );
  writeLabFile(join(dir, 'Dockerfile'), 'FROM node:20-alpine\nWORKDIR /app\nCOPY package*.json ./\nRUN npm ci --omit=dev\nCOPY . .\nUSER node\nEXPOSE 3000\nCMD ["node", "server.js"]\n');
  writeLabFile(join(dir, 'REVISION'), `${commit}\n`);
  return { path: dir, commit, branch };
};

const buildDockerImage: Handler = ({ lab, params }) => {
  const context = str(params.context);
  const tags = arr(params.tags).filter((t): t is string => typeof t === 'string');
  if (!context || tags.length === 0) throw new LabHttpError(400, 'context and tags are required');
  if (context.startsWith('/') && !existsSync(context)) throw new LabHttpError(500, `unable to prepare context: path "${context}" not found`);
  const dockerfile = str(params.dockerfile) ?? 'Dockerfile';
  if (context.startsWith('/') && !existsSync(join(context, dockerfile))) {
    throw new LabHttpError(500, `failed to solve: failed to read dockerfile: open ${dockerfile}: no such file or directory`);
  }
  const digest = `sha256:${sha256(JSON.stringify({ context, dockerfile, tags, build_args: params.build_args ?? {}, target: params.target ?? null }))}`;
  updateHttpState(lab, (s) => {
    for (const t of tags) s.n8n.images[t] = digest;
  });
  return { image: tags[0], digest, tags };
};

const SEVERITIES = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];

const securityScan: Handler = ({ params, selfUrl }) => {
  const image = str(params.image);
  if (!image) throw new LabHttpError(400, 'image is required');
  // Images whose name says "vulnerable" have findings, so the lab can rehearse a failed scan.
  const bad = /vulnerable/i.test(image);
  const results: Record<string, number> = { CRITICAL: bad ? 1 : 0, HIGH: bad ? 3 : 0, MEDIUM: 2, LOW: 5, UNKNOWN: 0 };
  const t = params.severity_threshold;
  const counted = Array.isArray(t) ? (t as string[]) : typeof t === 'string' ? SEVERITIES.slice(SEVERITIES.indexOf(t)) : ['HIGH', 'CRITICAL'];
  const vulnerabilities = counted.reduce((n, sev) => n + (results[sev] ?? 0), 0);
  return { results, passed: vulnerabilities === 0, vulnerabilities, report_url: `${selfUrl}/reports/${str(params.scanner) ?? 'trivy'}/${sha1(image).slice(0, 12)}.json` };
};

/** registry host, repository and tag of an image reference. */
export function parseImage(ref: string): { host: string; repository: string; tag: string } {
  let rest = ref;
  let tag = 'latest';
  const at = rest.indexOf('@');
  if (at >= 0) {
    tag = rest.slice(at + 1);
    rest = rest.slice(0, at);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
      tag = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
    }
  }
  const parts = rest.split('/');
  const host = parts.length > 1 && /[.:]|^localhost$/.test(parts[0] as string) ? (parts.shift() as string) : 'docker.io';
  return { host, repository: parts.join('/'), tag };
}

const pushDockerImage: Handler = ({ lab, params }) => {
  const image = str(params.image);
  if (!image) throw new LabHttpError(400, 'image is required');
  return updateHttpState(lab, (s) => {
    const digest = s.n8n.images[image] ?? `sha256:${sha256(image)}`;
    const { repository, tag } = parseImage(image);
    const repo = (s.registry.repositories[repository] ??= {});
    repo[tag] = digest;
    for (const extra of arr(params.additional_tags)) if (typeof extra === 'string') repo[extra] = digest;
    return { image, digest };
  });
};

const createIncidentRecord: Handler = ({ lab, params, meta, selfUrl }) =>
  updateHttpState(lab, (s) => {
    let id = str(params.incident_id);
    const existing = id ? s.n8n.incidents[id] : undefined;
    if (!id) {
      const d = day();
      const seq = (s.n8n.incident_seq[d] ?? 0) + 1;
      s.n8n.incident_seq[d] = seq;
      id = `SEC-${d}-${String(seq).padStart(3, '0')}`;
    }
    const now = nowIso();
    const record: Json = {
      ...(existing ?? { created_at: now, status: str(params.status) ?? 'active' }),
      ...params,
      incident_id: id,
      updated_at: now,
      execution_id: meta.execution_id ?? null,
    };
    s.n8n.incidents[id] = record;
    return { incident_id: id, url: `${selfUrl}/incidents/${id}`, created_at: record.created_at };
  });

const enableDebugLogging: Handler = ({ params, meta }) => {
  const targets = arr(params.targets).filter((t): t is string => typeof t === 'string');
  if (!targets.length) throw new LabHttpError(400, 'targets is required');
  const duration = typeof params.duration === 'number' ? params.duration : 3600;
  return {
    enabled: targets,
    expires_at: new Date(Date.now() + duration * 1000).toISOString(),
    location: str(params.export_to) ?? `s3://cortex-forensics/debug-logs/${String(meta.execution_id ?? 'unknown')}/`,
  };
};

const aggregateLogs: Handler = ({ params, meta }) => {
  const sources = arr(params.sources).filter((x): x is string => typeof x === 'string');
  if (!sources.length) throw new LabHttpError(400, 'sources is required');
  const location = str(params.output) ?? `s3://cortex-forensics/logs/${String(meta.execution_id ?? 'unknown')}/`;
  return { location, entries: 1200 * sources.length + 37, sources };
};

const correlateSecurityEvents: Handler = ({ params }) => {
  if (!str(params.log_source)) throw new LabHttpError(400, 'log_source is required');
  const t0 = Date.now() - 3 * 3600_000;
  const at = (m: number) => new Date(t0 + m * 60_000).toISOString();
  const timeline = [
    { time: at(0), event: 'SSH login from 203.0.113.45 with a leaked key' },
    { time: at(4), event: 'curl | sh downloaded /tmp/.x/kworkerd' },
    { time: at(6), event: 'crontab entry added for persistence' },
    { time: at(9), event: 'outbound connection to 198.51.100.23:4444' },
  ];
  return {
    attack_vector: 'ssh_key_compromise',
    scope: 'single_system',
    timeline,
    initial_compromise: timeline[0],
    findings: ['persistence via crontab', 'cryptominer binary /tmp/.x/kworkerd', 'no lateral movement detected'],
  };
};

const checkIndicatorsOfCompromise: Handler = ({ params }) => {
  const extra = arr(params.indicators).filter((x): x is string => typeof x === 'string');
  const indicators = [
    { type: 'ip', value: '203.0.113.45', source: 'known_bad_ips' },
    { type: 'sha256', value: sha256('kworkerd'), source: 'malware_signatures' },
    ...extra.map((value) => ({ type: /^\d+\.\d+\.\d+\.\d+$/.test(value) ? 'ip' : 'indicator', value, source: 'custom' })),
  ];
  return { indicators, matches: indicators.length, compromised: true };
};

const generateInvestigationReport: Handler = ({ params, selfUrl }) => {
  const id = str(params.incident_id);
  if (!id) throw new LabHttpError(400, 'incident_id is required');
  const format = str(params.format) ?? 'pdf';
  return { location: str(params.output) ?? `s3://cortex-forensics/incidents/${id}/report.${format}`, url: `${selfUrl}/reports/${id}.${format}` };
};

const enhanceMonitoring: Handler = ({ lab, params }) => {
  const rules = arr(params.new_rules).map((r) => (typeof r === 'string' ? r : r && typeof r === 'object' ? String((r as Json).name ?? (r as Json).alert ?? (r as Json).rule ?? 'rule') : String(r)));
  const thresholds = params.alert_thresholds && typeof params.alert_thresholds === 'object' ? Object.keys(params.alert_thresholds as Json) : [];
  updateHttpState(lab, (s) => {
    for (const r of rules) if (!s.n8n.monitoring_rules.includes(r)) s.n8n.monitoring_rules.push(r);
  });
  return { rules_added: rules, thresholds_updated: thresholds, location: `git://cortex-monitoring/rules/${str(params.target) ?? 'both'}` };
};

const updateIncidentRunbooks: Handler = ({ lab, params, selfUrl }) => {
  const runbook = str(params.runbook) ?? 'general-incident';
  const changed = params.lessons_learned !== undefined || params.new_procedures !== undefined;
  updateHttpState(lab, (s) => {
    s.n8n.runbooks[runbook] = { updated_at: nowIso(), lessons_learned: params.lessons_learned ?? null, new_procedures: params.new_procedures ?? null };
  });
  return { runbook_url: `${selfUrl}/runbooks/${encodeURIComponent(runbook)}`, updated: changed };
};

const schedulePostIncidentReview: Handler = ({ lab, params, selfUrl }) => {
  const id = str(params.incident_id);
  if (!id) throw new LabHttpError(400, 'incident_id is required');
  return updateHttpState(lab, (s) => {
    const existing = s.n8n.reviews[id];
    if (existing) return existing;
    const within = typeof params.within_days === 'number' ? params.within_days : 7;
    const when = new Date(Date.now() + Math.min(within, 3) * 86400_000);
    when.setUTCHours(14, 0, 0, 0);
    const meetingId = `PIR-${id}`;
    const review = { meeting_id: meetingId, scheduled_for: when.toISOString(), url: `${selfUrl}/meetings/${meetingId}` };
    s.n8n.reviews[id] = review;
    return review;
  });
};

const closeIncident: Handler = ({ lab, params }) => {
  const id = str(params.incident_id);
  if (!id) throw new LabHttpError(400, 'incident_id is required');
  return updateHttpState(lab, (s) => {
    const inc = s.n8n.incidents[id];
    if (!inc) throw new LabHttpError(404, `Incident ${id} not found`, 'create_incident_record opens incidents');
    const closedAt = typeof inc.closed_at === 'string' ? inc.closed_at : nowIso();
    Object.assign(inc, { status: 'closed', closed_at: closedAt, resolution: params.resolution ?? null, final_report: params.final_report ?? null, notes: params.notes ?? null });
    return { incident_id: id, status: 'closed', closed_at: closedAt };
  });
};

const updateDnsRecords: Handler = ({ lab, params }) => {
  const zone = str(params.zone);
  const records = arr(params.records) as Json[];
  if (!zone || !records.length) throw new LabHttpError(400, 'zone and records are required');
  return updateHttpState(lab, (s) => {
    const z = (s.n8n.dns[zone] ??= {});
    // Check every guard first: nothing changes unless all records may change.
    for (const r of records) {
      const name = String(r.name);
      const cur = z[name];
      if (r.old_value !== undefined && r.delete !== true && cur && cur.value !== r.old_value && cur.value !== r.value) {
        throw new LabHttpError(409, `record ${name} holds ${cur.value}, not the expected ${String(r.old_value)}`);
      }
    }
    const updated: string[] = [];
    const previous: Json[] = [];
    for (const r of records) {
      const name = String(r.name);
      const cur = z[name];
      previous.push(cur ? { name, type: cur.type, value: cur.value, ttl: cur.ttl } : { name, type: String(r.type ?? 'A'), delete: true });
      if (r.delete === true) {
        if (cur) {
          delete z[name];
          updated.push(name);
        }
        continue;
      }
      const next = { type: String(r.type ?? cur?.type ?? 'A'), value: String(r.value ?? cur?.value ?? ''), ttl: typeof r.ttl === 'number' ? r.ttl : (cur?.ttl ?? 300) };
      if (!cur || cur.value !== next.value || cur.type !== next.type || cur.ttl !== next.ttl) updated.push(name);
      z[name] = next;
    }
    return { updated, previous_records: previous };
  });
};

const HANDLERS: Record<string, Handler> = {
  clone_repository: cloneRepository,
  build_docker_image: buildDockerImage,
  security_scan: securityScan,
  push_docker_image: pushDockerImage,
  create_incident_record: createIncidentRecord,
  enable_debug_logging: enableDebugLogging,
  aggregate_logs: aggregateLogs,
  correlate_security_events: correlateSecurityEvents,
  check_indicators_of_compromise: checkIndicatorsOfCompromise,
  generate_investigation_report: generateInvestigationReport,
  enhance_monitoring: enhanceMonitoring,
  update_incident_runbooks: updateIncidentRunbooks,
  schedule_post_incident_review: schedulePostIncidentReview,
  close_incident: closeIncident,
  update_dns_records: updateDnsRecords,
};

export function delegatedHandler(action: string): Handler | undefined {
  return HANDLERS[action];
}

export const DELEGATED_HANDLED = Object.keys(HANDLERS);
