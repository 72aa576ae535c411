import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { childProcesses, isRunning, processesWithEnv } from '../../helpers/processes.js';

describe('process helpers (test helpers, read from /proc)', () => {
  it('find a child by parent and by environment, and see it gone once killed', async () => {
    const mark = `/tmp/cortex-helper-test-${process.pid}-${Date.now()}`;
    const child = spawn('sleep', ['30'], { env: { ...process.env, CORTEX_LAB_DIR: mark }, stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const pid = child.pid as number;
      expect(isRunning(pid)).toBe(true);
      expect(childProcesses(process.pid)).toContainEqual({ pid, argv: ['sleep', '30'] });
      expect(processesWithEnv('CORTEX_LAB_DIR', mark)).toEqual([pid]);
      expect(processesWithEnv('CORTEX_LAB_DIR', `${mark}-other`)).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }
    await exited;
    expect(isRunning(child.pid as number)).toBe(false);
    expect(processesWithEnv('CORTEX_LAB_DIR', mark)).toEqual([]);
  });
});
