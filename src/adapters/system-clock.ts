import type { Clock } from '../ports/clock.js';

/** The real clock. Timers stay referenced: a pending sleep keeps the process alive on purpose. */
export class SystemClock implements Clock {
  now(): Date {
    return new Date(Date.now());
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.timer(ms, signal);
  }

  timer(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/**
 * The lab's clock: the same time, but cortex's own waits (retry back-off, polling, `wait`) are
 * `scale` times as long, so a rehearsal does not sit through minutes of back-off. Deadlines
 * (action timeouts) stay real.
 */
export class ScaledClock implements Clock {
  constructor(
    private readonly inner: Clock,
    readonly scale: number,
  ) {}

  now(): Date {
    return this.inner.now();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.inner.sleep(ms * this.scale, signal);
  }

  timer(ms: number, signal?: AbortSignal): Promise<void> {
    return this.inner.timer(ms, signal);
  }
}
