import type { EngineEvent } from '../../engine/events.js';
import type { Output } from '../output.js';

type Spinner = { text: string; start(text?: string): Spinner; stopAndPersist(o: { symbol: string; text: string }): void; stop(): void };

/** An action that is running: its spinner (terminal) or its heartbeat (pipe). */
interface Running {
  /** The spinner's text without the elapsed time. */
  text: string;
  startedAt: number;
  /** The plan step running now. */
  step?: string;
  spinner?: Spinner;
}

export interface ProgressOptions {
  /** Under a pipe, a line per running action this often (default 30 s). */
  heartbeatMs?: number;
  /** On a terminal, the spinners' elapsed time is refreshed this often (default 1 s). */
  tickMs?: number;
}

function secs(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

function clock(): string {
  return new Date().toISOString().slice(11, 19);
}

/** What the first line says when an operator command continues an execution. */
const VERBS: Record<string, string> = { resume: 'resuming', approve: 'approved, continuing', reject: 'rejected, ending', rollback: 'rolling back', cancel: 'cancelling' };

/**
 * Turns engine events into terminal output: an ora spinner per action on a terminal, plain
 * timestamped lines otherwise (cron, CI, pipes). Under --json only warnings, on stderr (the result
 * is printed at the end); warnings are shown without --verbose. A spinner shows its action's
 * elapsed time; under a pipe a running action prints a heartbeat line every 30 s (cron and CI
 * logs show it is alive). The steps of a remediation plan
 * are lines of their own. Returns the emit function and a stop() for the end of the command.
 */
export async function createProgress(out: Output, options: ProgressOptions = {}): Promise<{ emit: (e: EngineEvent) => void; stop: () => void }> {
  // Under --json stdout holds the result alone; a warning (a log or the audit trail that could not
  // be written, processes an interrupted action left) still reaches the operator, on stderr.
  if (out.json) return { emit: (e) => (e.kind === 'warning' ? out.err(`warning: ${e.message}`) : undefined), stop: () => undefined };
  const s = out.style;
  let oraFactory: ((text: string) => Spinner) | undefined;
  let keepWidth: (() => void) | undefined;
  // A terminal that reports no width (0 columns: `script` when its own input is not a terminal, a
  // pty opened without a size) gets plain lines: it is a capture, not a person watching.
  if (out.isTTY && (out.stdout.columns ?? 0) > 0) {
    const { default: ora } = await import('ora');
    // A terminal resized to 0 columns while spinners run: ora divides by `columns ?? 80`, and
    // its clear() then looped forever at 100% CPU writing erase sequences (ora 9, a known bug of
    // the spinner libraries). Node sets `columns` before it emits 'resize'; this puts 80 back
    // before ora's next frame. ora gets process.stdout itself: it hooks the writes of its stream,
    // stdout and stderr as a set, and another object for stdout left a hook per spinner behind.
    keepWidth = () => {
      if (!out.stdout.columns) out.stdout.columns = 80;
    };
    out.stdout.on('resize', keepWidth);
    // discardStdin: false. ora's discarder puts the terminal in raw mode (no ISIG), so Ctrl-C is no
    // longer SIGINT, and the byte it should forward is never read (stdin is not made to flow).
    // Without it the terminal stays as the shell left it: Ctrl-C works, and a kill -9 leaves it sane.
    // Colour only as out.color says (NO_COLOR, --no-color, TERM=dumb): the frame and the end symbols
    // (ora's own symbols colour themselves whatever we say).
    oraFactory = (text) => ora({ text, stream: out.stdout, isEnabled: true, color: out.color ? 'cyan' : false, discardStdin: false }) as unknown as Spinner;
  }
  const symbol = { ok: s.green('✔'), fail: s.red('✖'), warn: s.yellow('⚠') };
  const running = new Map<string, Running>();
  const line = (text: string) => out.line(oraFactory ? text : `${clock()} ${text}`);
  const since = (r: Running) => secs(Date.now() - r.startedAt);
  const spinnerText = (r: Running) => `${r.text}${r.step ? s.dim(` step ${r.step}`) : ''} ${s.dim(`(${since(r)})`)}`;
  // One timer for all: spinners' elapsed time on a terminal, heartbeats under a pipe. Unreferenced:
  // it never keeps cortex alive.
  let timer: NodeJS.Timeout | undefined;
  const onTimer = () => {
    if (out.isStdoutGone) return stop();
    for (const [id, r] of running) {
      if (r.spinner) r.spinner.text = spinnerText(r);
      else line(`  ...   ${id} still running (${since(r)})${r.step ? `, step ${r.step}` : ''}`);
    }
  };
  const ensureTimer = () => {
    if (timer) return;
    timer = setInterval(onTimer, oraFactory ? (options.tickMs ?? 1000) : (options.heartbeatMs ?? 30_000));
    timer.unref();
  };
  const end = (id: string): Running | undefined => {
    const r = running.get(id);
    running.delete(id);
    if (running.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
    return r;
  };
  const stop = () => {
    for (const r of running.values()) r.spinner?.stop();
    running.clear();
    if (timer) clearInterval(timer);
    timer = undefined;
    if (keepWidth) out.stdout.off('resize', keepWidth);
  };
  const emit = (e: EngineEvent): void => {
    // The terminal was closed or the pipe's reader left: the run goes on, unseen.
    if (out.isStdoutGone) return stop();
    switch (e.kind) {
      case 'execution-start':
        line(`${s.bold(e.resumed ? (VERBS[e.command ?? 'resume'] ?? 'resuming') : 'starting')} ${e.executionId}`);
        break;
      case 'phase-start':
        line(`${s.bold('phase')} ${e.phaseId}${e.phaseName ? ` (${e.phaseName})` : ''} [${e.contractor}]`);
        break;
      case 'phase-skip':
        line(`${s.dim('skip')}  phase ${e.phaseId}: ${e.reason}`);
        break;
      case 'approval-wait':
        line(`${s.yellow('wait')}  ${e.actionId ? `action ${e.actionId} needs a person` : `phase ${e.phaseId} needs approval`}${e.role ? ` (${e.role})` : ''}${e.expiresAt ? `, expires ${e.expiresAt}` : ''}`);
        break;
      case 'action-start': {
        const text = `${e.actionId} ${s.dim(e.action)}${e.attempt > 1 ? s.dim(` attempt ${e.attempt}${e.fallback ? ' (fallback)' : ''}`) : ''}`;
        end(e.actionId)?.spinner?.stop();
        const r: Running = { text, startedAt: Date.now() };
        if (oraFactory) r.spinner = oraFactory(spinnerText(r)).start();
        else line(`  run   ${text}`);
        running.set(e.actionId, r);
        ensureTimer();
        break;
      }
      case 'action-retry': {
        const wait = `${secs(e.delayMs)}${e.nominalDelayMs !== undefined ? s.dim(` (lab; ${secs(e.nominalDelayMs)} outside it)`) : ''}`;
        const r = running.get(e.actionId);
        if (!oraFactory) line(`  retry ${e.actionId} in ${wait}: ${e.error}`);
        else if (r?.spinner) {
          r.text = `${e.actionId} retrying in ${wait}: ${e.error}`;
          r.spinner.text = spinnerText(r);
        }
        break;
      }
      case 'action-end': {
        const text = `${e.actionId} ${s.dim(e.action)} ${e.status} in ${secs(e.durationMs)}${e.attempts > 1 ? ` after ${e.attempts} attempts` : ''}${e.error ? `: ${e.error}` : ''}${e.onError && e.status !== 'completed' ? s.dim(` (on_error ${e.onError})`) : ''}`;
        const sp = end(e.actionId)?.spinner;
        if (sp) {
          if (e.status === 'completed') sp.stopAndPersist({ symbol: symbol.ok, text });
          else if (e.status === 'skipped' || e.onError === 'alert_only' || e.onError === 'continue_phase') sp.stopAndPersist({ symbol: symbol.warn, text });
          else sp.stopAndPersist({ symbol: symbol.fail, text });
        } else line(`  ${e.status === 'completed' ? s.green('ok   ') : s.red('fail ')} ${text}`);
        break;
      }
      case 'step-start': {
        const r = running.get(e.actionId);
        const what = `${e.stepId} ${s.dim(`${e.contractor.replace(/-contractor$/, '')}/${e.action}`)}`;
        if (r) r.step = e.stepId;
        if (r?.spinner) r.spinner.text = spinnerText(r);
        else line(`        step ${what}`);
        break;
      }
      case 'step-end': {
        const r = running.get(e.actionId);
        if (r) delete r.step;
        const text = `step ${e.stepId} ${s.dim(`${e.contractor.replace(/-contractor$/, '')}/${e.action}`)} ${e.status} in ${secs(e.durationMs)}${e.error ? `: ${e.error}` : ''}`;
        if (r?.spinner) {
          // The step's line stays above the spinner, which goes on for the plan.
          r.spinner.stopAndPersist({ symbol: `   ${e.status === 'completed' ? symbol.ok : symbol.fail}`, text });
          r.spinner.start(spinnerText(r));
        } else line(`      ${e.status === 'completed' ? s.green('ok   ') : s.red('fail ')} ${text}`);
        break;
      }
      case 'handoff':
        line(`${s.cyan('handoff')} ${e.from} -> ${e.to}${e.toPhase ? ` (phase ${e.toPhase})` : ''}: ${e.handoffId}`);
        break;
      case 'notification':
        line(`${s.yellow('alert')} ${e.message}`);
        break;
      case 'warning':
        line(`${s.yellow('warn')}  ${e.message}`);
        break;
      case 'rollback-start':
        line(`${s.yellow('rollback')} ${e.reason} (${e.steps} step(s))`);
        break;
      case 'rollback-step':
        line(`  ${e.status === 'completed' ? s.green('undone') : e.status === 'skipped' ? s.dim('skip  ') : s.red('failed')} ${e.stepId} ${s.dim(e.action)}${e.error ? `: ${e.error}` : ''}`);
        break;
      case 'execution-end':
        break;
      case 'command':
      case 'request':
        if (out.verbose) line(s.dim(`    ${e.kind === 'command' ? `$ ${e.argv.join(' ')}` : `${e.method} ${e.url}${e.status ? ` -> ${e.status}` : ''}`}`));
        break;
    }
  };
  return { emit, stop };
}
