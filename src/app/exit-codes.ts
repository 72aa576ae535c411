import { ExitCode } from '../errors.js';
import type { ExecutionRecord } from '../model/records.js';
import { isPausedForLeftovers } from '../engine/leftovers.js';

/**
 * Exit code for an execution that stopped with this status. Kept apart from drive.ts so the
 * read-only commands (status -w, logs -f) get it without loading the engine, ajv and yaml.
 */
export function exitCodeFor(rec: ExecutionRecord, interrupted: boolean): number {
  // Tools of an interrupted attempt are still running: the execution waits for them (exit 3).
  if (isPausedForLeftovers(rec)) return ExitCode.CONFLICT;
  if (interrupted && (rec.status === 'paused' || rec.status === 'cancelled' || rec.status === 'rolling_back')) return ExitCode.INTERRUPTED;
  switch (rec.status) {
    case 'completed':
    case 'awaiting_approval':
      return ExitCode.OK;
    default:
      return ExitCode.WORKFLOW_FAILED;
  }
}
