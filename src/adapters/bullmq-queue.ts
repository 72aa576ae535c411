import { hostname } from 'node:os';
import { Job, Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Launcher } from '../ports/launcher.js';
import { JobUnconfirmedError, type ExecutionJob, type ExecutionQueue, type JobContext, type JobResult, type QueueConsumer, type WorkerInfo } from '../ports/queue.js';

/** The BullMQ queue every cortex worker of one coordination directory takes executions from. */
export const EXECUTION_QUEUE = 'cortex-executions';
/** The queue of one contractor's action jobs (queue.contractors). */
export function actionQueueName(contractor: string): string {
  return `cortex-actions-${contractor}`;
}

/** The key prefix of every cortex queue in Redis. */
export const PREFIX = 'cortex';
/** Retries of a job whose handler threw (the execution was held elsewhere, the worker stopped). */
const JOB_ATTEMPTS = 50;
const RETRY_DELAY_MS = 1_000;
const FOLLOW_POLL_MS = 200;
/** Redis silent this long: executions pause before their next action. */
const HEALTH_GRACE_MS = 2_000;
/** How long to wait for Redis before saying it cannot be reached. */
export const CONNECT_WAIT_MS = 5_000;
/** How long closing waits for Redis to acknowledge before the connection is dropped. */
const CLOSE_WAIT_MS = 2_000;

export function connection(url: string): { url: string; maxRetriesPerRequest: null; connectionName?: string } {
  // BullMQ workers need maxRetriesPerRequest null: a command waits for Redis to come back.
  return { url, maxRetriesPerRequest: null };
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** One PING without reconnecting: a Redis that is not there fails fast, and leaves nothing open. */
export async function probe(url: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: CONNECT_WAIT_MS, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  let last: Error | undefined;
  client.on('error', (e: Error) => (last = e));
  try {
    // connectTimeout covers the TCP connect only: a Redis that accepts it and never answers
    // (stopped, overloaded) would keep connect() waiting for good.
    await withTimeout(client.connect(), CONNECT_WAIT_MS, 'Redis');
    await withTimeout(client.ping(), CONNECT_WAIT_MS, 'Redis PING');
  } catch (e) {
    throw last ?? e;
  } finally {
    client.disconnect();
  }
}

/** What `cortex doctor` reports about the queue: Redis and its persistence settings, the workers. */
export interface QueueInspection {
  redisVersion: string;
  /** CONFIG GET values; absent where the server refuses CONFIG (managed Redis). */
  appendonly?: string;
  maxmemoryPolicy?: string;
  workers: WorkerInfo[];
}

export async function inspectQueue(url: string): Promise<QueueInspection> {
  await probe(url);
  const client = new Redis(url, { connectTimeout: CONNECT_WAIT_MS, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  client.on('error', () => undefined);
  let info: Omit<QueueInspection, 'workers'>;
  try {
    const server = await withTimeout(client.info('server'), CONNECT_WAIT_MS, 'Redis INFO');
    const redisVersion = /redis_version:(\S+)/.exec(server)?.[1] ?? 'unknown';
    const conf = async (key: string) => {
      try {
        const v = (await withTimeout(client.config('GET', key), CONNECT_WAIT_MS, 'Redis CONFIG')) as string[];
        return v[1];
      } catch {
        return undefined;
      }
    };
    const appendonly = await conf('appendonly');
    const maxmemoryPolicy = await conf('maxmemory-policy');
    info = { redisVersion, ...(appendonly !== undefined ? { appendonly } : {}), ...(maxmemoryPolicy !== undefined ? { maxmemoryPolicy } : {}) };
  } finally {
    client.disconnect();
  }
  const q = await BullmqExecutionQueue.open(url);
  try {
    return { ...info, workers: await q.workers() };
  } finally {
    await q.close();
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The producer side of queue mode on BullMQ: enqueues execution jobs and follows them (progress
 * from BullMQ's event stream, the end by polling the job, so a Redis restart only delays it).
 */
export class BullmqExecutionQueue implements ExecutionQueue {
  private readonly queue: Queue;
  private events: QueueEvents | undefined;

  private constructor(private readonly url: string) {
    this.queue = new Queue(EXECUTION_QUEUE, { connection: connection(url), prefix: PREFIX });
    // Reconnection errors are retried by the client; they must not crash the process.
    this.queue.on('error', () => undefined);
  }

  /** Connects; throws (a plain Error naming the problem) when Redis does not answer in time. */
  static async open(url: string): Promise<BullmqExecutionQueue> {
    await probe(url);
    const q = new BullmqExecutionQueue(url);
    await withTimeout(q.queue.waitUntilReady(), CONNECT_WAIT_MS, 'Redis');
    return q;
  }

  async enqueue(job: ExecutionJob): Promise<string> {
    const suffix = job.kind === 'run' ? '' : `-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    // Bounded: the client waits for a Redis that went away (maxRetriesPerRequest null), and a
    // command left waiting forever is worse than saying so. The add may still land once Redis
    // answers (it was sent): JobUnconfirmedError, not "not queued".
    const adding = this.queue.add(job.kind, job, {
      jobId: `${job.kind}-${job.executionId}${suffix}`,
      attempts: JOB_ATTEMPTS,
      backoff: { type: 'fixed', delay: RETRY_DELAY_MS },
      removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
    });
    let settled = false;
    adding.then(
      () => (settled = true),
      () => (settled = true),
    );
    try {
      return (await withTimeout(adding, CONNECT_WAIT_MS, 'Redis')).id as string;
    } catch (e) {
      // Refused by Redis: not queued (the error as it is). No answer: unknown.
      if (settled) throw e;
      throw new JobUnconfirmedError((e as Error).message);
    }
  }

  async follow(jobId: string, onEvent: (event: unknown) => void, signal: AbortSignal): Promise<JobResult | undefined> {
    if (!this.events) {
      this.events = new QueueEvents(EXECUTION_QUEUE, { connection: connection(this.url), prefix: PREFIX });
      this.events.on('error', () => undefined);
      await withTimeout(this.events.waitUntilReady(), CONNECT_WAIT_MS, 'Redis').catch(() => undefined);
    }
    const onProgress = (args: { jobId: string; data: unknown }) => {
      if (args.jobId === jobId) onEvent(args.data);
    };
    this.events.on('progress', onProgress);
    try {
      while (!signal.aborted) {
        try {
          // The state first, then the job: a job read while active has no return value yet.
          // Each call bounded: one waiting for Redis forever would keep a Ctrl-C from ending the follow.
          const state = await withTimeout(this.queue.getJobState(jobId), CONNECT_WAIT_MS, 'Redis');
          if (state === 'unknown') return { exitCode: 70, error: { code: 'CORTEX_QUEUE', message: `job ${jobId} is no longer in the queue`, exitCode: 70 } };
          const job = state === 'completed' || state === 'failed' ? await withTimeout(Job.fromId(this.queue, jobId), CONNECT_WAIT_MS, 'Redis') : undefined;
          if (state === 'completed' && job?.returnvalue) return job.returnvalue as JobResult;
          if (state === 'failed' && job) {
            return { exitCode: 70, error: { code: 'CORTEX_QUEUE', message: `job ${jobId} failed on the workers: ${job.failedReason}`, exitCode: 70 } };
          }
        } catch {
          // Redis unreachable for now: keep following; the job is kept there.
        }
        await sleep(FOLLOW_POLL_MS);
      }
      return undefined;
    } finally {
      this.events.off('progress', onProgress);
    }
  }

  async workers(contractors: string[] = []): Promise<WorkerInfo[]> {
    // Contractor workers are connected to their contractors' queues only.
    const others = contractors.map((c) => new Queue(actionQueueName(c), { connection: connection(this.url), prefix: PREFIX }));
    try {
      const lists = await withTimeout(Promise.all([this.queue, ...others].map((q) => q.getWorkers())), CONNECT_WAIT_MS, 'Redis');
      const seen = new Map<string, WorkerInfo>();
      // BullMQ names each worker's connection <prefix>:<queue>:w:<worker name> (rawname).
      for (const w of lists.flat()) {
        const name = String(w.rawname ?? w.name ?? '').replace(/^.*?:w:/, '');
        if (!seen.has(name)) seen.set(name, { name, ...(w.addr ? { addr: String(w.addr) } : {}), ...(w.age ? { age_seconds: Number(w.age) } : {}) });
      }
      return [...seen.values()];
    } finally {
      await closeOrDrop(others);
    }
  }

  async close(): Promise<void> {
    await closeOrDrop(this.events ? [this.events, this.queue] : [this.queue]);
  }
}

/**
 * Closes BullMQ clients. One reconnecting to a Redis that went away would wait for it forever to
 * say QUIT: after CLOSE_WAIT_MS the connections are dropped instead (the process can exit).
 */
async function closeOrDrop(clients: ReadonlyArray<{ close(): Promise<void>; disconnect(): Promise<void> }>): Promise<void> {
  try {
    await withTimeout(Promise.allSettled(clients.map((c) => c.close())), CLOSE_WAIT_MS, 'Redis close');
  } catch {
    // Not awaited: the 'end' a disconnect waits for may never come from a client in this state.
    for (const c of clients) c.disconnect().catch(() => undefined);
  }
}

/** The consuming side: a BullMQ worker whose stalled-job check hands a dead worker's jobs to another. */
export class BullmqQueueConsumer implements QueueConsumer {
  private worker: Worker | undefined;
  private readonly running = new Set<AbortController>();
  private health: { client: Redis; timer: NodeJS.Timeout; lastOk: number; lastError: string } | undefined;

  constructor(private readonly options: { url: string; lockSeconds: number }) {}

  /**
   * Why executions should pause before their next action: Redis has not answered a PING for
   * HEALTH_GRACE_MS (their jobs cannot be kept or handed on meanwhile); undefined while it answers.
   */
  problem(): string | undefined {
    const h = this.health;
    if (!h || Date.now() - h.lastOk <= HEALTH_GRACE_MS) return undefined;
    return `the queue (Redis) does not answer${h.lastError ? ` (${h.lastError})` : ''}; paused before the next action, it goes on when Redis is back`;
  }

  private watchHealth(): void {
    const client = new Redis(this.options.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 1_000, retryStrategy: () => 250 });
    client.on('error', () => undefined);
    const h = { client, lastOk: Date.now(), lastError: '', timer: setInterval(() => {
      void withTimeout(client.ping(), 1_000, 'PING').then(
        () => (h.lastOk = Date.now()),
        (e: Error) => (h.lastError = e.message),
      );
    }, 250) };
    this.health = h;
  }

  async start(handler: (job: ExecutionJob, ctx: JobContext) => Promise<JobResult>, options: { concurrency: number; name: string }): Promise<void> {
    const lockMs = this.options.lockSeconds * 1000;
    this.worker = new Worker(
      EXECUTION_QUEUE,
      async (job: Job) => {
        const controller = new AbortController();
        this.running.add(controller);
        try {
          return await handler(job.data as ExecutionJob, {
            signal: controller.signal,
            progress: (event) => void job.updateProgress(event as object).catch(() => undefined),
          });
        } finally {
          this.running.delete(controller);
        }
      },
      {
        connection: connection(this.options.url),
        prefix: PREFIX,
        concurrency: options.concurrency,
        name: options.name,
        lockDuration: lockMs,
        stalledInterval: lockMs,
        // A job whose worker died is handed on, again and again: the execution decides what is safe.
        maxStalledCount: 1000,
        autorun: false,
      },
    );
    this.worker.on('error', () => undefined);
    await withTimeout(this.worker.waitUntilReady(), CONNECT_WAIT_MS, 'Redis');
    this.watchHealth();
    void this.worker.run();
  }

  async close(): Promise<void> {
    for (const c of this.running) c.abort(new Error('SIGTERM'));
    if (this.health) {
      clearInterval(this.health.timer);
      this.health.client.disconnect();
    }
    await this.worker?.close();
  }
}

/** The launcher of tick, trigger and serve in queue mode: each run is a job for a worker. */
export class QueueLauncher implements Launcher {
  readonly queued = true;
  /** `command`: who launches (tick, serve, trigger), recorded in continuation jobs. */
  constructor(
    private readonly url: string,
    private readonly command = 'trigger',
  ) {}

  async unavailable(): Promise<string | undefined> {
    try {
      await probe(this.url);
      return undefined;
    } catch (e) {
      return `the queue (Redis) does not answer (${(e as Error).message})`;
    }
  }

  async launch(executionId: string, options: { continues?: boolean } = {}): Promise<{ ok: boolean; message?: string }> {
    let q: BullmqExecutionQueue | undefined;
    try {
      // One connection per launch: tick and trigger exit right after, serve launches seldom.
      q = await BullmqExecutionQueue.open(this.url);
      // A new run is one job per execution (run-<id>: queued twice, taken once); an execution
      // driven before already has that job, so its continuation is a job of its own.
      const jobId = await q.enqueue(options.continues ? { kind: 'resume', executionId, command: this.command } : { kind: 'run', executionId, command: 'trigger' });
      return { ok: true, message: `queued (job ${jobId})` };
    } catch (e) {
      return { ok: false, message: `cannot queue it: ${(e as Error).message}` };
    } finally {
      await q?.close();
    }
  }
}

/** A name for this worker in `cortex workers`: host and pid, the contractors it serves. */
export function workerName(role: string): string {
  return `cortex-worker:${hostname()}:${process.pid}:${role}`;
}
