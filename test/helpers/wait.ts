/**
 * The one way tests wait for something another process (or timer) does: poll a condition until it
 * holds, or fail with a message naming what was awaited. No fixed sleeps to "let things settle",
 * and no poll that runs out of time and carries on as if it had seen the condition.
 *
 * The timeout is a bound against hanging on a noisy shared machine, not a performance assertion:
 * keep it generous.
 */
export interface WaitOptions {
  /** What is awaited, for the failure message: "the run to end". */
  what: string;
  /** Give up after this long; default 10 s. */
  timeoutMs?: number;
  /** Poll interval; default 50 ms. */
  intervalMs?: number;
  /** The state seen last, appended to the failure message. */
  detail?: () => string | Promise<string>;
}

type Falsy = undefined | null | false | 0 | '';

/** Resolves with the condition's first truthy value; rejects naming `what` after `timeoutMs`. */
export async function waitFor<T>(condition: () => T | Promise<T>, options: WaitOptions): Promise<Exclude<T, Falsy>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as Exclude<T, Falsy>;
    if (Date.now() > deadline) {
      const detail = options.detail ? `; last seen: ${await options.detail()}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what}${detail}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}
