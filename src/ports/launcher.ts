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
  launch(executionId: string): Promise<{ ok: boolean; pid?: number; message?: string }>;
}
