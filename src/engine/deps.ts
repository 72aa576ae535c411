import type { Clock } from '../ports/clock.js';
import type { HttpClient } from '../ports/http-client.js';
import type { ProcessRunner } from '../ports/process-runner.js';
import type { SecretSource } from '../ports/secret-source.js';
import type { LockManager, StateStore } from '../ports/state-store.js';
import type { EngineEvent } from './events.js';
import type { Masker } from '../model/masker.js';

/** Everything the engine uses to reach the outside world; tests pass fakes. */
export interface EngineDeps {
  runner: ProcessRunner;
  http: HttpClient;
  store: StateStore;
  locks: LockManager;
  clock: Clock;
  secrets: SecretSource;
  masker: Masker;
  emit: (event: EngineEvent) => void;
  /** A private directory per execution for files handed to tools. */
  scratchDir: (executionId: string) => Promise<string>;
  /** 4 random hex digits for execution ids. */
  randomHex4: () => string;
  identity: { pid: number; host: string; user: string };
  /** Live check of a recorded process (same host): false when it is gone. */
  isProcessAlive: (pid: number, host: string) => boolean;
}
