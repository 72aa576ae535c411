#!/usr/bin/env node
// Benchmarks for cortex, reported as ratios against a baseline measured in the same run
// (these machines are shared and noisy: absolute numbers mean little, ratios travel).
// Usage: npm run build && node bench/run.js [--runs N] [--only actions|metrics|scaling|spawn|status|startup|serve|simulate|queue]
//        node bench/run.js --only queue [--executions N]   (queue mode; needs redis-server)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROJECT = join(dirname(fileURLToPath(import.meta.url)), '..');
// What operators run (package.json "bin"), so what every row times: the CommonJS bundles of the
// program while they are fresh (status from its own), else the ES program.
const CLI = join(PROJECT, 'bin', 'cortex.js');
// The ES program, for the reference row of startup.
const ES_CLI = join(PROJECT, 'dist', 'cli', 'main.js');
const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf('--runs') + 1]) || 7;
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;

const env = { ...process.env, NO_COLOR: '1' };
for (const k of Object.keys(env)) if (k.startsWith('CORTEX_')) delete env[k];

function time(cmd, argv, options = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0 && !options.allowFail) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Alternates baseline and subject runs so load changes hit both equally. */
function pair(name, baseline, subject, runs = RUNS) {
  const b = [];
  const s = [];
  baseline();
  subject();
  for (let i = 0; i < runs; i++) {
    b.push(baseline());
    s.push(subject());
  }
  const mb = median(b);
  const ms = median(s);
  return { name, baseline_ms: Math.round(mb * 10) / 10, subject_ms: Math.round(ms * 10) / 10, ratio: Math.round((ms / mb) * 100) / 100, runs };
}

function tempRoot() {
  const r = mkdtempSync(join(tmpdir(), 'cortex-bench-'));
  mkdirSync(join(r, 'workflows'), { recursive: true });
  return r;
}

const results = [];

/**
 * Whether bin/cortex.js runs `args` from the bundle `name` (Node's CommonJS loader names what it
 * loads): a stale one runs the ES program.
 */
function bundleState(name = 'status-bundle', args = ['status']) {
  const empty = tempRoot();
  const r = spawnSync('node', [CLI, '--root', empty, ...args], { env: { ...env, NODE_DEBUG: 'module' }, encoding: 'utf8' });
  rmSync(empty, { recursive: true, force: true });
  return new RegExp(`load "[^"]*/dist/${name}\\.cjs"`).test(r.stderr) ? 'bundle' : 'ES program, the bundle is stale or missing';
}

/** A root with one workflow `many` of `n` sequential execute_command actions running `true`. */
function manyActionsRoot(n) {
  const r = tempRoot();
  const actions = Array.from({ length: n }, (_, i) => `      - { action_id: a${i}, action: execute_command, parameters: { command: ["true"] } }`).join('\n');
  writeFileSync(join(r, 'workflows', 'many.yaml'), `workflow_id: many\nworkflow_name: many\nversion: 1.0.0\nconcurrency: 100\nphases:\n  - phase_id: p\n    contractor: infrastructure-contractor\n    actions:\n${actions}\n`);
  return r;
}

// Node starting /bin/true n times one after another (child_process.spawn, awaited): the floor
// for a Node process that runs tools one by one.
const NODE_SPAWN_LOOP = `const { spawn } = require('node:child_process');
(async () => { for (let i = 0; i < Number(process.argv[1]); i++) await new Promise((ok, ko) => spawn('/bin/true', [], { stdio: 'ignore' }).on('exit', ok).on('error', ko)); })();`;

const NODE_FLOOR_LOOP = `const { spawn } = require('node:child_process'); const fs = require('node:fs');
const f = require('node:path').join(require('node:os').tmpdir(), 'cortex-bench-floor-' + process.pid);
const line = (o, sync) => { const fd = fs.openSync(f, 'a'); fs.writeSync(fd, JSON.stringify(o) + '\\n'); if (sync) fs.fsyncSync(fd); fs.closeSync(fd); };
(async () => {
  for (let i = 0; i < Number(process.argv[1]); i++) {
    const cookie = require('node:crypto').randomBytes(12).toString('hex');
    line({ action: i, status: 'running', cookie }, true);
    await new Promise((ok, ko) => {
      const c = spawn('/bin/true', [], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, CORTEX_PROCESS_COOKIE: cookie } });
      c.stdout.resume(); c.stderr.resume(); c.on('close', ok).on('error', ko);
    });
    line({ action: i, status: 'completed' }, false);
  }
  fs.unlinkSync(f);
})();`;

if (!ONLY || ONLY === 'actions') {
  // 200 actions of `true` against a shell loop, and against a Node loop, starting /bin/true 200 times.
  const r = manyActionsRoot(200);
  const shell = pair(
    'run: 200 `true` actions vs a shell loop starting /bin/true 200 times',
    () => time('sh', ['-c', 'i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done']),
    () => time('node', [CLI, '--root', r, 'run', 'many']),
    Math.min(RUNS, 5),
  );
  shell.target = '(reference)';
  results.push(shell);
  const node = pair(
    'run: 200 `true` actions vs a Node loop spawning /bin/true 200 times (child_process.spawn, awaited)',
    () => time('node', ['-e', NODE_SPAWN_LOOP, '200']),
    () => time('node', [CLI, '--root', r, 'run', 'many']),
    Math.min(RUNS, 5),
  );
  node.target = '<= 1.3x';
  results.push(node);
  // What an action must cost at least: a Node loop doing per tool what the crash-safety promise
  // and the record need (docs/file-contract.md): one fsynced journal line (the attempt and its
  // cookie) before the tool starts, the tool in its own process group with the cookie in its
  // environment, its output read through pipes; and one line (not fsynced) when it ends.
  const floor = pair(
    'run: 200 `true` actions vs a Node loop doing what each action must (fsynced start line, own process group, cookie in env, output through pipes)',
    () => time('node', ['-e', NODE_FLOOR_LOOP, '200']),
    () => time('node', [CLI, '--root', r, 'run', 'many']),
    Math.min(RUNS, 5),
  );
  floor.target = '(reference)';
  results.push(floor);
  // The floor against the goal's own baseline: what each action must do, with no start-up and no
  // bookkeeping of cortex's, is already near or above 1.3x of the bare loop (BENCHMARKS.md).
  const floorVsBare = pair(
    'floor: the Node loop doing what each action must vs the bare Node spawn loop',
    () => time('node', ['-e', NODE_SPAWN_LOOP, '200']),
    () => time('node', ['-e', NODE_FLOOR_LOOP, '200']),
    Math.min(RUNS, 5),
  );
  floorVsBare.target = '(reference: the goal is <= 1.3x of the same baseline)';
  results.push(floorVsBare);
  // Which of the floor's items costs most: the same loop with the tool's output not read
  // (stdio ignored, so no pipes, streams or waiting for them to close) against the floor.
  const noPipes = NODE_FLOOR_LOOP.replace("stdio: ['ignore', 'pipe', 'pipe']", "stdio: 'ignore'").replace('c.stdout.resume(); c.stderr.resume(); ', '');
  if (noPipes.includes("'pipe'") || noPipes.includes('resume')) throw new Error('bench: the floor loop without pipes still has them');
  const pipes = pair(
    'floor: the floor loop without its pipes (output not read) vs the floor loop',
    () => time('node', ['-e', NODE_FLOOR_LOOP, '200']),
    () => time('node', ['-e', noPipes, '200']),
    Math.min(RUNS, 5),
  );
  pipes.target = '(reference)';
  results.push(pipes);
  rmSync(r, { recursive: true, force: true });
}

if (!ONLY || ONLY === 'metrics') {
  // The end of every run records its metrics: with cron running a workflow every minute the ledger
  // holds 20,000 executions after two weeks. That must not make each run cost more and more
  // (metrics/.executions-index.json: only the lines added since are read).
  const empty = manyActionsRoot(1);
  const full = manyActionsRoot(1);
  const start = Date.now() - 20_000 * 60_000;
  const lines = Array.from({ length: 20_000 }, (_, i) => {
    const finished = new Date(start + i * 60_000).toISOString();
    const d = Math.round(10 + (i % 97)) / 100;
    const failed = i % 20 === 7;
    return JSON.stringify({
      execution_id: `many-${finished.replace(/[-:]/g, '').replace(/\.\d+/, '')}-${(i % 65_536).toString(16).padStart(4, '0')}`,
      workflow_id: 'many', workflow_name: 'many', status: failed ? 'failed' : 'completed', started_at: finished, finished_at: finished, duration_seconds: d,
      contractors: { 'infrastructure-contractor': { duration_seconds: d, errors: failed ? 1 : 0 } },
      actions: [{ contractor: 'infrastructure-contractor', action: 'execute_command', status: failed ? 'failed' : 'completed', duration_seconds: d, ...(failed ? { error_code: 'command_failed', error_message: 'exit 1' } : {}) }],
      errors: failed ? [{ error: 'command_failed', contractor: 'infrastructure-contractor' }] : [], handoffs: [],
    });
  });
  mkdirSync(join(full, 'workflows', 'metrics'), { recursive: true });
  writeFileSync(join(full, 'workflows', 'metrics', 'executions.jsonl'), `${lines.join('\n')}\n`, { mode: 0o600 });
  const res = pair(
    'run: 1 action with a 20,000-line metrics ledger vs with none',
    () => time('node', [CLI, '--root', empty, 'run', 'many']),
    () => time('node', [CLI, '--root', full, 'run', 'many']),
  );
  res.target = '<= 1.5x';
  results.push(res);
  rmSync(empty, { recursive: true, force: true });
  rmSync(full, { recursive: true, force: true });
}

if (!ONLY || ONLY === 'scaling') {
  // Linear in workflow size: 1000 actions should cost 5x 200 actions (target <= 5.5x).
  const small = manyActionsRoot(200);
  const large = manyActionsRoot(1000);
  const res = pair(
    'run: 1000 `true` actions vs 200',
    () => time('node', [CLI, '--root', small, 'run', 'many']),
    () => time('node', [CLI, '--root', large, 'run', 'many']),
    Math.min(RUNS, 3),
  );
  res.target = '<= 5.5x';
  results.push(res);
  rmSync(small, { recursive: true, force: true });
  rmSync(large, { recursive: true, force: true });
}

if (!ONLY || ONLY === 'spawn') {
  // What the process library costs: execa vs a bare spawn, 200 /bin/true one after another.
  const EXECA_LOOP = `import('execa').then(async ({ execa }) => { for (let i = 0; i < Number(process.argv[1]); i++) await execa('/bin/true', [], { reject: false }); });`;
  const res = pair(
    'spawn: execa vs child_process.spawn, 200 /bin/true one after another',
    () => time('node', ['-e', NODE_SPAWN_LOOP, '200']),
    () => time('node', ['-e', EXECA_LOOP, '200'], { cwd: PROJECT }),
    Math.min(RUNS, 5),
  );
  res.target = '(reference)';
  results.push(res);
  // cortex's own runner (src/adapters/spawn-process-runner.ts, what actions use): pipes for the
  // output tail, its own process group, the cookie in the environment.
  const RUNNER_LOOP = `import(${JSON.stringify(join(PROJECT, 'dist', 'adapters', 'spawn-process-runner.js'))}).then(async ({ SpawnProcessRunner }) => { const r = new SpawnProcessRunner(); for (let i = 0; i < Number(process.argv[1]); i++) await r.run('/bin/true', []); });`;
  const own = pair(
    'spawn: cortex runner (SpawnProcessRunner) vs child_process.spawn, 200 /bin/true one after another',
    () => time('node', ['-e', NODE_SPAWN_LOOP, '200']),
    () => time('node', ['-e', RUNNER_LOOP, '200']),
    Math.min(RUNS, 5),
  );
  own.target = '(reference)';
  results.push(own);
}

if (!ONLY || ONLY === 'status') {
  // `cortex status` with 100 active and 10,000 history records against an empty root.
  const empty = tempRoot();
  const full = tempRoot();
  mkdirSync(join(full, 'workflows', 'active'), { recursive: true });
  mkdirSync(join(full, 'workflows', 'history'), { recursive: true });
  const sample = (id, status) =>
    JSON.stringify({
      schema_version: 1,
      execution_id: id,
      workflow_id: 'bench',
      workflow_name: 'bench',
      definition: { version: '1.0.0', hash: `sha256:${'0'.repeat(64)}`, path: 'workflows/bench.yaml' },
      status,
      trigger: { type: 'manual' },
      parameters: {},
      started_at: '2026-11-25T12:00:00.000Z',
      updated_at: '2026-11-25T12:00:00.000Z',
      process: { pid: 1, host: 'elsewhere' },
      phases: [{ phase_id: 'p', contractor: 'infrastructure-contractor', status: 'running', actions: [] }],
    });
  const stamp = (i) => `2026${String(1 + (i % 12)).padStart(2, '0')}${String(1 + (i % 28)).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}0000Z-${(i % 65536).toString(16).padStart(4, '0')}`;
  for (let i = 0; i < 100; i++) writeFileSync(join(full, 'workflows', 'active', `workflow-bench-${stamp(i)}.json`), sample(`bench-${stamp(i)}`, 'running'));
  for (let i = 0; i < 10000; i++) writeFileSync(join(full, 'workflows', 'history', `workflow-bench${i % 50}-${stamp(i)}.json`), sample(`bench${i % 50}-${stamp(i)}`, 'completed'));
  const res = pair(
    'status: 100 active + 10,000 history vs an empty root',
    () => time('node', [CLI, '--root', empty, 'status']),
    () => time('node', [CLI, '--root', full, 'status']),
  );
  res.target = '< 1.2x';
  results.push(res);
  rmSync(full, { recursive: true, force: true });
  rmSync(empty, { recursive: true, force: true });
}

if (!ONLY || ONLY === 'startup') {
  const empty = tempRoot();
  const v = pair('--version vs node -e 0', () => time('node', ['-e', '0']), () => time('node', [CLI, '--version']), Math.max(RUNS, 11));
  v.target = '< 1.5x';
  results.push(v);
  const s = pair('status (empty root, dist/cli/main.js) vs node -e 0', () => time('node', ['-e', '0']), () => time('node', [ES_CLI, '--root', empty, 'status']), Math.max(RUNS, 11));
  s.target = '(reference: the program)';
  results.push(s);
  // The command operators run, bin/cortex.js, with this environment and without
  // NODE_EXTRA_CA_CERTS: where it is set (these machines), building the certificate store costs
  // every Node start ~40 ms, which the baseline pays too and so dilutes the ratio.
  const status = bundleState();
  const b = pair(`status (empty root, bin/cortex.js: ${status}) vs node -e 0`, () => time('node', ['-e', '0']), () => time('node', [CLI, '--root', empty, 'status']), Math.max(RUNS, 11));
  b.target = '<= 1.3x (issue 14)';
  results.push(b);
  if (env.NODE_EXTRA_CA_CERTS !== undefined) {
    const bare = { ...env };
    delete bare.NODE_EXTRA_CA_CERTS;
    const n = pair(
      `status (empty root, bin/cortex.js: ${status}) vs node -e 0, without NODE_EXTRA_CA_CERTS`,
      () => time('node', ['-e', '0'], { env: bare }),
      () => time('node', [CLI, '--root', empty, 'status'], { env: bare }),
      Math.max(RUNS, 11),
    );
    n.target = '<= 1.3x (issue 14)';
    results.push(n);
  }
  rmSync(empty, { recursive: true, force: true });
}

if (!ONLY || ONLY === 'serve') {
  // 300 distinct Alertmanager alerts from 20 parallel clients (bench/serve-load.js); absolute
  // latencies: the goal is p99 <= 100 ms to answer (a 202 is sent once the run's record exists).
  const r = spawnSync('node', [join(PROJECT, 'bench', 'serve-load.js'), '300', '20'], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`serve-load exited ${r.status}: ${r.stderr}`);
  const s = JSON.parse(r.stdout.trim().split('\n').pop());
  results.push({
    name: `serve: 300 distinct Alertmanager alerts from 20 parallel clients (answers ${JSON.stringify(s.statuses)}, records missing ${s.records_missing})`,
    latency: s,
    target: 'p99 <= 100 ms to answer',
  });
}

if (!ONLY || ONLY === 'simulate') {
  // deploy-monitoring-stack in the lab on a fresh lab, default latencies (absolute target: < 10 s).
  const r = tempRoot();
  rmSync(join(r, 'workflows'), { recursive: true, force: true });
  spawnSync('node', [CLI, 'init', r], { env });
  const lab = join(r, 'lab');
  const runs = [];
  for (let i = 0; i < Math.min(RUNS, 3); i++) {
    rmSync(lab, { recursive: true, force: true });
    rmSync(join(r, 'workflows', 'history'), { recursive: true, force: true });
    runs.push(time('node', [CLI, '--root', r, 'run', 'deploy-monitoring-stack', '--simulate', '--lab', lab], { allowFail: true }));
  }
  const baseline = median(Array.from({ length: 5 }, () => time('node', ['-e', '0'])));
  const ms = median(runs);
  results.push({ name: 'run deploy-monitoring-stack --simulate on a fresh lab', baseline_ms: Math.round(baseline), subject_ms: Math.round(ms), ratio: Math.round((ms / baseline) * 10) / 10, runs: runs.length, target: '< 10000 ms' });
  rmSync(r, { recursive: true, force: true });
}

if (ONLY === 'queue') {
  // Queue mode (only with --only queue: it needs redis-server and takes minutes): E executions of
  // a workflow of 5 `wait 0.2 s` actions (fixed latency, no tools) on 1, 2 and 4 workers of
  // concurrency 1; throughput against 1 worker. And the latency the queue adds to one execution.
  const E = Number(args[args.indexOf('--executions') + 1]) || 100;
  const ACTIONS = 5;
  const dir = mkdtempSync(join(tmpdir(), 'cortex-bench-redis-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  // Also when the bench fails half-way: the server is ours to stop.
  process.on('exit', () => redis.kill('SIGTERM'));
  const url = `redis://127.0.0.1:${port}/0`;
  const waitUntil = async (cond, what, ms = 600_000) => {
    const end = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await waitUntil(() => spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG', 'redis-server');
  const qenv = { ...env, CORTEX_QUEUE_URL: url };
  const actions = Array.from({ length: ACTIONS }, (_, i) => `      - { action_id: w${i}, action: wait, parameters: { seconds: 0.2 } }`).join('\n');
  const wf = `workflow_id: qbench\nworkflow_name: qbench\nversion: 1.0.0\nconcurrency: 100\nphases:\n  - phase_id: p\n    contractor: infrastructure-contractor\n    actions:\n${actions}\n`;
  const historyCount = (r) => {
    try {
      return readdirSync(join(r, 'workflows', 'history')).filter((n) => n.startsWith('workflow-qbench')).length;
    } catch {
      return 0;
    }
  };
  const startWorkers = async (r, n) => {
    const ws = [];
    for (let i = 0; i < n; i++) {
      const w = spawn('node', [CLI, '--root', r, 'worker', '--concurrency', '1'], { env: qenv, stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      w.stdout.on('data', (d) => (out += d));
      ws.push({ w, ready: () => out.includes('taking execution jobs') });
    }
    await waitUntil(() => ws.every((x) => x.ready()), 'the workers');
    return ws.map((x) => x.w);
  };
  const stopWorkers = async (ws) => {
    for (const w of ws) w.kill('SIGTERM');
    await Promise.all(ws.map((w) => new Promise((r) => (w.exitCode !== null ? r() : w.once('exit', r)))));
  };
  const throughput = {};
  for (const n of [1, 2, 4]) {
    const r = tempRoot();
    writeFileSync(join(r, 'workflows', 'qbench.yaml'), wf);
    spawnSync('redis-cli', ['-p', String(port), 'flushall']);
    // Queued first, with no worker running: the measure is the draining of the queue.
    for (let i = 0; i < E; i++) time('node', [CLI, '--root', r, 'run', 'qbench', '--detach'], { env: qenv });
    const ws = await startWorkers(r, n);
    const t0 = Date.now();
    await waitUntil(() => historyCount(r) >= E, `${E} executions on ${n} worker(s)`);
    throughput[n] = E / ((Date.now() - t0) / 1000);
    await stopWorkers(ws);
    rmSync(r, { recursive: true, force: true });
  }
  for (const n of [2, 4]) {
    results.push({
      name: `queue: ${E} executions (${ACTIONS} actions of 0.2 s) on ${n} workers vs 1 worker, executions/s`,
      baseline_ms: Math.round(throughput[1] * 100) / 100,
      subject_ms: Math.round(throughput[n] * 100) / 100,
      ratio: Math.round((throughput[n] / throughput[1]) * 100) / 100,
      runs: 1,
      unit: 'executions/s',
      target: n === 2 ? '>= 1.8x' : '>= 3.2x',
    });
  }
  // Added latency: a followed queued run (one idle worker) against the same run in one process.
  const r = tempRoot();
  writeFileSync(join(r, 'workflows', 'qbench.yaml'), wf);
  const ws = await startWorkers(r, 1);
  const lat = pair(
    `queue: one followed run on an idle worker vs the run in one process (${ACTIONS} actions)`,
    () => time('node', [CLI, '--root', r, 'run', 'qbench']),
    () => time('node', [CLI, '--root', r, 'run', 'qbench'], { env: qenv }),
    Math.min(RUNS, 5),
  );
  lat.target = `added ${Math.round((lat.subject_ms - lat.baseline_ms) / ACTIONS)} ms per action`;
  results.push(lat);
  await stopWorkers(ws);
  rmSync(r, { recursive: true, force: true });
  redis.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}

const pkg = JSON.parse(readFileSync(join(PROJECT, 'package.json'), 'utf8'));
console.log(`cortex ${pkg.version} benchmarks (median of alternating runs; ratio = subject / baseline)`);
console.log(`cortex is bin/cortex.js; its program bundle: ${bundleState('program-bundle', ['history'])}`);
for (const r of results) {
  if (r.latency) {
    console.log(`${r.name}\n  answer time p50 ${r.latency.p50_ms} ms, p99 ${r.latency.p99_ms} ms, max ${r.latency.max_ms} ms (target ${r.target})`);
    continue;
  }
  const unit = r.unit ?? 'ms';
  console.log(`${r.name}\n  baseline ${r.baseline_ms} ${unit}, cortex ${r.subject_ms} ${unit}, ratio ${r.ratio}x (target ${r.target}, ${r.runs} runs)`);
}
if (args.includes('--json')) console.log(JSON.stringify(results, null, 2));
