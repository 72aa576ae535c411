import { describe, expect, it } from 'vitest';
import { liveStatus } from '../../../src/engine/live-status.js';
import { cmd, harness, phase, workflow } from './engine-helper.js';
import { fakeDeps } from '../../fakes/fakes.js';

describe('engine: the process that works on an execution', () => {
  it('records its pid with its start time and boot id, which the liveness check is given', async () => {
    const deps = fakeDeps({ identity: { pid: 4242, host: 'test-host', user: 'tester', startTime: 98765, bootId: 'boot-1' } });
    deps.runner.on('ok', [], { exitCode: 0 });
    const rec = await harness(workflow([phase('p', [cmd('a', ['ok'])])]), { deps }).run();
    const running = deps.store.writes.find((w) => w.status === 'running');
    expect(running?.process).toEqual({ pid: 4242, host: 'test-host', started_at: expect.any(String), start_time: 98765, boot_id: 'boot-1' });
    expect(rec.process).toMatchObject({ start_time: 98765, boot_id: 'boot-1' });
    const seen: unknown[] = [];
    expect(liveStatus(running!, { isProcessAlive: (p) => (seen.push(p), false) })).toBe('interrupted');
    expect(seen).toEqual([running!.process]);
  });
});
