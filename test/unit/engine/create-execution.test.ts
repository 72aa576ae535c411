import { describe, expect, it } from 'vitest';
import { StateConflictError } from '../../../src/errors.js';
import { createExecution } from '../../../src/engine/start.js';
import { newExecutionRecord } from '../../../src/engine/run-workflow.js';
import type { ExecutionRecord } from '../../../src/model/records.js';
import { fakeDeps } from '../../fakes/fakes.js';
import { cmd, loaded, phase, workflow } from './engine-helper.js';

const def = (extra: Parameters<typeof workflow>[1] = {}) => workflow([phase('p', [cmd('a', ['true'])])], extra);
const trigger = { type: 'webhook', user: 'u', host: 'h' } as ExecutionRecord['trigger'];

/** Fake ports whose lock manager counts acquisitions of each lock. */
function countingDeps(overrides: Parameters<typeof fakeDeps>[0] = {}) {
  const deps = fakeDeps(overrides);
  const acquired = new Map<string, number>();
  const acquire = deps.locks.acquire.bind(deps.locks);
  deps.locks.acquire = async (name, owner, options) => {
    acquired.set(name, (acquired.get(name) ?? 0) + 1);
    return acquire(name, owner, options);
  };
  let n = 0;
  deps.randomHex4 = () => (n++).toString(16).padStart(4, '0');
  return { deps, acquired };
}

/** An execution record of `workflowId` already in active/ (another process's run). */
async function existing(deps: ReturnType<typeof fakeDeps>, workflowId: string, hex: string, status: ExecutionRecord['status']): Promise<ExecutionRecord> {
  const record = newExecutionRecord({ executionId: `${workflowId}-${stamp(deps.clock.now())}-${hex}`, loaded: loaded({ ...def(), workflow_id: workflowId }), parameters: {}, trigger, now: '2026-01-01T00:00:00.000Z' });
  record.status = status;
  await deps.store.writeExecution(record);
  return record;
}

describe('createExecution: creations asked for at the same time', () => {
  it('are decided in turn under one hold of the workflow lock: as many as the concurrency allows, the rest refused', async () => {
    const { deps, acquired } = countingDeps();
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => createExecution(deps, { loaded: loaded(def({ concurrency: 3 })), parameters: {}, trigger, command: 'serve', keepLock: false })));
    const created = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.record.execution_id] : []));
    const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : []));
    expect(created).toHaveLength(3);
    expect(new Set(created).size).toBe(3);
    expect(refused).toHaveLength(7);
    for (const e of refused) {
      expect(e).toBeInstanceOf(StateConflictError);
      expect(e.message).toMatch(/^workflow "wf" is already in progress: execution wf-\S+ is pending/);
    }
    expect((await deps.store.listActive()).map((r) => r.execution_id).sort()).toEqual([...created].sort());
    // One hold of the workflow's lock for all ten, released; no execution lock (another process drives them).
    expect(acquired.get('workflow-wf')).toBe(1);
    expect([...acquired.keys()].filter((k) => k.startsWith('execution-'))).toEqual([]);
    expect(await deps.locks.isLocked('workflow-wf')).toBe(false);
  });

  it('counts the runs already in flight, of this workflow only (another workflow whose id starts the same does not count)', async () => {
    const { deps } = countingDeps();
    await existing(deps, 'wf-2', 'f000', 'running');
    await existing(deps, 'wf', 'f001', 'paused');
    const [a, b] = await Promise.allSettled([0, 1].map(() => createExecution(deps, { loaded: loaded(def({ concurrency: 2 })), parameters: {}, trigger, keepLock: false })));
    expect(a.status).toBe('fulfilled');
    expect(b.status).toBe('rejected');
    expect(((b as PromiseRejectedResult).reason as Error).message).toBe(`workflow "wf" is already in progress: execution wf-${stamp(deps.clock.now())}-f001 is paused`);
  });

  it('an unreadable record counts for its own workflow only: not for another whose id is a prefix of its workflow id', async () => {
    const { deps } = countingDeps();
    // active/ holds a damaged record of workflow "wf-2" (its file cannot be read).
    const damagedId = `wf-2-${stamp(deps.clock.now())}-dead`;
    const listActive = deps.store.listActive.bind(deps.store);
    const listActiveIds = deps.store.listActiveIds.bind(deps.store);
    deps.store.listActive = async (onError) => {
      onError?.(`/root/workflows/active/workflow-${damagedId}.json`, new Error('not valid JSON'));
      return listActive(onError);
    };
    deps.store.listActiveIds = async () => [damagedId, ...(await listActiveIds())].sort();
    const wf2 = { ...def(), workflow_id: 'wf-2' };
    // "wf" (concurrency 1) has nothing in flight: its run is created.
    const own = await createExecution(deps, { loaded: loaded(def()), parameters: {}, trigger, keepLock: false });
    expect(own.record.workflow_id).toBe('wf');
    // "wf-2" itself may be in progress (its record cannot be read): refused, naming the file.
    await expect(createExecution(deps, { loaded: loaded(wf2), parameters: {}, trigger, keepLock: false })).rejects.toThrow(
      `workflow "wf-2" may be in progress: an execution record of it cannot be read: /root/workflows/active/workflow-${damagedId}.json (not valid JSON)`,
    );
  });

  it('with on_conflict queue, the ones past the limit are created queued behind those before them, the new ones of the batch included', async () => {
    const { deps } = countingDeps();
    const created = await Promise.all([0, 1, 2].map(() => createExecution(deps, { loaded: loaded(def({ concurrency: 1 })), parameters: {}, trigger, keepLock: false, queue: true })));
    const [first, second, third] = created.map((c) => c.record);
    expect(first?.queued).toBeUndefined();
    expect(second?.queued?.behind).toEqual([first?.execution_id]);
    expect(third?.queued?.behind).toEqual([first?.execution_id, second?.execution_id]);
  });

  it('a caller that drives it gets its execution lock; the workflow lock is released before anyone is answered', async () => {
    const { deps } = countingDeps();
    const [a, b] = await Promise.all([0, 1].map(() => createExecution(deps, { loaded: loaded(def({ concurrency: 2 })), parameters: {}, trigger })));
    expect(await deps.locks.isLocked(`execution-${a?.record.execution_id}`)).toBe(true);
    expect(await deps.locks.isLocked(`execution-${b?.record.execution_id}`)).toBe(true);
    expect(await deps.locks.isLocked('workflow-wf')).toBe(false);
  });

  it('draws the id again when another run of the same second has it (active/ or history/)', async () => {
    const { deps } = countingDeps();
    const draws = ['aaaa', 'aaaa', 'bbbb', 'cccc', 'dddd'];
    deps.randomHex4 = () => draws.shift() as string;
    // A run of the same second that has ended (its record in history/).
    await deps.store.archiveExecution(await existing(deps, 'wf', 'cccc', 'completed'));
    const ids = (await Promise.all([0, 1, 2].map(() => createExecution(deps, { loaded: loaded(def({ concurrency: 5 })), parameters: {}, trigger, keepLock: false })))).map((c) => c.record.execution_id.slice(-4));
    expect(ids).toEqual(['aaaa', 'bbbb', 'dddd']);
  });

  it('gives up, refusing that run only, when every id it draws is taken', async () => {
    const { deps } = countingDeps();
    deps.randomHex4 = () => 'abcd';
    const outcomes = await Promise.allSettled([0, 1].map(() => createExecution(deps, { loaded: loaded(def({ concurrency: 5 })), parameters: {}, trigger, keepLock: false })));
    expect(outcomes[0]?.status).toBe('fulfilled');
    expect(outcomes[1]?.status).toBe('rejected');
    expect(((outcomes[1] as PromiseRejectedResult).reason as Error).message).toMatch(/no free execution id for workflow "wf" in this second \(16 drawn, each taken\)/);
    expect(await deps.store.listActive()).toHaveLength(1);
  });
});

function stamp(at: Date): string {
  const iso = at.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}
