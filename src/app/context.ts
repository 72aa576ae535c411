/**
 * The application layer: the life of a run (prepare, create the record, take the lock, drive the
 * engine, continue, expire approvals), called alike by the CLI, `tick`, `trigger` and `serve`.
 * It reaches the outside only through the ports below and the engine's.
 */
import type { ResolvedConfig } from '../config/config.js';
import type { EngineDeps } from '../engine/deps.js';
import type { EngineEvent } from '../engine/events.js';
import type { ProcessControl } from '../ports/process-control.js';
import type { ResolvedRoot } from '../root.js';
import type { DefinitionsMemo } from '../definitions/memo.js';

/** What a --simulate run asks of the lab. */
export interface LabRequest {
  /** The lab directory (default <root>/lab). */
  dir?: string;
  /** `--simulate-fail ACTION_ID[:N]`. */
  faults?: string[];
  /** `--simulate-latency FACTOR`. */
  latency?: string;
}

/** The ports one run uses: the real tools, or the lab's stand-ins (a swap of dependencies). */
export interface Session {
  deps: EngineDeps;
  /** The configuration to run with (the lab replaces tools, clusters and endpoints). */
  config(base: ResolvedConfig): ResolvedConfig;
  /** The lab directory, when simulating. */
  labDir?: string;
  stop(): Promise<void>;
}

export interface SessionFactory {
  /** Ports for reading and creating records and for locks: no tools, no lab. */
  base(): EngineDeps;
  /** Ports for driving an execution: real tools, or the lab when `lab` is given. */
  open(request: { lab?: LabRequest; emit: (event: EngineEvent) => void }): Promise<Session>;
  /** The lab directory a --simulate run would use. */
  labDirFor(lab?: LabRequest): string;
}

export type { Launcher } from '../ports/launcher.js';
export type { ProcessControl, ProcessRef } from '../ports/process-control.js';

export interface App {
  root: ResolvedRoot;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Aborted on SIGINT/SIGTERM/SIGHUP: the execution pauses. */
  signal: AbortSignal;
  sessions: SessionFactory;
  processes: ProcessControl;
  /** The command acting (recorded in lock owners and the audit trail). */
  command: string;
  /** Queue mode (workers): a reason to pause before the next action, while the queue is unreachable. */
  hold?: () => string | undefined;
  /** A long-lived process (serve): keeps what is loaded from unchanged definition files (see prepare.ts loadDefinitions). */
  definitions?: DefinitionsMemo;
}
