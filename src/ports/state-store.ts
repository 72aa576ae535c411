import type { ActionPosition } from '../model/journal.js';
import type { ExecutionRecord, ExecutionSummary, HandoffRecord } from '../model/records.js';

/**
 * Durable state under the coordination directory. Every write is atomic (temp file, fsync,
 * rename) or a whole fsynced line appended, and passes through the secret masker, so a crash or a
 * reader never sees half a file and no secret value reaches the disk.
 */
export interface StateStore {
  readonly root: string;
  /**
   * Writes active/workflow-<id>.json whole, and starts the execution's journal afresh from it.
   * `journal: false`: the record of a new execution that another process or store drives (it
   * starts its own journal when it writes the record): no journal is started.
   */
  writeExecution(record: ExecutionRecord, options?: { journal?: boolean }): Promise<void>;
  /**
   * Records one step durably by a line appended (and fsynced) to the execution's journal: every
   * top-level field and the actions at `changed` (with their phases' heads). Only valid when
   * every other change since the last write is among them. Returns false, writing nothing,
   * when this store has no journal to continue (no writeExecution of its own since, or another
   * writer replaced it): the caller writes the whole record instead.
   *
   * `sync: false` (an action's end): the line is written (a kill of the process keeps it) but
   * not fsynced on its own. It is durable before any later durable write of this store is: the
   * execution's next line (fsynced), its next whole write, a handoff, the metrics, the audit
   * trail, archiveExecution (and another execution's line or record through the same store).
   * So what a power loss leaves is always a state the execution passed through: the line lost is
   * the state just before it was written, and nothing that came after it (the next tool's start
   * line) is durable without it.
   */
  journalExecution(record: ExecutionRecord, changed: readonly ActionPosition[], options?: { sync?: boolean }): Promise<boolean>;
  /** Reads an execution from active/ (with its journal applied) or history/ (undefined when neither has it). */
  readExecution(executionId: string): Promise<{ record: ExecutionRecord; location: 'active' | 'history' } | undefined>;
  /** Every record in active/, each with its journal applied (unreadable files are reported through onError, not thrown). */
  listActive(onError?: (file: string, error: Error) => void): Promise<ExecutionRecord[]>;
  /** The execution ids of the records in active/, by file name alone (nothing is read). */
  listActiveIds(): Promise<string[]>;
  /**
   * Both copies of an execution, where a crash of an older cortex left two. `activeLags`: the
   * active/ file is behind its journal (a crash): `active` is the merged record.
   */
  readBothCopies(executionId: string): Promise<{ active?: ExecutionRecord; history?: ExecutionRecord; activeLags?: boolean }>;
  /**
   * Moves an ended execution to history/: its final state is written to active/, then renamed
   * into history/, so at every instant exactly one file holds the record; its journal is removed.
   */
  archiveExecution(record: ExecutionRecord): Promise<void>;
  /** Moves an ended execution back to active/ (one rename) before it changes again (a rollback). */
  reopenExecution(executionId: string): Promise<void>;
  /** Removes a stale history/ copy of an execution whose active/ record is newer. */
  discardHistoryCopy(executionId: string): Promise<void>;
  writeHandoff(contractor: string, handoff: HandoffRecord): Promise<void>;
  readHandoff(contractor: string, handoffId: string): Promise<HandoffRecord | undefined>;
  /** Appends one line to masters/<contractor>/logs/contractor.log. */
  appendContractorLog(contractor: string, line: string): Promise<void>;
  /** Appends to debug.log; callers check isDebug first. */
  appendDebugLog(contractor: string, text: string): Promise<void>;
  /** True when masters/<contractor>/context/debug-flag.json says {"debug_mode": true}. */
  isDebug(contractor: string): Promise<boolean>;
  /**
   * Records a finished execution in the metrics ledger (once per execution id) and recomputes
   * workflow-stats.json and contractor-performance.json, under a lock shared by every process.
   * `warnings`: ledger lines that could not be read (kept aside, not counted), for the operator.
   */
  recordMetrics(summary: ExecutionSummary): Promise<{ warnings: string[] }>;
  /** Appends one line to audit/audit.jsonl (append-only, fsynced). */
  appendAudit(entry: AuditEntry): Promise<void>;
  /** True when `cortex cancel` asked the process running this execution to stop. */
  isCancelRequested(executionId: string): Promise<boolean>;
  /** Records (or clears, with false) a cancel request for an execution, with the reason to record (default: by an operator). */
  requestCancel(executionId: string, requested: boolean, reason?: string): Promise<void>;
  /** The reason a pending cancel request gives (undefined: none given, or no request). */
  cancelReason(executionId: string): Promise<string | undefined>;
}

/** One operator act in coordination/audit/audit.jsonl. */
export interface AuditEntry {
  time: string;
  user: string;
  host: string;
  command: string;
  execution_id?: string;
  workflow_id?: string;
  parameters?: Record<string, unknown>;
  comment?: string;
  result: string;
  details?: Record<string, unknown>;
}

/** A held lock; release is idempotent. */
export interface HeldLock {
  release(): Promise<void>;
  /** Rejects/aborts when the lock was lost (e.g. taken over as stale). */
  readonly lost: AbortSignal;
}

export interface LockOwner {
  execution_id?: string;
  pid: number;
  host: string;
  acquired_at: string;
  command?: string;
  /** Linux: start of `pid` in clock ticks after boot, and the boot id; filled in by the lock manager. */
  start_time?: number;
  boot_id?: string;
}

/** Cross-process locks that survive crashes (stale detection) and work on NFS. */
export interface LockManager {
  /** Takes `name` or throws StateConflictError naming the holder (after waiting up to waitMs). */
  acquire(name: string, owner: Omit<LockOwner, 'acquired_at'>, options?: { waitMs?: number }): Promise<HeldLock>;
  /** Who holds `name`, if anyone (best effort: a lock just taken may not name its owner yet). */
  holder(name: string): Promise<LockOwner | undefined>;
  /** Whether `name` is held now, named owner or not. */
  isLocked(name: string): Promise<boolean>;
  /** Removes a lock whose holder process is gone (same host, dead pid) or whose lock went stale. */
  breakIfStale(name: string): Promise<boolean>;
}
