/**
 * Queue mode under failure (issue 15): a worker killed with -9 while it drives an execution, and
 * Redis restarted mid-run. Every execution must end as it would in one process (the resume rules:
 * a non-idempotent action whose outcome is unknown pauses, never runs twice), each counted once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { CLI, cleanEnv, cortex, PROJECT, removeRoot } from './helpers.js';
import { allRecords, detachRun, ledgerIds, marks, queueRoot, startWorker, stopWorker, type Rec, type Worker } from './queue-helpers.js';
import { HAS_REDIS, REDIS_NOTE, startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

const UNKNOWN_WORK = /^action "work" \(execute_command\) was running when the execution stopped and is not idempotent/;
const UNKNOWN_ANY = /^action "(mark|work|done)" \(execute_command\) was running when the execution stopped and is not idempotent/;
const ENDED = new Set(['completed', 'paused', 'failed', 'cancelled', 'rolled_back']);

function statusCounts(recs: Map<string, Rec>, ids: string[]): string {
  const c: Record<string, number> = {};
  for (const id of ids) {
    const s = recs.get(id)?.status ?? 'missing';
    c[s] = (c[s] ?? 0) + 1;
  }
  return JSON.stringify(c);
}

/** The reason a single-process run gives after kill -9 during `work` and a resume (the reference). */
async function singleProcessReference(redisUrl: string): Promise<{ status: string; reason: string }> {
  const root = queueRoot(redisUrl);
  cleanup.push(() => removeRoot(root));
  writeFileSync(join(root, 'config.yaml'), '{}\n');
  const run = execa('node', [CLI, '--root', root, 'run', 'queue-lab', '--simulate', '-p', 'hold=3'], { env: cleanEnv(), extendEnv: false, reject: false, cwd: PROJECT, stdin: 'ignore' });
  const rec = await waitFor(() => [...allRecords(root).values()].find((r) => r.current_action === 'work'), { what: 'the local run to be in "work"', timeoutMs: 30_000 });
  run.kill('SIGKILL');
  await run;
  const resumed = await cortex(['resume', rec.execution_id], { root });
  expect(resumed.exitCode, resumed.stdout + resumed.stderr).toBe(1);
  const after = allRecords(root).get(rec.execution_id) as Rec;
  return { status: after.status, reason: (after.status_reason ?? '').replaceAll(rec.execution_id, '<id>') };
}

describe.skipIf(!HAS_REDIS)(`queue mode: a worker killed with -9${REDIS_NOTE}`, () => {
  it('3 workers, 20 executions, kill -9 of a worker holding one: it is taken over and ends as in one process; each execution counted once', { timeout: 240_000 }, async () => {
    const redis: RedisServer = await startRedis();
    cleanup.push(() => redis.dispose());
    const root = queueRoot(redis.url, 2);
    cleanup.push(() => removeRoot(root));
    const lab = join(root, 'lab');
    const workers: Worker[] = [];
    cleanup.push(async () => {
      for (const w of workers) await stopWorker(w);
    });
    for (let i = 0; i < 3; i++) workers.push(await startWorker(root, ['--concurrency', '2']));

    const ids: string[] = [];
    // Queued four at a time (each is a cortex process); they are created under the workflow's lock.
    // Each execution has a lab of its own: lab sessions sharing one lab race on its state files
    // (seen: "unknown node" while another session writes), which is the lab's problem, not the queue's.
    for (let i = 0; i < 5; i++) ids.push(...(await Promise.all([0, 1, 2, 3].map((j) => detachRun(root, `${lab}-${i * 4 + j}`, ['-p', 'hold=2'])))));
    expect(new Set(ids).size).toBe(20);

    // The victim: a worker that is in the middle of the non-idempotent action "work" of an execution.
    const pids = new Set(workers.map((w) => w.pid));
    // Its `work` (sleep 2) must have started less than a second ago: one caught near its end could
    // end between this read and the kill (seen with 3 vitest workers: it then completed, rightly).
    const inWork = (r: Rec): boolean => {
      const attempts = r.phases.flatMap((p) => p.actions).find((a) => a.action_id === 'work')?.attempts ?? [];
      const last = attempts[attempts.length - 1];
      return last?.status === 'running' && last.started_at !== undefined && Date.now() - Date.parse(last.started_at) < 1000;
    };
    const held = await waitFor(() => [...allRecords(root).values()].find((r) => r.status === 'running' && r.current_action === 'work' && inWork(r) && r.process && pids.has(r.process.pid)), {
      what: 'an execution in action "work" on a worker',
      timeoutMs: 60_000,
    });
    const victim = workers.find((w) => w.pid === held.process?.pid) as Worker;
    process.kill(victim.pid, 'SIGKILL');
    await victim.proc;

    await waitFor(
      () => {
        const recs = allRecords(root);
        // An ended execution is done once its record is in history/ (the ledger is written first).
        return ids.every((id) => {
          const r = recs.get(id);
          return r !== undefined && ENDED.has(r.status) && (r.status === 'paused' || r.where === 'history');
        });
      },
      { what: 'all 20 executions to end', timeoutMs: 180_000, detail: () => statusCounts(allRecords(root), ids) },
    );
    const recs = allRecords(root);
    const m = marks(root);
    const reference = await singleProcessReference(redis.url);
    expect(reference.status).toBe('paused');

    // The one the dead worker held pauses exactly as the single-process run does after kill -9.
    const taken = recs.get(held.execution_id) as Rec;
    expect(taken.status).toBe('paused');
    expect((taken.status_reason ?? '').replaceAll(held.execution_id, '<id>')).toBe(reference.reason);
    expect(taken.status_reason).toMatch(UNKNOWN_WORK);
    // The dead worker's other executions: wherever it stopped them, a non-idempotent action that was
    // running pauses (unknown outcome), an idempotent one runs again; nothing runs twice.
    const stoppedAt = new Map<string, string>();
    for (const id of ids) {
      const r = recs.get(id) as Rec;
      const seen = m.get(id) ?? { mark: 0, done: 0 };
      const where = `${id}: ${r.status} ${r.status_reason ?? ''} marks ${JSON.stringify(seen)}`;
      expect(seen.mark, where).toBeLessThanOrEqual(1);
      expect(seen.done, where).toBeLessThanOrEqual(1);
      if (r.status === 'completed') {
        expect(seen, where).toEqual({ mark: 1, done: 1 });
        continue;
      }
      expect(r.status, where).toBe('paused');
      const unknown = UNKNOWN_ANY.exec(r.status_reason ?? '');
      expect(unknown, where).not.toBeNull();
      stoppedAt.set(id, unknown?.[1] as string);
      // A tool of the dead worker may have finished its work: only "done" itself may have left a file.
      if (unknown?.[1] !== 'done') expect(seen.done, where).toBe(0);
    }
    // Paused executions have not ended: only the completed ones are in the ledger, once each.
    expect(ledgerIds(root).sort()).toEqual(ids.filter((id) => !stoppedAt.has(id)).sort());

    // The operator's way out goes through the queue too; then every execution is counted once.
    for (const [id, action] of stoppedAt) {
      const r = await cortex(['resume', id, '--skip-action', action], { root });
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(allRecords(root).get(id)?.status).toBe('completed');
    }
    expect(ledgerIds(root).sort()).toEqual([...ids].sort());
    for (const id of ids) {
      const seen = marks(root).get(id) ?? { mark: 0, done: 0 };
      expect(seen.mark, id).toBeLessThanOrEqual(1);
      if (stoppedAt.get(id) === 'done') expect(seen.done, id).toBeLessThanOrEqual(1);
      else expect(seen.done, id).toBe(1);
    }
  });
});

describe.skipIf(!HAS_REDIS)(`queue mode: Redis restarted mid-run${REDIS_NOTE}`, () => {
  it('nothing is lost: queued and running executions all complete once, and a followed run ends with its summary', { timeout: 240_000 }, async () => {
    const redis = await startRedis({ persistent: true });
    cleanup.push(() => redis.dispose());
    const root = queueRoot(redis.url, 3);
    cleanup.push(() => removeRoot(root));
    const lab = join(root, 'lab');
    const workers: Worker[] = [];
    cleanup.push(async () => {
      for (const w of workers) await stopWorker(w);
    });
    for (let i = 0; i < 2; i++) workers.push(await startWorker(root, ['--concurrency', '2']));

    const followed = execa('node', [CLI, '--root', root, 'run', 'queue-lab', '--simulate', '--lab', lab, '-p', 'hold=3'], { env: cleanEnv(), extendEnv: false, reject: false, cwd: PROJECT, stdin: 'ignore' });
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) ids.push(...(await Promise.all([0, 1, 2, 3].map((j) => detachRun(root, `${lab}-${i * 4 + j}`, ['-p', 'hold=2'])))));
    await waitFor(() => [...allRecords(root).values()].some((r) => r.status === 'running'), { what: 'an execution to be running', timeoutMs: 60_000 });
    const queuedBefore = ids.filter((id) => allRecords(root).get(id)?.status === 'queued').length;

    await redis.stop();
    await redis.start();

    const res = await followed;
    expect(res.exitCode, res.stdout + res.stderr).toBe(0);
    const followedId = /queue-lab-\d{8}T\d{6}Z-[0-9a-f]{4}/.exec(res.stdout)?.[0] as string;
    expect(res.stdout).toContain(`completed ${followedId}`);
    const all = [...ids, followedId];
    await waitFor(
      () => {
        const recs = allRecords(root);
        return all.every((id) => recs.get(id)?.status === 'completed' && recs.get(id)?.where === 'history');
      },
      { what: 'all executions to complete after the restart', timeoutMs: 180_000, detail: () => statusCounts(allRecords(root), all) },
    );
    const m = marks(root);
    for (const id of all) expect(m.get(id), id).toEqual({ mark: 1, done: 1 });
    expect(ledgerIds(root).sort()).toEqual([...all].sort());
    // Some executions were still queued when Redis went down: their jobs survived the restart.
    expect(queuedBefore).toBeGreaterThan(0);
  });
});
