import { Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { ActionOutcomeUnknownError, InterruptedError } from '../errors.js';
import type { ActionDispatcher, ActionJob, ActionJobResult, ActionProgress } from '../ports/action-queue.js';
import type { JobLab } from '../ports/queue.js';
import { actionQueueName, connection, CONNECT_WAIT_MS, PREFIX, withTimeout } from './bullmq-queue.js';


const POLL_MS = 100;
/** After asking a worker to stop an action, how long to wait for it to say it stopped. */
const STOP_WAIT_MS = 15_000;
const abortKey = (queue: string, jobId: string) => `${PREFIX}:${queue}:abort:${jobId}`;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** BullMQ's reason for a job whose worker stopped renewing its lock (maxStalledCount 0). */
const STALLED = /stalled/i;

/**
 * The execution worker's side of contractor queues: each attempt is a job; its end is read by
 * polling the job (a Redis restart only delays it). A job lost to a dead worker is run again only
 * when the action is idempotent; otherwise its outcome is unknown and the execution pauses.
 */
export class BullmqActionDispatcher implements ActionDispatcher {
  private readonly queues = new Map<string, Queue>();
  private redis: Redis | undefined;

  constructor(
    private readonly url: string,
    private readonly contractors: ReadonlySet<string>,
    /** The lab of the execution (absolute directory), which the contractor worker runs in too. */
    private readonly lab?: JobLab,
  ) {}

  handles(contractor: string): boolean {
    return this.contractors.has(contractor);
  }

  private client(): Redis {
    if (!this.redis) {
      this.redis = new Redis(this.url, { maxRetriesPerRequest: 1 });
      this.redis.on('error', () => undefined);
    }
    return this.redis;
  }

  private queue(contractor: string): Queue {
    let q = this.queues.get(contractor);
    if (!q) {
      q = new Queue(actionQueueName(contractor), { connection: connection(this.url), prefix: PREFIX });
      q.on('error', () => undefined);
      this.queues.set(contractor, q);
    }
    return q;
  }

  async run(job: ActionJob, options: { signal: AbortSignal; onProgress?: (p: ActionProgress) => Promise<void> }): Promise<ActionJobResult> {
    const q = this.queue(job.contractor);
    const data: ActionJob = { ...job, ...(this.lab ? { lab: this.lab } : {}) };
    for (let round = 1; ; round++) {
      const jobId = `${job.executionId}.${encodeURIComponent(job.actionId)}.${job.attempt}.${round}`;
      const added = await q.add(job.action, data, { jobId, attempts: 1, removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } });
      const ended = await this.wait(q, added.id as string, options);
      if (ended.result) return ended.result;
      // Its worker died holding it (or Redis lost the job): run again only what is safe to repeat.
      if (!job.idempotent) throw new ActionOutcomeUnknownError(`the ${job.contractor} worker holding ${job.actionId} stopped answering (${ended.lost})`);
    }
  }

  private async wait(q: Queue, jobId: string, options: { signal: AbortSignal; onProgress?: (p: ActionProgress) => Promise<void> }): Promise<{ result?: ActionJobResult; lost?: string }> {
    let seenProgress = '';
    let stopAsked = 0;
    for (;;) {
      if (options.signal.aborted && !stopAsked) {
        stopAsked = Date.now();
        await this.client().set(abortKey(q.name, jobId), '1', 'EX', 3600).catch(() => undefined);
      }
      if (stopAsked && Date.now() - stopAsked > STOP_WAIT_MS) throw new InterruptedError('interrupted');
      try {
        // The state first, then the job: a job read while active has no return value yet.
        const state = await q.getJobState(jobId);
        if (state === 'unknown') return { lost: 'the job is no longer in the queue' };
        const j = await Job.fromId(q, jobId);
        if (state === 'completed' && j?.returnvalue) return { result: j.returnvalue as ActionJobResult };
        if (state === 'failed' && j) {
          if (STALLED.test(j.failedReason ?? '')) return { lost: j.failedReason };
          throw new Error(`action job ${jobId} failed on its worker: ${j.failedReason}`);
        }
        const progress = j?.progress && typeof j.progress === 'object' ? JSON.stringify(j.progress) : '';
        if (progress && progress !== seenProgress) {
          seenProgress = progress;
          await options.onProgress?.(j?.progress as ActionProgress);
        }
      } catch (e) {
        if (e instanceof Error && /failed on its worker/.test(e.message)) throw e;
        // Redis unreachable for now: the job is kept there; keep waiting.
      }
      await sleep(POLL_MS);
    }
  }

  async close(): Promise<void> {
    this.redis?.disconnect();
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
  }
}

/**
 * The contractor worker's side: one BullMQ worker per contractor queue. A stalled job is never
 * handed to another worker (maxStalledCount 0): it fails as stalled and the dispatcher decides.
 * close() stops taking jobs and lets the actions in progress finish.
 */
export class BullmqActionConsumer {
  private readonly workers: Worker[] = [];
  private readonly redis: Redis;

  constructor(private readonly options: { url: string; lockSeconds: number }) {
    this.redis = new Redis(options.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    this.redis.on('error', () => undefined);
  }

  async start(
    contractors: string[],
    handler: (job: ActionJob, ctx: { signal: AbortSignal; progress: (p: ActionProgress) => Promise<void> }) => Promise<ActionJobResult>,
    options: { concurrency: number; name: string },
  ): Promise<void> {
    const lockMs = this.options.lockSeconds * 1000;
    for (const contractor of contractors) {
      const name = actionQueueName(contractor);
      const worker = new Worker(
        name,
        async (job: Job) => {
          const controller = new AbortController();
          // The execution was cancelled or its worker stopped: the dispatcher asks through a key.
          const watch = setInterval(() => {
            void this.redis.exists(abortKey(name, job.id as string)).then(
              (n: number) => n > 0 && controller.abort(new Error('stopped by the execution')),
              () => undefined,
            );
          }, 250);
          try {
            return await handler(job.data as ActionJob, { signal: controller.signal, progress: (p) => job.updateProgress(p as object).catch(() => undefined) });
          } finally {
            clearInterval(watch);
          }
        },
        { connection: connection(this.options.url), prefix: PREFIX, concurrency: options.concurrency, name: options.name, lockDuration: lockMs, stalledInterval: lockMs, maxStalledCount: 0, autorun: false },
      );
      worker.on('error', () => undefined);
      this.workers.push(worker);
      await withTimeout(worker.waitUntilReady(), CONNECT_WAIT_MS, 'Redis');
    }
    for (const w of this.workers) void w.run();
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.workers.map((w) => w.close()));
    this.redis.disconnect();
  }
}
