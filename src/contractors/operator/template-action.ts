/**
 * The implementation of operator-defined actions: renders the argv template over the action's
 * parameters (each element exactly one argument, never split, never given to a shell), runs the
 * configured tool or the program, reads stdout and decides success.
 */
import { ActionFailedError } from '../../errors.js';
import { evaluate, evaluateCondition, ExpressionEvalError, getPath, renderTemplate, type Resolver } from '../../definitions/expression-eval.js';
import { collectRefs, formatPath } from '../../definitions/expression-parser.js';
import type { ActionImpl, ActionRuntime, PlannedStep, ToolOptions } from '../action-impl.js';
import type { ActionSpec } from '../../model/catalogue.js';
import { definitionOf, type OperatorActionDefinition, type ParsedTemplate } from './operator-action.js';
import { OutputParseError, readOutputs } from './output.js';

/** `${secrets.NAME}` values: fetched before rendering at run time; `***` in a plan. */
type Secrets = Map<string, string> | 'masked';

export interface RenderedCommand {
  /** Configured tool name or program. */
  command: string;
  args: string[];
  stdin?: string;
  env?: Record<string, string>;
}

/**
 * Resolves `${params.x}` and `${secrets.X}`. Strict (rendering arguments): a parameter without a
 * value is an error, so a missing value never silently becomes an empty argument. Lenient
 * (conditions): it is null.
 */
function resolverFor(params: Record<string, unknown>, secrets: Secrets, strict: boolean, extra: Record<string, unknown> = {}): Resolver {
  return (path, text) => {
    const [root, name] = path;
    if (root === 'params') {
      const v = getPath(params, path.slice(1));
      if ((v === undefined || v === null) && strict) {
        throw new ExpressionEvalError(`\${${text}} has no value: parameter "${String(name)}" was not given and has no default`);
      }
      return v ?? null;
    }
    if (root === 'secrets') {
      if (secrets === 'masked') return '***';
      const v = secrets.get(String(name));
      if (v === undefined) throw new ExpressionEvalError(`secret "${String(name)}" is not set`);
      return v;
    }
    if (typeof root === 'string' && root in extra) return getPath(extra[root], path.slice(1)) ?? null;
    throw new ExpressionEvalError(`unknown reference \${${text}}`);
  };
}

/** A value as one argument: strings as they are, numbers and booleans as text, lists and objects as JSON. */
function asArgument(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === undefined || v === null) return '';
  return JSON.stringify(v);
}

function renderOne(t: ParsedTemplate, resolve: Resolver): string {
  return asArgument(renderTemplate(t.template, resolve));
}

/** The exact command an operator action runs for `params`. Throws ExpressionEvalError. */
export function renderCommand(def: OperatorActionDefinition, params: Record<string, unknown>, secrets: Secrets): RenderedCommand {
  const strict = resolverFor(params, secrets, true);
  const lenient = resolverFor(params, secrets, false);
  const args: string[] = [];
  for (const item of def.argv) {
    if (item.kind === 'arg') args.push(renderOne(item.arg, strict));
    else if (evaluateCondition(item.when, lenient)) for (const a of item.args) args.push(renderOne(a, strict));
  }
  const out: RenderedCommand = { command: def.tool ?? (def.program as string), args };
  if (def.stdin) out.stdin = renderOne(def.stdin, strict);
  if (def.env.length) out.env = Object.fromEntries(def.env.map((e) => [e.name, renderOne(e.value, strict)]));
  return out;
}

/** "output.status = 'degraded'" for each reference of the condition: what made it false. */
function explain(def: OperatorActionDefinition, resolve: Resolver): string {
  if (!def.condition) return '';
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const r of collectRefs(def.condition.expr)) {
    const text = formatPath(r.path);
    if (seen.has(text) || r.path[0] === 'secrets') continue;
    seen.add(text);
    let v: unknown;
    try {
      v = evaluate(r, resolve);
    } catch {
      v = undefined;
    }
    const shown = JSON.stringify(v) ?? 'missing';
    parts.push(`${text} = ${shown.length > 80 ? `${shown.slice(0, 80)}…` : shown}`);
  }
  return parts.length ? ` (${parts.join(', ')})` : '';
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ');
}

export function createTemplateAction(def: OperatorActionDefinition): ActionImpl {
  const label = `${def.contractor}/${def.name}`;
  const failure = (message: string, extra: Partial<ConstructorParameters<typeof ActionFailedError>[1]> = {}) =>
    new ActionFailedError(`${label}: ${message}`, { errorCode: def.errorCode, retryable: def.retryable, ...(def.hint ? { hint: def.hint } : {}), ...extra });

  return {
    plan(params) {
      const cmd = renderCommand(def, params, 'masked');
      const checks = [`exit code ${def.exitCodes.join('/')}`, ...(def.condition ? [def.condition.source] : [])];
      const step: PlannedStep = {
        kind: 'command',
        tool: cmd.command,
        args: cmd.args,
        note: `operator action (${def.file}); succeeds on ${checks.join(' and ')}${def.timeoutMs ? `; timeout ${def.timeoutMs / 1000}s` : ''}`,
        ...(cmd.stdin !== undefined ? { stdin: cmd.stdin } : {}),
      };
      return [step];
    },

    async run(rt: ActionRuntime) {
      const secrets = new Map<string, string>();
      for (const name of def.secretNames) secrets.set(name, await rt.secret(name));
      let cmd: RenderedCommand;
      try {
        cmd = renderCommand(def, rt.params, secrets);
      } catch (e) {
        if (!(e instanceof ExpressionEvalError)) throw e;
        throw new ActionFailedError(`${label}: ${e.message}`, { errorCode: 'invalid_parameters', retryable: false });
      }
      const options: ToolOptions = {
        ...(cmd.stdin !== undefined ? { input: cmd.stdin } : {}),
        ...(cmd.env ? { env: cmd.env } : {}),
        ...(def.timeoutMs ? { timeoutMs: def.timeoutMs } : {}),
      };
      const res = def.tool ? await rt.tool(def.tool, cmd.args, options) : await rt.exec(cmd.command, cmd.args, options);
      const facts = { exitStatus: res.exitCode, signal: res.signal, stderrTail: res.stderr.slice(-2000) };
      if (res.timedOut) {
        throw new ActionFailedError(`${label}: ${cmd.command} timed out after ${(def.timeoutMs ?? 0) / 1000}s (timeout_seconds; process group killed)`, {
          errorCode: 'action_timeout',
          retryable: true,
          ...facts,
        });
      }
      if (res.exitCode === null || !def.exitCodes.includes(res.exitCode)) {
        const why = res.exitCode === null ? `killed by ${res.signal}` : `exit ${res.exitCode}`;
        const detail = lastLines(res.stderr) || lastLines(res.stdout);
        throw failure(`${cmd.command} failed (${why}; success is exit ${def.exitCodes.join('/')})${detail ? `: ${detail}` : ''}`, facts);
      }
      let outputs: Record<string, unknown>;
      try {
        outputs = readOutputs(def, res.exitCode, res.stdout);
      } catch (e) {
        if (!(e instanceof OutputParseError)) throw e;
        throw new ActionFailedError(`${label}: ${e.message}`, { errorCode: 'bad_output', retryable: false, ...facts });
      }
      if (def.condition) {
        const resolve = resolverFor(rt.params, secrets, false, { output: outputs });
        let ok: boolean;
        try {
          ok = evaluateCondition(def.condition.expr, resolve);
        } catch (e) {
          if (!(e instanceof ExpressionEvalError)) throw e;
          throw failure(`success condition ${def.condition.source} could not be evaluated: ${e.message}`, facts);
        }
        if (!ok) throw failure(`success condition ${def.condition.source} is false${explain(def, resolve)}`, facts);
      }
      return outputs;
    },
  };
}

const IMPLEMENTATIONS = new WeakMap<ActionSpec, ActionImpl>();

/** The implementation of an operator spec from loadCatalogue (the registry's operator factory). */
export function operatorImplementation(spec: ActionSpec): ActionImpl | undefined {
  let impl = IMPLEMENTATIONS.get(spec);
  if (!impl) {
    const def = definitionOf(spec);
    if (!def) return undefined;
    impl = createTemplateAction(def);
    IMPLEMENTATIONS.set(spec, impl);
  }
  return impl;
}
