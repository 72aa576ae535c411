import { UsageError } from '../errors.js';
/**
 * Shapes of the files cortex writes (execution records, handoffs, metrics ledger lines).
 * `schemas/execution.schema.json` and `schemas/handoff.schema.json` are the source of truth;
 * tests validate every written file. Pure types and functions: ports, engine and adapters import them.
 */

export type ExecutionStatus =
  | 'pending'
  /** Queue mode: the record exists and a job waits for a worker to drive it. */
  | 'queued'
  | 'running'
  | 'awaiting_approval'
  | 'paused'
  | 'completed'
  | 'failed'
  | 'rolling_back'
  | 'rolled_back'
  | 'rollback_failed'
  | 'cancelled';

/** Statuses after which nothing more happens to an execution unless an operator acts. */
/** The statuses an execution ends with (the statuses of history/). */
export const TERMINAL_STATUSES: readonly ExecutionStatus[] = ['completed', 'failed', 'rolled_back', 'rollback_failed', 'cancelled'];
const TERMINAL: ReadonlySet<ExecutionStatus> = new Set(TERMINAL_STATUSES);

/** True when the execution has ended (its record belongs in history/). */
export function isTerminal(status: ExecutionStatus): boolean {
  return TERMINAL.has(status);
}

/** True when an operator can continue the execution with resume/approve. */
export function isResumable(status: ExecutionStatus): boolean {
  return status === 'paused' || status === 'awaiting_approval' || status === 'running' || status === 'rolling_back';
}

export function isSuccessful(status: ExecutionStatus): boolean {
  return status === 'completed';
}

export type PhaseStatus = 'pending' | 'running' | 'awaiting_approval' | 'completed' | 'failed' | 'skipped';
export type ActionStatus = 'pending' | 'running' | 'completed' | 'failed' | 'errored' | 'skipped' | 'awaiting_input' | 'interrupted';
export type AttemptStatus = 'running' | 'succeeded' | 'failed' | 'errored' | 'interrupted';

export interface ErrorInfo {
  code: string;
  message: string;
  hint?: string;
  retryable?: boolean;
}

export interface Invocation {
  command: string[];
  exit_code?: number | null;
  signal?: string | null;
  duration_ms?: number;
  timed_out?: boolean;
  stdout_tail?: string;
  stderr_tail?: string;
}

/** The cortex process working on an execution (written when it takes the execution over). */
export interface ProcessRef {
  pid: number;
  host: string;
  started_at?: string;
  /** Linux: start of that pid in clock ticks after boot (/proc/<pid>/stat field 22); a reused pid has another. */
  start_time?: number;
  /** Linux: /proc/sys/kernel/random/boot_id when recorded; another one means the machine rebooted since. */
  boot_id?: string;
}

export interface RequestInfo {
  method: string;
  url: string;
  status?: number | null;
  duration_ms?: number;
}

export interface AttemptRecord {
  attempt: number;
  status: AttemptStatus;
  started_at: string;
  finished_at?: string | null;
  duration_seconds?: number | null;
  fallback?: boolean;
  exit_code?: number | null;
  signal?: string | null;
  invocations?: Invocation[];
  requests?: RequestInfo[];
  error?: ErrorInfo;
  /** Random id in the environment of every tool this attempt started (CORTEX_PROCESS_COOKIE); finds them after a crash. */
  process_cookie?: string;
}

export interface PersonTask {
  /** What approving as is records: the outputs cortex drafted for the person (masked). */
  draft?: Record<string, unknown>;
  /** The draft as a file the person can edit and give back with --data (0600, under the execution's artifacts). */
  draft_file?: string;
  /** sha256 of the draft file as cortex wrote it: an edited file is not taken as the draft. */
  draft_sha256?: string;
  /** Why there is no draft (the person gives the outputs with --data). */
  draft_error?: ErrorInfo;
  /** Where the recorded outputs came from: the draft approved as is, or a file given with --data (plus --output keys). */
  outputs_from?: 'draft' | 'data' | 'output';
  /** The --data file (absolute path). */
  data_file?: string;
  completed_by?: string;
  completed_at?: string;
  comment?: string;
  /** failed: the person's outputs say the task did not succeed (e.g. failed_checks); its on_error applies. */
  result?: 'done' | 'rejected' | 'failed';
  /** Why the task failed. */
  error?: ErrorInfo;
}

export interface ActionRecord {
  action_id: string;
  action: string;
  contractor?: string;
  status: ActionStatus;
  skip_reason?: string;
  on_error?: string;
  on_error_applied?: string;
  parameters?: Record<string, unknown>;
  started_at?: string | null;
  finished_at?: string | null;
  duration_seconds?: number | null;
  attempts: AttemptRecord[];
  outputs?: Record<string, unknown>;
  error?: ErrorInfo;
  idempotent?: boolean;
  person_task?: PersonTask;
  steps?: ActionRecord[];
  /** What the action saw before it changed anything (rt.remember), kept across re-runs. */
  observed?: Record<string, unknown>;
  /** Index in attempts from which max_attempts counts again (a resume re-ran the action). */
  attempts_counted_from?: number;
  /** When interrupted mid-run: what it may have left behind. */
  interrupted_note?: string;
}

export interface ApprovalState {
  required?: boolean;
  role?: string;
  requested_at?: string;
  expires_at?: string | null;
  decision?: 'approved' | 'rejected' | 'expired';
  decided_by?: string;
  decided_at?: string;
  comment?: string;
}

export interface PhaseRecord {
  phase_id: string;
  phase_name?: string;
  contractor: string;
  status: PhaseStatus;
  skip_reason?: string;
  condition?: { expression: string; value: boolean };
  started_at?: string | null;
  finished_at?: string | null;
  duration_seconds?: number | null;
  handoff_in?: string;
  handoff_out?: string;
  handoff_data?: Record<string, unknown>;
  approval?: ApprovalState;
  actions: ActionRecord[];
}

export interface NotificationRecord {
  time: string;
  kind: 'alert_only' | 'escalation' | 'rollback' | 'warning';
  phase_id?: string;
  action_id?: string;
  message: string;
  notify?: string[];
}

export interface ApprovalEntry {
  time: string;
  decision: 'approved' | 'rejected' | 'expired' | 'task_done' | 'task_rejected';
  phase_id?: string;
  action_id?: string;
  user: string;
  host?: string;
  comment?: string;
}

export interface RollbackStepRecord {
  step_id: string;
  kind: 'procedure' | 'compensation';
  for_action?: string;
  for_phase?: string;
  contractor: string;
  action: string;
  parameters?: Record<string, unknown>;
  status: 'pending' | 'running' | 'completed' | 'failed' | 'skipped';
  skip_reason?: string;
  started_at?: string | null;
  finished_at?: string | null;
  attempts: AttemptRecord[];
  outputs?: Record<string, unknown>;
  error?: ErrorInfo;
  retry_command?: string;
  observed?: Record<string, unknown>;
  attempts_counted_from?: number;
}

export interface RollbackRecord {
  status: 'pending' | 'running' | 'completed' | 'failed';
  reason: string;
  scope: 'workflow' | 'phase';
  requested_by?: string;
  started_at?: string | null;
  finished_at?: string | null;
  steps: RollbackStepRecord[];
  not_undone?: string[];
}

export interface TriggerInfo {
  type: 'manual' | 'schedule' | 'webhook' | 'event' | 'api';
  source?: string;
  trigger_id?: string;
  event_id?: string;
  user?: string;
  host?: string;
  scheduled_for?: string;
}

export interface ExecutionRecord {
  schema_version: 1;
  execution_id: string;
  workflow_id: string;
  workflow_name: string;
  definition: { version: string; hash: string; path: string };
  status: ExecutionStatus;
  status_reason?: string;
  trigger: TriggerInfo;
  parameters: Record<string, unknown>;
  simulate?: boolean;
  lab_dir?: string;
  process?: ProcessRef;
  started_at: string;
  updated_at: string;
  finished_at?: string | null;
  duration_seconds?: number | null;
  current_phase?: string | null;
  current_action?: string | null;
  phases: PhaseRecord[];
  handoffs?: string[];
  notifications?: NotificationRecord[];
  approvals?: ApprovalEntry[];
  rollback_required?: boolean;
  rollback?: RollbackRecord;
  error?: ErrorInfo;
  metrics_recorded?: boolean;
  /** A triggered run queued (on_conflict: queue) behind these executions; tick and serve start it once the workflow is under `concurrency`. */
  queued?: { behind: string[]; concurrency: number; since: string };
  /** Actions stopped mid-run (cancel, signal, crash) and what each may have left behind. */
  interrupted_actions?: Array<{ phase_id?: string; action_id: string; action: string; at?: string; note: string }>;
}

export type HandoffStatus = 'pending' | 'in_progress' | 'completed' | 'failed';

export interface HandoffRecord {
  handoff_id: string;
  from_contractor: string;
  to_contractor: string;
  task_id: string;
  data: Record<string, unknown>;
  status: HandoffStatus;
  execution_id: string;
  workflow_id: string;
  from_phase: string;
  to_phase?: string | null;
  decision?: { expression: string; value: boolean };
  status_reason?: string;
  created_at: string;
  updated_at: string;
  picked_up_at?: string | null;
  completed_at?: string | null;
}

/** One finished execution as the metrics see it (a line of metrics/executions.jsonl). */
export interface ExecutionSummary {
  execution_id: string;
  workflow_id: string;
  workflow_name: string;
  status: string;
  started_at: string;
  finished_at: string;
  duration_seconds: number;
  parameters?: Record<string, unknown>;
  contractors: Record<string, { duration_seconds: number; errors: number }>;
  actions: Array<{
    contractor: string;
    action: string;
    status: string;
    duration_seconds: number;
    error_code?: string;
    error_message?: string;
  }>;
  errors: Array<{ error: string; contractor: string; message?: string }>;
  handoffs: Array<{ from: string; to: string; status: string; latency_seconds: number | null }>;
}

/** `<workflow_id>-<UTC yyyymmddThhmmssZ>-<4 hex>`: sortable by start time, readable, unique. */
export function makeExecutionId(workflowId: string, at: Date, random4hex: string): string {
  const iso = at.toISOString();
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return `${workflowId}-${stamp}-${random4hex}`;
}

export const EXECUTION_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,79}-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}$/;

export function workflowIdOf(executionId: string): string {
  return executionId.replace(/-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}$/, '');
}

/** Refuses (exit 2) a string that cannot be an execution id before it becomes a file name. */
export function assertExecutionId(id: string): void {
  if (!EXECUTION_ID_PATTERN.test(id)) {
    throw new UsageError(`"${id}" is not an execution id (expected <workflow_id>-<yyyymmddThhmmssZ>-<4 hex>)`, { hint: 'cortex status lists the active executions; cortex history the finished ones' });
  }
}
