import { execa, type ResultPromise } from 'execa';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CLI, PROJECT, cleanEnv, cortex, removeRoot, tempRoot } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

// A typo in a trigger file must not silently disable a schedule or a webhook: validate names it,
// tick / schedule list exit 2 naming it, serve refuses to start. And a serve whose token cannot be
// used says so at start, with the real reason.

const roots: string[] = [];
const children: ResultPromise[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});
afterAll(() => roots.forEach(removeRoot));

const WF = `workflow_id: small
workflow_name: small
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: a, action: execute_command, parameters: { command: ["true"] } }
`;

function root(files: Record<string, string>): string {
  const r = tempRoot({ 'workflows/small.yaml': WF, ...files });
  roots.push(r);
  return r;
}

const GOOD = 'workflow_id: small\ntype: schedule\ncron: "0 4 * * *"\n';
const BAD_CRON = 'workflow_id: small\ntype: schedule\ncron: "0 25 * * *"\n';
const CRON_ERROR = /triggers\/bad\.yaml:3:\d+: \/cron: bad cron expression "0 25 \* \* \*"/;

interface ValidateJson {
  valid: boolean;
  files: Array<{ file: string; kind: string; valid: boolean; errors: Array<{ message: string }> }>;
}

describe('cortex validate: trigger files', () => {
  it('validates triggers/*.yaml with the definitions: a bad cron is exit 2, naming the file and line', async () => {
    const r = root({ 'triggers/good.yaml': GOOD, 'triggers/bad.yaml': BAD_CRON });
    const res = await cortex(['validate'], { root: r });
    expect(res.exitCode).toBe(2);
    expect(res.stdout).toMatch(/^ok\s+triggers\/good\.yaml/m);
    expect(res.stderr).toMatch(/^invalid triggers\/bad\.yaml/m);
    expect(res.stderr).toMatch(CRON_ERROR);

    const json = await cortex(['validate', '--json'], { root: r });
    expect(json.exitCode).toBe(2);
    const body = JSON.parse(json.stdout) as ValidateJson;
    expect(body.valid).toBe(false);
    expect(body.files.filter((f) => f.kind === 'trigger').map((f) => [f.file, f.valid])).toEqual([
      ['triggers/bad.yaml', false],
      ['triggers/good.yaml', true],
    ]);
  });

  it('validate triggers/x.yaml checks it as a trigger file, not as a workflow', async () => {
    const r = root({ 'triggers/good.yaml': GOOD, 'triggers/bad.yaml': BAD_CRON });
    const good = await cortex(['validate', 'triggers/good.yaml'], { root: r, cwd: r });
    expect(good.exitCode, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/^ok\s+triggers\/good\.yaml \(triggers\)/m);
    const bad = await cortex(['validate', 'triggers/bad.yaml', '--json'], { root: r, cwd: r });
    expect(bad.exitCode).toBe(2);
    const body = JSON.parse(bad.stdout) as ValidateJson;
    expect(body.files).toHaveLength(1);
    expect(body.files[0]).toMatchObject({ file: 'triggers/bad.yaml', kind: 'trigger', valid: false });
    expect(body.files[0]?.errors.map((e) => e.message)).toEqual([expect.stringMatching(/bad cron expression/)]);
    expect(bad.stdout).not.toMatch(/phases/);
    // Outside the root's triggers/ folder too: told apart by its content (no phases).
    writeFileSync(join(r, 'elsewhere.yaml'), 'workflow_id: nope\ntype: schedule\ncron: "0 4 * * *"\n');
    const other = await cortex(['validate', 'elsewhere.yaml'], { root: r, cwd: r });
    expect(other.exitCode).toBe(2);
    expect(other.stderr).toMatch(/elsewhere\.yaml:1:\d+: \/workflow_id: no valid workflow "nope"/);
  });
});

describe('tick, schedule list and serve with an invalid trigger file', () => {
  it('tick still starts the valid schedule but exits 2 with an error line; --json lists the problem', async () => {
    const r = root({ 'triggers/good.yaml': GOOD, 'triggers/bad.yaml': BAD_CRON });
    const res = await cortex(['tick', '--now', '2026-03-29T04:00:00Z', '--dry-run'], { root: r });
    expect(res.exitCode).toBe(2);
    expect(res.stdout).toMatch(/small\/good due .*: would start/);
    expect(res.stderr).toMatch(/^\S+ error: triggers\/bad\.yaml:3:\d+: \/cron: bad cron expression/m);
    const json = await cortex(['tick', '--now', '2026-03-29T04:00:00Z', '--dry-run', '--json'], { root: r });
    expect(json.exitCode).toBe(2);
    const body = JSON.parse(json.stdout) as { runs: Array<{ schedule: string; status: string }>; problems: string[] };
    expect(body.runs.map((x) => [x.schedule, x.status])).toEqual([['small/good', 'would_start']]);
    expect(body.problems).toEqual([expect.stringMatching(CRON_ERROR)]);
    // Fixed: exit 0 again.
    writeFileSync(join(r, 'triggers/bad.yaml'), GOOD.replace('0 4', '0 5'));
    expect((await cortex(['tick', '--now', '2026-03-29T04:00:00Z', '--dry-run'], { root: r })).exitCode).toBe(0);
  });

  it('schedule list shows the valid schedules, then the error, and exits 2', async () => {
    const r = root({ 'triggers/good.yaml': GOOD, 'triggers/bad.yaml': BAD_CRON });
    const env = { CORTEX_CRONTAB: 'false' };
    const res = await cortex(['schedule', 'list'], { root: r, env });
    expect(res.exitCode).toBe(2);
    expect(res.stdout).toMatch(/^small\/good\s+0 4 \* \* \*/m);
    expect(res.stderr).toMatch(/^error: triggers\/bad\.yaml:3:\d+: \/cron: bad cron expression/m);
    const json = await cortex(['schedule', 'list', '--json'], { root: r, env });
    expect(json.exitCode).toBe(2);
    expect((JSON.parse(json.stdout) as { problems: string[] }).problems).toEqual([expect.stringMatching(CRON_ERROR)]);
  });

  it('serve refuses to start (exit 2) naming the file', async () => {
    const r = root({ 'triggers/bad.yaml': BAD_CRON });
    const res = await cortex(['serve', '--listen', '127.0.0.1:0'], { root: r, timeoutMs: 30_000 });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(/cortex serve does not start/);
    expect(res.stderr).toMatch(CRON_ERROR);
    expect(res.stdout).not.toMatch(/listening/);
  });

  it('serve: a trigger file that goes bad while serving is logged and /healthz says degraded', async () => {
    const hook = 'workflow_id: small\ntype: webhook\npath: hook\nauth: { type: none }\n';
    const r = root({ 'triggers/hook.yaml': hook });
    const { child, url, stderr } = await startServe(r);
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    writeFileSync(join(r, 'triggers/bad.yaml'), BAD_CRON);
    const health = await waitFor(
      async () => {
        const b = (await (await fetch(`${url}/healthz`)).json()) as { status: string; problems?: string[] };
        return b.status === 'degraded' ? b : undefined;
      },
      { what: '/healthz to report the bad file', timeoutMs: 15_000 },
    );
    expect(health.problems).toEqual([expect.stringMatching(CRON_ERROR)]);
    await waitFor(() => CRON_ERROR.test(stderr()), { what: 'the error on stderr', timeoutMs: 10_000, detail: stderr });
    expect(readFileSync(join(r, 'state', 'serve.log'), 'utf8')).toMatch(/error: triggers\/bad\.yaml/);
    child.kill('SIGTERM');
  });

  it('serve: an operator actions file that goes bad while serving is said by /healthz on every request, not only the first', async () => {
    const hook = 'workflow_id: small\ntype: webhook\npath: hook\nauth: { type: none }\n';
    const r = root({ 'triggers/hook.yaml': hook, 'contractors/lb.yaml': 'contractor: lb-contractor\nactions:\n  - name: x\n    summary: s\n    argv: [lbctl, status]\n' });
    const { child, url, stderr } = await startServe(r);
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    writeFileSync(join(r, 'contractors/lb.yaml'), 'contractor: lb-contractor\nactions: [\n');
    const health = async () => (await (await fetch(`${url}/healthz`)).json()) as { status: string; problems?: string[] };
    const first = await waitFor(
      async () => {
        const b = await health();
        return b.status !== 'ok' ? b : undefined;
      },
      { what: '/healthz to see the bad file', timeoutMs: 15_000, detail: stderr },
    );
    expect(first.problems).toEqual([expect.stringMatching(/contractors\/lb\.yaml/)]);
    // The next requests too: the files did not change since, and they are still invalid.
    expect(await health()).toEqual(first);
    expect(await health()).toEqual(first);
    child.kill('SIGTERM');
  });
});

describe('cortex serve: its disk waits', () => {
  it('runs with libuv\'s thread pool at 16 threads (its fsyncs wait there, ahead of every file read), unless UV_THREADPOOL_SIZE says otherwise', async () => {
    const r = root({});
    // Node's threads besides the pool are fewer than 8 (main, V8's platform workers, signals):
    // with the default pool of 4 the process has about 11, with 16 about 23.
    const threads = async (env: Record<string, string> = {}) => {
      const { child } = await startServe(r, [], env);
      const n = readdirSync(`/proc/${child.pid}/task`).length;
      child.kill('SIGTERM');
      await child;
      return n;
    };
    expect(await threads()).toBeGreaterThanOrEqual(17);
    expect(await threads({ UV_THREADPOOL_SIZE: '4' })).toBeLessThan(17);
  });
});

async function startServe(r: string, args: string[] = [], env: Record<string, string> = {}): Promise<{ child: ResultPromise; url: string; stderr: () => string; stdout: () => string }> {
  const child = execa('node', [CLI, '--root', r, ...args, 'serve', '--listen', '127.0.0.1:0'], { env: cleanEnv(env), extendEnv: false, reject: false, cwd: PROJECT });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const url = await waitFor(() => /(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], { what: 'cortex serve to listen', timeoutMs: 20_000, detail: () => out + err });
  return { child, url, stderr: () => err, stdout: () => out };
}

describe('cortex serve: credentials that cannot work are said at start', () => {
  const ALERT_WF = `${WF}triggers:\n  - { type: prometheus_alert, id: mem, alert_name: HighMemoryUsage }\n`;

  it('no token configured: a warning on stderr naming the path, and a structured one under --json', async () => {
    const r = tempRoot({ 'workflows/small.yaml': ALERT_WF });
    roots.push(r);
    const plain = await startServe(r);
    expect(plain.stderr()).toMatch(/^warning: POST \/webhook\/alertmanager: no bearer token is configured: every request is answered 401\n {2}fix: .*serve\.token_secret/m);
    plain.child.kill('SIGTERM');

    const json = await startServe(r, ['--json']);
    const listening = JSON.parse(json.stdout().trim().split('\n')[0] as string) as { warnings: Array<{ path: string }> };
    expect(listening.warnings.map((w) => w.path)).toEqual(['/webhook/alertmanager']);
    const warnings = json
      .stderr()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { warning: { code: string; path: string; triggers: string[]; reason: string; fix: string } });
    expect(warnings).toEqual([
      { warning: expect.objectContaining({ code: 'CORTEX_SERVE_UNAUTHENTICATED', path: '/webhook/alertmanager', triggers: ['small/mem'], reason: expect.stringMatching(/no bearer token is configured/) }) },
    ]);
  });

  it('a secret file of mode 644: the warning and serve.log name the mode, not "not set"', async () => {
    const r = tempRoot({ 'workflows/small.yaml': ALERT_WF, 'config.yaml': 'serve:\n  token_secret: AM_TOKEN\n' });
    roots.push(r);
    mkdirSync(join(r, 'secrets'), { recursive: true });
    writeFileSync(join(r, 'secrets', 'AM_TOKEN'), 'sekrit-token\n');
    chmodSync(join(r, 'secrets', 'AM_TOKEN'), 0o644);
    const s = await startServe(r);
    expect(s.stderr()).toMatch(/warning: POST \/webhook\/alertmanager: the bearer token secret AM_TOKEN cannot be used: secret file .*AM_TOKEN is readable by group or others \(mode 644\)/);
    expect(s.stderr()).toMatch(/fix: chmod 600 .*AM_TOKEN/);
    const res = await fetch(`${s.url}/webhook/alertmanager`, { method: 'POST', headers: { Authorization: 'Bearer sekrit-token' }, body: '{}' });
    expect(res.status).toBe(401);
    const log = await waitFor(() => {
      const text = readFileSync(join(r, 'state', 'serve.log'), 'utf8');
      return / 401 /.test(text) ? text : undefined;
    }, { what: 'the 401 in serve.log', timeoutMs: 10_000 });
    expect(log).toMatch(/mode 644/);
    expect(log).not.toMatch(/not set/);
    // Fixed: no warning.
    chmodSync(join(r, 'secrets', 'AM_TOKEN'), 0o600);
    s.child.kill('SIGTERM');
    const again = await startServe(r);
    expect(again.stderr()).not.toMatch(/warning/);
  });
});
