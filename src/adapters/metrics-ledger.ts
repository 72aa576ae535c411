import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { ExecutionSummary } from '../model/records.js';
import { endedExecutions } from '../model/metrics.js';
import { METRICS_STATE_VERSION, MetricsState, type MetricsStateJson } from '../model/metrics-state.js';

/**
 * The metrics ledger as recordMetrics reads it: folded into a MetricsState, which
 * `metrics/.executions-index.json` keeps with the ledger offset it covers, so that a run parses
 * only the lines added since. The index is derived: whenever it does not match the ledger it is
 * rebuilt from the whole ledger, and when the ledger cannot be folded exactly (see
 * MetricsState.addRun) the metrics come from the reference computation over every line, as
 * before the index existed, and no index is kept.
 */

/** Bytes before the indexed offset whose hash must match: a ledger edited or replaced there is refolded. */
export const INDEX_TAIL_BYTES = 65_536;

export interface MetricsIndexFile {
  version: number;
  /** ctime_ns: the ledger's status-change time when the index was written (a same-size edit in place changes it). */
  ledger: { dev: string; ino: string; ctime_ns: string; offset: number; tail_sha256: string };
  /** The unreadable lines before offset, in ledger order (each run warns about them, as the full read did). */
  unreadable: string[];
  state: MetricsStateJson;
}

interface FileView {
  dev: string;
  ino: string;
  ctime: string;
  size: number;
  /** Bytes [start, size) of the ledger. */
  bytes: Buffer;
  start: number;
}

const EMPTY_VIEW: FileView = { dev: '', ino: '', ctime: '', size: 0, bytes: Buffer.alloc(0), start: 0 };

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Bytes [from(size), size) of a file, with its identity; an absent file is empty. */
async function readFileView(path: string, from: (size: number) => number): Promise<FileView> {
  let handle;
  try {
    // Non-blocking: a FIFO planted there must not hang the run (the append then refuses it).
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if (isNotFound(error)) return EMPTY_VIEW;
    throw error;
  }
  try {
    const st = await handle.stat({ bigint: true });
    if (!st.isFile()) return EMPTY_VIEW;
    const size = Number(st.size);
    const start = Math.max(0, Math.min(size, from(size)));
    const bytes = Buffer.alloc(size - start);
    let got = 0;
    while (got < bytes.length) {
      const { bytesRead } = await handle.read(bytes, got, bytes.length - got, start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return { dev: String(st.dev), ino: String(st.ino), ctime: String(st.ctimeNs), size: start + got, bytes: bytes.subarray(0, got), start };
  } finally {
    await handle.close();
  }
}

/** The readable summaries and the unreadable lines of a ledger text (parseLedger's rules). */
type Parse = (text: string) => { summaries: ExecutionSummary[]; unreadable: string[] };

/** What ends the index text: the sha256 of the text before it (with `}` for the comma), so that damage is noticed. */
const DIGEST_KEY = ',"sha256":"';
const DIGEST_SUFFIX_LENGTH = DIGEST_KEY.length + 64 + 2;

/**
 * The text of the index file: its JSON with a last member `sha256`, the digest of the JSON
 * without it. A damaged index that still parses (a count changed, a column cut) would otherwise
 * be extended run after run and the metrics files would stay wrong.
 */
export function indexText(index: MetricsIndexFile): string {
  const body = JSON.stringify(index);
  return `${body.slice(0, -1)}${DIGEST_KEY}${sha256(Buffer.from(body, 'utf8'))}"}`;
}

/** Whether the index bytes end with the digest of the rest (indexText). */
function hasValidDigest(bytes: Buffer): boolean {
  if (bytes.length <= DIGEST_SUFFIX_LENGTH) return false;
  const suffix = bytes.subarray(bytes.length - DIGEST_SUFFIX_LENGTH).toString('latin1');
  const digest = suffix.slice(DIGEST_KEY.length, DIGEST_KEY.length + 64);
  if (!suffix.startsWith(DIGEST_KEY) || !suffix.endsWith('"}') || !/^[0-9a-f]{64}$/.test(digest)) return false;
  const body = createHash('sha256').update(bytes.subarray(0, bytes.length - DIGEST_SUFFIX_LENGTH)).update('}').digest('hex');
  return body === digest;
}

async function readIndex(path: string): Promise<MetricsIndexFile | undefined> {
  try {
    // Not through a link, not from a FIFO: either is no index of ours (it is rebuilt and replaced).
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    let bytes: Buffer;
    try {
      if (!(await handle.stat()).isFile()) return undefined;
      // Read as bytes, then decoded: cheaper than readFile's string decoder for a file this size.
      bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
    if (!hasValidDigest(bytes)) return undefined;
    const value = JSON.parse(bytes.toString('utf8')) as MetricsIndexFile;
    const l = value?.ledger;
    if (value?.version !== METRICS_STATE_VERSION || typeof l?.offset !== 'number' || typeof l.dev !== 'string' || typeof l.ino !== 'string' || typeof l.ctime_ns !== 'string') return undefined;
    if (typeof l.tail_sha256 !== 'string' || !Array.isArray(value.unreadable) || typeof value.state !== 'object' || value.state === null) return undefined;
    return value;
  } catch {
    return undefined;
  }
}

/** Folds `summaries` (ledger order, in a fresh state) the way the reference orders them; false when it cannot. */
function foldAll(state: MetricsState, summaries: readonly ExecutionSummary[]): boolean {
  state.indexIds();
  const ended = new Set(endedExecutions(summaries));
  for (const s of summaries) if (!ended.has(s) && state.addRun(s) !== 'added') return false;
  for (const s of ended) if (state.addRun(s) !== 'added') return false;
  return true;
}

/**
 * One recordMetrics pass over the ledger, under the metrics lock: load(), has(), appended() when
 * this execution's line was appended, then result().
 */
export class MetricsLedger {
  /** undefined: the ledger cannot be folded; `summaries` holds every readable line instead. */
  private state: MetricsState | undefined;
  private summaries: ExecutionSummary[] = [];
  /** Unreadable whole lines, in ledger order. */
  private unreadable: string[] = [];
  /** A last line without its newline (a crash mid-append): read but not folded into the index. */
  private partial: { summary?: ExecutionSummary; line?: string } = {};
  /** Ledger offset up to which `state` and `unreadable` go. */
  private foldedEnd = 0;
  private file: { dev: string; ino: string } = { dev: '', ino: '' };
  /** The ledger's size when read. */
  private size = 0;
  /** What appended() was told this execution appended: found just before the offset, or no index. */
  private appendedBytes: Buffer | undefined;
  /** How load() went: 'index' (only the new lines read), 'rebuilt' or 'reference'. */
  mode: 'index' | 'rebuilt' | 'reference' = 'rebuilt';
  endsWithNewline = true;

  constructor(
    private readonly ledgerPath: string,
    private readonly indexPath: string,
    private readonly parse: Parse,
  ) {}

  async load(): Promise<void> {
    const index = await readIndex(this.indexPath);
    if (index) {
      const offset = index.ledger.offset;
      const tail = Math.min(offset, INDEX_TAIL_BYTES);
      const view = await readFileView(this.ledgerPath, () => offset - tail);
      if (
        view.dev === index.ledger.dev &&
        view.ino === index.ledger.ino &&
        view.start === offset - tail &&
        view.size >= offset &&
        // Nothing appended since the index, yet the file changed (written in place, even before the hashed tail).
        (view.size !== offset || view.ctime === index.ledger.ctime_ns) &&
        sha256(view.bytes.subarray(0, tail)) === index.ledger.tail_sha256 &&
        this.loadIndexed(index, view, tail)
      ) {
        this.mode = 'index';
        return;
      }
    }
    await this.rebuild();
  }

  private loadIndexed(index: MetricsIndexFile, view: FileView, tail: number): boolean {
    let state: MetricsState;
    try {
      state = MetricsState.deserialize(index.state);
    } catch {
      return false;
    }
    if (!index.unreadable.every((line) => typeof line === 'string')) return false;
    const { complete, partial } = this.split(view.bytes.subarray(tail));
    const { summaries, unreadable } = this.parse(complete.toString('utf8'));
    // Many lines since the index (written by a cortex without one): has() by a Set, not a search each.
    if (summaries.length > 16) state.indexIds();
    for (const s of summaries) if (state.addRun(s) !== 'added') return false;
    this.state = state;
    this.unreadable = [...index.unreadable, ...unreadable];
    this.foldedEnd = view.start + tail + complete.length;
    this.file = { dev: view.dev, ino: view.ino };
    this.size = view.size;
    this.setPartial(partial, view.size);
    return true;
  }

  /** Reads and folds the whole ledger; the reference computation when it cannot be folded. */
  private async rebuild(): Promise<void> {
    const view = await readFileView(this.ledgerPath, () => 0);
    const { complete, partial } = this.split(view.bytes);
    const { summaries, unreadable } = this.parse(complete.toString('utf8'));
    const state = new MetricsState();
    if (foldAll(state, summaries)) {
      this.state = state;
      this.mode = 'rebuilt';
    } else {
      this.state = undefined;
      this.summaries = summaries;
      this.mode = 'reference';
    }
    this.unreadable = unreadable;
    this.foldedEnd = complete.length;
    this.file = { dev: view.dev, ino: view.ino };
    this.size = view.size;
    this.setPartial(partial, view.size);
  }

  private split(bytes: Buffer): { complete: Buffer; partial: Buffer } {
    const end = bytes.lastIndexOf(0x0a) + 1;
    return { complete: bytes.subarray(0, end), partial: bytes.subarray(end) };
  }

  private setPartial(partial: Buffer, size: number): void {
    this.endsWithNewline = size === 0 || partial.length === 0;
    this.partial = {};
    const { summaries, unreadable } = this.parse(partial.toString('utf8'));
    if (summaries[0]) this.partial.summary = summaries[0];
    if (unreadable[0] !== undefined) this.partial.line = unreadable[0];
  }

  /** Whether a readable ledger line has this execution id. */
  has(executionId: string): boolean {
    if (this.partial.summary?.execution_id === executionId) return true;
    return this.state ? this.state.has(executionId) : this.summaries.some((s) => s.execution_id === executionId);
  }

  /** This execution's line was appended: `bytes`, the newline ending a partial line included. */
  async appended(summary: ExecutionSummary, bytes: Buffer): Promise<void> {
    const { summary: partialSummary, line } = this.partial;
    this.partial = {};
    this.endsWithNewline = true;
    if (line !== undefined) this.unreadable.push(line);
    const now = [...(partialSummary ? [partialSummary] : []), summary];
    if (this.state) {
      for (const s of now) {
        if (this.state.addRun(s) !== 'added') {
          // Out of order (a run that finished earlier recorded later) or a repeated id: refold.
          await this.rebuild();
          return;
        }
      }
    } else {
      this.summaries.push(...now);
    }
    this.foldedEnd = this.size + bytes.length;
    this.appendedBytes = bytes;
  }

  /**
   * The two metrics files' values and the index to write after them (undefined: remove it), and
   * the unreadable lines to warn about. `reference` computes from summaries (metrics.ts).
   */
  async result(now: Date): Promise<{ stats: unknown; performance: unknown; index: MetricsIndexFile | undefined; unreadable: string[] }> {
    const unreadable = this.partial.line === undefined ? this.unreadable : [...this.unreadable, this.partial.line];
    const json = this.state?.serialize();
    const index = json && (await this.indexFor(json));
    if (this.state && this.partial.summary && this.state.addRun(this.partial.summary) !== 'added') {
      return { ...(await this.reference(now)), index, unreadable };
    }
    if (!this.state) {
      const summaries = this.partial.summary ? [...this.summaries, this.partial.summary] : this.summaries;
      const { computeContractorPerformance, computeWorkflowStats } = await import('../model/metrics.js');
      return { stats: computeWorkflowStats(summaries, now), performance: computeContractorPerformance(summaries, now), index: undefined, unreadable };
    }
    return { stats: this.state.workflowStats(now), performance: this.state.contractorPerformance(now), index, unreadable };
  }

  /** The reference over the whole ledger as it is on disk (a partial line that cannot be folded). */
  private async reference(now: Date): Promise<{ stats: unknown; performance: unknown }> {
    const view = await readFileView(this.ledgerPath, () => 0);
    const { summaries } = this.parse(view.bytes.toString('utf8'));
    const { computeContractorPerformance, computeWorkflowStats } = await import('../model/metrics.js');
    return { stats: computeWorkflowStats(summaries, now), performance: computeContractorPerformance(summaries, now) };
  }

  private async indexFor(state: MetricsStateJson): Promise<MetricsIndexFile | undefined> {
    const offset = this.foldedEnd;
    const tail = Math.min(offset, INDEX_TAIL_BYTES);
    const view = await readFileView(this.ledgerPath, () => offset - tail);
    // A ledger absent when read was created by this execution's append.
    const isSameFile = this.file.dev === '' || (view.dev === this.file.dev && view.ino === this.file.ino);
    if (view.start !== offset - tail || view.size < offset || !isSameFile) return undefined;
    // Bytes another writer (not under the lock) put before ours would shift the offset.
    const ours = this.appendedBytes;
    if (ours && (ours.length > tail || !view.bytes.subarray(tail - ours.length, tail).equals(ours))) return undefined;
    return {
      version: METRICS_STATE_VERSION,
      ledger: { dev: view.dev, ino: view.ino, ctime_ns: view.ctime, offset, tail_sha256: sha256(view.bytes.subarray(0, tail)) },
      unreadable: [...this.unreadable],
      state,
    };
  }
}
