import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DefinitionInvalidError } from '../errors.js';
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
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new DefinitionInvalidError([{ file: path, message: `not valid JSON: ${(error as Error).message}` }], {
      code: 'CORTEX_STATE_INVALID',
      hint: 'cortex writes this file atomically; it was probably edited by hand',
    });
  }
}

/** Every record in an active/ directory, oldest first; unreadable files go to onError. Never reads history/. */
export function listActiveRecords(activeDir: string, onError?: (file: string, error: Error) => void): ExecutionRecord[] {
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
      const record = readJsonFile<ExecutionRecord>(file);
      // Undefined: archived between readdir and read.
      if (record !== undefined) records.push(record);
    } catch (error) {
      onError?.(file, error instanceof Error ? error : new Error(String(error)));
    }
  }
  return records;
}

/** The metrics ledger (one ExecutionSummary per line); a torn line is skipped, a missing file is empty. */
export function readLedgerFile(path: string): ExecutionSummary[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const out: ExecutionSummary[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const v = JSON.parse(line) as ExecutionSummary;
      if (v && typeof v === 'object' && typeof v.execution_id === 'string') out.push(v);
    } catch {
      // a torn line from a crashed writer; that execution appends a whole line when it retries
    }
  }
  return out;
}
