/** Starts the driving of an existing execution elsewhere (a detached process, a queue). */
export interface Launcher {
  launch(executionId: string): Promise<{ ok: boolean; pid?: number; message?: string }>;
}
