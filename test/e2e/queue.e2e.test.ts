/**
 * Queue mode (issue 15): cortex run/resume/approve/reject/rollback/cancel put jobs on a private
 * Redis; cortex worker processes drive them with the shared coordination directory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { archiveBlockedWorkflow, cortex, removeRoot } from './helpers.js';
import { allRecords, detachRun, ID_RE, ledgerIds, marks, queueRoot, seedLab, startWorker, stopWorker, type Worker } from './queue-helpers.js';
import { HAS_REDIS, REDIS_NOTE, startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

describe('queue mode configuration', () => {
  it('a bad CORTEX_QUEUE_URL is one usage error (exit 2), before anything is created', async () => {
    const root = queueRoot('redis://127.0.0.1:1/0');
    try {
      const r = await cortex(['run', 'queue-lab', '--simulate'], { root, env: { CORTEX_QUEUE_URL: 'http://127.0.0.1:6379' } });
      expect(r.exitCode).toBe(2);
      expect(r.stderr.trim().split('\n')[0]).toBe('CORTEX_USAGE: CORTEX_QUEUE_URL is not a Redis URL (scheme http, expected redis or rediss): "http://127.0.0.1:6379"');
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(Object.keys(allRecords(root))).toEqual([]);
    } finally {
      removeRoot(root);
    }
  });

  it('--detach without a queue is a usage error; a queue nobody answers on is exit 4', async () => {
    const root = queueRoot('redis://127.0.0.1:1/0');
    try {
      writeFileSync(join(root, 'config.yaml'), '{}\n');
      const detached = await cortex(['run', 'queue-lab', '--simulate', '--detach'], { root });
      expect(detached.exitCode).toBe(2);
      expect(detached.stderr).toMatch(/--detach needs queue mode/);
      const unreachable = await cortex(['run', 'queue-lab', '--simulate'], { root, env: { CORTEX_QUEUE_URL: 'redis://127.0.0.1:1/0' } });
      expect(unreachable.exitCode).toBe(4);
      expect(unreachable.stderr).toMatch(/^CORTEX_ENVIRONMENT: cannot reach the queue at redis:\/\/127.0.0.1:1\/0/);
    } finally {
      removeRoot(root);
    }
  });
});

// Each test runs several cortex processes and a lab: a bound against hanging on a loaded machine.
describe.skipIf(!HAS_REDIS)(`queue mode with one worker${REDIS_NOTE}`, { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let root: string;
  let lab: string;
  let worker: Worker;
  beforeAll(async () => {
    redis = await startRedis();
    root = queueRoot(redis.url);
    lab = join(root, 'lab');
    await seedLab(root, lab);
    worker = await startWorker(root, ['--concurrency', '2']);
  });
  afterAll(async () => {
    if (worker) await stopWorker(worker);
    await redis?.dispose();
    if (root) removeRoot(root);
  });

  it('cortex run queues the execution, follows it on the worker, and ends with the same summary and exit code', async () => {
    const r = await cortex(['run', 'queue-lab', '--simulate', '--lab', lab, '-p', 'hold=0'], { root });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const id = ID_RE.exec(r.stdout)?.[0] as string;
    expect(r.stdout).toMatch(/starting queue-lab|queue-lab/);
    expect(r.stdout).toMatch(/ok +done execute_command/);
    expect(r.stdout).toContain(`completed ${id}`);
    const rec = allRecords(root).get(id);
    expect(rec?.status).toBe('completed');
    expect(marks(root).get(id)).toEqual({ mark: 1, done: 1 });
    expect(worker.output()).toContain(`run ${id} (run): started`);
    expect(ledgerIds(root).filter((x) => x === id)).toHaveLength(1);
  });

  it('a failing run exits 1 with the same --json summary as the run in one process', async () => {
    const queued = await cortex(['--json', 'run', 'queue-lab', '--simulate', '--lab', lab, '-p', 'hold=x'], { root });
    const plain = queueRoot(redis.url);
    writeFileSync(join(plain, 'config.yaml'), '{}\n');
    const local = await cortex(['--json', 'run', 'queue-lab', '--simulate', '-p', 'hold=x'], { root: plain });
    removeRoot(plain);
    expect(queued.exitCode, queued.stderr).toBe(1);
    expect(local.exitCode, local.stderr).toBe(1);
    type Summary = { status: string; execution_id: string; outcome: string; phases: Array<{ actions: Array<{ action_id: string; status: string }> }> };
    const q = JSON.parse(queued.stdout) as Summary;
    const l = JSON.parse(local.stdout) as Summary;
    expect(q.status).toBe('failed');
    expect({ status: q.status, outcome: q.outcome, actions: q.phases[0]?.actions.map((a) => [a.action_id, a.status]) }).toEqual({
      status: l.status,
      outcome: l.outcome,
      actions: l.phases[0]?.actions.map((a) => [a.action_id, a.status]),
    });
    expect(allRecords(root).get(q.execution_id)?.status).toBe('failed');
  });

  it('a run whose record the worker cannot archive (a folder in the way) ends exit 4 with the paths, as in one process, not as an internal error', async () => {
    const history = join(root, 'workflows', 'history');
    writeFileSync(join(root, 'workflows', 'spoil.yaml'), archiveBlockedWorkflow(root));
    const r = await cortex(['run', 'spoil'], { root });
    // Before: exit 70, CORTEX_INTERNAL with the worker's stack of EISDIR.
    expect(r.exitCode, r.stdout + r.stderr).toBe(4);
    expect(r.stderr).toMatch(new RegExp(`^CORTEX_ENVIRONMENT: cannot rename \\S+ -> ${history.replace(/[.]/g, '\\.')}/workflow-spoil-\\S+\\.json: EISDIR \\(a folder is where a file belongs\\)$`, 'm'));
    expect(r.stderr).not.toMatch(/^\s+at /m);
    // The folder removed, a resume reconciles the ended record into history/ (the tests after
    // this one share the root).
    const id = /workflow-(spoil-\S+?)\.json/.exec(r.stderr)?.[1] as string;
    rmSync(join(history, `workflow-${id}.json`), { recursive: true });
    const resumed = await cortex(['resume', id], { root });
    expect(resumed.stderr).toMatch(/has ended \(completed\)/);
    expect(existsSync(join(history, `workflow-${id}.json`))).toBe(true);
    expect(existsSync(join(root, 'workflows', 'active', `workflow-${id}.json`))).toBe(false);
  });

  it('--detach prints the id at once (status queued until a worker takes it); status and resume rules as usual', async () => {
    const r = await cortex(['--json', 'run', 'queue-lab', '--simulate', '--lab', lab, '-p', 'hold=0', '--detach'], { root });
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { execution_id: string; status: string; job_id: string };
    expect(['queued', 'running', 'completed']).toContain(out.status);
    expect(out.job_id).toBe(`run-${out.execution_id}`);
    await waitFor(() => allRecords(root).get(out.execution_id)?.status === 'completed', { what: 'the detached run to complete', timeoutMs: 30_000 });
    const again = await cortex(['resume', out.execution_id], { root });
    expect(again.exitCode).toBe(3);
    expect(again.stderr).toMatch(/has ended \(completed\)/);
  });

  it('cancel stops an execution a worker is driving (the worker watches the cancel mark); rollback is a job too', async () => {
    const id = await detachRun(root, lab, ['-p', 'hold=30']);
    await waitFor(() => allRecords(root).get(id)?.current_action === 'work', { what: 'the worker to be in action "work"', timeoutMs: 30_000 });
    const st = await cortex(['--json', 'status'], { root });
    const shown = (JSON.parse(st.stdout) as { executions: Array<{ execution_id: string; status: string; process: { pid: number; host: string } | null }> }).executions.find((e) => e.execution_id === id);
    expect(shown?.status).toBe('running');
    expect(shown?.process?.pid).toBe(worker.pid);
    const c = await cortex(['cancel', id], { root });
    expect(c.exitCode, c.stdout + c.stderr).toBe(0);
    expect(allRecords(root).get(id)?.status).toBe('cancelled');
    expect(marks(root).get(id)).toEqual({ mark: 1, done: 0 });
    const rb = await cortex(['rollback', id], { root });
    expect(rb.exitCode, rb.stdout + rb.stderr).toBe(0);
    expect(allRecords(root).get(id)?.status).toBe('rolled_back');
  });

  it('approve and reject record the decision and queue the continuation; a worker drives it', async () => {
    const APPROVE_ID = /queue-approve-\d{8}T\d{6}Z-[0-9a-f]{4}/;
    const first = await cortex(['run', 'queue-approve', '--simulate', '--lab', lab], { root });
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    const id = APPROVE_ID.exec(first.stdout)?.[0] as string;
    expect(allRecords(root).get(id)?.status).toBe('awaiting_approval');
    const ok = await cortex(['approve', id, '--comment', 'go'], { root });
    expect(ok.exitCode, ok.stdout + ok.stderr).toBe(0);
    expect(allRecords(root).get(id)?.status).toBe('completed');
    expect(marks(root).get(id)).toEqual({ mark: 1, done: 1 });

    const second = await cortex(['run', 'queue-approve', '--simulate', '--lab', lab], { root });
    const id2 = APPROVE_ID.exec(second.stdout)?.[0] as string;
    const no = await cortex(['reject', id2, '--comment', 'no'], { root });
    expect(no.exitCode, no.stdout + no.stderr).toBe(0);
    expect(['rolled_back', 'failed']).toContain(allRecords(root).get(id2)?.status);
    expect(marks(root).get(id2)).toEqual({ mark: 1, done: 0 });
    const late = await cortex(['approve', id2], { root });
    expect(late.exitCode).toBe(3);
  });

  it('a triggered run (cortex trigger) is created queued and driven by a worker, not by a detached process', async () => {
    const r = await cortex(['--json', 'trigger', '--source', 'generic', '--path', 'queue-approve', '--event', '-', '--simulate', '--lab', lab], { root, input: '{"x": 1}' });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const id = /queue-approve-\d{8}T\d{6}Z-[0-9a-f]{4}/.exec(r.stdout)?.[0] as string;
    expect(id).toBeTruthy();
    await waitFor(() => allRecords(root).get(id)?.status === 'awaiting_approval', { what: 'the triggered run to wait for approval', timeoutMs: 30_000 });
    expect(worker.output()).toContain(`run ${id} (trigger): started`);
    const ok = await cortex(['approve', id], { root });
    expect(ok.exitCode, ok.stdout + ok.stderr).toBe(0);
    expect(allRecords(root).get(id)?.status).toBe('completed');
  });

  it('cortex workers lists the connected worker with its host and pid', async () => {
    const r = await cortex(['--json', 'workers'], { root });
    expect(r.exitCode, r.stderr).toBe(0);
    const list = (JSON.parse(r.stdout) as { workers: Array<{ pid: number | null; takes: string | null }> }).workers;
    expect(list).toEqual([expect.objectContaining({ pid: worker.pid, takes: 'executions' })]);
  });

  it('cortex doctor checks the queue: Redis answers, its persistence, the connected workers', async () => {
    const r = await cortex(['--json', 'doctor'], { root });
    type Check = { check: string; name: string; status: string; message: string; details?: string[] };
    const checks = (JSON.parse(r.stdout) as { checks: Check[] }).checks.filter((c) => c.check === 'queue');
    expect(checks.find((c) => c.name === 'queue')).toMatchObject({ status: 'ok', message: expect.stringMatching(/^Redis \d+\.\d+\.\d+ at redis:\/\/127\.0\.0\.1:/) });
    // This test's Redis runs without an append-only file: doctor says what that costs.
    expect(checks.find((c) => c.name === 'queue persistence')).toMatchObject({ status: 'warning', message: expect.stringMatching(/appendonly is no/) });
    expect(checks.find((c) => c.name === 'queue workers')).toMatchObject({ status: 'ok', message: '1 connected', details: [expect.stringMatching(new RegExp(`:${worker.pid}:executions$`))] });
  });
});
