/**
 * Queue mode (issue 15), the entry points that start runs without an operator: `serve` and `tick`
 * queue their runs for `cortex worker` processes instead of driving them, and a workflow's
 * `concurrency` (with its `on_conflict`) holds across several workers.
 */
import { execa, type ResultPromise } from 'execa';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, PROJECT, cleanEnv, cortex, removeRoot, tempRoot, waitPastApprovalDeadline } from './helpers.js';
import { allRecords, startWorker, stopWorker, type Rec, type Worker } from './queue-helpers.js';
import { HAS_REDIS, REDIS_NOTE, startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { createApp } from '../../src/compose.js';
import { createRunStarter } from '../../src/app/trigger-starter.js';
import type { Launcher } from '../../src/ports/launcher.js';

const TOKEN = 'am-token-queue-3';

/** A root whose config names `url` as the queue (short job locks), with serve's token. */
function root(url: string, workflows: (dir: string) => Record<string, string>): string {
  const r = tempRoot({});
  for (const [name, text] of Object.entries(workflows(r))) writeFileSync(join(r, 'workflows', name), text);
  writeFileSync(join(r, 'config.yaml'), `queue: { url: "${url}", lock_seconds: 2 }\nserve: { token_secret: AM_TOKEN }\n`);
  mkdirSync(join(r, 'secrets'));
  writeFileSync(join(r, 'secrets', 'AM_TOKEN'), TOKEN);
  chmodSync(join(r, 'secrets', 'AM_TOKEN'), 0o600);
  return r;
}

/** An action that waits until the file `gate` exists. */
const holdUntil = (gate: string) => `{ action_id: hold, action: execute_command, parameters: { command: [sh, -c, 'while [ ! -e "$0" ]; do sleep 0.05; done', "${gate}"] }, timeout: 60 }`;

/** Alertmanager's webhook body for one firing alert. */
const alert = (instance: string) =>
  JSON.stringify({
    receiver: 'cortex',
    status: 'firing',
    alerts: [{ status: 'firing', labels: { alertname: 'HighMemoryUsage', instance, severity: 'critical' }, annotations: {}, startsAt: '2026-11-25T18:52:27Z', endsAt: '0001-01-01T00:00:00Z', fingerprint: `fp-${instance}` }],
    groupLabels: {},
    commonLabels: {},
    version: '4',
  });

const onAlert = (gate: string) => `workflow_id: on-alert
workflow_name: On alert
version: 1.0.0
concurrency: 10
parameters:
  instance: { type: string, required: true }
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - ${holdUntil(gate)}
triggers:
  - type: prometheus_alert
    id: high-mem
    alert_name: HighMemoryUsage
    parameters: { instance: "\${event.labels.instance}" }
`;

interface Serve {
  proc: ResultPromise;
  url: string;
  post(body: string): Promise<{ status: number; retryAfter: string | null; body: { executions: string[]; duplicates?: number; runs: Array<{ status: string; busy?: string; execution_id?: string | null; message?: string }> } }>;
}

async function startServe(r: string): Promise<Serve> {
  const proc = execa('node', [CLI, '--root', r, 'serve', '--listen', '127.0.0.1:0'], { env: cleanEnv(), extendEnv: false, reject: false, cwd: PROJECT, all: true });
  children.push(proc);
  let out = '';
  proc.all?.on('data', (d: Buffer) => (out += d.toString()));
  const url = await waitFor(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] ?? (proc.exitCode !== null ? `exited: ${out}` : undefined), { what: 'cortex serve to listen', timeoutMs: 30_000, detail: () => out });
  if (!url.startsWith('http')) throw new Error(`cortex serve ${url}`);
  return {
    proc,
    url,
    post: async (body) => {
      const res = await fetch(`${url}/webhook/alertmanager`, { method: 'POST', body, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` } });
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Awaited<ReturnType<Serve['post']>>['body'] };
    },
  };
}

const roots: string[] = [];
const children: ResultPromise[] = [];
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.allSettled(workers.splice(0).map(stopWorker));
  for (const c of children.splice(0)) c.kill('SIGTERM');
});
afterAll(() => roots.forEach(removeRoot));

async function worker(r: string, args: string[] = []): Promise<Worker> {
  const w = await startWorker(r, args);
  workers.push(w);
  return w;
}

type Status = { executions: Array<{ execution_id: string; status: string; process: { pid: number; host: string } | null }> };
async function statusOf(r: string, id: string) {
  const st = await cortex(['--json', 'status'], { root: r });
  return (JSON.parse(st.stdout) as Status).executions.find((e) => e.execution_id === id);
}

// Each test runs several cortex processes and a Redis: a bound against hanging on a loaded machine.
describe.skipIf(!HAS_REDIS)(`queue mode: serve, tick and concurrency across workers${REDIS_NOTE}`, { timeout: 120_000 }, () => {
  let redis: RedisServer;
  /** Each test its own Redis database: a worker of one test's root never takes another's jobs. */
  let db = 0;
  const nextUrl = () => redis.url.replace(/\/0$/, `/${++db}`);
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.dispose();
  });

  it('serve: an Alertmanager POST is answered 202 with a queued execution; a worker drives it, serve drives nothing', async () => {
    const gate = { path: '' };
    const r = root(nextUrl(), (dir) => ((gate.path = join(dir, 'gate')), { 'on-alert.yaml': onAlert(gate.path) }));
    roots.push(r);
    const serve = await startServe(r);
    const first = await serve.post(alert('node-1'));
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    const id = first.body.executions[0] as string;
    expect(id).toMatch(/^on-alert-/);
    // No worker yet: the record exists, queued, and nobody drives it (serve does not).
    expect(allRecords(r).get(id)).toMatchObject({ status: 'queued' });
    expect(allRecords(r).get(id)?.process).toBeUndefined();
    expect((await statusOf(r, id))?.status).toBe('queued');

    const w = await worker(r);
    await waitFor(() => allRecords(r).get(id)?.current_action === 'hold', { what: `the worker to drive ${id} into "hold"`, timeoutMs: 30_000, detail: () => JSON.stringify(allRecords(r).get(id)) });
    const shown = await statusOf(r, id);
    expect(shown?.status).toBe('running');
    expect(shown?.process?.pid).toBe(w.pid);
    expect(shown?.process?.pid).not.toBe(serve.proc.pid);
    writeFileSync(gate.path, '');
    await waitFor(() => allRecords(r).get(id)?.where === 'history', { what: `${id} to end`, timeoutMs: 30_000 });
    expect(allRecords(r).get(id)?.status).toBe('completed');
    expect(w.output()).toContain(`run ${id} (trigger): started`);
    // The same alert again is a duplicate: the event was marked seen once its run was queued.
    const again = await serve.post(alert('node-1'));
    expect(again.status).toBe(200);
    expect(again.body.duplicates).toBe(1);
    serve.proc.kill('SIGTERM');
    expect((await serve.proc).exitCode).toBe(0);
    // serve never took the execution: the runs log (detached and in-process runs) has nothing of it.
    const runsLog = join(r, 'state', 'runs.log');
    expect(existsSync(runsLog) ? readFileSync(runsLog, 'utf8') : '').not.toContain(id);
  });

  it('serve: with Redis unreachable an alert is answered 503 (Retry-After), nothing is created, the event is not marked seen', async () => {
    const down = await startRedis();
    try {
      const r = root(down.url, (dir) => ({ 'on-alert.yaml': onAlert(join(dir, 'gate')) }));
      roots.push(r);
      writeFileSync(join(r, 'gate'), '');
      await down.stop();
      const serve = await startServe(r);
      const refused = await serve.post(alert('node-2'));
      expect(refused.status, JSON.stringify(refused.body)).toBe(503);
      expect(refused.retryAfter).not.toBeNull();
      expect(refused.body.executions).toEqual([]);
      expect(refused.body.runs).toEqual([expect.objectContaining({ status: 'busy', busy: 'queue_unreachable', message: expect.stringMatching(/^the queue \(Redis\) does not answer/) })]);
      expect([...allRecords(r).keys()]).toEqual([]);
      // The queue's address stays out of the answer; serve.log has the error.
      expect(JSON.stringify(refused.body)).not.toContain(String(down.port));
      const serveLog = () => (existsSync(join(r, 'state', 'serve.log')) ? readFileSync(join(r, 'state', 'serve.log'), 'utf8') : '');
      const logged = new RegExp(`POST /webhook/alertmanager 503 .*reason="the queue \\(Redis\\) does not answer \\(.*${down.port}`);
      await waitFor(() => logged.test(serveLog()), { what: 'serve.log to name why it answered 503', detail: serveLog });
      // Redis back and a worker running: the sender's next delivery of the same alert starts it.
      await down.start();
      const w = await worker(r);
      const accepted = await serve.post(alert('node-2'));
      expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
      const id = accepted.body.executions[0] as string;
      await waitFor(() => allRecords(r).get(id)?.where === 'history', { what: `${id} to end`, timeoutMs: 30_000 });
      expect(allRecords(r).get(id)?.status).toBe('completed');
      expect(w.output()).toContain(`run ${id} (trigger): started`);
      expect([...allRecords(r).keys()]).toEqual([id]);
    } finally {
      await down.dispose();
    }
  });

  it('tick: a due schedule is queued (no detached cortex resume) and a worker drives it; an expired approval is queued too', async () => {
    const r = root(nextUrl(), () => ({
      'every-five.yaml': `workflow_id: every-five
workflow_name: Every five minutes
version: 1.0.0
parameters:
  slot: { type: string, required: true }
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: say, action: execute_command, parameters: { command: [echo, "slot \${parameters.slot}"] }, timeout: 10 }
`,
      'needs-ok.yaml': `workflow_id: needs-ok
workflow_name: Needs an approval
version: 1.0.0
phases:
  - phase_id: first
    contractor: infrastructure-contractor
    actions:
      - { action_id: one, action: execute_command, parameters: { command: [echo, one] }, timeout: 10 }
  - phase_id: second
    contractor: infrastructure-contractor
    requires_approval: true
    approval_timeout: 1
    actions:
      - { action_id: two, action: execute_command, parameters: { command: [echo, two] }, timeout: 10 }
`,
    }));
    roots.push(r);
    mkdirSync(join(r, 'triggers'));
    writeFileSync(join(r, 'triggers', 'five.yaml'), 'workflow_id: every-five\nid: five\ntype: schedule\ncron: "*/5 * * * *"\nparameters: { slot: "${event.scheduled_for}" }\n');
    const t = await cortex(['--json', 'tick', '--now', '2026-03-08T07:05:01Z'], { root: r });
    expect(t.exitCode, t.stdout + t.stderr).toBe(0);
    const runs = (JSON.parse(t.stdout) as { runs: Array<{ status: string; execution_id: string; pid?: number; message?: string }> }).runs;
    expect(runs).toEqual([expect.objectContaining({ status: 'started', message: expect.stringMatching(/^queued \(job run-every-five-/) })]);
    expect(runs[0]?.pid).toBeUndefined();
    const id = runs[0]?.execution_id as string;
    // No worker yet: queued, and no detached process took it.
    expect(allRecords(r).get(id)).toMatchObject({ status: 'queued' });
    const runsLog = join(r, 'state', 'runs.log');
    expect(existsSync(runsLog) ? readFileSync(runsLog, 'utf8') : '').toBe('');

    const w = await worker(r);
    await waitFor(() => allRecords(r).get(id)?.where === 'history', { what: `${id} to end`, timeoutMs: 30_000 });
    expect(allRecords(r).get(id)?.status).toBe('completed');
    expect(w.output()).toContain(`run ${id} (trigger): started`);

    // An approval that expires: tick marks it and queues the rejection for a worker (the schedule,
    // due again by the real clock, is taken away first).
    rmSync(join(r, 'triggers', 'five.yaml'));
    const run = await cortex(['--json', 'run', 'needs-ok'], { root: r });
    expect(run.exitCode, run.stderr).toBe(0);
    const waiting = (JSON.parse(run.stdout) as { execution_id: string }).execution_id;
    expect(allRecords(r).get(waiting)?.status).toBe('awaiting_approval');
    await waitPastApprovalDeadline(r, waiting);
    const expire = await cortex(['tick'], { root: r });
    expect(expire.exitCode, expire.stdout + expire.stderr).toBe(0);
    expect(expire.stdout).toMatch(new RegExp(`${waiting}: approval expired: queued \\(job resume-${waiting}-`));
    await waitFor(() => allRecords(r).get(waiting)?.where === 'history', { what: `the expired ${waiting} to end`, timeoutMs: 30_000, detail: () => JSON.stringify(allRecords(r).get(waiting)?.status) });
    const ended = readJsonRecord(r, waiting);
    expect(ended.approvals.map((a) => a.decision)).toContain('expired');
    expect(w.output()).toContain(`resume ${waiting} (tick): started`);
    expect(existsSync(runsLog) ? readFileSync(runsLog, 'utf8') : '').toBe('');
  });

  it('concurrency 1, on_conflict queue, 2 workers: 3 triggered runs go one at a time, each once, all complete', async () => {
    const log = { path: '' };
    const r = root(nextUrl(), (dir) => {
      log.path = join(dir, 'marks.log');
      return {
        'serial.yaml': `workflow_id: serial
workflow_name: one at a time
version: 1.0.0
concurrency: 1
on_conflict: queue
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: work, action: execute_command, parameters: { command: [sh, -c, 'echo "start $0" >> "$1"; sleep 0.3; echo "end $0" >> "$1"', "\${execution_id}", "${log.path}"] }, timeout: 30 }
triggers:
  - { type: webhook, id: hook, path: serial, auth: { type: none } }
`,
      };
    });
    roots.push(r);
    // Fired before any worker runs: the first run stays `queued` (in flight) while the others arrive.
    const fired = await Promise.all([1, 2, 3].map((i) => cortex(['--json', 'trigger', '--source', 'generic', '--path', 'serial', '--event', '-'], { root: r, input: JSON.stringify({ n: i }) })));
    for (const f of fired) expect(f.exitCode, f.stdout + f.stderr).toBe(0);
    const runs = fired.flatMap((f) => (JSON.parse(f.stdout) as { runs: Array<{ status: string; execution_id: string }> }).runs);
    const ids = runs.map((x) => x.execution_id);
    expect(new Set(ids).size).toBe(3);
    // One went to the workers at once; the others wait behind it (on_conflict: queue).
    expect(runs.map((x) => x.status).sort()).toEqual(['queued', 'queued', 'started']);
    // Two workers, each taking 2 jobs at once; tick (cron, every minute) queues the next waiting run
    // once the workflow has room.
    await Promise.all([worker(r, ['--concurrency', '2']), worker(r, ['--concurrency', '2'])]);
    const done = () => ids.every((id) => allRecords(r).get(id)?.where === 'history');
    await waitFor(
      async () => {
        if (done()) return true;
        const t = await cortex(['tick'], { root: r });
        if (t.exitCode !== 0) throw new Error(`cortex tick exited ${t.exitCode}: ${t.stdout}${t.stderr}`);
        return done();
      },
      { what: 'the 3 runs to end, one after another', timeoutMs: 90_000, intervalMs: 100, detail: () => ids.map((id) => `${id}: ${allRecords(r).get(id)?.status}`).join(', ') },
    );
    expect(ids.map((id) => allRecords(r).get(id)?.status)).toEqual(['completed', 'completed', 'completed']);
    // Never two at once: in the order of the appends, every start is followed by its own end.
    const lines = readFileSync(log.path, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(6);
    for (let k = 0; k < lines.length; k += 2) {
      const [s, e] = [lines[k] as string, lines[k + 1] as string];
      expect(s).toMatch(/^start /);
      expect(e).toBe(s.replace(/^start/, 'end'));
    }
    expect(new Set(lines.filter((l) => l.startsWith('start')).map((l) => l.slice(6)))).toEqual(new Set(ids));
  });

  it('concurrency 1 across 2 workers: a run is refused while one is in flight (on_conflict refuse), or cancels it (cancel_older)', async () => {
    const gate = { path: '' };
    const r = root(nextUrl(), (dir) => {
      gate.path = join(dir, 'gate');
      const wf = (id: string, onConflict: string) => `workflow_id: ${id}
workflow_name: ${id}
version: 1.0.0
concurrency: 1
on_conflict: ${onConflict}
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - ${holdUntil(gate.path)}
triggers:
  - { type: webhook, id: hook, path: ${id}, auth: { type: none } }
`;
      return { 'refusing.yaml': wf('refusing', 'refuse'), 'latest.yaml': wf('latest', 'cancel_older') };
    });
    roots.push(r);
    await Promise.all([worker(r), worker(r)]);
    const fire = async (path: string, n: number) => {
      const f = await cortex(['--json', 'trigger', '--source', 'generic', '--path', path, '--event', '-'], { root: r, input: JSON.stringify({ n }) });
      return { exitCode: f.exitCode, out: f.stdout + f.stderr, run: (JSON.parse(f.stdout) as { runs: Array<{ status: string; execution_id: string | null; busy?: string; cancelled?: string[]; message?: string }> }).runs[0] };
    };
    const inFlight = (id: string) => allRecords(r).get(id)?.current_action === 'hold';

    // refuse: the second run is not created while the first is driven by a worker.
    const a = await fire('refusing', 1);
    expect(a.run?.status, a.out).toBe('started');
    await waitFor(() => inFlight(a.run?.execution_id as string), { what: 'the first refusing run to be driven', timeoutMs: 30_000 });
    const b = await fire('refusing', 2);
    expect(b.exitCode, b.out).toBe(3);
    expect(b.run).toMatchObject({ status: 'busy', busy: 'conflict', execution_id: null });
    // Nor by `cortex run`, which always refuses at the limit.
    const direct = await cortex(['run', 'refusing', '--detach'], { root: r });
    expect(direct.exitCode).toBe(3);
    expect(direct.stderr).toMatch(/already in progress/);

    // cancel_older: the run in flight on a worker is cancelled, then the new one is queued and driven.
    const c = await fire('latest', 1);
    const older = c.run?.execution_id as string;
    await waitFor(() => inFlight(older), { what: 'the first latest run to be driven', timeoutMs: 30_000 });
    const d = await fire('latest', 2);
    expect(d.exitCode, d.out).toBe(0);
    expect(d.run).toMatchObject({ status: 'started', cancelled: [older] });
    const newer = d.run?.execution_id as string;
    expect(allRecords(r).get(older)).toMatchObject({ status: 'cancelled', status_reason: expect.stringMatching(/on_conflict cancel_older/) });
    writeFileSync(gate.path, '');
    await waitFor(() => [a.run?.execution_id as string, newer].every((id) => allRecords(r).get(id)?.where === 'history'), { what: 'the runs left to end', timeoutMs: 30_000 });
    expect(allRecords(r).get(newer)?.status).toBe('completed');
    expect(allRecords(r).get(a.run?.execution_id as string)?.status).toBe('completed');
    // The cancelled run had ended before the newer one started.
    const olderRec = readJsonRecord(r, older);
    const newerRec = readJsonRecord(r, newer);
    expect(Date.parse(newerRec.started_at)).toBeGreaterThanOrEqual(Date.parse(olderRec.updated_at));
    expect([...allRecords(r).keys()].sort()).toEqual([a.run?.execution_id, older, newer].sort());
  });
});

// In process, with a stand-in for the queue: Redis going away between its answer and the job.
describe('queue mode: a triggered run the queue does not take', () => {
  it('is not created while the queue does not answer; one created just before the queue fails is withdrawn (cancelled, saying why) and refused for now', async () => {
    const r = root('redis://127.0.0.1:1/0', () => ({
      'single.yaml': `workflow_id: single
workflow_name: single
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: a, action: execute_command, parameters: { command: ["true"] } }
`,
    }));
    roots.push(r);
    const app = createApp({ root: { dir: r, source: 'flag', isReadOnlyPackage: false }, env: cleanEnv(), cwd: r, signal: new AbortController().signal, command: 'serve' });
    let down: string | undefined = 'the queue (Redis) does not answer (connect ECONNREFUSED 127.0.0.1:1)';
    let takes = false;
    const launched: string[] = [];
    const launcher: Launcher = {
      queued: true,
      unavailable: async () => down,
      launch: async (id) => {
        launched.push(id);
        return takes ? { ok: true, message: `queued (job run-${id})` } : { ok: false, message: 'cannot queue it: Connection is closed.' };
      },
    };
    const start = createRunStarter(app, launcher);
    const req = (n: number) => ({ workflowId: 'single', assignments: [], triggerInfo: { type: 'webhook' as const, source: 'generic', trigger_id: 'hook', event_id: `e-${n}` } });

    expect(await start(req(1))).toEqual({ ok: false, busy: 'queue_unreachable', exitCode: 4, message: `${down}: no run was created; send it again later` });
    expect(launched).toEqual([]);
    expect(allRecords(r).size).toBe(0);

    down = undefined;
    const lost = await start(req(2));
    const withdrawn = launched[0] as string;
    expect(lost).toEqual({ ok: false, busy: 'queue_unreachable', exitCode: 4, message: `cannot queue it: Connection is closed.: ${withdrawn} was withdrawn (cancelled); send it again later` });
    expect(allRecords(r).get(withdrawn)).toMatchObject({ status: 'cancelled', where: 'history', status_reason: 'not started: cannot queue it: Connection is closed.; the event or schedule may start it again' });

    // The workflow (concurrency 1) is free again: the next delivery starts.
    takes = true;
    const ok = await start(req(3));
    expect(ok).toMatchObject({ ok: true, executionId: launched[1] });
    expect(allRecords(r).get(launched[1] as string)?.status).toBe('queued');
  });

  it('tick with the queue unreachable: the due run is not created, tick exits 1 naming the queue', async () => {
    const r = root('redis://127.0.0.1:1/0', () => ({
      'single.yaml': 'workflow_id: single\nworkflow_name: single\nversion: 1.0.0\nphases:\n  - phase_id: p\n    contractor: infrastructure-contractor\n    actions:\n      - { action_id: a, action: execute_command, parameters: { command: ["true"] } }\n',
    }));
    roots.push(r);
    mkdirSync(join(r, 'triggers'));
    writeFileSync(join(r, 'triggers', 'hourly.yaml'), 'workflow_id: single\nid: hourly\ntype: schedule\ncron: "0 * * * *"\n');
    const t = await cortex(['tick', '--now', '2026-03-08T07:00:01Z'], { root: r });
    expect(t.exitCode, t.stdout + t.stderr).toBe(1);
    expect(t.stdout).toMatch(/single\/hourly due .*: failed: the queue \(Redis\) does not answer \(.*ECONNREFUSED.*\): no run was created; send it again later/);
    expect(allRecords(r).size).toBe(0);
  });
});

function readJsonRecord(r: string, id: string): Rec & { approvals: Array<{ decision: string }>; started_at: string; updated_at: string } {
  const p = [join(r, 'workflows', 'history', `workflow-${id}.json`), join(r, 'workflows', 'active', `workflow-${id}.json`)].find((x) => existsSync(x)) as string;
  return JSON.parse(readFileSync(p, 'utf8')) as ReturnType<typeof readJsonRecord>;
}
