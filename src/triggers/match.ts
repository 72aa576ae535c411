/**
 * Which triggers an incoming event matches, per source:
 *
 * - alertmanager: every alert of `alerts[]` is matched on its own (one run per matching alert; the
 *   alerts of a group are separate problems, e.g. two instances): `labels.alertname`, the label
 *   matchers, the alert's `status` (`firing` only unless `on_status` says otherwise) and the
 *   threshold against the numeric annotation (first) or label named by `value_label` (default
 *   `value`). `${event}` is the alert with the group's fields (receiver, externalURL, groupKey,
 *   groupLabels, commonLabels, commonAnnotations) added. Event id (and dedup key):
 *   `alertmanager:<fingerprint>:<startsAt>:<status>`; Alertmanager re-sends a group on every
 *   group_interval/repeat_interval with the same values.
 * - github: the X-GitHub-Event value in `events` (default push; ping never matches), `deleted: true`
 *   pushes ignored, `refs/heads/<branch>` (pull requests: pull_request.base.ref) against `branches`,
 *   repository.full_name against the `repository` glob (case-insensitive), payload `action` against
 *   `actions`. Event id: `github:<X-GitHub-Delivery>` (a redelivery carries the same id); the
 *   body's digest is a second dedup key, since the delivery id is not signed.
 * - falco: priority at or above the trigger's `priority` (case-insensitive), `rule` in `rules`
 *   (names or globs), `source`, `tags`. Event id: `falco:<uuid>` (falcosidekick), else a hash of
 *   time, rule, hostname and output. `${event.time}` is the top-level RFC 3339 time with
 *   nanoseconds; `output_fields['evt.time']` is rounded by JSON parsing.
 * - generic (`webhook` triggers): the whole payload. Event id: `generic:<Idempotency-Key>` when the
 *   sender gives one (then deduplicated), else a fresh id.
 *
 * `conditions` and `condition` apply after the type's own rules, for every type.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { TriggerDef } from '../definitions/types.js';
import { falcoRank, parseMatcher } from '../definitions/check-trigger.js';
import { globMatch } from './glob.js';
import type { EventSource, TriggerEntry } from './load.js';
import { BadEventError, conditionsFailure, type TriggerVars } from './render.js';

export interface IncomingEvent {
  source: EventSource;
  payload: unknown;
  /** The bytes as received (hashes, signatures). */
  rawBody: Buffer;
  /** X-GitHub-Event. */
  githubEvent?: string;
  /** X-GitHub-Delivery, or the Idempotency-Key of a generic webhook (neither is signed). */
  delivery?: string;
  /** The body was authenticated by an HMAC over it (serve): it is deduplicated on its digest too. */
  signed?: boolean;
  receivedAt: Date;
}

export interface Match {
  entry: TriggerEntry;
  /** What `${event.*}` reads. */
  event: unknown;
  /** What `${trigger.*}` reads. */
  vars: TriggerVars;
  /** Recorded in the run's trigger.event_id; also the deduplication key when `dedup`. */
  eventId: string;
  dedup: boolean;
  /**
   * More deduplication keys of the same event: `body:<sha256>` for a signed body (GitHub always),
   * whose delivery id is not signed. The event is a duplicate when any of its keys was seen.
   */
  aliases?: string[];
}

export interface Miss {
  entry: TriggerEntry;
  reason: string;
  /** Which part of the event (an alert's fingerprint), when the event has several. */
  unit?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sha(...parts: unknown[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? p : JSON.stringify(p) ?? '').update('\u0000');
  return h.digest('hex').slice(0, 24);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function triggerVars(entry: TriggerEntry, ev: IncomingEvent, eventId: string, extra: Record<string, unknown> = {}): TriggerVars {
  return {
    id: entry.id,
    key: entry.key,
    type: entry.type,
    workflow_id: entry.workflowId,
    source: ev.source,
    event_id: eventId,
    received_at: ev.receivedAt.toISOString(),
    ...extra,
  };
}

/** Checks the payload's shape for its source; throws BadEventError (HTTP 400). */
export function assertEventShape(ev: IncomingEvent): void {
  const p = ev.payload;
  switch (ev.source) {
    case 'alertmanager':
      if (!isObject(p) || !Array.isArray(p.alerts)) throw new BadEventError('not an Alertmanager webhook payload: expected an object with an "alerts" list');
      if (!p.alerts.every(isObject)) throw new BadEventError('not an Alertmanager webhook payload: every item of "alerts" must be an object');
      return;
    case 'github':
      if (!ev.githubEvent) throw new BadEventError('a GitHub event needs its type: the X-GitHub-Event header (cortex trigger: --github-event)');
      if (!/^[a-z_]{1,64}$/.test(ev.githubEvent)) throw new BadEventError(`"${ev.githubEvent}" is not a GitHub event name`);
      if (!isObject(p)) throw new BadEventError('not a GitHub webhook payload: expected a JSON object');
      return;
    case 'falco':
      if (!isObject(p) || typeof p.rule !== 'string' || typeof p.priority !== 'string') throw new BadEventError('not a Falco alert: expected an object with "rule" and "priority"');
      return;
    case 'generic':
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// alertmanager

function alertEventId(alert: Record<string, unknown>): string {
  const status = str(alert.status) ?? 'firing';
  const fp = str(alert.fingerprint) ?? sha(alert.labels);
  return `alertmanager:${fp}:${str(alert.startsAt) ?? ''}:${status}`;
}

function alertNumber(alert: Record<string, unknown>, name: string): number | undefined {
  for (const where of [alert.annotations, alert.labels]) {
    if (!isObject(where)) continue;
    const raw = where[name];
    if (typeof raw === 'number' && Number.isFinite(raw)) return raw;
    if (typeof raw === 'string' && raw.trim() !== '') {
      const n = Number.parseFloat(raw);
      if (Number.isFinite(n)) return n;
    }
  }
  return undefined;
}

function matchAlert(t: TriggerDef, alert: Record<string, unknown>, groupStatus: unknown): { reason?: string; value?: number } {
  const labels = isObject(alert.labels) ? alert.labels : {};
  const name = labels.alertname;
  if (name !== t.alert_name) return { reason: `alertname is ${JSON.stringify(name ?? null)}, not "${String(t.alert_name)}"` };
  const status = str(alert.status) ?? str(groupStatus) ?? 'firing';
  const want = (t.on_status as string | undefined) ?? 'firing';
  if (want !== 'any' && status !== want) return { reason: `status is ${status}; the trigger starts on ${want} alerts` };
  for (const [label, spec] of Object.entries((t.matchers ?? {}) as Record<string, string>)) {
    const actual = typeof labels[label] === 'string' ? (labels[label] as string) : '';
    const m = parseMatcher(spec);
    const ok =
      m.op === '=' ? actual === m.value : m.op === '!=' ? actual !== m.value : new RegExp(`^(?:${m.value})$`).test(actual) === (m.op === '=~');
    if (!ok) return { reason: `label ${label}="${actual}" does not match ${JSON.stringify(spec)}` };
  }
  if (typeof t.threshold === 'number') {
    const key = (t.value_label as string | undefined) ?? 'value';
    const value = alertNumber(alert, key);
    if (value === undefined) return { reason: `no numeric annotation or label "${key}" to compare with the threshold ${t.threshold}` };
    if (value < t.threshold) return { reason: `${key} ${value} is below the threshold ${t.threshold}` };
    return { value };
  }
  const value = alertNumber(alert, (t.value_label as string | undefined) ?? 'value');
  return value === undefined ? {} : { value };
}

function matchAlertmanager(entries: TriggerEntry[], ev: IncomingEvent, env: Record<string, string | undefined>, out: { matches: Match[]; misses: Miss[] }): void {
  const payload = ev.payload as Record<string, unknown>;
  const alerts = payload.alerts as Array<Record<string, unknown>>;
  const group: Record<string, unknown> = {};
  for (const k of ['receiver', 'externalURL', 'groupKey', 'groupLabels', 'commonLabels', 'commonAnnotations', 'version', 'truncatedAlerts']) {
    if (k in payload) group[k] = payload[k];
  }
  group.group_status = payload.status;
  for (const entry of entries) {
    if (entry.type !== 'prometheus_alert') {
      matchWhole(entry, ev, env, `alertmanager-group:${sha(payload.groupKey, payload.status, alerts.map((a) => [a.fingerprint, a.startsAt, a.status]))}`, true, {}, out);
      continue;
    }
    if (alerts.length === 0) out.misses.push({ entry, reason: 'the notification has no alerts' });
    for (const alert of alerts) {
      const unit = str(alert.fingerprint) ?? str((alert.labels as Record<string, unknown> | undefined)?.alertname);
      const r = matchAlert(entry.trigger, alert, payload.status);
      if (r.reason) {
        out.misses.push({ entry, reason: r.reason, ...(unit ? { unit } : {}) });
        continue;
      }
      const event = { ...group, ...alert };
      const eventId = alertEventId(alert);
      const vars = triggerVars(entry, ev, eventId, r.value !== undefined ? { value: r.value } : {});
      const why = conditionsFailure(entry, event, vars, env);
      if (why) out.misses.push({ entry, reason: why, ...(unit ? { unit } : {}) });
      else out.matches.push({ entry, event, vars, eventId, dedup: true });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// github

/** The branch an event is about, or undefined (a tag push, an event without a branch). */
export function githubBranch(event: string, p: Record<string, unknown>): string | undefined {
  const pr = isObject(p.pull_request) ? p.pull_request : undefined;
  if (pr && isObject(pr.base) && typeof pr.base.ref === 'string') return pr.base.ref;
  if ((event === 'create' || event === 'delete') && p.ref_type !== 'branch') return undefined;
  for (const holder of [p.workflow_run, p.check_suite, p.check_run]) {
    if (isObject(holder) && typeof holder.head_branch === 'string') return holder.head_branch;
  }
  const ref = str(p.ref);
  if (ref === undefined) return undefined;
  if (ref.startsWith('refs/heads/')) return ref.slice('refs/heads/'.length);
  if (ref.startsWith('refs/')) return undefined;
  return event === 'push' ? undefined : ref;
}

function githubEventId(ev: IncomingEvent): string {
  return ev.delivery ? `github:${ev.delivery}` : `github:${ev.githubEvent}:${sha(ev.rawBody.toString('utf8'))}`;
}

function matchGithub(entries: TriggerEntry[], ev: IncomingEvent, env: Record<string, string | undefined>, out: { matches: Match[]; misses: Miss[] }): void {
  const p = ev.payload as Record<string, unknown>;
  const name = ev.githubEvent as string;
  const eventId = githubEventId(ev);
  const branch = githubBranch(name, p);
  const extra = { github_event: name, delivery: ev.delivery ?? null, branch: branch ?? null, ref: str(p.ref) ?? null };
  for (const entry of entries) {
    const t = entry.trigger;
    if (entry.type !== 'github_webhook') {
      matchWhole(entry, ev, env, eventId, true, extra, out);
      continue;
    }
    const reason = ((): string | undefined => {
      if (name === 'ping') return 'a ping event (sent when the hook is created) starts nothing';
      const events = (t.events as string[] | undefined) ?? (typeof t.event === 'string' ? [t.event] : ['push']);
      if (!events.includes(name) && !events.includes('*')) return `event ${name} is not one of ${events.join(', ')}`;
      if (name === 'push' && p.deleted === true) return 'the push deleted the branch';
      const actions = t.actions as string[] | undefined;
      if (actions && !actions.includes(String(p.action))) return `action ${JSON.stringify(p.action ?? null)} is not one of ${actions.join(', ')}`;
      const branches = (t.branches as string[] | undefined) ?? (typeof t.branch === 'string' ? [t.branch] : undefined);
      if (branches) {
        if (branch === undefined) return `the event names no branch (ref ${JSON.stringify(p.ref ?? null)})`;
        if (!branches.some((b) => globMatch(b, branch))) return `branch ${branch} is not one of ${branches.join(', ')}`;
      }
      if (typeof t.repository === 'string') {
        const repo = isObject(p.repository) ? str(p.repository.full_name) : undefined;
        if (!repo || !globMatch(t.repository, repo, { caseInsensitive: true })) return `repository ${repo ?? '(none)'} does not match ${t.repository}`;
      }
      return undefined;
    })();
    if (reason) {
      out.misses.push({ entry, reason });
      continue;
    }
    const vars = triggerVars(entry, ev, eventId, extra);
    const why = conditionsFailure(entry, p, vars, env);
    if (why) out.misses.push({ entry, reason: why });
    else out.matches.push({ entry, event: p, vars, eventId, dedup: true });
  }
}

// ---------------------------------------------------------------------------------------------
// falco

function falcoEventId(p: Record<string, unknown>): string {
  return typeof p.uuid === 'string' && p.uuid ? `falco:${p.uuid}` : `falco:${sha(p.time, p.rule, p.hostname, p.output)}`;
}

function matchFalco(entries: TriggerEntry[], ev: IncomingEvent, env: Record<string, string | undefined>, out: { matches: Match[]; misses: Miss[] }): void {
  const p = ev.payload as Record<string, unknown>;
  const eventId = falcoEventId(p);
  const rank = falcoRank(p.priority);
  for (const entry of entries) {
    const t = entry.trigger;
    if (entry.type === 'webhook') {
      matchWhole(entry, ev, env, eventId, true, {}, out);
      continue;
    }
    const reason = ((): string | undefined => {
      const min = (t.priority ?? t.severity) as string | undefined;
      if (min !== undefined) {
        if (rank === undefined) return `unknown priority ${JSON.stringify(p.priority)}`;
        if (rank < (falcoRank(min) as number)) return `priority ${String(p.priority)} is below ${min}`;
      }
      const rules = t.rules as string[] | undefined;
      if (rules && !rules.some((r) => r === p.rule || globMatch(r, String(p.rule)))) return `rule "${String(p.rule)}" is not one of ${rules.map((r) => `"${r}"`).join(', ')}`;
      if (typeof t.source === 'string' && t.source !== (str(p.source) ?? 'syscall')) return `source ${String(p.source ?? 'syscall')} is not ${t.source}`;
      const tags = t.tags as string[] | undefined;
      if (tags) {
        const have = Array.isArray(p.tags) ? p.tags.map(String) : [];
        const missing = tags.filter((x) => !have.includes(x));
        if (missing.length) return `tags ${missing.join(', ')} missing`;
      }
      return undefined;
    })();
    if (reason) {
      out.misses.push({ entry, reason });
      continue;
    }
    const vars = triggerVars(entry, ev, eventId);
    const why = conditionsFailure(entry, p, vars, env);
    if (why) out.misses.push({ entry, reason: why });
    else out.matches.push({ entry, event: p, vars, eventId, dedup: true });
  }
}

// ---------------------------------------------------------------------------------------------
// generic and whole-payload webhooks

function matchWhole(entry: TriggerEntry, ev: IncomingEvent, env: Record<string, string | undefined>, eventId: string, dedup: boolean, extra: Record<string, unknown>, out: { matches: Match[]; misses: Miss[] }): void {
  const vars = triggerVars(entry, ev, eventId, extra);
  const why = conditionsFailure(entry, ev.payload, vars, env);
  if (why) out.misses.push({ entry, reason: why });
  else out.matches.push({ entry, event: ev.payload, vars, eventId, dedup });
}

/** Matches an event against candidate triggers (already chosen by source or path). Throws BadEventError. */
export function matchEvent(entries: TriggerEntry[], ev: IncomingEvent, env: Record<string, string | undefined>): { matches: Match[]; misses: Miss[] } {
  assertEventShape(ev);
  const out: { matches: Match[]; misses: Miss[] } = { matches: [], misses: [] };
  const enabled = entries.filter((e) => {
    if (!e.enabled) out.misses.push({ entry: e, reason: 'disabled (enabled: false)' });
    return e.enabled;
  });
  switch (ev.source) {
    case 'alertmanager':
      matchAlertmanager(enabled, ev, env, out);
      break;
    case 'github':
      matchGithub(enabled, ev, env, out);
      break;
    case 'falco':
      matchFalco(enabled, ev, env, out);
      break;
    case 'generic': {
      const eventId = ev.delivery ? `generic:${ev.delivery}` : `generic:${randomUUID()}`;
      for (const entry of enabled) matchWhole(entry, ev, env, eventId, Boolean(ev.delivery), {}, out);
      break;
    }
  }
  // What is signed is the body, not the delivery id: the same signed body under another (or no)
  // X-GitHub-Delivery or Idempotency-Key is the same event replayed.
  if (ev.source === 'github' || ev.signed) {
    const key = bodyKey(ev.rawBody);
    for (const m of out.matches) {
      m.dedup = true;
      m.aliases = [key];
    }
  }
  return out;
}

/** The deduplication key of a body: its full SHA-256. */
export function bodyKey(body: Buffer): string {
  return `body:${createHash('sha256').update(body).digest('hex')}`;
}
