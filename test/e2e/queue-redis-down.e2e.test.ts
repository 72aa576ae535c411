/**
 * Queue mode with Redis unreachable (issue 15): a run a worker drives pauses before its next
 * action with a reason naming the queue, nothing is lost, and it goes on by itself once Redis is
 * back; `cortex run` that cannot queue says so in one line, exit 4 (environment).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cortex, removeRoot, tempRoot } from './helpers.js';
import { allRecords, startWorker, stopWorker, type Rec } from './queue-helpers.js';
import { HAS_REDIS, REDIS_NOTE, startRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const count = (root: string, id: string, kind: string) => readdirSync(join(root, 'marks')).filter((n) => n.startsWith(`${id}.${kind}.`)).length;

describe.skipIf(!HAS_REDIS)(`queue mode: Redis unreachable${REDIS_NOTE}`, () => {
  it('a driven run pauses before its next action naming the queue, and goes on once Redis is back; run cannot queue: exit 4', { timeout: 150_000 }, async () => {
    const redis = await startRedis({ persistent: true });
    cleanup.push(() => redis.dispose());
    const root = tempRoot({});
    cleanup.push(() => removeRoot(root));
    mkdirSync(join(root, 'marks'));
    writeFileSync(join(root, 'config.yaml'), `queue: { url: "${redis.url}", lock_seconds: 2 }\n`);
    writeFileSync(
      join(root, 'workflows', 'q-down.yaml'),
      `workflow_id: q-down
workflow_name: q down
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: work, action: execute_command, parameters: { command: [sh, -c, 'mktemp "$1/$2.work.XXXXXX" >/dev/null; i=0; while [ ! -e "$1/release" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done', sh, "${root}/marks", "\${execution_id}"] } }
      - { action_id: done, action: execute_command, parameters: { command: [mktemp, "${root}/marks/\${execution_id}.done.XXXXXX"] } }
`,
    );
    const w = await startWorker(root);
    cleanup.push(() => stopWorker(w));
    const run = await cortex(['run', 'q-down', '--detach'], { root });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const id = /q-down-\d{8}T\d{6}Z-[0-9a-f]{4}/.exec(run.stdout)?.[0] as string;
    await waitFor(() => count(root, id, 'work') === 1, { what: 'the worker to be in "work"', timeoutMs: 30_000 });

    await redis.stop();
    const refused = await cortex(['run', 'q-down', '--detach'], { root });
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    expect(refused.stderr).toMatch(/^CORTEX_ENVIRONMENT: cannot reach the queue at redis:\/\/127\.0\.0\.1:\d+\/0: /);
    // "work" ends while Redis is away: the run stops before "done".
    writeFileSync(join(root, 'marks', 'release'), '');
    const paused = await waitFor(() => [allRecords(root).get(id)].find((r): r is Rec => r?.status === 'paused'), { what: `${id} to pause`, timeoutMs: 30_000, detail: () => JSON.stringify(allRecords(root).get(id)) });
    expect(paused.status_reason).toMatch(/^the queue \(Redis\) does not answer.*; paused before the next action, it goes on when Redis is back$/);
    const actions = paused.phases[0]?.actions ?? [];
    expect(actions.map((a) => a.status)).toEqual(['completed', 'pending']);
    expect(count(root, id, 'done')).toBe(0);

    await redis.start();
    const ended = await waitFor(() => [allRecords(root).get(id)].find((r): r is Rec => r?.where === 'history'), { what: `${id} to end once Redis is back`, timeoutMs: 45_000, detail: () => `${JSON.stringify(allRecords(root).get(id))}\n${w.output()}` });
    expect(ended.status).toBe('completed');
    expect(count(root, id, 'work')).toBe(1);
    expect(count(root, id, 'done')).toBe(1);
  });
});
