import type { ActionStatus, ExecutionStatus, PhaseStatus } from '../model/records.js';

/** Progress of an execution, sent through EngineDeps.emit; the CLI renders these, tests collect them. */
export type EngineEvent =
  | { kind: 'execution-start'; executionId: string; workflowId: string; resumed: boolean; /** The operator command continuing it (resume, approve, reject, rollback, cancel). */ command?: string }
  | { kind: 'phase-start'; phaseId: string; phaseName?: string; contractor: string }
  | { kind: 'phase-skip'; phaseId: string; reason: string }
  | { kind: 'phase-end'; phaseId: string; status: PhaseStatus; durationMs: number }
  | { kind: 'approval-wait'; phaseId: string; actionId?: string; role?: string; expiresAt?: string | null }
  | { kind: 'action-start'; phaseId: string; actionId: string; action: string; attempt: number; fallback: boolean }
  | { kind: 'action-retry'; phaseId: string; actionId: string; attempt: number; /** The real wait. */ delayMs: number; /** The wait outside the lab, when the lab's clock shortens it. */ nominalDelayMs?: number; error: string }
  | {
      kind: 'action-end';
      phaseId: string;
      actionId: string;
      action: string;
      status: ActionStatus;
      durationMs: number;
      attempts: number;
      error?: string;
      onError?: string;
    }
  /** A step of a remediation plan (execute_remediation_plan), inside the action `actionId`. */
  | { kind: 'step-start'; phaseId: string; actionId: string; stepId: string; contractor: string; action: string }
  | { kind: 'step-end'; phaseId: string; actionId: string; stepId: string; contractor: string; action: string; status: ActionStatus; durationMs: number; error?: string }
  | { kind: 'command'; phaseId: string; actionId: string; argv: string[] }
  | { kind: 'request'; phaseId: string; actionId: string; method: string; url: string; status?: number | null }
  | { kind: 'handoff'; handoffId: string; from: string; to: string; toPhase: string | null }
  | { kind: 'notification'; phaseId?: string; actionId?: string; message: string }
  | { kind: 'warning'; message: string }
  | { kind: 'rollback-start'; reason: string; steps: number }
  | { kind: 'rollback-step'; stepId: string; action: string; status: string; error?: string }
  | { kind: 'execution-end'; executionId: string; status: ExecutionStatus; durationMs: number; reason?: string };
