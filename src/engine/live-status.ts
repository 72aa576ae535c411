import type { ExecutionRecord } from '../model/records.js';

/** Display status of an active record: `interrupted` when its process is gone. */
export function liveStatus(rec: ExecutionRecord, deps: { isProcessAlive: (pid: number, host: string) => boolean }): string {
  if ((rec.status === 'running' || rec.status === 'rolling_back') && rec.process && !deps.isProcessAlive(rec.process.pid, rec.process.host)) {
    return 'interrupted';
  }
  return rec.status;
}

/** The `process` entry of a record for the process these deps belong to. */
export function ownProcess(identity: { pid: number; host: string }, now: string): NonNullable<ExecutionRecord['process']> {
  return { pid: identity.pid, host: identity.host, started_at: now };
}
