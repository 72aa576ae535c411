import type { PathSegment } from './expression-parser.js';
import { formatPath } from './expression-parser.js';
import type { ParamSpec } from './types.js';

/** Single-name references every expression may use. */
export const BUILTINS: Record<string, string> = {
  workflow_id: 'the workflow id',
  workflow_name: 'the workflow name',
  execution_id: 'this execution id',
  status: 'the execution status at the time of evaluation',
  date: 'UTC date of the execution start, YYYYMMDD',
  time: 'UTC time of the execution start, HHMMSS',
  timestamp: 'execution start, ISO 8601 UTC',
  sequence: 'number of executions of this workflow started today (UTC), 3 digits',
  user: 'OS user who started the execution',
  host: 'host name cortex runs on',
};

/** Names that cannot be phase or action ids because they are reference roots. */
export const RESERVED_ROOTS = new Set([
  'parameters',
  'secrets',
  'env',
  'event',
  'trigger',
  'input',
  'output',
  ...Object.keys(BUILTINS),
]);

/** What a reference may see at one place in a definition. */
export interface RefScope {
  params: Record<string, ParamSpec>;
  /** action_id -> declared output keys (undefined: any key is accepted). */
  actions: Map<string, { outputs: string[] | undefined; phaseId: string }>;
  /** phase_id -> handoff keys. */
  phases: Map<string, string[]>;
  /** Every action id / phase id in the workflow, to tell "later" from "unknown". */
  allActions: Set<string>;
  allPhases: Set<string>;
  /** Extra roots allowed here (`event`, `trigger` in trigger mappings; `input`, `output` in compensations). */
  extraRoots?: Set<string>;
}

/** Returns a message when the reference cannot resolve in this scope, else undefined. */
export function checkReference(path: readonly PathSegment[], scope: RefScope): string | undefined {
  const [root, second, third] = path;
  const text = formatPath(path);
  if (typeof root !== 'string') return `"${text}" is not a reference`;
  if (scope.extraRoots?.has(root)) return undefined;
  if (root === 'parameters') {
    if (typeof second !== 'string') return `"${text}": name a parameter, e.g. \${parameters.${Object.keys(scope.params)[0] ?? 'name'}}`;
    const spec = scope.params[second];
    if (!spec) {
      const known = Object.keys(scope.params);
      return `unknown parameter "${second}" in \${${text}} (declared: ${known.length ? known.join(', ') : 'none'})`;
    }
    let cur: ParamSpec | undefined = spec;
    for (const seg of path.slice(2)) {
      if (!cur) break;
      if (cur.type === 'object' && cur.properties && typeof seg === 'string') {
        const next: ParamSpec | undefined = cur.properties[seg];
        if (!next) {
          return `parameter "${second}" has no property "${seg}" in \${${text}} (declared: ${Object.keys(cur.properties).join(', ')})`;
        }
        cur = next;
      } else if (cur.type === 'array' && typeof seg === 'number') cur = cur.items;
      else if (cur.type !== 'object' && cur.type !== 'array') return `parameter "${second}" is a ${cur.type}; \${${text}} reads into it`;
      else cur = undefined;
    }
    return undefined;
  }
  if (root === 'secrets' || root === 'env') {
    if (typeof second !== 'string' || path.length !== 2) return `"\${${text}}": expected \${${root}.NAME}`;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(second)) return `"${second}" is not a valid ${root === 'secrets' ? 'secret' : 'variable'} name`;
    if (root === 'env' && isSecretEnvName(second)) return secretEnvMessage(second);
    return undefined;
  }
  if (root in BUILTINS) return path.length === 1 ? undefined : `\${${root}} is a plain value; \${${text}} reads into it`;
  if (path.length === 1 && /^[A-Z][A-Z0-9_]*$/.test(root)) return isSecretEnvName(root) ? secretEnvMessage(root) : undefined; // bare UPPER_CASE: environment variable
  const action = scope.actions.get(root);
  if (action) {
    if (second === 'status' && path.length === 2) return undefined;
    if (second !== 'output') return `\${${text}}: an action's values are read as \${${root}.output.<key>}`;
    if (typeof third !== 'string') return `\${${text}}: name an output key, e.g. \${${root}.output.${action.outputs?.[0] ?? 'key'}}`;
    if (action.outputs && !action.outputs.includes(third)) {
      return `action "${root}" has no output "${third}" (it outputs: ${action.outputs.length ? action.outputs.join(', ') : 'nothing'})`;
    }
    return undefined;
  }
  const phase = scope.phases.get(root);
  if (phase) {
    if (second === 'status' && path.length === 2) return undefined;
    if (second !== 'handoff_data') return `\${${text}}: a phase's values are read as \${${root}.handoff_data.<key>}`;
    if (typeof third !== 'string') return `\${${text}}: name a handoff key`;
    if (!phase.includes(third)) return `phase "${root}" hands off no key "${third}" (its handoff_data: ${phase.length ? phase.join(', ') : 'none'})`;
    return undefined;
  }
  if (scope.allActions.has(root)) return `\${${text}} refers to action "${root}", which has not run at this point (only earlier actions can be referenced)`;
  if (scope.allPhases.has(root)) return `\${${text}} refers to phase "${root}", which has not run at this point (only earlier phases can be referenced)`;
  return `unknown reference \${${text}}: expected parameters.*, secrets.*, env.*, <action_id>.output.*, <phase_id>.handoff_data.* or one of ${Object.keys(BUILTINS).join(', ')}`;
}

/** Environment variables that hold secrets: `${env.*}` never yields them (they are `${secrets.NAME}`, masked). */
export function isSecretEnvName(name: string): boolean {
  return /^CORTEX_SECRET_/i.test(name);
}

export function secretEnvMessage(name: string): string {
  return `\${env.${name}} would read a secret in clear: use \${secrets.${name.replace(/^CORTEX_SECRET_/i, '')}} (masked in every record and log)`;
}
