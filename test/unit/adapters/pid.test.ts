import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { isPidAlive, isRecordedProcessAlive, processStamp } from '../../../src/adapters/pid.js';
import { bootId, startTicks } from '../../proc.js';


function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
}

describe.runIf(process.platform === 'linux')('process identity (Linux)', () => {
  // Stands in for an unrelated process that was given the pid of a crashed cortex.
  let other: ChildProcess;
  beforeAll(() => {
    other = spawn('sleep', ['60'], { stdio: 'ignore' });
  });
  afterAll(() => {
    other.kill('SIGKILL');
  });

  it('stamps a process with its start time and the boot id', () => {
    const stamp = processStamp(process.pid);
    expect(stamp.start_time).toBe(startTicks(process.pid));
    expect(stamp.boot_id).toBe(bootId());
    expect(processStamp(deadPid())).toEqual({});
  });

  it('a recorded process is alive only while its pid holds the process started at the recorded time', () => {
    const pid = other.pid as number;
    const stamp = processStamp(pid);
    expect(isRecordedProcessAlive({ pid, ...stamp })).toBe(true);
    // Same pid, another start time: the pid was reused after the recorded process died.
    expect(isRecordedProcessAlive({ pid, ...stamp, start_time: (stamp.start_time as number) + 1 })).toBe(false);
    // Another boot: every process of the recorded boot is gone.
    expect(isRecordedProcessAlive({ pid, ...stamp, boot_id: '00000000-0000-0000-0000-000000000000' })).toBe(false);
    expect(isRecordedProcessAlive({ pid: deadPid(), ...stamp })).toBe(false);
  });

  it('an old record without a start time is judged by its pid alone', () => {
    expect(isRecordedProcessAlive({ pid: other.pid as number })).toBe(true);
    expect(isRecordedProcessAlive({ pid: deadPid() })).toBe(false);
    expect(isPidAlive(other.pid as number)).toBe(true);
  });
});
