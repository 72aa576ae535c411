/**
 * What tick, trigger and serve ask for when an event or a schedule starts a run. The application
 * layer (src/app/trigger-starter.ts) creates the execution record before the answer, so the
 * answer carries the real execution id; another process then drives the run.
 */
import { join } from 'node:path';
import { layout } from '../layout.js';

export interface TriggerInfoArg {
  type: 'schedule' | 'webhook' | 'event';
  source: string;
  trigger_id: string;
  event_id: string;
  scheduled_for?: string;
}

export interface StartRequest {
  workflowId: string;
  /** `-p name=value` arguments. */
  assignments: string[];
  triggerInfo: TriggerInfoArg;
}

export interface StartResult {
  ok: boolean;
  executionId?: string;
  /** The process that drives the run, when known. */
  pid?: number;
  /** The exit code the same refusal has on the command line (2 invalid, 3 conflict, 4 environment). */
  exitCode?: number | null;
  message?: string;
  /**
   * Refused for now, not for good: the workflow is at its concurrency limit, too many runs are
   * starting at once, or (queue mode) the queue does not answer. The event is not marked seen (a
   * re-delivery may start it); serve answers 429 (conflict) or 503.
   */
  busy?: 'conflict' | 'overloaded' | 'queue_unreachable';
  /** Created, but queued behind the executions in flight (on_conflict: queue): tick or serve starts it. */
  queued?: boolean;
  /** Older executions cancelled to make room (the workflow's on_conflict: cancel_older). */
  cancelled?: string[];
}

/** Starts one run; never throws (a failure is a result). Tests pass a fake. */
export type Starter = (req: StartRequest) => Promise<StartResult>;

/** Output of the processes that drive triggered runs. */
export function runsLogPath(root: string): string {
  return join(layout(root).state, 'runs.log');
}
