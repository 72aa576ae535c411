/**
 * Queue mode, contractor workers (issue 15): actions of the contractors in queue.contractors are
 * jobs on cortex-actions-<contractor>, run by `cortex worker --contractor NAME` with its own
 * host's secrets (never a secret value in Redis); a contractor worker killed with -9 while it
 * holds a non-idempotent action leaves its outcome unknown (paused as after a local crash, never
 * run again); SIGTERM lets the action it holds finish and exits 0.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { cortex, removeRoot, tempRoot } from './helpers.js';
import { allRecords, startWorker, stopWorker, type Rec, type Worker } from './queue-helpers.js';
import { HAS_REDIS, REDIS_NOTE, startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const SECRET = 'tok-7c1e5a93d2b84f06';
const CONTRACTOR = 'infrastructure-contractor';
const ID_RE = /q-(?:secret|hold)-\d{8}T\d{6}Z-[0-9a-f]{4}/;

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** The coordination directory: queue mode with this contractor's actions on their own queue; no secrets here. */
function executionRoot(url: string): string {
  // Execution jobs keep a long hold: a slow renewal on a loaded machine must not hand them on here.
  const root = tempRoot({});
  cleanup.push(() => removeRoot(root));
  mkdirSync(join(root, 'marks'));
  writeFileSync(join(root, 'config.yaml'), `queue: { url: "${url}", lock_seconds: 15, contractors: [${CONTRACTOR}] }\n`);
  writeFileSync(
    join(root, 'workflows', 'q-secret.yaml'),
    `workflow_id: q-secret
workflow_name: q secret
version: 1.0.0
phases:
  - phase_id: p
    contractor: ${CONTRACTOR}
    actions:
      - action_id: use
        action: execute_command
        parameters:
          command: [sh, -c, 'printf %s "$1" > "$2"; echo "token is $1"', sh, "\${secrets.QTOKEN}", "${root}/marks/\${execution_id}.out"]
`,
  );
  writeFileSync(
    join(root, 'workflows', 'q-hold.yaml'),
    `workflow_id: q-hold
workflow_name: q hold
version: 1.0.0
phases:
  - phase_id: p
    contractor: ${CONTRACTOR}
    actions:
      - { action_id: work, action: execute_command, parameters: { command: [sh, -c, 'mktemp "$1/$2.work.XXXXXX" >/dev/null; i=0; while [ ! -e "$1/release" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done', sh, "${root}/marks", "\${execution_id}"] } }
      - { action_id: done, action: execute_command, parameters: { command: [mktemp, "${root}/marks/\${execution_id}.done.XXXXXX"] } }
`,
  );
  return root;
}

/** A contractor worker's own root: the queue and its host's secrets, no workflows, no records. */
function contractorRoot(url: string): string {
  const root = tempRoot({});
  cleanup.push(() => removeRoot(root));
  writeFileSync(join(root, 'config.yaml'), `queue: { url: "${url}", lock_seconds: 2 }\n`);
  mkdirSync(join(root, 'secrets'), { mode: 0o700 });
  writeFileSync(join(root, 'secrets', 'QTOKEN'), SECRET, { mode: 0o600 });
  chmodSync(join(root, 'secrets', 'QTOKEN'), 0o600);
  return root;
}

async function redisFor(): Promise<RedisServer> {
  const redis = await startRedis();
  cleanup.push(() => redis.dispose());
  return redis;
}

async function worker(root: string, args: string[]): Promise<Worker> {
  const w = await startWorker(root, args);
  cleanup.push(() => stopWorker(w));
  return w;
}

/** Every string Redis holds (keys, hashes, lists, sets, streams), to search for a secret. */
async function redisDump(url: string): Promise<{ keys: string[]; text: string }> {
  const client = new Redis(url);
  try {
    const keys = await client.keys('*');
    const parts: string[] = [];
    for (const key of keys) {
      const type = await client.type(key);
      if (type === 'string') parts.push(String(await client.get(key)));
      else if (type === 'hash') parts.push(JSON.stringify(await client.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await client.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await client.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await client.zrange(key, 0, -1)));
      else if (type === 'stream') parts.push(JSON.stringify(await client.xrange(key, '-', '+')));
    }
    return { keys, text: `${keys.join('\n')}\n${parts.join('\n')}` };
  } finally {
    client.disconnect();
  }
}

function marksOf(root: string, id: string, kind: string): number {
  return readdirSync(join(root, 'marks')).filter((n) => n.startsWith(`${id}.${kind}.`)).length;
}

describe.skipIf(!HAS_REDIS)(`queue mode: contractor workers${REDIS_NOTE}`, () => {
  it('an action runs on its contractor worker with that host\'s secret; the job in Redis and the record hold only the reference or the mask', { timeout: 120_000 }, async () => {
    const redis = await redisFor();
    const root = executionRoot(redis.url);
    const [exec, infra] = await Promise.all([worker(root, ['--executions']), worker(contractorRoot(redis.url), ['--contractor', CONTRACTOR])]);

    const run = await cortex(['run', 'q-secret'], { root });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const id = ID_RE.exec(run.stdout)?.[0] as string;
    // The secret was resolved on the contractor worker: the coordination directory has none.
    expect(readFileSync(join(root, 'marks', `${id}.out`), 'utf8')).toBe(SECRET);
    expect(infra.output()).toMatch(new RegExp(`action ${id} p/use \\(${CONTRACTOR}/execute_command #1\\): ok`));
    expect(exec.output()).not.toMatch(/action .* p\/use/);

    const recText = readFileSync(join(root, 'workflows', 'history', `workflow-${id}.json`), 'utf8');
    expect(recText).not.toContain(SECRET);
    const rec = JSON.parse(recText) as { status: string; phases: Array<{ actions: Array<{ status: string; outputs?: { stdout?: string }; parameters?: { command?: string[] }; attempts: Array<{ invocations?: Array<{ command: string[]; exit_code: number }> }> }> }> };
    expect(rec.status).toBe('completed');
    const action = rec.phases[0]?.actions[0];
    expect(action?.status).toBe('completed');
    expect(action?.parameters?.command?.[4]).toBe('${secrets.QTOKEN}');
    expect(action?.outputs?.stdout).toMatch(/token is \*+/);
    expect(action?.attempts[0]?.invocations?.[0]?.exit_code).toBe(0);

    const listed = await cortex(['workers', '--json'], { root });
    const takes = (JSON.parse(listed.stdout) as { workers: Array<{ pid: number; takes: string }> }).workers.map((w) => `${w.pid}:${w.takes}`).sort();
    expect(takes).toEqual([`${exec.pid}:executions`, `${infra.pid}:${CONTRACTOR}`].sort());

    const dump = await redisDump(redis.url);
    expect(dump.keys.some((k) => k.startsWith(`cortex:cortex-actions-${CONTRACTOR}:${id}.use.1.`))).toBe(true);
    expect(dump.text).toContain('${secrets.QTOKEN}');
    expect(dump.text).not.toContain(SECRET);
  });

  it('kill -9 of a contractor worker holding a non-idempotent action: the execution pauses as after a local crash, the action never runs again', { timeout: 120_000 }, async () => {
    const redis = await redisFor();
    const root = executionRoot(redis.url);
    // Two contractor workers: the other one notices the dead one's job (BullMQ's stalled check).
    const [, ...infra] = await Promise.all([worker(root, ['--executions']), worker(contractorRoot(redis.url), ['--contractor', CONTRACTOR]), worker(contractorRoot(redis.url), ['--contractor', CONTRACTOR])]);

    const run = await cortex(['run', 'q-hold', '--detach'], { root });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const id = ID_RE.exec(run.stdout)?.[0] as string;
    // "work" holds until the test writes marks/release.
    const victim = await waitFor(() => (marksOf(root, id, 'work') === 1 ? infra.find((w) => w.output().includes(`action ${id} p/work (${CONTRACTOR}/execute_command #1): started`)) : undefined), {
      what: 'a contractor worker to be in "work"',
      timeoutMs: 20_000,
      detail: () => infra.map((w) => w.output()).join('\n'),
    });
    const other = infra.find((w) => w !== victim) as Worker;
    process.kill(victim.pid, 'SIGKILL');
    await victim.proc;

    const paused = await waitFor(() => [allRecords(root).get(id)].find((r): r is Rec => r?.status === 'paused'), { what: `${id} to pause`, timeoutMs: 30_000, detail: () => JSON.stringify(allRecords(root).get(id)) });
    expect(paused.status_reason).toMatch(/^action "work" \(execute_command\) was running when the execution stopped and is not idempotent, so running it again could repeat its effect/);
    expect(paused.status_reason).toContain(`cortex resume ${id} --retry-action work | --skip-action work`);
    const work = paused.phases[0]?.actions.find((a) => a.action_id === 'work');
    expect(work?.status).toBe('running');
    expect(work?.attempts.map((a) => a.status)).toEqual(['running']);
    expect(other.output()).not.toContain('p/work');
    // The orphaned tool of the dead worker ends; the operator checked it and skips the action.
    writeFileSync(join(root, 'marks', 'release'), '');
    const resumed = await cortex(['resume', id, '--skip-action', 'work'], { root });
    expect(resumed.exitCode, resumed.stdout + resumed.stderr).toBe(0);
    expect(allRecords(root).get(id)?.status).toBe('completed');
    expect(marksOf(root, id, 'work')).toBe(1);
    expect(marksOf(root, id, 'done')).toBe(1);
    expect(other.output()).toMatch(new RegExp(`action ${id} p/done .*: ok`));
  });

  it('SIGTERM: a contractor worker finishes the action it holds and exits 0; an execution worker exits 0', { timeout: 120_000 }, async () => {
    const redis = await redisFor();
    const root = executionRoot(redis.url);
    const [exec, ...infra] = await Promise.all([worker(root, ['--executions']), worker(contractorRoot(redis.url), ['--contractor', CONTRACTOR]), worker(contractorRoot(redis.url), ['--contractor', CONTRACTOR])]);

    const run = await cortex(['run', 'q-hold', '--detach'], { root });
    const id = ID_RE.exec(run.stdout)?.[0] as string;
    const first = await waitFor(() => infra.find((w) => w.output().includes(`action ${id} p/work (${CONTRACTOR}/execute_command #1): started`)), {
      what: 'a contractor worker to be in "work"',
      timeoutMs: 20_000,
      detail: () => infra.map((w) => w.output()).join('\n'),
    });
    const second = infra.find((w) => w !== first) as Worker;
    first.proc.kill('SIGTERM');
    await waitFor(() => /: stopping/.test(first.output()), { what: 'the worker to begin stopping', timeoutMs: 20_000, detail: () => first.output() });
    // Stopping, it still holds "work": release it.
    expect(first.proc.exitCode).toBeNull();
    writeFileSync(join(root, 'marks', 'release'), '');
    const ended = await first.proc;
    expect(ended.exitCode, first.output()).toBe(0);
    // It finished what it held before it stopped, and took nothing after.
    expect(first.output()).toMatch(new RegExp(`action ${id} p/work .*: ok\\n.*stopped`));
    expect(first.output()).not.toContain('p/done');

    const rec = await waitFor(() => [allRecords(root).get(id)].find((r): r is Rec => r?.where === 'history'), { what: `${id} to end`, timeoutMs: 30_000 });
    expect(rec.status).toBe('completed');
    expect(marksOf(root, id, 'work')).toBe(1);
    expect(marksOf(root, id, 'done')).toBe(1);
    expect(second.output()).toMatch(new RegExp(`action ${id} p/done .*: ok`));

    exec.proc.kill('SIGTERM');
    expect((await exec.proc).exitCode, exec.output()).toBe(0);
  });
});
