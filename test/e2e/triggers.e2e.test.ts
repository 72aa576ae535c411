import { execa, type ResultPromise } from 'execa';
import { chmodSync, existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, PROJECT, cleanEnv, cortex, listFiles, removeRoot, tempRoot, waitForHistory } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

const FIXTURES = join(PROJECT, 'test', 'unit', 'triggers', 'fixtures');
const roots: string[] = [];
const children: ResultPromise[] = [];
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  roots.forEach(removeRoot);
});

const WORKFLOWS: Record<string, string> = {
  'workflows/on-alert.yaml': `workflow_id: on-alert
workflow_name: On alert
version: 1.0.0
concurrency: 10
parameters:
  instance: { type: string, required: true }
  cluster: { type: string, default: none }
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: say, action: execute_command, parameters: { command: [echo, "alert on \${parameters.instance}"] }, timeout: 10 }
triggers:
  - type: prometheus_alert
    id: high-mem
    alert_name: HighMemoryUsage
    matchers: { severity: critical }
    parameters: { instance: "\${event.labels.instance}", cluster: "\${event.labels.cluster}" }
`,
  'workflows/deploy.yaml': `workflow_id: deploy
workflow_name: Deploy on push
version: 1.0.0
concurrency: 10
parameters:
  repository: { type: string, required: true }
  commit: { type: string, required: true }
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: build, action: execute_command, parameters: { command: [echo, "\${parameters.repository}@\${parameters.commit}"] }, timeout: 10 }
triggers:
  - { type: github_webhook, id: push-to-main, events: [push], branches: [main], repository: "cortex-apps/*", secret: "\${secrets.GH_SECRET}", parameters: { repository: "\${event.repository.full_name}", commit: "\${event.after}" } }
`,
  'workflows/incident.yaml': `workflow_id: incident
workflow_name: Incident
version: 1.0.0
concurrency: 10
parameters:
  affected_resource: { type: object, required: true, properties: { type: { type: string }, identifier: { type: string } } }
  initial_indicators: { type: object, required: true, properties: { rule_triggered: { type: string }, timestamp: { type: string } } }
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: note, action: execute_command, parameters: { command: [echo, "\${parameters.affected_resource.identifier}"] }, timeout: 10 }
triggers:
  - type: falco
    id: falco-critical
    priority: Critical
    path: security-alert
    parameters:
      affected_resource: { type: node, identifier: "\${event.hostname}" }
      initial_indicators: { rule_triggered: "\${event.rule}", timestamp: "\${event.time}" }
`,
  'config.yaml': 'serve:\n  token_secret: AM_TOKEN\n',
};

function root(): string {
  const r = tempRoot(WORKFLOWS);
  roots.push(r);
  mkdirSync(join(r, 'secrets'), { recursive: true });
  for (const [name, value] of Object.entries({ GH_SECRET: 'test-secret', AM_TOKEN: 'am-token-123' })) {
    writeFileSync(join(r, 'secrets', name), value);
    chmodSync(join(r, 'secrets', name), 0o600);
  }
  return r;
}

const history = waitForHistory;

/** `cortex serve` on a free port, with `env` added; its URL once it listens. */
async function startServe(r: string, env: Record<string, string>): Promise<{ child: ResultPromise; url: string }> {
  const child = execa('node', [CLI, '--root', r, 'serve', '--listen', '127.0.0.1:0'], { env: cleanEnv(env), extendEnv: false, reject: false, cwd: PROJECT });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const url = await waitFor(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], { what: 'cortex serve to listen', timeoutMs: 20_000, detail: () => out });
  return { child, url };
}

/** One firing HighMemoryUsage alert for instance node-<i> (fingerprint <prefix><i>), with the test token. */
async function postAlert(url: string, i: number, prefix: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/webhook/alertmanager`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer am-token-123' },
    body: JSON.stringify({ receiver: 'cortex', status: 'firing', version: '4', groupLabels: {}, commonLabels: {}, alerts: [{ status: 'firing', labels: { alertname: 'HighMemoryUsage', instance: `node-${i}` }, startsAt: '2026-11-25T18:52:27Z', endsAt: '0001-01-01T00:00:00Z', fingerprint: `${prefix}${String(i).padStart(15, '0')}` }] }),
  });
  return { status: res.status, body: await res.json() };
}

/**
 * serve over a root with one workflow, concurrency 1 and on_conflict: queue, triggered by
 * HighMemoryUsage, whose action holds until the file `gate` exists. `post(i)` sends alert i
 * (its instance named by `tag`) and expects 202.
 */
async function gatedQueueServe(tag: string) {
  const r = tempRoot({
    'workflows/one-at-a-time.yaml': `workflow_id: one-at-a-time
workflow_name: One at a time
version: 1.0.0
concurrency: 1
on_conflict: queue
parameters:
  instance: { type: string, required: true }
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: hold, action: execute_command, parameters: { command: [sh, -c, "while [ ! -e \\"$0\\" ]; do sleep 0.05; done", "\${env.GATE}"] }, timeout: 120 }
triggers:
  - type: prometheus_alert
    id: high-mem
    alert_name: HighMemoryUsage
    parameters: { instance: "\${event.labels.instance}" }
`,
    'config.yaml': 'serve:\n  token_secret: AM_TOKEN\n',
    'secrets/AM_TOKEN': 'am-token-123',
  });
  chmodSync(join(r, 'secrets', 'AM_TOKEN'), 0o600);
  roots.push(r);
  const gate = join(r, 'gate');
  const { child, url } = await startServe(r, { GATE: gate });
  const post = async (i: number) => {
    const { status, body } = await postAlert(url, i, tag);
    expect(status).toBe(202);
    return (body as { executions: string[]; runs: Array<{ status: string }> });
  };
  return { r, gate, child, post };
}

describe('cortex trigger', () => {
  it('alertmanager: firing starts one run (it completes), a re-send is a duplicate, resolved starts nothing', async () => {
    const r = root();
    const dry = await cortex(['trigger', '--source', 'alertmanager', '--event', join(FIXTURES, 'alertmanager/firing.json'), '--dry-run'], { root: r });
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('would start on-alert (trigger on-alert/high-mem, event alertmanager:2d350d5cd5dd3c2f:2026-11-25T18:52:27Z:firing)');
    expect(dry.stdout).toContain('parameters: {"instance":"node-1","cluster":"prod-k8s-01"}');

    const first = await cortex(['trigger', '--source', 'alertmanager', '--event', join(FIXTURES, 'alertmanager/firing.json'), '--json'], { root: r });
    expect(first.exitCode, first.stderr).toBe(0);
    const out = JSON.parse(first.stdout) as { matched: number; executions: string[] };
    expect(out.matched).toBe(1);
    expect(out.executions).toEqual([expect.stringMatching(/^on-alert-\d{8}T\d{6}Z-[0-9a-f]{4}$/)]);

    const again = await cortex(['trigger', '--source', 'alertmanager', '--event', join(FIXTURES, 'alertmanager/firing.json')], { root: r });
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/^duplicate on-alert .*already handled at/m);
    const resolved = await cortex(['trigger', '--source', 'alertmanager', '--event', join(FIXTURES, 'alertmanager/resolved.json')], { root: r });
    expect(resolved.stdout).toMatch(/no trigger matched \(1 considered\)[\s\S]*status is resolved/);

    const [rec] = await history(r, 1);
    expect(rec).toMatchObject({
      execution_id: out.executions[0],
      status: 'completed',
      parameters: { instance: 'node-1', cluster: 'prod-k8s-01' },
      trigger: { type: 'event', source: 'alertmanager', trigger_id: 'high-mem', event_id: 'alertmanager:2d350d5cd5dd3c2f:2026-11-25T18:52:27Z:firing' },
    });
    expect(readFileSync(join(r, 'state', 'runs.log'), 'utf8')).toContain(`completed ${out.executions[0]}`);
  });

  it('a truncated state/dedup.json: exit 4 with one message, nothing starts again, the file is kept for the operator', async () => {
    const r = root();
    const event = ['trigger', '--source', 'alertmanager', '--event', join(FIXTURES, 'alertmanager/firing.json')];
    const first = await cortex(event, { root: r });
    expect(first.exitCode, first.stderr).toBe(0);
    await history(r, 1);
    const path = join(r, 'state', 'dedup.json');
    const torn = readFileSync(path, 'utf8').slice(0, 25);
    writeFileSync(path, torn);
    const again = await cortex(event, { root: r });
    expect(again.exitCode, again.stderr).toBe(4);
    expect(again.stdout).toContain(`not started on-alert (trigger on-alert/high-mem, event alertmanager:2d350d5cd5dd3c2f:2026-11-25T18:52:27Z:firing): ${path} is damaged`);
    expect(again.stdout).toMatch(/a copy is kept at .*dedup\.json\.damaged-/);
    expect(`${again.stdout}${again.stderr}`).not.toMatch(/\n\s+at /);
    expect(readFileSync(path, 'utf8')).toBe(torn);
    // Only the first delivery's run exists (a run starts by writing its active record).
    expect([...listFiles(join(r, 'workflows', 'active')), ...listFiles(join(r, 'workflows', 'history'))].filter((f) => f.endsWith('.json'))).toHaveLength(1);
  });

  it('falco from stdin: hostname and rule become the incident parameters', async () => {
    const r = root();
    const res = await cortex(['trigger', '--source', 'falco', '--event', '-'], { root: r, input: readFileSync(join(FIXTURES, 'falco/critical.json'), 'utf8') });
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^started incident-/m);
    const [rec] = await history(r, 1);
    expect(rec?.parameters).toEqual({
      affected_resource: { type: 'node', identifier: 'prod-k8s-01-node-3' },
      initial_indicators: { rule_triggered: 'Drop and execute new binary in container', timestamp: '2026-11-25T18:52:41.332915474Z' },
    });
  });

  it('bad input: unknown source, missing github event name, not JSON (exit 2)', async () => {
    const r = root();
    expect((await cortex(['trigger', '--source', 'nagios', '--event', '-'], { root: r, input: '{}' })).exitCode).toBe(2);
    const gh = await cortex(['trigger', '--source', 'github', '--event', join(FIXTURES, 'github/push.json')], { root: r });
    expect(gh.exitCode).toBe(2);
    expect(gh.stderr).toMatch(/X-GitHub-Event header \(cortex trigger: --github-event\)/);
    const bad = await cortex(['trigger', '--source', 'falco', '--event', '-'], { root: r, input: 'nope' });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/CORTEX_EVENT_INVALID: the event is not JSON/);
  });
});

describe('cortex serve', () => {
  it('GitHub: good signature 202 (the run completes), bad 401, redelivery deduplicated; Falco with a bearer token; SIGTERM exits 0', async () => {
    const r = root();
    const child = execa('node', [CLI, '--root', r, 'serve', '--listen', '127.0.0.1:0'], { env: cleanEnv(), extendEnv: false, reject: false, cwd: PROJECT });
    children.push(child);
    const url = await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${text}`)), 15_000);
      child.stdout?.on('data', (d: Buffer) => {
        text += d.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(text);
        if (m) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      });
    });
    const push = readFileSync(join(FIXTURES, 'github/push.json'));
    const sig = readFileSync(join(FIXTURES, 'github/push.sig.txt'), 'utf8').trim();
    const gh = (signature: string, delivery: string) =>
      fetch(`${url}/webhook/github`, { method: 'POST', body: push, headers: { 'Content-Type': 'application/json', 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': delivery, 'X-Hub-Signature-256': signature } });

    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ok = await gh(sig, 'delivery-1');
    expect(ok.status).toBe(202);
    const body = (await ok.json()) as { executions: string[]; matched: number };
    expect(body.matched).toBe(1);
    expect(body.executions).toEqual([expect.stringMatching(/^deploy-/)]);
    expect((await gh(sig.replace(/.$/, (c) => (c === '0' ? '1' : '0')), 'delivery-2')).status).toBe(401);
    const dup = await gh(sig, 'delivery-1');
    expect(dup.status).toBe(200);
    expect(await dup.json()).toMatchObject({ duplicates: 1, executions: [] });

    const falco = readFileSync(join(FIXTURES, 'falco/critical.json'));
    expect((await fetch(`${url}/webhook/security-alert`, { method: 'POST', body: falco })).status).toBe(401);
    const f = await fetch(`${url}/webhook/security-alert`, { method: 'POST', body: falco, headers: { Authorization: 'Bearer am-token-123' } });
    expect(f.status).toBe(202);

    const recs = await history(r, 2);
    expect(recs.map((x) => [x.status, x.trigger.source]).sort()).toEqual([
      ['completed', 'falco'],
      ['completed', 'github'],
    ]);
    expect(recs.find((x) => x.trigger.source === 'github')?.parameters).toEqual({ repository: 'cortex-apps/payments-api', commit: 'eb7b85e677927673e3291ac9f0487f7d4d2fb22e' });

    child.kill('SIGTERM');
    const done = await child;
    expect(done.exitCode).toBe(0);
    expect(done.stdout).toMatch(/cortex serve stopped/);
    const log = readFileSync(join(r, 'state', 'serve.log'), 'utf8');
    expect(log).toMatch(/POST \/webhook\/github 202 /);
    expect(log).toMatch(/POST \/webhook\/github 401 /);
    expect(log).not.toContain('test-secret');
    expect(log).not.toContain('am-token-123');
  });
});

describe('cortex serve under a burst', () => {
  it('40 alerts at a concurrency-2 workflow: 202 only for runs whose record exists, 429 with Retry-After for the rest, and those events are not marked seen', async () => {
    const r = tempRoot({
      'workflows/burst.yaml': `workflow_id: burst
workflow_name: Burst
version: 1.0.0
concurrency: 2
parameters:
  instance: { type: string, required: true }
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: hold, action: execute_command, parameters: { command: [sh, -c, "while [ ! -e \\"$0\\" ]; do sleep 0.05; done", "\${env.GATE}"] }, timeout: 120 }
triggers:
  - type: prometheus_alert
    id: high-mem
    alert_name: HighMemoryUsage
    parameters: { instance: "\${event.labels.instance}" }
`,
      'config.yaml': 'serve:\n  token_secret: AM_TOKEN\n',
      'secrets/AM_TOKEN': 'am-token-123',
    });
    chmodSync(join(r, 'secrets', 'AM_TOKEN'), 0o600);
    roots.push(r);
    const gate = join(r, 'gate');
    const child = execa('node', [CLI, '--root', r, 'serve', '--listen', '127.0.0.1:0'], { env: cleanEnv({ GATE: gate }), extendEnv: false, reject: false, cwd: PROJECT });
    children.push(child);
    const url = await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${text}`)), 15_000);
      child.stdout?.on('data', (d: Buffer) => {
        text += d.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(text);
        if (m) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      });
    });
    const alert = (i: number) =>
      JSON.stringify({
        receiver: 'cortex',
        status: 'firing',
        alerts: [{ status: 'firing', labels: { alertname: 'HighMemoryUsage', instance: `node-${i}`, severity: 'critical' }, startsAt: '2026-11-25T18:52:27Z', endsAt: '0001-01-01T00:00:00Z', fingerprint: `f${String(i).padStart(15, '0')}` }],
        groupLabels: {},
        commonLabels: {},
        version: '4',
      });
    const post = async (i: number) => {
      const res = await fetch(`${url}/webhook/alertmanager`, { method: 'POST', body: alert(i), headers: { 'Content-Type': 'application/json', Authorization: 'Bearer am-token-123' } });
      const body = (await res.json()) as { executions: string[]; runs: Array<Record<string, unknown>> };
      // When the answer says an execution exists, its record is on disk already.
      expect(res.status, JSON.stringify(body)).not.toBe(401);
      const missing = body.executions.filter((id) => !existsSync(join(r, 'workflows', 'active', `workflow-${id}.json`)) && !existsSync(join(r, 'workflows', 'history', `workflow-${id}.json`)));
      return { i, status: res.status, retryAfter: res.headers.get('retry-after'), body, missing };
    };
    // 10 clients, 4 alerts each.
    const answers = (await Promise.all(Array.from({ length: 10 }, (_, c) => (async () => {
      const out = [];
      for (let k = 0; k < 4; k++) out.push(await post(c * 4 + k));
      return out;
    })()))).flat();
    const accepted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status === 429);
    expect(accepted).toHaveLength(2);
    expect(refused).toHaveLength(38);
    expect(answers.flatMap((a) => a.missing)).toEqual([]);
    expect(refused.every((a) => a.retryAfter !== null && a.body.runs[0]?.status === 'busy')).toBe(true);
    // Parameter values are never echoed.
    expect(JSON.stringify(answers.map((a) => a.body))).not.toContain('node-');
    // The two runs finish; a refused alert sent again now starts.
    writeFileSync(gate, '');
    await waitForHistory(r, 2, 60_000);
    const again = await post(refused[0]!.i);
    expect(again.status).toBe(202);
    await waitForHistory(r, 3, 60_000);
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  }, 180_000);
});

describe('cortex serve drives its runs itself', () => {
  it('max_running 1: the others wait pending; cancel stops one run, not serve; SIGTERM leaves the waiting pending and pauses the running one after the grace; the next serve drives the pending one', async () => {
    const r = tempRoot({
      'workflows/held.yaml': `workflow_id: held
workflow_name: Held
version: 1.0.0
concurrency: 5
parameters:
  instance: { type: string, required: true }
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: hold, action: execute_command, parameters: { command: [sh, -c, "while [ ! -e \\"$0\\" ]; do sleep 0.05; done", "\${env.GATE}"] }, timeout: 120 }
triggers:
  - type: prometheus_alert
    id: high-mem
    alert_name: HighMemoryUsage
    parameters: { instance: "\${event.labels.instance}" }
`,
      'config.yaml': 'serve:\n  token_secret: AM_TOKEN\n  max_running: 1\n  stop_grace_seconds: 1\n',
      'secrets/AM_TOKEN': 'am-token-123',
    });
    chmodSync(join(r, 'secrets', 'AM_TOKEN'), 0o600);
    roots.push(r);
    const gate = join(r, 'gate');
    const startServe = async () => {
      // Stopping the held tool takes the engine's kill grace: no SIGKILL from execa meanwhile.
      const child = execa('node', [CLI, '--root', r, 'serve', '--listen', '127.0.0.1:0'], { env: cleanEnv({ GATE: gate }), extendEnv: false, reject: false, cwd: PROJECT, forceKillAfterDelay: 60_000 });
      children.push(child);
      let out = '';
      child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      const url = await waitFor(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], { what: 'cortex serve to listen', timeoutMs: 20_000, detail: () => out });
      return { child, url };
    };
    const active = () =>
      listFiles(join(r, 'workflows', 'active'))
        .filter((f) => f.endsWith('.json'))
        .map((f) => JSON.parse(readFileSync(join(r, 'workflows', 'active', f), 'utf8')) as { execution_id: string; status: string });
    const first = await startServe();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${first.url}/webhook/alertmanager`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: 'Bearer am-token-123' },
        body: JSON.stringify({ receiver: 'cortex', status: 'firing', version: '4', groupLabels: {}, commonLabels: {}, alerts: [{ status: 'firing', labels: { alertname: 'HighMemoryUsage', instance: `node-${i}` }, startsAt: '2026-11-25T18:52:27Z', endsAt: '0001-01-01T00:00:00Z', fingerprint: `e${String(i).padStart(15, '0')}` }] }),
      });
      expect(res.status).toBe(202);
      ids.push(...((await res.json()) as { executions: string[] }).executions);
    }
    expect(ids).toHaveLength(3);
    // One is driven (its action holds), the other two wait with their records pending.
    await waitFor(() => active().filter((x) => x.status === 'running').length === 1, { what: 'one run to be running', timeoutMs: 30_000, detail: () => JSON.stringify(active()) });
    expect(active().filter((x) => x.status === 'pending')).toHaveLength(2);
    // `cortex cancel` of the run serve drives stops that run only: serve goes on, the next starts.
    const cancelledId = active().find((x) => x.status === 'running')?.execution_id as string;
    const cancel = await cortex(['cancel', cancelledId], { root: r });
    expect(cancel.exitCode, cancel.stdout + cancel.stderr).toBe(0);
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    await waitFor(() => active().find((x) => x.status === 'running' && x.execution_id !== cancelledId), { what: 'the next run to be running', timeoutMs: 30_000, detail: () => JSON.stringify(active()) });
    expect(active().filter((x) => x.status === 'pending')).toHaveLength(1);
    const running = active().find((x) => x.status === 'running')?.execution_id as string;

    first.child.kill('SIGTERM');
    const stopped = await first.child;
    expect(stopped.exitCode, `${stopped.signal} ${stopped.stderr}`).toBe(0);
    expect(stopped.stderr).toMatch(/1 run\(s\) not started stay pending/);
    expect(stopped.stderr).toContain(`stopped where they were; cortex status shows them, cortex resume ID continues each: ${running}`);
    const after = active();
    expect(after.filter((x) => x.status === 'pending').map((x) => x.execution_id)).toEqual(ids.filter((id) => id !== running && id !== cancelledId));
    expect(after.find((x) => x.execution_id === running)?.status).toBe('paused');

    // The next serve drives the pending run (not the stopped one: an operator decides on it).
    writeFileSync(gate, '');
    const second = await startServe();
    const ended = await waitForHistory(r, 2, 60_000);
    expect(ended.map((x) => [x.execution_id, x.status]).sort()).toEqual(
      [
        [cancelledId, 'cancelled'],
        [ids.find((id) => id !== running && id !== cancelledId), 'completed'],
      ].sort(),
    );
    expect(active().map((x) => x.execution_id)).toEqual([running]);
    second.child.kill('SIGTERM');
    expect((await second.child).exitCode).toBe(0);
    // Its action was stopped mid-way: the operator says to run it again.
    const resumed = await cortex(['resume', running, '--retry-action', 'hold'], { root: r, env: { GATE: gate } });
    expect(resumed.exitCode, resumed.stdout + resumed.stderr).toBe(0);
    await waitForHistory(r, 3, 30_000);
  }, 180_000);

  it('a definition edited while serving (same size, same modification time) is the one the next run is created and driven with', async () => {
    const definition = (version: string) => `workflow_id: edited
workflow_name: Edited
version: 1.0.0
concurrency: 5
parameters:
  instance: { type: string, required: true }
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: mark, action: execute_command, parameters: { command: [touch, "\${env.MARK}-${version}"] }, timeout: 10 }
triggers:
  - type: prometheus_alert
    id: high-mem
    alert_name: HighMemoryUsage
    parameters: { instance: "\${event.labels.instance}" }
`;
    const r = tempRoot({ 'workflows/edited.yaml': definition('v1'), 'config.yaml': 'serve:\n  token_secret: AM_TOKEN\n', 'secrets/AM_TOKEN': 'am-token-123' });
    chmodSync(join(r, 'secrets', 'AM_TOKEN'), 0o600);
    roots.push(r);
    const file = join(r, 'workflows', 'edited.yaml');
    // A whole second, which utimes sets again exactly: as an edit within one tick of a coarse clock.
    const at = new Date('2026-01-01T00:00:00Z');
    utimesSync(file, at, at);
    const mark = join(r, 'mark');
    const { child, url } = await startServe(r, { MARK: mark });
    const post = async (i: number) => {
      const { status, body } = await postAlert(url, i, 'd');
      expect(status).toBe(202);
      return (body as { executions: string[] }).executions[0] as string;
    };
    const first = await post(1);
    const [ended] = await waitForHistory(r, 1, 30_000);
    expect(existsSync(`${mark}-v1`)).toBe(true);
    writeFileSync(file, definition('v2'));
    utimesSync(file, at, at);
    const second = await post(2);
    const both = await waitForHistory(r, 2, 30_000);
    expect(existsSync(`${mark}-v2`)).toBe(true);
    const hashOf = (id: string) => (both.find((x) => x.execution_id === id) as unknown as { definition: { hash: string } }).definition.hash;
    expect(ended?.execution_id).toBe(first);
    expect(hashOf(second)).not.toBe(hashOf(first));
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  }, 120_000);

  it('on_conflict queue: when a run serve drives ends, the run queued behind it starts then (serve.log says after which)', async () => {
    const { r, gate, child, post } = await gatedQueueServe('q');
    const first = await post(1);
    expect(first.runs[0]?.status).toBe('started');
    const active = (id: string) => JSON.parse(readFileSync(join(r, 'workflows', 'active', `workflow-${id}.json`), 'utf8')) as { status: string; queued?: unknown };
    await waitFor(() => active(first.executions[0] as string).status === 'running', { what: 'the first run to be running', timeoutMs: 30_000 });
    const second = await post(2);
    expect(second.runs[0]?.status).toBe('queued');
    const [older, queued] = [first.executions[0] as string, second.executions[0] as string];
    expect(active(queued)).toMatchObject({ status: 'pending', queued: { behind: [older] } });
    writeFileSync(gate, '');
    const ended = await waitForHistory(r, 2, 60_000);
    expect(ended.map((x) => [x.execution_id, x.status]).sort()).toEqual([[older, 'completed'], [queued, 'completed']].sort());
    // Started because the run it waited behind ended here, not by serve's 30 s pass.
    expect(readFileSync(join(r, 'state', 'serve.log'), 'utf8')).toContain(`queued run ${queued} started (${older} ended)`);
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  }, 120_000);

  it('on_conflict queue changed to refuse while a run waits: when the run it waits behind ends here, it starts then', async () => {
    const { r, gate, child, post } = await gatedQueueServe('r');
    const first = await post(1);
    expect(first.runs[0]?.status).toBe('started');
    const active = (id: string) => JSON.parse(readFileSync(join(r, 'workflows', 'active', `workflow-${id}.json`), 'utf8')) as { status: string; queued?: unknown };
    await waitFor(() => active(first.executions[0] as string).status === 'running', { what: 'the first run to be running', timeoutMs: 30_000 });
    const second = await post(2);
    expect(second.runs[0]?.status).toBe('queued');
    const [older, queued] = [first.executions[0] as string, second.executions[0] as string];
    expect(active(queued)).toMatchObject({ status: 'pending', queued: { behind: [older] } });
    // The operator stops queueing new runs; the one already waiting is still to run after the first.
    const file = join(r, 'workflows', 'one-at-a-time.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('on_conflict: queue', 'on_conflict: refuse'));
    writeFileSync(gate, '');
    const ended = await waitForHistory(r, 2, 60_000);
    expect(ended.map((x) => [x.execution_id, x.status]).sort()).toEqual([[older, 'completed'], [queued, 'completed']].sort());
    // Started because the run it waited behind ended here, not by serve's 30 s pass.
    expect(readFileSync(join(r, 'state', 'serve.log'), 'utf8')).toContain(`queued run ${queued} started (${older} ended)`);
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  }, 120_000);
});
