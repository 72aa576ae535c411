import type { ResolvedConfig, ToolName } from '../config/config.js';
import type { ActionFiles } from '../ports/files.js';
import type { ProcessResult } from '../ports/process-runner.js';
import type { HttpRequest, HttpResponse } from '../ports/http-client.js';
import type { ActionSpec } from '../model/catalogue.js';

export interface ToolOptions {
  input?: string;
  /** Cap for this one invocation; the action's own deadline always applies too. */
  timeoutMs?: number;
  cwd?: string;
  env?: Record<string, string>;
}

/**
 * What an action implementation may touch. Every tool invocation and HTTP request goes through
 * here so it is recorded (masked) in the execution record, bounded by the action's deadline, and
 * stopped on Ctrl-C.
 */
export interface ActionRuntime {
  readonly executionId: string;
  readonly workflowId: string;
  readonly phaseId: string;
  readonly actionId: string;
  readonly contractor: string;
  readonly action: string;
  /** Resolved, schema-checked parameters. */
  readonly params: Record<string, unknown>;
  readonly attempt: number;
  readonly config: ResolvedConfig;
  readonly signal: AbortSignal;
  /** Runs a configured tool (pvesh, talosctl, kubectl, helm): the config's command line + args. */
  tool(name: ToolName, args: readonly string[], options?: ToolOptions): Promise<ProcessResult>;
  /** Runs an arbitrary program (execute_command); no tool configuration applies. */
  exec(command: string, args: readonly string[], options?: ToolOptions): Promise<ProcessResult>;
  http(request: HttpRequest): Promise<HttpResponse>;
  /** A secret's value by name (env CORTEX_SECRET_<NAME> or <root>/secrets/<NAME>); it is masked everywhere. */
  secret(name: string): Promise<string>;
  sleep(ms: number): Promise<void>;
  now(): Date;
  /** Milliseconds left before the action's timeout. */
  remainingMs(): number;
  /**
   * What the action saw before it changed anything ("did the release exist?", "which revision
   * was live?"), kept in the action's record under `key`: the first attempt computes and records
   * it (durably, before returning); every later attempt of the same action, also after a crash
   * and resume, gets the first attempt's value, so a compensation undoes to the true starting
   * point rather than to what a re-run found after the interrupted attempt's own change.
   */
  remember<T>(key: string, observe: () => Promise<T>): Promise<T>;
  /** A private scratch directory for files an action hands to a tool (manifests, values files). */
  scratchDir(): Promise<string>;
  /** Files the action reads and writes itself, and its folders (artifacts, generated cluster files). */
  readonly files: ActionFiles;
  /** Line for debug.log (written only when debug is on). */
  debug(message: string): void;
  /** Evaluates a condition (used by `wait`'s `until`) against the execution's scope. */
  evaluateCondition(condition: string): boolean;
  /**
   * Runs another contractor's action as one step of this action (security-master's
   * execute_remediation_plan): the engine looks the action up in the catalogue, checks `params`
   * against its schema (defaults applied), runs its implementation with a child runtime (own
   * deadline, capped by this one's) and records the step in this action's record (`steps`).
   * Resolves with the step's outputs; throws its ActionFailedError. Absent where the engine
   * cannot run nested actions.
   */
  runNested?(request: NestedActionRequest): Promise<Record<string, unknown>>;
}

/** One step a plan action asks the engine to run. */
export interface NestedActionRequest {
  /** Step id, unique within the parent action (the step's action_id in the record). */
  stepId: string;
  contractor: string;
  action: string;
  params: Record<string, unknown>;
  /** The step's own timeout; the parent's remaining time always caps it. */
  timeoutMs?: number;
}

/** One command line or request an action would make, for `run --dry-run`. */
export type PlannedStep =
  | { kind: 'command'; tool: ToolName | string; args: string[]; note?: string; stdin?: string }
  | { kind: 'request'; method: string; url: string; body?: unknown; note?: string }
  | { kind: 'wait'; note: string }
  | { kind: 'person'; note: string };

export interface PlanContext {
  config: ResolvedConfig;
  executionId: string;
  workflowId: string;
  actionId: string;
  contractor: string;
}

/** The code behind one catalogue action. */
export interface ActionImpl {
  /**
   * Does the work; returns the declared outputs. Throws ActionFailedError when it did not succeed.
   * For a task for a person (kind person) it drafts the outputs that approving as is records.
   */
  run(rt: ActionRuntime): Promise<Record<string, unknown>>;
  /** Dry-run: the steps it would take, in order, with <placeholders> for values known only at run time. */
  plan(params: Record<string, unknown>, ctx: PlanContext): PlannedStep[];
  /**
   * Person tasks only: the outputs to record once a person approved `outputs` (the draft, or
   * theirs), completed (e.g. `verified` from `failed_checks`); `failed` says the task did not
   * succeed (its on_error applies).
   */
  complete?(outputs: Record<string, unknown>, params: Record<string, unknown>): { outputs: Record<string, unknown>; failed?: string };
}

export interface ImplementationRegistry {
  /** The implementation of a spec, or undefined when none exists yet. */
  get(spec: ActionSpec): Promise<ActionImpl | undefined>;
  /** Synchronous check used to refuse a workflow before it starts. */
  has(spec: ActionSpec): boolean;
}
