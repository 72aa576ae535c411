import type { ActionDispatcher } from '../ports/action-queue.js';
import type { Clock } from '../ports/clock.js';
import type { ActionFileStore } from '../ports/files.js';
import type { HttpClient } from '../ports/http-client.js';
import type { ProcessRunner } from '../ports/process-runner.js';
import type { SecretSource } from '../ports/secret-source.js';
import type { LockManager, StateStore } from '../ports/state-store.js';
import type { EngineEvent } from './events.js';
import type { Masker } from '../model/masker.js';
import type { ProcessRef } from '../model/records.js';

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
  /** The files actions read and write themselves (artifacts, generated cluster files). */
  files: ActionFileStore;
  /** 4 random hex digits for execution ids. */
  randomHex4: () => string;
  /**
   * This process. startTime/bootId (Linux: /proc/self/stat field 22 and the boot id) go into the
   * records it writes, so that a later pid reuse or reboot is not mistaken for it.
   */
  identity: { pid: number; host: string; user: string; startTime?: number; bootId?: string };
  /**
   * Live check of a recorded process: false when it is certainly gone (pid free, pid reused by a
   * process started at another time, machine rebooted); true when it cannot tell (another host).
   */
  isProcessAlive: (proc: ProcessRef) => boolean;
  /** Queue mode: runs the actions of some contractors on their own workers (absent: all run here). */
  actions?: ActionDispatcher;
}
