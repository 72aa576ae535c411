/**
 * An operator-defined action after loading: its catalogue spec plus the parsed templates the
 * implementation renders. Specs are linked to their definitions here, so the implementation
 * registry can find the definition of any operator spec the catalogue hands out.
 */
import type { ToolName } from '../../config/config.js';
import type { Expr, PathSegment, Template } from '../../definitions/expression-parser.js';
import type { ActionSpec } from '../../model/catalogue.js';

export type OutputFormat = 'json' | 'lines' | 'text' | 'none';

/** A parsed `${...}` string and its source text (for messages). */
export interface ParsedTemplate {
  source: string;
  template: Template;
}

/** One argv element (exactly one argument), or a group included only when `when` holds. */
export type ArgvItem = { kind: 'arg'; arg: ParsedTemplate } | { kind: 'when'; source: string; when: Expr; args: ParsedTemplate[] };

export interface OutputMapping {
  key: string;
  source: string;
  path: PathSegment[];
}

export interface OperatorActionDefinition {
  /** File it came from, relative to the root (for messages). */
  file: string;
  contractor: string;
  name: string;
  /** A configured tool: its command line from config (and CORTEX_* overrides) is prepended. */
  tool?: ToolName;
  /** Otherwise the program: an absolute path or a name looked up on PATH. */
  program?: string;
  argv: ArgvItem[];
  stdin?: ParsedTemplate;
  env: Array<{ name: string; value: ParsedTemplate }>;
  format: OutputFormat;
  map: OutputMapping[];
  exitCodes: number[];
  condition?: { source: string; expr: Expr };
  errorCode: string;
  /** Whether a workflow retry policy may try again after this failure (default true, as for execute_command). */
  retryable: boolean;
  hint?: string;
  /** Cap of the one invocation (timeout_seconds); the workflow action's timeout applies as well. */
  timeoutMs?: number;
  /** Secrets the templates read (`${secrets.NAME}`), fetched (and masked) before rendering. */
  secretNames: string[];
}

export const DEFAULT_ERROR_CODE = 'operator_action_failed';

const DEFINITIONS = new WeakMap<ActionSpec, OperatorActionDefinition>();

export function linkDefinition(spec: ActionSpec, def: OperatorActionDefinition): void {
  DEFINITIONS.set(spec, def);
}

/** The definition behind an operator spec produced by loadCatalogue, or undefined for any other spec. */
export function definitionOf(spec: ActionSpec): OperatorActionDefinition | undefined {
  return DEFINITIONS.get(spec);
}
