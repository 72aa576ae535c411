/** Every timestamp, timeout and backoff goes through this, so tests can move time by hand. */
export interface Clock {
  now(): Date;
  /**
   * A wait cortex chooses (retry back-off, polling, the `wait` action). Resolves after ms, or
   * rejects with the signal's reason when aborted. The lab's clock shortens these.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** How much shorter sleep() waits than asked (the lab's clock: 0.01); 1 when absent. */
  readonly scale?: number;
  /**
   * A deadline for work outside cortex (an action's timeout): resolves after ms of real time,
   * never shortened; rejects with the signal's reason when aborted (the work ended first).
   */
  timer(ms: number, signal?: AbortSignal): Promise<void>;
}
