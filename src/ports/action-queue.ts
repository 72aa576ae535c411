import type { ErrorInfo, Invocation, RequestInfo } from '../model/records.js';
import type { JobLab } from './queue.js';

/**
 * One attempt of one action, as a job on its contractor's queue (queue mode). Parameters are
 * resolved except `${secrets.NAME}`, which stay references: the contractor worker resolves them
 * from its own host. A job never carries a secret value.
 */
export interface ActionJob {
  executionId: string;
  workflowId: string;
  phaseId: string;
  actionId: string;
  contractor: string;
  action: string;
  /** The attempt number in the execution record. */
  attempt: number;
  idempotent: boolean;
  /** Resolved parameters, `${secrets.NAME}` left as written. */
  params: Record<string, unknown>;
  /** The secret names the worker may substitute (those the definition names). */
  secretNames: string[];
  timeoutMs: number;
  cookie?: string;
  /** What the action observed so far (rt.remember), from the execution record. */
  observed?: Record<string, unknown>;
  debug?: boolean;
  /** The lab to run in (--simulate), its directory absolute. */
  lab?: JobLab;
}

/** How an action job ended on its worker; every text in it is masked there. */
export interface ActionJobResult {
  outcome: 'ok' | 'failed' | 'errored' | 'interrupted';
  outputs?: Record<string, unknown>;
  /** The failure (failed: the tool said no, with `retryable`; errored: it could not run). */
  error?: ErrorInfo;
  exit_code?: number | null;
  signal?: string | null;
  invocations?: Invocation[];
  requests?: RequestInfo[];
  /** Debug lines (only when the job asked for them). */
  log?: string[];
  worker: { host: string; pid: number };
}

/** What a dispatched action reports while it runs. */
export interface ActionProgress {
  /** rt.remember recorded something: the execution record must keep it before the action goes on. */
  observed?: Record<string, unknown>;
}

/**
 * The execution worker's side: runs an action attempt on the workers of its contractor and waits
 * for it. Throws ActionOutcomeUnknownError when the worker holding a non-idempotent action died
 * (it is never run again), InterruptedError when `signal` aborts (the worker is asked to stop it).
 */
export interface ActionDispatcher {
  /** Whether this contractor's actions go on its queue (config queue.contractors). */
  handles(contractor: string): boolean;
  run(job: ActionJob, options: { signal: AbortSignal; onProgress?: (p: ActionProgress) => Promise<void> }): Promise<ActionJobResult>;
}
