import type { EngineDeps } from './deps.js';
import type { ActionRecord, ErrorInfo, ExecutionRecord } from '../model/records.js';

/** How long resume waits for the tools of an interrupted attempt to exit before it gives up. */
export const LEFTOVER_WAIT_MS = 10_000;
const POLL_MS = 250;
/** error.code of an execution paused because an earlier attempt's processes still run. */
export const PROCESSES_STILL_RUNNING = 'processes_still_running';

/** Cookies of the attempts whose end cortex did not see (it crashed or was stopped meanwhile). */
function openCookies(ar: ActionRecord): string[] {
  return ar.attempts.filter((a) => (a.status === 'running' || a.status === 'interrupted') && a.process_cookie).map((a) => a.process_cookie as string);
}

async function survivorsOf(deps: EngineDeps, cookies: string[]): Promise<number[]> {
  const pids = new Set<number>();
  for (const c of cookies) for (const p of await deps.runner.survivors(c)) pids.add(p);
  return [...pids].sort((a, b) => a - b);
}

/**
 * Before an action found running/interrupted runs again: waits up to LEFTOVER_WAIT_MS for the
 * processes its earlier attempts started to exit (after cortex was killed they run on). Returns
 * the stop to make when some still run (their pids named), 'aborted', or undefined to go on.
 */
export async function checkLeftovers(
  deps: EngineDeps,
  ar: ActionRecord,
  executionId: string,
  signal: AbortSignal,
): Promise<{ kind: 'paused'; reason: string; error: ErrorInfo } | 'aborted' | undefined> {
  const cookies = openCookies(ar);
  if (!cookies.length) return undefined;
  const deadline = deps.clock.now().getTime() + LEFTOVER_WAIT_MS;
  let pids = await survivorsOf(deps, cookies);
  if (pids.length) {
    deps.emit({ kind: 'warning', message: `action "${ar.action_id}": waiting up to ${LEFTOVER_WAIT_MS / 1000} s for processes its interrupted attempt started to exit (pids ${pids.join(', ')})` });
  }
  while (pids.length && deps.clock.now().getTime() < deadline) {
    try {
      await deps.clock.sleep(POLL_MS, signal);
    } catch {
      return 'aborted';
    }
    pids = await survivorsOf(deps, cookies);
  }
  if (!pids.length) return undefined;
  const message =
    `action "${ar.action_id}" (${ar.action}) was running when the execution stopped, and processes it started are still running (pids ${pids.join(', ')}): ` +
    `running it again now could do its work twice. Wait for them to end, or stop them (kill ${pids.join(' ')}), then cortex resume ${executionId}`;
  return { kind: 'paused', reason: message, error: { code: PROCESSES_STILL_RUNNING, message, retryable: true } };
}

/** True when the execution's current pause is the one checkLeftovers asked for (resume exits 3 then). */
export function isPausedForLeftovers(rec: ExecutionRecord): boolean {
  return rec.status === 'paused' && rec.error?.code === PROCESSES_STILL_RUNNING && rec.status_reason === rec.error.message;
}

/** Stops what the unfinished attempts of an execution's actions left running (cancel). Returns the pids signalled. */
export async function stopLeftovers(deps: EngineDeps, rec: ExecutionRecord): Promise<number[]> {
  const stopped: number[] = [];
  for (const phase of rec.phases) {
    for (const ar of phase.actions) {
      for (const cookie of openCookies(ar)) stopped.push(...(await deps.runner.kill(cookie)));
    }
  }
  if (stopped.length) deps.emit({ kind: 'warning', message: `stopped ${stopped.length} process(es) an interrupted action left running (pids ${stopped.join(', ')})` });
  return stopped;
}
