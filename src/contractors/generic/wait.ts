import { ActionFailedError } from '../../errors.js';
import type { ActionImpl } from '../action-impl.js';

export const waitAction: ActionImpl = {
  plan(params) {
    const note = params.until !== undefined ? `until ${String(params.until)} (every ${String(params.poll_seconds ?? 10)}s, at most ${String(params.timeout_seconds ?? 600)}s)` : `${String(params.seconds)}s`;
    return [{ kind: 'wait', note: `wait ${note}` }];
  },
  async run(rt) {
    const p = rt.params as { seconds?: number; until?: string; poll_seconds?: number; timeout_seconds?: number };
    const start = rt.now().getTime();
    const waited = () => Math.round((rt.now().getTime() - start) / 100) / 10;
    if (p.until === undefined) {
      await rt.sleep((p.seconds ?? 0) * 1000);
      return { waited_seconds: waited() };
    }
    const limitMs = (p.timeout_seconds ?? 600) * 1000;
    for (;;) {
      if (rt.evaluateCondition(p.until)) return { waited_seconds: waited() };
      if (rt.now().getTime() - start >= limitMs) {
        throw new ActionFailedError(`condition still false after ${p.timeout_seconds ?? 600}s: ${p.until}`, { errorCode: 'wait_timeout', retryable: false });
      }
      await rt.sleep((p.poll_seconds ?? 10) * 1000);
    }
  },
};
