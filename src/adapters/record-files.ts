import { createRequire } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DefinitionInvalidError } from '../errors.js';
import { layout } from '../layout.js';
import { applyJournalEntry } from '../model/journal.js';
import { parseLedger } from '../model/ledger-line.js';
import type { ExecutionRecord, ExecutionSummary } from '../model/records.js';

// Read side of the execution records, kept free of heavy imports: `cortex status` loads only
// this. Synchronous reads: many small files are read faster without thread-pool round trips.

const ACTIVE_FILE = /^workflow-.+\.json$/;

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** Parses a JSON state file; undefined when it does not exist. */
export function readJsonFile<T>(path: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  return parseState<T>(path, text);
}

function parseState<T>(path: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new DefinitionInvalidError([{ file: path, message: `not valid JSON: ${(error as Error).message}` }], {
      code: 'CORTEX_STATE_INVALID',
      hint: 'cortex writes this file atomically; it was probably edited by hand',
    });
  }
}

const requireBuiltin = createRequire(import.meta.url);

/**
 * The SHA-256 (hex) of a record file's bytes: what line 1 of its journal names. node:crypto is
 * loaded on the first digest: `cortex status` only needs one when a run has a journal.
 */
export function recordDigest(bytes: Buffer): string {
  const { createHash } = requireBuiltin('node:crypto') as typeof import('node:crypto');
  return createHash('sha256').update(bytes).digest('hex');
}

/** Line 1 of the journal that continues a record file with this digest. */
export function journalBaseLine(digest: string): string {
  return `${JSON.stringify({ base: digest })}\n`;
}

/**
 * A record file's record with its journal applied: the journal's lines, in order, when its line 1
 * names the SHA-256 of exactly these bytes. A journal naming other bytes is stale (the record was
 * rewritten after it: a kill between the record's rename and the journal's reset) and ignored; an
 * unreadable line ends the replay (a torn last line: a kill mid-append). `applied`: lines applied.
 */
export function mergeJournal(record: ExecutionRecord, bytes: Buffer, journal: string | undefined): { record: ExecutionRecord; applied: number; isStale?: true } {
  if (journal === undefined) return { record, applied: 0 };
  const lines = journal.split('\n');
  if (lines[0] !== journalBaseLine(recordDigest(bytes)).trimEnd()) return { record, applied: 0, isStale: true };
  let merged = record;
  let applied = 0;
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      break;
    }
    const next = applyJournalEntry(merged, value);
    if (!next) break;
    merged = next;
    applied++;
  }
  return { record: merged, applied };
}

/**
 * An execution record file merged with its journal (see mergeJournal; no journal: the file as it
 * is); undefined when the record file does not exist. Throws CORTEX_STATE_INVALID for a record
 * file that is not JSON.
 */
export function readRecordFile(path: string, journalPath?: string): { record: ExecutionRecord; applied: number } | undefined {
  for (let attempt = 1; ; attempt++) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    const record = parseState<ExecutionRecord>(path, bytes.toString('utf8'));
    if (journalPath === undefined) return { record, applied: 0 };
    let journal: string | undefined;
    try {
      journal = readFileSync(journalPath, 'utf8');
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const merged = mergeJournal(record, bytes, journal);
    // A stale journal may be the new one of a record rewritten between the two reads (the file
    // read is the one before): read both again, so a live reader never sees a step go back.
    if (!merged.isStale || attempt === READ_ATTEMPTS) return { record: merged.record, applied: merged.applied };
  }
}

/** Reads of a record and its journal when they do not match (a rewrite in between); a crash leaves them so for good. */
const READ_ATTEMPTS = 3;

/** The record of an execution in active/, with its journal applied (undefined when there is none). */
export function readActiveRecord(root: string, executionId: string): { record: ExecutionRecord; applied: number } | undefined {
  const paths = layout(root);
  return readRecordFile(paths.activeRecord(executionId), paths.journal(executionId));
}

/** The ids of the records in the root's active/ directory, from their file names (sorted: oldest first). */
export function listActiveIds(root: string): string[] {
  let names: string[];
  try {
    names = readdirSync(layout(root).active);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  return names.filter((n) => ACTIVE_FILE.test(n)).map((n) => n.slice('workflow-'.length, -'.json'.length)).sort();
}

/**
 * Every record in the root's active/ directory (each with its journal applied), oldest first;
 * unreadable files go to onError. Never reads history/.
 */
export function listActiveRecords(root: string, onError?: (file: string, error: Error) => void): ExecutionRecord[] {
  const activeDir = layout(root).active;
  let names: string[];
  try {
    names = readdirSync(activeDir);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const records: ExecutionRecord[] = [];
  // Temp files start with "." and never match; names sort by start time (execution ids do).
  for (const name of names.filter((n) => ACTIVE_FILE.test(n)).sort()) {
    const file = join(activeDir, name);
    try {
      const found = readActiveRecord(root, name.slice('workflow-'.length, -'.json'.length));
      // Undefined: archived between readdir and read.
      if (found !== undefined) records.push(found.record);
    } catch (error) {
      onError?.(file, error instanceof Error ? error : new Error(String(error)));
    }
  }
  return records;
}

/** The metrics ledger's summaries (parseLedger: a torn or damaged line is skipped); a missing file is empty. */
export function readLedgerFile(path: string): ExecutionSummary[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  return parseLedger(text).summaries;
}
