/** A process as an execution record or a lock owner names it. */
export interface ProcessRef {
  pid: number;
  host: string;
  /** Linux: start time in clock ticks since boot (/proc/<pid>/stat field 22), and the boot id. */
  start_time?: number;
  boot_id?: string;
}

/** Checks and signals the processes that execution records and locks name. */
export interface ProcessControl {
  /** False when the process is certainly gone (or its pid now belongs to another process). */
  isAlive(process: ProcessRef): boolean;
  /** SIGTERM to the process, only when it is still that process; false when it is gone. */
  terminate(process: ProcessRef): boolean;
  /** This host's name. */
  readonly host: string;
}
