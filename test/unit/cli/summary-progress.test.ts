import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Output, Styler } from '../../../src/cli/output.js';
import { printSummary } from '../../../src/cli/render/summary.js';
import { createProgress } from '../../../src/cli/render/progress.js';
import type { ExecutionRecord } from '../../../src/model/records.js';

const PLAIN: Styler = { bold: (s) => s, dim: (s) => s, red: (s) => s, green: (s) => s, yellow: (s) => s, cyan: (s) => s };

/** A plain, non-terminal Output that keeps its lines. */
function capture(): { out: Output; lines: string[] } {
  const lines: string[] = [];
  const out = { json: false, color: false, isTTY: false, verbose: false, style: PLAIN, isStdoutGone: false, line: (t = '') => lines.push(t), data: () => undefined, err: () => undefined } as unknown as Output;
  return { out, lines };
}

function record(over: Partial<ExecutionRecord>): ExecutionRecord {
  return {
    execution_id: 'wf-20261125T120000Z-abcd',
    workflow_id: 'wf',
    status: 'completed',
    started_at: '2026-11-25T12:00:00.000Z',
    finished_at: '2026-11-25T12:01:00.000Z',
    duration_seconds: 60,
    phases: [],
    ...over,
  } as ExecutionRecord;
}

describe('end-of-run summary', () => {
  it('a paused execution suggests cortex resume, also when its reason names cortex rollback', () => {
    const { out, lines } = capture();
    const rec = record({ status: 'paused', finished_at: null, status_reason: 'a1 (execute_command) was stopped mid-run: check it before resuming; cortex rollback wf-20261125T120000Z-abcd undoes it' });
    printSummary(out, rec);
    expect(lines.join('\n')).toContain('cortex resume wf-20261125T120000Z-abcd');
  });

  it('a later rollback reports its own time, and the run\'s beside it', () => {
    const { out, lines } = capture();
    const rec = record({
      status: 'rolled_back',
      rollback: { status: 'completed', reason: 'requested by an operator', scope: 'workflow', started_at: '2026-11-25T13:00:00.000Z', finished_at: '2026-11-25T13:00:02.500Z', steps: [] },
    });
    printSummary(out, rec);
    expect(lines).toContain('rolled_back wf-20261125T120000Z-abcd: rollback in 2.5s (the run took 1m0s)');
  });

  it('a rollback within the run: the run\'s time, the rollback\'s in brackets', () => {
    const { out, lines } = capture();
    const rec = record({
      status: 'rolled_back',
      rollback: { status: 'completed', reason: 'a phase failed', scope: 'workflow', started_at: '2026-11-25T12:00:55.000Z', finished_at: '2026-11-25T12:01:00.000Z', steps: [] },
    });
    printSummary(out, rec);
    expect(lines).toContain('rolled_back wf-20261125T120000Z-abcd in 1m0s (rollback 5.0s)');
  });
});

describe('progress lines', () => {
  it('say what the operator command does, not "resuming" for each', async () => {
    const said: Record<string, string> = {};
    for (const command of ['resume', 'approve', 'reject', 'rollback', 'cancel']) {
      const { out, lines } = capture();
      const p = await createProgress(out);
      p.emit({ kind: 'execution-start', executionId: 'x', workflowId: 'wf', resumed: true, command });
      said[command] = (lines[0] ?? '').replace(/^\S+ /, '');
    }
    expect(said).toEqual({ resume: 'resuming x', approve: 'approved, continuing x', reject: 'rejected, ending x', rollback: 'rolling back x', cancel: 'cancelling x' });
  });

  it('a lab retry names the real wait and the nominal one', async () => {
    const { out, lines } = capture();
    const p = await createProgress(out);
    p.emit({ kind: 'action-retry', phaseId: 'p', actionId: 'a', attempt: 2, delayMs: 600, nominalDelayMs: 60_000, error: 'boom' });
    expect(lines[0]).toMatch(/retry a in 0\.6s \(lab; 60s outside it\): boom$/);
  });
});

describe('progress under a pipe: heartbeats and plan steps', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a running action prints a heartbeat line every 30 s with its elapsed time and step, and none once it ended', async () => {
    vi.useFakeTimers();
    const { out, lines } = capture();
    const p = await createProgress(out);
    p.emit({ kind: 'action-start', phaseId: 'p', actionId: 'plan', action: 'execute_remediation_plan', attempt: 1, fallback: false });
    vi.advanceTimersByTime(29_000);
    expect(lines.filter((l) => l.includes('still running'))).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(lines.at(-1)).toMatch(/ {2}\.\.\. {3}plan still running \(30s\)$/);
    p.emit({ kind: 'step-start', phaseId: 'p', actionId: 'plan', stepId: 'isolate', contractor: 'infrastructure-contractor', action: 'execute_command' });
    expect(lines.at(-1)).toMatch(/step isolate infrastructure\/execute_command$/);
    vi.advanceTimersByTime(30_000);
    expect(lines.at(-1)).toMatch(/plan still running \(60s\), step isolate$/);
    p.emit({ kind: 'step-end', phaseId: 'p', actionId: 'plan', stepId: 'isolate', contractor: 'infrastructure-contractor', action: 'execute_command', status: 'completed', durationMs: 31_000 });
    expect(lines.at(-1)).toMatch(/ok {4}step isolate infrastructure\/execute_command completed in 31s$/);
    p.emit({ kind: 'action-end', phaseId: 'p', actionId: 'plan', action: 'execute_remediation_plan', status: 'completed', durationMs: 61_000, attempts: 1 });
    const count = lines.length;
    vi.advanceTimersByTime(120_000);
    expect(lines).toHaveLength(count);
    p.stop();
  });

  it('stop() ends the heartbeats of actions still running (an interrupted run)', async () => {
    vi.useFakeTimers();
    const { out, lines } = capture();
    const p = await createProgress(out, { heartbeatMs: 5_000 });
    p.emit({ kind: 'action-start', phaseId: 'p', actionId: 'a', action: 'execute_command', attempt: 1, fallback: false });
    vi.advanceTimersByTime(5_000);
    expect(lines.at(-1)).toMatch(/a still running \(5\.0s\)$/);
    p.stop();
    const count = lines.length;
    vi.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(count);
  });
});
