import { hostname } from 'node:os';
import { readFile, readdir, rename, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ExecutionRecord, ExecutionSummary, HandoffRecord } from '../model/records.js';
import { journalEntry, type ActionPosition } from '../model/journal.js';
import { parseLedger } from '../model/ledger-line.js';
import type { Masker } from '../model/masker.js';
import { StateConflictError, UsageError, isEnvironmentErrno } from '../errors.js';
import { layout, type Layout } from '../layout.js';
import type { Clock } from '../ports/clock.js';
import type { AuditEntry, LockManager, StateStore } from '../ports/state-store.js';
import { appendLine, mkdirPrivate, syncFile, writeFileAtomic, writeLineAfterHeader } from './atomic-file.js';
import { keepDamagedLines } from './damaged-copy.js';
import { journalBaseLine, listActiveIds, listActiveRecords, readJsonFile, readRecordFile, recordDigest } from './record-files.js';

/** Ids that become file names: no separators, no dot-dot, nothing hidden. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
const METRICS_LOCK = 'metrics';
const METRICS_LOCK_WAIT_MS = 30_000;

function checkId(kind: string, id: string): string {
  if (typeof id !== 'string' || !SAFE_ID.test(id) || id.includes('..')) {
    throw new UsageError(`invalid ${kind} "${String(id)}": use letters, digits, ".", "_" and "-" only`);
  }
  return id;
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** The ledger's lines (model/ledger-line.ts), for the readers that import it from here. */
export { parseLedger };

/** What an operator is told about unreadable ledger lines. */
export function ledgerWarning(ledger: string, count: number, keptAt: string): string {
  return `${count} line(s) of ${ledger} cannot be read and are not counted in the metrics (kept in ${keptAt}); remove them from the ledger once looked at (a line cut by a crash is counted again when its execution completes)`;
}

/**
 * The coordination directory on disk. Every JSON file is masked and written atomically
 * (temp file, fsync, rename); logs are masked and appended one whole line per write.
 * Throws UsageError for path-like ids, DefinitionInvalidError (CORTEX_STATE_INVALID) for a
 * state file that is not JSON, StateConflictError when the metrics lock cannot be had.
 */
export class FsStateStore implements StateStore {
  private readonly paths: Layout;
  /** Per execution: line 1 of the journal this store started at its last writeExecution (what appends continue). */
  private readonly journalBases = new Map<string, string>();
  /**
   * Per execution: its journal when its last line was written without an fsync (journalExecution
   * with sync false). At most one such line per journal; every durable write of this store makes
   * them durable first (see journalExecution).
   */
  private readonly unsyncedJournals = new Map<string, { path: string }>();

  constructor(
    readonly root: string,
    private readonly masker: Masker,
    private readonly locks: LockManager,
    private readonly clock: Clock,
  ) {
    this.paths = layout(root);
  }

  async writeExecution(record: ExecutionRecord, options: { journal?: boolean } = {}): Promise<void> {
    const id = checkId('execution id', record.execution_id);
    const bytes = this.recordBytes(record);
    // No append may continue the old journal from here on, even when this write fails.
    this.journalBases.delete(id);
    // Its own unsynced line is superseded by this whole write (made durable below); others' go first.
    await this.syncJournals(id);
    // The folder is synced too: the journal's reset below must never be on disk without this
    // rename (a power cut would leave the old record with a journal that no longer continues it,
    // its fsynced lines gone).
    await writeFileAtomic(this.paths.activeRecord(id), bytes, 0o600, { root: this.root, durableDir: true });
    this.forgetUnsynced(id);
    // A new record another store drives: that store starts the journal (a file and an fsync
    // fewer for each run serve creates).
    if (options.journal === false) return;
    // A kill before this rename leaves the old journal, whose base no longer matches: ignored.
    const base = journalBaseLine(recordDigest(bytes));
    await writeFileAtomic(this.paths.journal(id), base, 0o600, { root: this.root });
    this.journalBases.set(id, base);
  }

  async journalExecution(record: ExecutionRecord, changed: readonly ActionPosition[], options: { sync?: boolean } = {}): Promise<boolean> {
    const id = checkId('execution id', record.execution_id);
    const base = this.journalBases.get(id);
    if (base === undefined) return false;
    const line = this.masker.mask(JSON.stringify(journalEntry(record, changed)));
    const path = this.paths.journal(id);
    // At most one line of a journal waits for its fsync: a second one is fsynced with it, so a
    // power loss can only lose the journal's last line (a torn last line is ignored on reading).
    const sync = options.sync !== false || this.unsyncedJournals.has(id);
    // Every line written before a durable one is durable before it (this journal's own earlier
    // line: by the fsync of the same file below).
    if (sync) await this.syncJournals(id);
    if (await writeLineAfterHeader(path, base, line, { sync, root: this.root })) {
      if (sync) this.forgetUnsynced(id);
      else this.unsyncedJournals.set(id, { path });
      return true;
    }
    // Replaced by another writer: only a whole record write is safe now (it supersedes the line).
    this.journalBases.delete(id);
    this.forgetUnsynced(id);
    return false;
  }

  /** Makes every journal line written without an fsync durable (but `except`'s: its caller covers it). */
  private async syncJournals(except?: string): Promise<void> {
    if (this.unsyncedJournals.size === 0) return;
    for (const [id, entry] of [...this.unsyncedJournals]) {
      if (id === except) continue;
      await syncFile(entry.path);
      // Unless a newer unsynced line came meanwhile (serve: writes of other runs interleave).
      if (this.unsyncedJournals.get(id) === entry) this.unsyncedJournals.delete(id);
    }
  }

  private forgetUnsynced(id: string): void {
    this.unsyncedJournals.delete(id);
  }

  async readExecution(executionId: string): Promise<{ record: ExecutionRecord; location: 'active' | 'history' } | undefined> {
    checkId('execution id', executionId);
    const active = readRecordFile(this.paths.activeRecord(executionId), this.paths.journal(executionId));
    if (active !== undefined) return { record: active.record, location: 'active' };
    const history = readRecordFile(this.paths.historyRecord(executionId));
    if (history !== undefined) return { record: history.record, location: 'history' };
    return undefined;
  }

  async listActive(onError?: (file: string, error: Error) => void): Promise<ExecutionRecord[]> {
    return listActiveRecords(this.root, onError);
  }

  async listActiveIds(): Promise<string[]> {
    return listActiveIds(this.root);
  }

  async readBothCopies(executionId: string): Promise<{ active?: ExecutionRecord; history?: ExecutionRecord; activeLags?: boolean }> {
    checkId('execution id', executionId);
    const active = readRecordFile(this.paths.activeRecord(executionId), this.paths.journal(executionId));
    const history = readRecordFile(this.paths.historyRecord(executionId));
    return {
      ...(active !== undefined ? { active: active.record } : {}),
      ...(history !== undefined ? { history: history.record } : {}),
      ...(active !== undefined && active.applied > 0 ? { activeLags: true } : {}),
    };
  }

  async archiveExecution(record: ExecutionRecord): Promise<void> {
    const id = checkId('execution id', record.execution_id);
    this.journalBases.delete(id);
    await this.syncJournals();
    // The final state goes to active/ first, then one rename moves it to history/: at every
    // instant (a kill included) exactly one of the two holds the record. The journal left
    // meanwhile names the bytes before: stale, ignored, then removed.
    await writeFileAtomic(this.paths.activeRecord(id), this.recordBytes(record), 0o600, { root: this.root });
    await mkdirPrivate(this.paths.history, { root: this.root });
    await rename(this.paths.activeRecord(id), this.paths.historyRecord(id));
    await unlink(this.paths.journal(id)).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
    await this.removeTempFiles(id);
  }

  private recordBytes(record: ExecutionRecord): Buffer {
    return Buffer.from(this.masker.mask(`${JSON.stringify(record, null, 2)}\n`), 'utf8');
  }

  async reopenExecution(executionId: string): Promise<void> {
    const id = checkId('execution id', executionId);
    await this.syncJournals();
    await mkdirPrivate(this.paths.active, { root: this.root });
    try {
      await rename(this.paths.historyRecord(id), this.paths.activeRecord(id));
    } catch (error) {
      // Already in active/ (reopened before): nothing to move.
      if (!isNotFound(error)) throw error;
    }
  }

  async discardHistoryCopy(executionId: string): Promise<void> {
    const id = checkId('execution id', executionId);
    await this.syncJournals();
    await unlink(this.paths.historyRecord(id)).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
  }

  /** A process killed in the middle of an atomic write leaves its temp file behind. */
  private async removeTempFiles(id: string): Promise<void> {
    for (const [dir, prefix] of [[this.paths.active, `.workflow-${id}.json.`], [this.paths.journals, `.workflow-${id}.journal.`]] as const) {
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (name.startsWith(prefix) && name.endsWith('.tmp')) await unlink(join(dir, name)).catch(() => undefined);
      }
    }
  }

  async writeHandoff(contractor: string, handoff: HandoffRecord): Promise<void> {
    const dir = this.master(contractor).handoffs;
    await this.writeJson(join(dir, `${checkId('handoff id', handoff.handoff_id)}.json`), handoff);
  }

  async readHandoff(contractor: string, handoffId: string): Promise<HandoffRecord | undefined> {
    return this.readJson<HandoffRecord>(join(this.master(contractor).handoffs, `${checkId('handoff id', handoffId)}.json`));
  }

  async appendContractorLog(contractor: string, line: string): Promise<void> {
    // Mask before flattening: a multi-line secret (a PEM key) only matches in its original form.
    const flat = this.masker.mask(line).replace(/\r?\n$/, '').replace(/\r?\n/g, '\\n');
    await appendLine(this.master(contractor).contractorLog, flat, { root: this.root });
  }

  async appendDebugLog(contractor: string, text: string): Promise<void> {
    await appendLine(this.master(contractor).debugLog, this.masker.mask(text), { root: this.root });
  }

  async isDebug(contractor: string): Promise<boolean> {
    try {
      const flag = JSON.parse(await readFile(this.master(contractor).debugFlag, 'utf8')) as { debug_mode?: unknown };
      return flag?.debug_mode === true;
    } catch {
      return false;
    }
  }

  async recordMetrics(summary: ExecutionSummary): Promise<{ warnings: string[] }> {
    checkId('execution id', summary.execution_id);
    await this.syncJournals();
    const lock = await this.locks.acquire(
      METRICS_LOCK,
      { execution_id: summary.execution_id, pid: process.pid, host: hostname(), command: 'record-metrics' },
      { waitMs: METRICS_LOCK_WAIT_MS },
    );
    try {
      // Loaded when needed, as metrics.js was: most commands never record metrics.
      const { MetricsLedger, indexText } = await import('./metrics-ledger.js');
      const ledger = new MetricsLedger(this.paths.ledger, this.paths.ledgerIndex, parseLedger);
      await ledger.load();
      if (!ledger.has(summary.execution_id)) {
        const line = this.masker.mask(JSON.stringify(summary));
        // A torn last line (a crash mid-append) must not swallow this one: start a new line.
        const text = ledger.endsWithNewline ? line : `\n${line}`;
        await appendLine(this.paths.ledger, text, { durable: true, root: this.root });
        await ledger.appended(JSON.parse(line) as ExecutionSummary, Buffer.from(`${text}\n`, 'utf8'));
      }
      // Recomputed even when already counted: repairs the files after a crash between the two steps.
      const { stats, performance, index, unreadable } = await ledger.result(this.clock.now());
      const checkLock = (): void => {
        if (lock.lost.aborted) {
          throw new StateConflictError('lost the metrics lock while recording metrics; the ledger is intact, run the command again', {
            cause: lock.lost.reason,
          });
        }
      };
      checkLock();
      // Derived from the ledger, which has this execution: a file that cannot be written (a folder
      // in its place, no permission) is the operator's to fix, not a failed run; the next run that
      // can rewrites it.
      const warnings: string[] = [];
      for (const [path, value] of [
        [this.paths.workflowStats, stats],
        [this.paths.contractorPerformance, performance],
      ] as const) {
        try {
          await this.writeJson(path, value);
        } catch (error) {
          if (!isEnvironmentErrno(error)) throw error;
          warnings.push(`cannot write ${path} (${(error as Error).message}); the ledger has this execution, and the next run rewrites the file once what is at that path is fixed`);
        }
      }
      // Last, and derived: a crash before this leaves an index the next run extends or rebuilds.
      checkLock();
      warnings.push(...(await this.writeLedgerIndex(index && indexText(index))));
      if (unreadable.length === 0) return { warnings };
      const kept = keepDamagedLines(this.paths.ledger, unreadable, { root: this.root });
      return { warnings: [...warnings, ledgerWarning(this.paths.ledger, unreadable.length, kept)] };
    } finally {
      await lock.release();
    }
  }

  /**
   * The ledger index, not fsynced (a lost or stale one is rebuilt), or removed when there is none
   * to keep or it would need masking (it holds nothing the ledger does not). A failure is a
   * warning, not an error: the metrics files are already written.
   */
  private async writeLedgerIndex(text: string | undefined): Promise<string[]> {
    // Under the metrics lock no other index write is under way: a temp file is a killed writer's.
    const prefix = `.${basename(this.paths.ledgerIndex)}.`;
    for (const name of await readdir(this.paths.metrics).catch(() => [] as string[])) {
      if (name.startsWith(prefix) && name.endsWith('.tmp')) await unlink(join(this.paths.metrics, name)).catch(() => undefined);
    }
    const keep = text !== undefined && this.masker.mask(text) === text;
    try {
      if (keep) {
        await writeFileAtomic(this.paths.ledgerIndex, text, 0o600, { root: this.root, fsync: false });
      } else {
        await unlink(this.paths.ledgerIndex).catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
        });
      }
      return [];
    } catch (error) {
      // Derived: the metrics files are written and right; without an index the next run reads the whole ledger.
      const reason = error instanceof Error ? error.message : String(error);
      return [`cannot ${keep ? 'write' : 'remove'} ${this.paths.ledgerIndex} (${reason}); the metrics are recorded (the index only saves reading the whole ledger): remove what is at that path`];
    }
  }

  private master(contractor: string): ReturnType<Layout['master']> {
    return this.paths.master(checkId('contractor', contractor));
  }

  private async writeJson(path: string, value: unknown): Promise<void> {
    await this.syncJournals();
    await writeFileAtomic(path, this.masker.mask(`${JSON.stringify(value, null, 2)}\n`), 0o600, { root: this.root });
  }

  /** Parsed JSON, or undefined when the file does not exist. */
  private async readJson<T>(path: string): Promise<T | undefined> {
    return readJsonFile<T>(path);
  }


  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.syncJournals();
    await appendLine(this.paths.audit, this.masker.mask(JSON.stringify(entry)), { durable: true, root: this.root });
  }

  private cancelMarker(executionId: string): string {
    return join(this.paths.state, 'cancel', checkId('execution id', executionId));
  }

  async isCancelRequested(executionId: string): Promise<boolean> {
    try {
      await readFile(this.cancelMarker(executionId), 'utf8');
      return true;
    } catch {
      return false;
    }
  }

  async cancelReason(executionId: string): Promise<string | undefined> {
    try {
      // Line 1: when it was asked; line 2, when given: the reason to record.
      return (await readFile(this.cancelMarker(executionId), 'utf8')).split('\n')[1]?.trim() || undefined;
    } catch {
      return undefined;
    }
  }

  async requestCancel(executionId: string, requested: boolean, reason?: string): Promise<void> {
    await this.syncJournals();
    if (requested) await writeFileAtomic(this.cancelMarker(executionId), `${new Date().toISOString()}\n${reason ? `${reason.replace(/\s+/g, ' ')}\n` : ''}`, 0o600, { root: this.root });
    else await unlink(this.cancelMarker(executionId)).catch(() => undefined);
  }

}
