/** Every timestamp, timeout and backoff goes through this, so tests can move time by hand. */
export interface Clock {
  now(): Date;
  /** Resolves after ms, or rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}
