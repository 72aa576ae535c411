import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsTriggerStateStore, triggerStatePath } from '../../../src/adapters/fs-trigger-state-store.js';
import { ProperLockManager } from '../../../src/adapters/proper-lock-manager.js';
import type { TriggerDef } from '../../../src/definitions/types.js';
import { DedupStore } from '../../../src/triggers/dedup.js';
import { dispatchEvent } from '../../../src/triggers/dispatch.js';
import { createTriggerServer, parseListen, routesOf, authOf, secretsEqual } from '../../../src/triggers/server.js';
import { entry, fakeStarter, fixture, removeDir, tempDir, workflow } from './helpers.js';

const SECRETS: Record<string, string> = { GH_SECRET: 'test-secret', AM_TOKEN: 'am-token-123', FALCO_TOKEN: 'falco-token-456' };

const root = tempDir();
const starter = fakeStarter();
const logs: string[] = [];
const entries = [
  entry(workflow('app-deployment', { commit: { type: 'string' } }), { type: 'github_webhook', id: 'push-to-main', events: ['push'], branches: ['main'], repository: 'cortex-apps/*', secret: '${secrets.GH_SECRET}', parameters: { commit: '${event.after}' } } as TriggerDef),
  entry(workflow('scale-up', { instance: { type: 'string' } }), { type: 'prometheus_alert', id: 'mem', alert_name: 'HighMemoryUsage', parameters: { instance: '${event.labels.instance}' } } as TriggerDef),
  entry(workflow('incident', { host: { type: 'string' } }), { type: 'falco', id: 'crit', priority: 'Critical', path: 'security-alert', auth: { type: 'bearer', secret: 'FALCO_TOKEN' }, parameters: { host: '${event.hostname}' } } as TriggerDef),
  entry(workflow('open-hook', { who: { type: 'string', default: '' } }), { type: 'webhook', id: 'open', path: '/webhook/open', auth: { type: 'none' }, parameters: { who: '${event.who}' } } as TriggerDef),
  entry(workflow('signed-hook', { who: { type: 'string', default: '' } }), { type: 'webhook', id: 'signed', path: '/webhook/signed', auth: { type: 'hmac-sha256', secret: 'GH_SECRET' }, parameters: { who: '${event.who}' } } as TriggerDef),
];
const server = createTriggerServer({
  entries: async () => entries,
  config: { tokenSecret: 'AM_TOKEN', githubSecret: 'UNSET_SECRET', maxBodyBytes: 4096 },
  secret: async (name) => SECRETS[name],
  dispatch: (list, ev) => dispatchEvent(list, ev, { env: {}, starter, dedup: new DedupStore(new FsTriggerStateStore(root), new ProperLockManager(root)) }),
  log: (l) => logs.push(l),
});
let base = '';

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  removeDir(root);
});

async function post(path: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const pushBody = fixture('github/push.json');
const goodSig = fixture('github/push.sig.txt').toString('utf8').trim();

describe('cortex serve: GitHub', () => {
  it('a good X-Hub-Signature-256 starts the run: 202 with the execution id', async () => {
    const r = await post('/webhook/github', pushBody, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'd-1', 'X-Hub-Signature-256': goodSig, 'User-Agent': 'GitHub-Hookshot/abc' });
    expect(r.status).toBe(202);
    expect(r.json).toMatchObject({ matched: 1, executions: ['app-deployment-20260101T000000Z-0001'] });
    expect(starter.calls.at(-1)).toMatchObject({ workflowId: 'app-deployment', assignments: ['commit=eb7b85e677927673e3291ac9f0487f7d4d2fb22e'], triggerInfo: { type: 'webhook', source: 'github', trigger_id: 'push-to-main', event_id: 'github:d-1' } });
  });

  it('a redelivery (same X-GitHub-Delivery) is deduplicated: 200, nothing started', async () => {
    const before = starter.calls.length;
    const r = await post('/webhook/github', pushBody, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'd-1', 'X-Hub-Signature-256': goodSig });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ matched: 1, duplicates: 1, executions: [] });
    expect(starter.calls.length).toBe(before);
  });

  it('a replay of the signed body under another delivery id, or none, is a duplicate: the delivery id is not signed', async () => {
    const before = starter.calls.length;
    for (const delivery of ['d-9', undefined]) {
      const r = await post('/webhook/github', pushBody, { 'X-GitHub-Event': 'push', ...(delivery ? { 'X-GitHub-Delivery': delivery } : {}), 'X-Hub-Signature-256': goodSig });
      expect(r.status, `delivery ${delivery}`).toBe(200);
      expect(r.json).toMatchObject({ matched: 1, duplicates: 1, executions: [] });
    }
    expect(starter.calls.length).toBe(before);
  });

  it('a wrong, truncated or missing signature, or one over other bytes, is 401', async () => {
    const before = starter.calls.length;
    const wrong = `sha256=${createHmac('sha256', 'not-the-secret').update(pushBody).digest('hex')}`;
    for (const sig of [wrong, goodSig.slice(0, 20), undefined, 'sha1=abc']) {
      const r = await post('/webhook/github', pushBody, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'd-2', ...(sig ? { 'X-Hub-Signature-256': sig } : {}) });
      expect(r.status).toBe(401);
    }
    const reformatted = Buffer.from(JSON.stringify(JSON.parse(pushBody.toString('utf8')), null, 2));
    expect((await post('/webhook/github', reformatted, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'd-3', 'X-Hub-Signature-256': goodSig })).status).toBe(401);
    expect(starter.calls.length).toBe(before);
  });

  it('a ping is answered 200 with nothing started; no X-GitHub-Event is 400', async () => {
    const ping = Buffer.from('{"zen":"Keep it logically awesome.","hook_id":1}');
    const sig = `sha256=${createHmac('sha256', 'test-secret').update(ping).digest('hex')}`;
    const r = await post('/webhook/github', ping, { 'X-GitHub-Event': 'ping', 'X-GitHub-Delivery': 'p-1', 'X-Hub-Signature-256': sig });
    expect(r).toMatchObject({ status: 200, json: { matched: 0, message: 'pong' } });
    expect((await post('/webhook/github', ping, { 'X-Hub-Signature-256': sig })).status).toBe(400);
  });
});

describe('cortex serve: Alertmanager, Falco, generic', () => {
  const firing = fixture('alertmanager/firing.json');
  const resolved = fixture('alertmanager/resolved.json');
  const bearer = { Authorization: 'Bearer am-token-123' };

  it('firing starts one run, a re-sent group is a duplicate, resolved starts nothing', async () => {
    const a = await post('/webhook/alertmanager', firing, bearer);
    expect(a).toMatchObject({ status: 202, json: { matched: 1 } });
    const b = await post('/webhook/alertmanager', firing, bearer);
    expect(b).toMatchObject({ status: 200, json: { matched: 1, duplicates: 1, executions: [] } });
    const c = await post('/webhook/alertmanager', resolved, bearer);
    expect(c).toMatchObject({ status: 200, json: { matched: 0, executions: [] } });
    expect(starter.calls.filter((x) => x.workflowId === 'scale-up')).toHaveLength(1);
  });

  it('a wrong or missing bearer token is 401, checked before the body is read', async () => {
    expect((await post('/webhook/alertmanager', firing, { Authorization: 'Bearer am-token-124' })).status).toBe(401);
    expect((await post('/webhook/alertmanager', firing, { Authorization: 'Bearer am-token-1234' })).status).toBe(401);
    expect((await post('/webhook/alertmanager', firing)).status).toBe(401);
    // The falco path has its own token.
    expect((await post('/webhook/security-alert', fixture('falco/critical.json'), bearer)).status).toBe(401);
    const f = await post('/webhook/security-alert', fixture('falco/critical.json'), { Authorization: 'Bearer falco-token-456' });
    expect(f).toMatchObject({ status: 202, json: { matched: 1 } });
    expect(starter.calls.at(-1)).toMatchObject({ workflowId: 'incident', assignments: ['host=prod-k8s-01-node-3'], triggerInfo: { type: 'event', source: 'falco' } });
  });

  it('refusals: 404 unknown path, 405 wrong method, 400 bad JSON or shape, 413 too large', async () => {
    expect((await post('/webhook/nope', '{}', bearer)).status).toBe(404);
    expect((await post('/other', '{}', bearer)).status).toBe(404);
    const get = await fetch(`${base}/webhook/alertmanager`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect((await post('/webhook/alertmanager', '{"alerts": [', bearer)).status).toBe(400);
    expect((await post('/webhook/alertmanager', '{"status":"firing"}', bearer)).status).toBe(400);
    expect((await post('/webhook/alertmanager', 'x'.repeat(5000), bearer)).status).toBe(413);
    // Chunked (no Content-Length) and still too large.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${base}/webhook/alertmanager`, { method: 'POST', headers: { ...bearer, 'Transfer-Encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write('y'.repeat(1000));
      req.end();
    });
    expect(status).toBe(413);
  });

  it('a generic hook signed with hmac-sha256: the same body again is a duplicate whatever its Idempotency-Key; another body starts', async () => {
    const sign = (b: string) => `sha256=${createHmac('sha256', 'test-secret').update(b).digest('hex')}`;
    const body = '{"who":"erin","at":"2026-01-01T10:00:00Z"}';
    expect((await post('/webhook/signed', body, { 'X-Hub-Signature-256': sign(body), 'Idempotency-Key': 's-1' })).status).toBe(202);
    for (const key of ['s-2', undefined]) {
      const again = await post('/webhook/signed', body, { 'X-Hub-Signature-256': sign(body), ...(key ? { 'Idempotency-Key': key } : {}) });
      expect(again, `Idempotency-Key ${key}`).toMatchObject({ status: 200, json: { duplicates: 1, executions: [] } });
    }
    const other = '{"who":"erin","at":"2026-01-01T10:05:00Z"}';
    expect((await post('/webhook/signed', other, { 'X-Hub-Signature-256': sign(other) })).status).toBe(202);
  });

  it('a damaged state/dedup.json: 503 with Retry-After, nothing starts, the file is left for a person to repair', async () => {
    const path = triggerStatePath(root, 'dedup');
    const good = readFileSync(path, 'utf8');
    writeFileSync(path, good.slice(0, 30));
    try {
      const before = starter.calls.length;
      // The group handled in the first test: it must not start again.
      const res = await fetch(`${base}/webhook/alertmanager`, { method: 'POST', body: firing, headers: { 'content-type': 'application/json', ...bearer } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('60');
      expect(await res.json()).toMatchObject({ executions: [], reason: expect.stringContaining('state/dedup.json is damaged'), runs: [expect.objectContaining({ status: 'busy', busy: 'unavailable', message: expect.not.stringContaining(root) })] });
      expect(logs.at(-1)).toContain(path);
      expect(starter.calls.length).toBe(before);
      expect(readFileSync(path, 'utf8')).toBe(good.slice(0, 30));
      expect(readdirSync(join(root, 'state')).some((n) => n.startsWith('dedup.json.damaged-'))).toBe(true);
    } finally {
      writeFileSync(path, good);
    }
  });

  it('a body nested deeper than 100 levels is 400 with one reason, and starts nothing', async () => {
    const before = starter.calls.length;
    const r = await post('/webhook/open', `${'['.repeat(150)}${']'.repeat(150)}`);
    expect(r).toEqual({ status: 400, json: { error: 'the event nests deeper than 100 levels', status: 400 } });
    expect(starter.calls.length).toBe(before);
  });

  it('healthz; a generic hook with auth none; the log has no secrets and no bodies', async () => {
    const h = await fetch(`${base}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ status: 'ok' });
    const r = await post('/webhook/open', '{"who":"dana"}', { 'Idempotency-Key': 'k-1' });
    expect(r).toMatchObject({ status: 202 });
    expect((await post('/webhook/open', '{"who":"dana"}', { 'Idempotency-Key': 'k-1' })).status).toBe(200);
    const text = logs.join('\n');
    expect(logs.some((l) => / POST \/webhook\/github 202 \d+ms .*github_event="push".*executions="app-deployment-/.test(l))).toBe(true);
    expect(logs.some((l) => / POST \/webhook\/github 401 .*reason="X-Hub-Signature-256 does not match the body"/.test(l))).toBe(true);
    for (const secret of [...Object.values(SECRETS), goodSig, 'dana', 'Memory usage above']) expect(text).not.toContain(secret);
  });
});

describe('routing and auth decisions', () => {
  it('fixed source paths plus trigger paths', () => {
    expect([...routesOf(entries).keys()].sort()).toEqual(['alertmanager', 'falco', 'github', 'open', 'security-alert', 'signed']);
  });

  it('github uses HMAC with the trigger secret else serve.github_secret; others a bearer token', () => {
    expect(authOf(entries[0], 'github', { githubSecret: 'G' })).toEqual({ kind: 'hmac', secretName: 'GH_SECRET' });
    expect(authOf(undefined, 'github', { githubSecret: 'G' })).toEqual({ kind: 'hmac', secretName: 'G' });
    expect(authOf(entries[1], 'alertmanager', { tokenSecret: 'T' })).toEqual({ kind: 'bearer', secretName: 'T' });
    expect(authOf(entries[3], 'generic', {})).toEqual({ kind: 'none' });
    expect(authOf(undefined, 'falco', {})).toEqual({ kind: 'bearer' });
  });

  it('parses --listen', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    expect(parseListen(':0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListen('8081')).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(() => parseListen('host:http')).toThrow();
  });
});

describe('secretsEqual', () => {
  it('compares digests of equal length, so a token of another length is no faster to refuse', () => {
    const seen: Array<[number, number]> = [];
    const compare = (a: Buffer, b: Buffer) => {
      seen.push([a.length, b.length]);
      return a.equals(b);
    };
    expect(secretsEqual('am-token-123', 'am-token-123', compare)).toBe(true);
    expect(secretsEqual('x', 'am-token-123', compare)).toBe(false);
    expect(secretsEqual('am-token-123-and-more', 'am-token-123', compare)).toBe(false);
    expect(secretsEqual('', 'am-token-123', compare)).toBe(false);
    expect(seen).toEqual([[32, 32], [32, 32], [32, 32], [32, 32]]);
  });
});
