import { describe, expect, it } from 'vitest';
import { ParametersInvalidError } from '../../../src/errors.js';
import type { TriggerDef } from '../../../src/definitions/types.js';
import { githubBranch, matchEvent, type IncomingEvent } from '../../../src/triggers/match.js';
import { BadEventError, renderParameters, valueMatches } from '../../../src/triggers/render.js';
import { entry, fixture, fixtureJson, workflow } from './helpers.js';

const at = new Date('2026-11-25T18:53:00Z');
const ev = (source: IncomingEvent['source'], payload: unknown, extra: Partial<IncomingEvent> = {}): IncomingEvent => ({
  source,
  payload,
  rawBody: Buffer.from(JSON.stringify(payload)),
  receivedAt: at,
  ...extra,
});

const memWf = workflow('scale-up', {
  instance: { type: 'string', required: true },
  cluster: { type: 'string', default: 'none' },
  usage: { type: 'number', default: 0 },
});
const am = (t: Partial<TriggerDef>) => entry(memWf, { type: 'prometheus_alert', id: 'mem', alert_name: 'HighMemoryUsage', parameters: { instance: '${event.labels.instance}', cluster: '${event.labels.cluster}' }, ...t } as TriggerDef);

describe('alertmanager (the real capture)', () => {
  const firing = fixtureJson('alertmanager/firing.json');
  const resolved = fixtureJson('alertmanager/resolved.json');

  it('a firing alert matches on alertname; the event is the alert plus the group fields', () => {
    const { matches } = matchEvent([am({})], ev('alertmanager', firing), {});
    expect(matches).toHaveLength(1);
    const m = matches[0]!;
    expect(m.eventId).toBe('alertmanager:2d350d5cd5dd3c2f:2026-11-25T18:52:27Z:firing');
    expect(m.event).toMatchObject({ status: 'firing', fingerprint: '2d350d5cd5dd3c2f', receiver: 'cortex-webhook', groupKey: expect.stringContaining('HighMemoryUsage'), commonLabels: { cluster: 'prod-k8s-01' } });
    expect(renderParameters(memWf, m.entry.trigger.parameters as Record<string, unknown>, m.event, m.vars, {})).toEqual({
      values: { instance: 'node-1', cluster: 'prod-k8s-01' },
      assignments: ['instance=node-1', 'cluster=prod-k8s-01'],
    });
  });

  it('the resolved notification starts nothing unless on_status says so', () => {
    const r = matchEvent([am({})], ev('alertmanager', resolved), {});
    expect(r.matches).toEqual([]);
    expect(r.misses[0]?.reason).toMatch(/status is resolved/);
    const any = matchEvent([am({ on_status: 'any' })], ev('alertmanager', resolved), {});
    expect(any.matches[0]?.eventId).toBe('alertmanager:2d350d5cd5dd3c2f:2026-11-25T18:52:27Z:resolved');
    expect(matchEvent([am({ on_status: 'resolved' })], ev('alertmanager', firing), {}).matches).toEqual([]);
  });

  it('label matchers: exact, =~ (whole value), != and !~; a missing label is empty', () => {
    const ok = (matchers: Record<string, string>) => matchEvent([am({ matchers })], ev('alertmanager', firing), {}).matches.length === 1;
    expect(ok({ severity: 'critical', cluster: 'prod-k8s-01' })).toBe(true);
    expect(ok({ severity: 'warning' })).toBe(false);
    expect(ok({ cluster: '=~prod-.*' })).toBe(true);
    expect(ok({ cluster: '=~prod' })).toBe(false);
    expect(ok({ cluster: '!=staging' })).toBe(true);
    expect(ok({ cluster: '!~prod-.*' })).toBe(false);
    expect(ok({ team: '' })).toBe(true);
    expect(ok({ team: '=~.+' })).toBe(false);
  });

  it('threshold compares the value annotation (or label) named by value_label', () => {
    const payload = JSON.parse(JSON.stringify(firing)) as { alerts: Array<{ annotations: Record<string, string> }> };
    payload.alerts[0]!.annotations.value = '0.93';
    const t = { threshold: 0.85, parameters: { instance: '${event.labels.instance}', usage: '${trigger.value}' } };
    const hit = matchEvent([am(t)], ev('alertmanager', payload), {});
    expect(hit.matches[0]?.vars.value).toBe(0.93);
    expect(renderParameters(memWf, hit.matches[0]!.entry.trigger.parameters as Record<string, unknown>, hit.matches[0]!.event, hit.matches[0]!.vars, {}).values).toEqual({ instance: 'node-1', usage: 0.93 });
    expect(matchEvent([am({ threshold: 0.95 })], ev('alertmanager', payload), {}).misses[0]?.reason).toMatch(/below the threshold 0.95/);
    expect(matchEvent([am({ threshold: 0.5 })], ev('alertmanager', firing), {}).misses[0]?.reason).toMatch(/no numeric annotation or label "value"/);
    expect(matchEvent([am({ threshold: 1, value_label: 'instance' })], ev('alertmanager', firing), {}).matches).toEqual([]);
  });

  it('one run per matching alert of a group; conditions and condition apply per alert', () => {
    const payload = JSON.parse(JSON.stringify(firing)) as { alerts: Array<Record<string, unknown>> };
    const second = JSON.parse(JSON.stringify(payload.alerts[0])) as Record<string, unknown> & { labels: Record<string, string> };
    second.labels.instance = 'node-2';
    second.fingerprint = 'aaaaaaaaaaaaaaaa';
    payload.alerts.push(second);
    expect(matchEvent([am({})], ev('alertmanager', payload), {}).matches.map((m) => m.eventId)).toEqual([
      'alertmanager:2d350d5cd5dd3c2f:2026-11-25T18:52:27Z:firing',
      'alertmanager:aaaaaaaaaaaaaaaa:2026-11-25T18:52:27Z:firing',
    ]);
    expect(matchEvent([am({ conditions: { 'labels.instance': 'node-2' } })], ev('alertmanager', payload), {}).matches.map((m) => (m.event as { labels: { instance: string } }).labels.instance)).toEqual(['node-2']);
    expect(matchEvent([am({ condition: "${event.labels.instance} in ['node-1']" })], ev('alertmanager', payload), {}).matches).toHaveLength(1);
  });

  it('refuses what is not an Alertmanager payload', () => {
    expect(() => matchEvent([am({})], ev('alertmanager', { status: 'firing' }), {})).toThrow(BadEventError);
    expect(() => matchEvent([am({})], ev('alertmanager', [1]), {})).toThrow(/alerts/);
  });
});

describe('github (push fixture)', () => {
  const push = fixtureJson('github/push.json') as Record<string, unknown>;
  const deploy = workflow('app-deployment', { repository: { type: 'string' }, app_name: { type: 'string' }, commit: { type: 'string' }, environment: { type: 'string', enum: ['staging', 'production'], default: 'staging' } });
  const gh = (t: Partial<TriggerDef> = {}) =>
    entry(deploy, {
      type: 'github_webhook',
      id: 'push-to-main',
      events: ['push'],
      branches: ['main'],
      repository: 'cortex-apps/*',
      parameters: { repository: '${event.repository.full_name}', app_name: '${event.repository.name}', commit: '${event.after}', environment: 'production' },
      ...t,
    } as TriggerDef);
  const gev = (payload: unknown, name = 'push', delivery = '72d3162e-cc78-11e3-81ab-4c9367dc0958') => ev('github', payload, { githubEvent: name, delivery, rawBody: fixture('github/push.json') });

  it('a push to main of cortex-apps/* matches; the delivery id is the event id', () => {
    const { matches } = matchEvent([gh()], gev(push), {});
    expect(matches).toHaveLength(1);
    expect(matches[0]?.eventId).toBe('github:72d3162e-cc78-11e3-81ab-4c9367dc0958');
    expect(matches[0]?.vars).toMatchObject({ github_event: 'push', branch: 'main', ref: 'refs/heads/main' });
    expect(renderParameters(deploy, matches[0]!.entry.trigger.parameters as Record<string, unknown>, matches[0]!.event, matches[0]!.vars, {}).assignments).toEqual([
      'repository=cortex-apps/payments-api',
      'app_name=payments-api',
      'commit=eb7b85e677927673e3291ac9f0487f7d4d2fb22e',
      'environment=production',
    ]);
  });

  it('does not match: another event, a branch deletion, a tag, another branch, another owner, a ping', () => {
    const reason = (t: Partial<TriggerDef>, payload: unknown = push, name = 'push') => matchEvent([gh(t)], gev(payload, name), {}).misses[0]?.reason;
    expect(reason({}, push, 'pull_request')).toMatch(/not one of push/);
    expect(reason({}, { ...push, deleted: true })).toMatch(/deleted the branch/);
    expect(reason({}, { ...push, ref: 'refs/tags/v1.0.0' })).toMatch(/names no branch/);
    expect(reason({}, { ...push, ref: 'refs/heads/feature/x' })).toMatch(/branch feature\/x is not one of main/);
    expect(reason({ branches: ['feature/*'] }, { ...push, ref: 'refs/heads/feature/x' })).toBeUndefined();
    expect(reason({ repository: 'other-org/*' })).toMatch(/does not match other-org/);
    expect(reason({ repository: 'CORTEX-APPS/PAY*' })).toBeUndefined();
    expect(reason({ events: ['push', 'ping'] }, { zen: 'hi', hook_id: 1 }, 'ping')).toMatch(/ping/);
  });

  it('pull requests match on the base branch and the action', () => {
    const pr = { action: 'closed', number: 7, pull_request: { merged: true, base: { ref: 'main' }, head: { ref: 'fix', sha: 'abc' } }, repository: { full_name: 'cortex-apps/web', name: 'web' } };
    expect(githubBranch('pull_request', pr)).toBe('main');
    const t = { events: ['pull_request'], actions: ['closed'], conditions: { 'pull_request.merged': true } };
    expect(matchEvent([gh(t)], gev(pr, 'pull_request'), {}).matches).toHaveLength(1);
    expect(matchEvent([gh(t)], gev({ ...pr, pull_request: { ...pr.pull_request, merged: false } }, 'pull_request'), {}).misses[0]?.reason).toMatch(/pull_request.merged is false, expected true/);
    expect(matchEvent([gh(t)], gev({ ...pr, action: 'opened' }, 'pull_request'), {}).misses[0]?.reason).toMatch(/action "opened"/);
  });

  it('needs the event name', () => {
    expect(() => matchEvent([gh()], ev('github', push), {})).toThrow(/X-GitHub-Event/);
  });
});

describe('falco (critical fixture) and the incident workflow mapping', () => {
  const alert = fixtureJson('falco/critical.json') as Record<string, unknown>;
  const incident = workflow('security-incident-response', {
    incident_type: { type: 'string', required: true, enum: ['node_compromise', 'malware_detection'] },
    severity: { type: 'string', required: true },
    affected_resource: { type: 'object', required: true, properties: { type: { type: 'string' }, identifier: { type: 'string' }, cluster: { type: 'string' } } },
    initial_indicators: { type: 'object', required: true, properties: { source: { type: 'string' }, rule_triggered: { type: 'string' }, timestamp: { type: 'string' } } },
  });
  const falco = (t: Partial<TriggerDef> = {}) =>
    entry(incident, {
      type: 'falco',
      id: 'falco-critical',
      priority: 'Critical',
      parameters: {
        incident_type: 'malware_detection',
        severity: 'critical',
        affected_resource: { type: 'node', identifier: '${event.hostname}', cluster: 'prod-k8s-01' },
        initial_indicators: { source: 'falco', rule_triggered: '${event.rule}', timestamp: '${event.time}' },
      },
      ...t,
    } as TriggerDef);

  it("maps the alert's hostname and rule into affected_resource and initial_indicators (top-level time, nanoseconds)", () => {
    const { matches } = matchEvent([falco()], ev('falco', alert), {});
    expect(matches[0]?.eventId).toBe('falco:6a0d9c3e-4b7f-4e51-9d0a-2f3c8b1e7a44');
    const r = renderParameters(incident, matches[0]!.entry.trigger.parameters as Record<string, unknown>, matches[0]!.event, matches[0]!.vars, {});
    expect(r.values).toEqual({
      incident_type: 'malware_detection',
      severity: 'critical',
      affected_resource: { type: 'node', identifier: 'prod-k8s-01-node-3', cluster: 'prod-k8s-01' },
      initial_indicators: { source: 'falco', rule_triggered: 'Drop and execute new binary in container', timestamp: '2026-11-25T18:52:41.332915474Z' },
    });
    expect(r.assignments[2]).toBe('affected_resource={"type":"node","identifier":"prod-k8s-01-node-3","cluster":"prod-k8s-01"}');
  });

  it('priority at or above the trigger (case-insensitive), rules, source, tags', () => {
    const ok = (t: Partial<TriggerDef>, a: Record<string, unknown> = alert) => matchEvent([falco(t)], ev('falco', a), {}).matches.length === 1;
    expect(ok({ priority: 'warning' })).toBe(true);
    expect(ok({ priority: 'CRITICAL' })).toBe(true);
    expect(ok({ priority: 'Alert' })).toBe(false);
    expect(ok({ priority: 'critical' }, { ...alert, priority: 'Emergency' })).toBe(true);
    expect(ok({ priority: 'notice' }, { ...alert, priority: 'info' })).toBe(false);
    expect(ok({ rules: ['Drop and execute new binary in container'] })).toBe(true);
    expect(ok({ rules: ['Drop and execute*'] })).toBe(true);
    expect(ok({ rules: ['Terminal shell in container'] })).toBe(false);
    expect(ok({ source: 'syscall' })).toBe(true);
    expect(ok({ source: 'k8s_audit' })).toBe(false);
    expect(ok({ tags: ['mitre_persistence', 'container'] })).toBe(true);
    expect(ok({ tags: ['mitre_execution'] })).toBe(false);
    expect(ok({ conditions: { "output_fields['k8s.ns.name']": 'payments' } })).toBe(true);
    expect(ok({ conditions: { tags: 'TA0003' } })).toBe(true);
  });

  it('parameters that do not fit are a ParametersInvalidError naming the problem', () => {
    const { matches } = matchEvent([falco({ parameters: { incident_type: '${event.rule}', severity: 'critical', affected_resource: {}, initial_indicators: {} } })], ev('falco', alert), {});
    expect(() => renderParameters(incident, matches[0]!.entry.trigger.parameters as Record<string, unknown>, matches[0]!.event, matches[0]!.vars, {})).toThrow(ParametersInvalidError);
    expect(() => matchEvent([falco()], ev('falco', { rule: 'x' }), {})).toThrow(/rule.*priority/);
  });
});

describe('generic webhooks and value matching', () => {
  const wf = workflow('hook', { who: { type: 'string', default: '' }, n: { type: 'integer', default: 0 }, on: { type: 'boolean', default: false } });
  const hook = (t: Partial<TriggerDef> = {}) => entry(wf, { type: 'webhook', id: 'h', path: '/webhook/deploy', parameters: { who: '${event.user}', n: '${event.count}', on: '${event.flag}' }, ...t } as TriggerDef);

  it('text from the payload is converted to the declared types like -p values', () => {
    const { matches } = matchEvent([hook()], ev('generic', { user: 'dana', count: '3', flag: 'yes' }), {});
    const r = renderParameters(wf, matches[0]!.entry.trigger.parameters as Record<string, unknown>, matches[0]!.event, matches[0]!.vars, {});
    expect(r.values).toEqual({ who: 'dana', n: 3, on: true });
    expect(r.assignments).toEqual(['who=dana', 'n=3', 'on=true']);
    expect(matches[0]?.dedup).toBe(false);
  });

  it('an absent field leaves the default; an Idempotency-Key makes the event deduplicated', () => {
    const { matches } = matchEvent([hook()], ev('generic', {}, { delivery: 'abc-1' }), {});
    expect(matches[0]).toMatchObject({ eventId: 'generic:abc-1', dedup: true });
    expect(renderParameters(wf, matches[0]!.entry.trigger.parameters as Record<string, unknown>, matches[0]!.event, matches[0]!.vars, {}).values).toEqual({});
  });

  it('conditions: equality, any of a list, nested objects, arrays contain; disabled triggers never match', () => {
    expect(valueMatches('critical', ['warning', 'critical'])).toBe(true);
    expect(valueMatches(5, '5')).toBe(true);
    expect(valueMatches({ a: { b: 1 }, c: 2 }, { a: { b: 1 } })).toBe(true);
    expect(valueMatches(['x', 'y'], 'y')).toBe(true);
    expect(valueMatches(undefined, null)).toBe(true);
    expect(valueMatches(undefined, 'x')).toBe(false);
    const r = matchEvent([hook({ enabled: false })], ev('generic', {}), {});
    expect(r.matches).toEqual([]);
    expect(r.misses[0]?.reason).toMatch(/disabled/);
  });

  it('only event, trigger and env can be read', () => {
    const { matches } = matchEvent([hook({ parameters: { who: '${env.OPERATOR}-${trigger.id}' } })], ev('generic', {}), {});
    expect(renderParameters(wf, matches[0]!.entry.trigger.parameters as Record<string, unknown>, matches[0]!.event, matches[0]!.vars, { OPERATOR: 'ops' }).values).toEqual({ who: 'ops-h' });
    const bad = matchEvent([hook({ parameters: { who: '${secrets.X}' } })], ev('generic', {}), {});
    expect(() => renderParameters(wf, bad.matches[0]!.entry.trigger.parameters as Record<string, unknown>, bad.matches[0]!.event, bad.matches[0]!.vars, {})).toThrow(/only/);
  });
});
