/** Starts the driving of an existing execution elsewhere (a detached process, a queue, serve's own run slots). */
export interface Launcher {
  /** True when a queue worker drives what is launched: records are created `queued`. */
  readonly queued?: boolean;
  /**
   * A launcher with bounded room (serve's in-process runs): room for one more new run, asked
   * before its record is created and held until launch() takes it or release() gives it back.
   * Undefined: no room now (the start is refused as overloaded, nothing created).
   */
  reserve?(): { release: () => void } | undefined;
  /**
   * Whether what is launched can be driven now (queue mode: Redis answers), asked before a new
   * run's record is created: a problem (why not) refuses the start for now, nothing created.
   */
  unavailable?(): Promise<string | undefined>;
  /**
   * `continues`: the execution was driven before (an expired approval to reject): a queue gives
   * it a new job, where a new run's job (one per execution) would be taken for a repeat.
   */
  launch(executionId: string, options?: { continues?: boolean }): Promise<{ ok: boolean; pid?: number; message?: string }>;
}
