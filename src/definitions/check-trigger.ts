/**
 * The checks `cortex validate` makes on a trigger beyond its JSON Schema: the cron expression and
 * time zone, the names of the parameters it sets (declared by the workflow), the references in its
 * mapping (only `${event.*}`, `${trigger.*}` and `${env.*}` exist when a trigger fires), its
 * conditions, Falco priorities, matcher regexes and secret names. Used for the `triggers` of a
 * workflow definition (validate-workflow.ts) and for trigger files (src/triggers/load.ts).
 */
import { isSecretEnvName, secretEnvMessage } from './references.js';
import { collectRefs, ExpressionSyntaxError, formatPath, parseCondition, parseTemplate, type Expr, type PathSegment } from './expression-parser.js';
import type { ParamSpec, TriggerDef } from './types.js';
import { CronSchedule } from './cron.js';

export interface TriggerIssueSink {
  error(pointer: string, message: string): void;
  warn(pointer: string, message: string): void;
}

/** Lowest first; `info` is accepted for informational (falcosidekick does). */
export const FALCO_PRIORITIES = ['debug', 'informational', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;

/** Rank of a Falco priority (case-insensitive), or undefined for an unknown one. */
export function falcoRank(p: unknown): number | undefined {
  if (typeof p !== 'string') return undefined;
  const s = p.trim().toLowerCase();
  const i = (FALCO_PRIORITIES as readonly string[]).indexOf(s === 'info' ? 'informational' : s);
  return i < 0 ? undefined : i;
}

const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_REF = /^\$\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}$/;

/** The secret name in a trigger's `secret`/`auth.secret` (`NAME` or `${secrets.NAME}`), or undefined when malformed. */
export function secretNameOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = SECRET_REF.exec(value.trim());
  if (m) return m[1];
  return SECRET_NAME.test(value.trim()) ? value.trim() : undefined;
}

/** A conditions key (`labels.severity`, `output_fields['k8s.ns.name']`) as a path into the event. */
export function conditionPath(key: string): PathSegment[] {
  const e = parseCondition(key);
  if (e.kind !== 'ref') throw new ExpressionSyntaxError(`"${key}" is not a field path (write e.g. labels.severity or output_fields['proc.name'])`, 0);
  return e.path;
}

/** Matcher value of a prometheus_alert: `=~re`, `!~re`, `!=v`, `=v` or a plain value. */
export function parseMatcher(spec: string): { op: '=' | '!=' | '=~' | '!~'; value: string } {
  for (const op of ['=~', '!~', '!='] as const) if (spec.startsWith(op)) return { op, value: spec.slice(op.length) };
  if (spec.startsWith('=')) return { op: '=', value: spec.slice(1) };
  return { op: '=', value: spec };
}

const ROOTS = new Set(['event', 'trigger', 'env']);

function escape(k: string): string {
  return k.replace(/~/g, '~0').replace(/\//g, '~1');
}

function checkRefs(expr: Expr, pointer: string, sink: TriggerIssueSink): void {
  for (const ref of collectRefs(expr)) {
    const root = ref.path[0];
    if (typeof root !== 'string' || !ROOTS.has(root)) {
      sink.error(pointer, `\${${formatPath(ref.path)}} cannot be used here: a trigger knows only \${event.<path>} (the payload), \${trigger.*} and \${env.NAME}`);
    } else if (root === 'env' && (ref.path.length !== 2 || typeof ref.path[1] !== 'string')) {
      sink.error(pointer, `\${${formatPath(ref.path)}}: expected \${env.NAME}`);
    } else if (root === 'env' && isSecretEnvName(String(ref.path[1]))) {
      sink.error(pointer, secretEnvMessage(String(ref.path[1])));
    }
  }
}

function checkValue(value: unknown, pointer: string, sink: TriggerIssueSink, depth = 0): void {
  if (depth > 64) return;
  if (typeof value === 'string') {
    if (!value.includes('${')) return;
    try {
      for (const part of parseTemplate(value).parts) if (part.kind === 'expr') checkRefs(part.expr, pointer, sink);
    } catch (e) {
      if (e instanceof ExpressionSyntaxError) sink.error(pointer, `bad expression in "${value}": ${e.message}`);
      else throw e;
    }
  } else if (Array.isArray(value)) value.forEach((v, i) => checkValue(v, `${pointer}/${i}`, sink, depth + 1));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) checkValue(v, `${pointer}/${escape(k)}`, sink, depth + 1);
  }
}

/** Checks one trigger; `workflowId` is the workflow it starts, `params` that workflow's declared parameters. */
export function checkTrigger(t: TriggerDef, ctx: { workflowId?: string; params: Record<string, ParamSpec> }, pointer: string, sink: TriggerIssueSink): void {
  if (ctx.workflowId !== undefined && t.workflow_id !== undefined && t.workflow_id !== ctx.workflowId) {
    sink.error(`${pointer}/workflow_id`, `this trigger belongs to workflow "${ctx.workflowId}"; workflow_id "${String(t.workflow_id)}" is only meaningful in a trigger file`);
  }
  if (t.type === 'schedule') {
    const field = t.cron !== undefined ? 'cron' : 'schedule';
    const expr = String(t.cron ?? t.schedule);
    const tz = typeof t.timezone === 'string' ? t.timezone : 'UTC';
    try {
      new CronSchedule(expr, tz);
    } catch (e) {
      const msg = (e as Error).message;
      sink.error(msg.includes('time zone') ? `${pointer}/timezone` : `${pointer}/${field}`, msg);
    }
  }
  if (t.type === 'falco' || t.type === 'security_alert') {
    for (const k of ['priority', 'severity'] as const) {
      if (t[k] !== undefined && falcoRank(t[k]) === undefined) {
        sink.error(`${pointer}/${k}`, `unknown Falco priority "${String(t[k])}" (expected one of Emergency, Alert, Critical, Error, Warning, Notice, Informational, Debug)`);
      }
    }
  }
  if (t.type === 'prometheus_alert' && t.matchers && typeof t.matchers === 'object') {
    for (const [label, spec] of Object.entries(t.matchers as Record<string, string>)) {
      const m = parseMatcher(spec);
      if (m.op === '=~' || m.op === '!~') {
        try {
          new RegExp(`^(?:${m.value})$`);
        } catch (e) {
          sink.error(`${pointer}/matchers/${escape(label)}`, `bad regular expression "${m.value}": ${(e as Error).message}`);
        }
      }
    }
  }
  if (t.type === 'github_webhook') {
    const events = (t.events as string[] | undefined) ?? (typeof t.event === 'string' ? [t.event] : []);
    if (events.includes('ping')) sink.warn(`${pointer}/events`, 'a ping event never starts a run (GitHub sends it when the hook is created)');
  }
  for (const [field, value] of [
    ['secret', t.secret],
    ['auth/secret', (t.auth as { secret?: unknown } | undefined)?.secret],
  ] as const) {
    if (value !== undefined && secretNameOf(value) === undefined) {
      sink.error(`${pointer}/${field}`, `expected a secret name or \${secrets.NAME}, not the secret itself (put the value in <root>/secrets/NAME or CORTEX_SECRET_NAME)`);
    }
  }
  if (t.conditions && typeof t.conditions === 'object') {
    for (const [k, v] of Object.entries(t.conditions as Record<string, unknown>)) {
      try {
        conditionPath(k);
      } catch (e) {
        if (e instanceof ExpressionSyntaxError) sink.error(`${pointer}/conditions/${escape(k)}`, `bad field path "${k}": ${e.message}`);
        else throw e;
      }
      checkValue(v, `${pointer}/conditions/${escape(k)}`, sink);
    }
  }
  if (typeof t.condition === 'string') {
    try {
      checkRefs(parseCondition(t.condition), `${pointer}/condition`, sink);
    } catch (e) {
      if (e instanceof ExpressionSyntaxError) sink.error(`${pointer}/condition`, `bad condition "${t.condition}": ${e.message}`);
      else throw e;
    }
  }
  const mapping = (t.parameters ?? {}) as Record<string, unknown>;
  for (const [name, value] of Object.entries(mapping)) {
    if (!Object.prototype.hasOwnProperty.call(ctx.params, name)) {
      const known = Object.keys(ctx.params);
      sink.error(`${pointer}/parameters/${escape(name)}`, `trigger sets "${name}", which is not a declared parameter${ctx.workflowId ? ` of ${ctx.workflowId}` : ''} (declared: ${known.length ? known.join(', ') : 'none'})`);
    }
    checkValue(value, `${pointer}/parameters/${escape(name)}`, sink);
  }
}
