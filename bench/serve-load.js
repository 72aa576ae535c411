#!/usr/bin/env node
// Load on `cortex serve`: N distinct firing Alertmanager alerts (one per request) from C parallel
// clients. Prints JSON: answer latency (p50, p99, max) and, for runs started, the delay from the
// request to the execution record existing (p50). Usage: node bench/serve-load.js [N] [C]
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROJECT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(PROJECT, 'dist', 'cli', 'main.js');
const N = Number(process.argv[2]) || 300;
const C = Number(process.argv[3]) || 20;
const TOKEN = 'bench-bearer-token-0123';

const root = mkdtempSync(join(tmpdir(), 'cortex-bench-serve-'));
mkdirSync(join(root, 'workflows'), { recursive: true });
mkdirSync(join(root, 'secrets'), { recursive: true, mode: 0o700 });
writeFileSync(join(root, 'secrets', 'AM_TOKEN'), TOKEN);
chmodSync(join(root, 'secrets', 'AM_TOKEN'), 0o600);
// Room for every run to wait for a slot (serve.max_queued, default 256): none is refused as overloaded.
writeFileSync(join(root, 'config.yaml'), `serve:\n  token_secret: AM_TOKEN\n  max_queued: ${N}\n`);
// The alerts go to W workflows (alert i is HighMemoryUsage<i % W>), each with room for all of
// its runs in flight (concurrency is at most 100 per workflow): every alert can start a run, so
// the answer times are those of runs created, not of refusals at a workflow's limit.
const W = Math.max(1, Math.ceil(N / 100));
for (let w = 0; w < W; w++) {
  writeFileSync(
    join(root, 'workflows', `memory-pressure-${w}.yaml`),
    `workflow_id: memory-pressure-${w}
workflow_name: Memory pressure ${w}
version: 1.0.0
concurrency: ${Math.min(Math.ceil(N / W), 100)}
parameters:
  instance: { type: string, required: true }
phases:
  - phase_id: relieve
    contractor: infrastructure-contractor
    actions:
      - { action_id: note, action: execute_command, parameters: { command: ["true"] }, timeout: 10 }
triggers:
  - type: prometheus_alert
    id: high-memory
    alert_name: HighMemoryUsage${w}
    parameters:
      instance: \${event.labels.instance}
`,
  );
}

// serve keeps nothing loaded from files changed less than 2 s ago (src/definitions/memo.ts
// RACY_MS): the burst comes once they are older, as the definitions of a real serve are.
const filesWrittenAt = Date.now();
const env = { ...process.env, NO_COLOR: '1' };
for (const k of Object.keys(env)) if (k.startsWith('CORTEX_')) delete env[k];
const serve = spawn('node', [...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []), CLI, '--root', root, 'serve', '--listen', '127.0.0.1:0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
let err = '';
serve.stderr.on('data', (d) => (err += d));
const url = await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(`serve did not listen: ${out}${err}`)), 30_000);
  serve.stdout.on('data', (d) => {
    out += d;
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
    if (m) {
      clearTimeout(t);
      resolve(m[1]);
    }
  });
  serve.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}${err}`)));
});

function post(i) {
  const startsAt = new Date(Date.UTC(2026, 0, 1, 0, 0, i % 60, i)).toISOString();
  const body = JSON.stringify({
    version: '4',
    groupKey: `{}:{alertname="HighMemoryUsage${i % W}",instance="i${i}"}`,
    status: 'firing',
    receiver: 'cortex',
    groupLabels: { alertname: `HighMemoryUsage${i % W}` },
    commonLabels: { alertname: `HighMemoryUsage${i % W}` },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.invalid',
    alerts: [{ status: 'firing', labels: { alertname: `HighMemoryUsage${i % W}`, instance: `i${i}` }, annotations: {}, startsAt, endsAt: '0001-01-01T00:00:00Z', generatorURL: '', fingerprint: i.toString(16).padStart(16, '0') }],
  });
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(`${url}/webhook/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0, executions: JSON.parse(text).executions ?? [], text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// serve's CPU time (user + system, all threads) from /proc: noisier machines change the answer
// times a lot more than the work serve does per request.
const cpuMs = () => {
  try {
    const f = readFileSync(`/proc/${serve.pid}/stat`, 'utf8').slice(readFileSync(`/proc/${serve.pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
};
await new Promise((r) => setTimeout(r, Math.max(0, filesWrittenAt + 2100 - Date.now())));
const results = [];
let next = 0;
const cpu0 = cpuMs();
const t0 = performance.now();
await Promise.all(
  Array.from({ length: C }, async () => {
    while (next < N) results.push(await post(next++));
  }),
);
const wallMs = performance.now() - t0;
const burstCpuMs = cpuMs() - cpu0;
// A 202 is sent only once the run's record exists (src/triggers/server.ts): its answer time bounds
// the delay from request to record; check the records are there.
const missing = results.flatMap((r) => r.executions).filter((id) => !['active', 'history'].some((d) => existsSync(join(root, 'workflows', d, `workflow-${id}.json`))));
const q = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 10) / 10;
};
// serve drives its runs itself: wait (serve running) until every run has ended.
const active = join(root, 'workflows', 'active');
const pendingRuns = () => (existsSync(active) ? readdirSync(active).filter((f) => f.endsWith('.json')).length : 0);
for (let i = 0; i < 1200 && pendingRuns() > 0; i++) await new Promise((r) => setTimeout(r, 100));
const endedMs = performance.now() - t0;
const ms = results.map((r) => r.ms);
const statuses = {};
for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
console.log(JSON.stringify({ requests: N, clients: C, statuses, p50_ms: q(ms, 0.5), p99_ms: q(ms, 0.99), max_ms: q(ms, 1), wall_ms: Math.round(wallMs), cpu_ms_per_request: Math.round((burstCpuMs / N) * 100) / 100, all_ended_ms: Math.round(endedMs), not_ended: pendingRuns(), records_missing: missing.length }));
if (process.env.BENCH_DEBUG) console.error(results.find((r) => r.status !== 202)?.text ?? results[0].text);
serve.kill('SIGTERM');
await new Promise((r) => serve.on('exit', r));
// Runs launched by an older serve (detached processes) go on after it: let them end before removing the root.
for (let i = 0; i < 600 && pendingRuns() > 0; i++) await new Promise((r) => setTimeout(r, 500));
rmSync(root, { recursive: true, force: true, maxRetries: 5 });
