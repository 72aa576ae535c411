/** One line of a contractor's log, with the contractor it came from. */
export interface LogEntry {
  contractor: string;
  line: string;
}

/** How `cortex logs` prints one line: the contractor's short name, then the log line. */
export function formatLogLine(e: LogEntry): string {
  return `${e.contractor.replace(/-contractor$/, '').padEnd(14)} ${e.line}`;
}
