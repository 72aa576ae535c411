/** The state documents the triggers keep between runs: `tick` (when each schedule was last checked) and `dedup` (events seen). */
export type TriggerStateName = 'tick' | 'dedup';

/**
 * Small JSON documents kept by name (`<root>/state/<name>.json`). A write replaces the whole
 * document atomically (never half a file) and owner-only. Read-modify-write cycles are
 * serialised by the caller with a LockManager lock (the tick holds its own across the run starts).
 */
export interface TriggerStateStore {
  /** The parsed document, or undefined when there is none. Throws a CortexError (CORTEX_STATE_INVALID) when it is not JSON. */
  read(name: TriggerStateName): Promise<unknown>;
  write(name: TriggerStateName, document: unknown): Promise<void>;
  /**
   * Keeps a damaged document aside (a copy `<name>.json.damaged-<time>`, once per content) before
   * it is repaired or replaced; returns where, or undefined when there is no document.
   */
  keepDamaged(name: TriggerStateName): Promise<string | undefined>;
  /** Where the document is kept, for messages. */
  describe(name: TriggerStateName): string;
}
