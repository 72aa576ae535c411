import type { EngineDeps } from './deps.js';
import type { ExecutionRecord, ProcessRef } from '../model/records.js';

/** Display status of an active record: `interrupted` when its process is gone. */
export function liveStatus(rec: ExecutionRecord, deps: { isProcessAlive: (proc: ProcessRef) => boolean }): string {
  if ((rec.status === 'running' || rec.status === 'rolling_back') && rec.process && !deps.isProcessAlive(rec.process)) {
    return 'interrupted';
  }
  return rec.status;
}

/** The `process` entry naming this cortex process, from its identity (start time and boot id when known). */
export function currentProcess(identity: EngineDeps['identity'], startedAt: string): ProcessRef {
  return {
    pid: identity.pid,
    host: identity.host,
    started_at: startedAt,
    ...(identity.startTime !== undefined ? { start_time: identity.startTime } : {}),
    ...(identity.bootId !== undefined ? { boot_id: identity.bootId } : {}),
  };
}
