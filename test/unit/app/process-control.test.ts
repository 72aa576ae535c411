import { hostname } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProcessControl } from '../../../src/compose.js';

describe('createProcessControl().terminate: the pid comes from a file (a lock owner, a record)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('never signals init, this process, or a pid that is not a positive integer', () => {
    // No signal leaves this test: process.kill is replaced for its duration.
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    const control = createProcessControl();
    for (const pid of [1, process.pid, 0, -1, 1.5, Number.NaN]) {
      expect(control.terminate({ pid, host: hostname() }), `pid ${pid}`).toBe(false);
    }
    expect(kill.mock.calls.filter(([, sig]) => sig === 'SIGTERM')).toEqual([]);
  });
});
