/** Starts the driving of an existing execution elsewhere (a detached process, a queue). */
export interface Launcher {
  /** True when a queue worker drives what is launched: records are created `queued`. */
  readonly queued?: boolean;
  launch(executionId: string): Promise<{ ok: boolean; pid?: number; message?: string }>;
}
