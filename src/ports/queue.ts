/** Lab options a job carries to the worker (--simulate-fail, --simulate-latency, --lab). */
export interface JobLab {
  dir?: string;
  faults?: string[];
  latency?: string;
}

/**
 * A job of queue mode: one execution for a worker to drive. `run` starts a `queued` record;
 * `resume` continues one (also after approve/reject, whose decision is already recorded);
 * `rollback` undoes it. Jobs carry ids and options only: never a secret value.
 */
export interface ExecutionJob {
  kind: 'run' | 'resume' | 'rollback';
  executionId: string;
  retryAction?: string;
  skipAction?: string;
  debug?: boolean;
  lab?: JobLab;
  /** The operator command that asked for it (run, resume, approve, ...). */
  command: string;
}

/** How a job ended, as the command that queued it reports it (exit code, message or error). */
export interface JobResult {
  exitCode: number;
  status?: string;
  message?: string;
  error?: { code: string; message: string; hint?: string; exitCode: number };
  /** The worker that drove it. */
  worker?: { host: string; pid: number };
}

/** What a job's handler gets besides the job: its stop signal and a channel for progress. */
export interface JobContext {
  /** Aborted when the worker shuts down. */
  signal: AbortSignal;
  /** Publishes one progress event to whoever follows the job (best effort). */
  progress(event: unknown): void;
}

/** A worker (cortex worker) connected to the queue, as the queue lists it. */
export interface WorkerInfo {
  name: string;
  addr?: string;
  age_seconds?: number;
}

/** The queue of executions (BullMQ on Redis in production). */
/**
 * enqueue() sent the job but the queue did not confirm it in time: it may be stored (and then
 * run) once the queue answers again, or not at all. Nothing is known either way.
 */
export class JobUnconfirmedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobUnconfirmedError';
  }
}

export interface ExecutionQueue {
  /**
   * Adds a job; resolves with its id once the queue has stored it. Throws JobUnconfirmedError
   * when the job was sent and the queue did not confirm it in time.
   */
  enqueue(job: ExecutionJob): Promise<string>;
  /**
   * Follows a job to its end: its progress events go to `onEvent`; resolves with its result,
   * or undefined when `signal` aborts first. Survives the queue being unreachable for a while.
   */
  follow(jobId: string, onEvent: (event: unknown) => void, signal: AbortSignal): Promise<JobResult | undefined>;
  /** The workers connected now (to the execution queue, or to these contractors' queues). */
  workers(contractors?: string[]): Promise<WorkerInfo[]>;
  close(): Promise<void>;
}

/** The consuming side: takes jobs and runs `handler` for each, `concurrency` at a time. */
export interface QueueConsumer {
  start(handler: (job: ExecutionJob, ctx: JobContext) => Promise<JobResult>, options: { concurrency: number; name: string }): Promise<void>;
  /** Stops taking jobs; aborts the ones in progress and waits for their handlers to return. */
  close(): Promise<void>;
}
