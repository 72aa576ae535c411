/** A running lab server (in the cortex process for the duration of one command). */
export interface RunningService {
  /** Service name -> base URL, e.g. { kubernetes: 'http://127.0.0.1:40123' }. */
  urls: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * One part of the lab: the state it owns under <lab>/state/, the stand-in executables it
 * provides (entry modules run by <lab>/bin/<tool>), and the servers it starts.
 */
export interface LabModule {
  name: string;
  /** Writes this module's initial state (called by lab init and `cortex lab reset`). */
  seed(lab: string): void;
  /** Stand-in executables: tool name -> absolute path of the ESM module whose import runs it. */
  tools?: Record<string, string>;
  /** Starts the module's servers on 127.0.0.1 (free ports). `urls` of modules started before it are given. */
  start?(lab: string, urls: Record<string, string>): Promise<RunningService>;
  /** Human-readable summary of the state for `cortex lab show`. */
  describe?(lab: string): Record<string, unknown>;
}
