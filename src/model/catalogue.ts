/**
 * The action catalogue: what each contractor can do, as data. The validator reads the parameter
 * schemas and declared outputs; the engine reads idempotency and compensation; the adapters
 * (one module per action) supply `run`.
 */

export const CONTRACTORS = ['infrastructure-contractor', 'talos-contractor', 'n8n-contractor', 'security-master'] as const;
export type BuiltinContractor = (typeof CONTRACTORS)[number];

/** Folder under masters/ for a contractor's handoffs, logs and context. */
export function masterDir(contractor: string): string {
  switch (contractor) {
    case 'infrastructure-contractor':
      return 'infrastructure';
    case 'talos-contractor':
      return 'talos';
    case 'n8n-contractor':
      return 'n8n';
    case 'security-master':
      return 'security';
    default:
      return contractor.replace(/-(contractor|master)$/, '');
  }
}

/** JSON Schema (draft 2020-12) of an action's parameters; always an object schema. */
export type ParamSchema = Record<string, unknown> & { type: 'object' };

/**
 * How an action reaches the world: a tool process, HTTP requests, a person (waits for
 * `cortex approve --action`), a plan of other actions, or cortex itself (wait).
 */
export type ActionKind = 'tool' | 'http' | 'person' | 'plan' | 'builtin';

export interface CompensationTemplate {
  /** Action (same contractor) that undoes this one. */
  action: string;
  /**
   * Parameters of the compensating action; strings may reference `${input.<param>}` (the
   * original action's resolved parameters) and `${output.<key>}` (its recorded outputs).
   */
  parameters: Record<string, unknown>;
  /** Outputs the compensation needs; without them the action is reported as not undoable. */
  requires_outputs?: string[];
}

export interface ActionSpec {
  /** Contractor that owns the action, or `*` for the generic actions every contractor has. */
  contractor: string;
  name: string;
  summary: string;
  kind: ActionKind;
  /** Tools the action runs (pvesh, talosctl, kubectl, helm) or services it calls (n8n, slack, ...). */
  uses: string[];
  parameters: ParamSchema;
  /** Output keys it produces, with a short description each. References to other keys are errors. */
  outputs: Record<string, string>;
  /** Re-running after success is harmless (resume may re-run it when its outcome is unknown). */
  idempotent: boolean;
  /** Inverse used by rollback; absent when the action changes nothing (reads, checks, notifications). */
  compensation?: CompensationTemplate;
  /** Parameters passed to the implementation unevaluated (e.g. wait's `until`, re-evaluated on each poll). */
  rawParameters?: string[];
  /**
   * Parameters whose string form is a command line (execute_command's `command`): a definition's
   * string holding `${…}` is split into an argument array when the definition is validated, so
   * each `${…}` stays inside one argument.
   */
  argvParameters?: string[];
  /** Declared by an operator file under coordination/contractors/ rather than built in. */
  operatorDefined?: boolean;
}

export interface Catalogue {
  /** The spec for `action` as run by `contractor` (contractor-specific first, then generic). */
  get(contractor: string, action: string): ActionSpec | undefined;
  contractors(): string[];
  actionsOf(contractor: string): ActionSpec[];
  isKnownContractor(contractor: string): boolean;
}
