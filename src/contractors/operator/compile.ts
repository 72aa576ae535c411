/**
 * Semantic checks of one operator action file (already valid against
 * schemas/contractor-actions.schema.json) and its translation into catalogue specs and the
 * definitions the template implementation renders. Every problem is an Issue with file,
 * line:column and JSON pointer.
 */
import { basename, isAbsolute } from 'node:path';
import type { Issue } from '../../errors.js';
import { TOOL_NAMES, type ToolName } from '../../config/config.js';
import { collectRefs, ExpressionSyntaxError, formatPath, parseCondition, parseTemplate, type Expr, type PathSegment } from '../../definitions/expression-parser.js';
import type { SourceDocument } from '../../definitions/load-document.js';
import { compileSchema } from '../../definitions/schemas.js';
import type { ActionSpec, ParamSchema } from '../../model/catalogue.js';
import { DEFAULT_ERROR_CODE, type ArgvItem, type OperatorActionDefinition, type OutputFormat, type OutputMapping, type ParsedTemplate } from './operator-action.js';

type Argument = string | number | boolean;

export interface RawOperatorAction {
  name: string;
  summary: string;
  tool?: string;
  argv: Array<Argument | { when: string; args: Argument[] }>;
  stdin?: string;
  env?: Record<string, string>;
  parameters?: ParamSchema;
  output?: { format?: OutputFormat; map?: Record<string, string | { path: string; description?: string }> };
  success?: { exit_codes?: number[]; condition?: string };
  failure?: { error_code?: string; retryable?: boolean; hint?: string };
  idempotent?: boolean;
  timeout_seconds?: number;
  compensation?: { action: string; parameters?: Record<string, unknown> };
}

export interface RawOperatorFile {
  contractor: string;
  description?: string;
  actions: RawOperatorAction[];
}

export interface CompiledOperatorAction {
  spec: ActionSpec;
  def: OperatorActionDefinition;
  /** JSON pointer of the action in its file. */
  pointer: string;
  doc: SourceDocument;
}

/** What a reference may read: returns why a path is not allowed, or undefined when it is. */
type RefRule = (path: readonly PathSegment[]) => string | undefined;

const PROGRAM_NAME = /^[A-Za-z0-9_][A-Za-z0-9._+-]*$/;
const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses a map path (`items[0].metadata.name`, `[0]`, `.` for the whole value) into segments. */
export function parseOutputPath(src: string): PathSegment[] {
  const s = src.trim();
  if (s === '' || s === '.' || s === '$') return [];
  const expr = parseCondition(s.startsWith('[') ? `_${s}` : `_.${s.replace(/^\./, '')}`);
  if (expr.kind !== 'ref') throw new ExpressionSyntaxError('expected a path such as items[0].metadata.name', 0);
  return expr.path.slice(1);
}

class FileCompiler {
  readonly issues: Issue[] = [];
  readonly actions: CompiledOperatorAction[] = [];

  constructor(
    private readonly doc: SourceDocument,
    private readonly file: RawOperatorFile,
  ) {}

  private error(pointer: string, message: string): void {
    this.issues.push(this.doc.issueAt(pointer, message));
  }

  run(): void {
    const seen = new Map<string, number>();
    this.file.actions.forEach((raw, i) => {
      const pointer = `/actions/${i}`;
      const prev = seen.get(raw.name);
      if (prev !== undefined) {
        this.error(`${pointer}/name`, `duplicate action name "${raw.name}" (also /actions/${prev}); each action is defined once per contractor`);
        return;
      }
      seen.set(raw.name, i);
      const compiled = this.action(raw, pointer);
      if (compiled) this.actions.push(compiled);
    });
  }

  private action(raw: RawOperatorAction, p: string): CompiledOperatorAction | undefined {
    const before = this.issues.length;
    const parameters: ParamSchema = raw.parameters ?? { type: 'object', additionalProperties: false, properties: {} };
    this.checkParameterSchema(parameters, `${p}/parameters`);
    const paramNames = new Set(Object.keys((parameters.properties as Record<string, unknown> | undefined) ?? {}));
    const paramRule = (path: readonly PathSegment[], root: string): string | undefined => {
      const name = path[1];
      if (typeof name !== 'string') return `\${${root}} needs a parameter name, e.g. \${${root}.host}`;
      if (!paramNames.has(name)) return `"${name}" is not a declared parameter (declared: ${[...paramNames].join(', ') || 'none'})`;
      return undefined;
    };
    const templateRule: RefRule = (path) => {
      if (path[0] === 'params') return paramRule(path, 'params');
      if (path[0] === 'secrets') return typeof path[1] === 'string' && SECRET_NAME.test(path[1]) && path.length === 2 ? undefined : 'expected ${secrets.NAME}';
      return 'templates may read ${params.<name>} and ${secrets.<NAME>} only';
    };

    const target = this.program(raw, p);
    const argv: ArgvItem[] = [];
    raw.argv.forEach((item, k) => {
      if (target.skipFirst && k === 0) return;
      if (typeof item === 'object') {
        const when = this.condition(item.when, `${p}/argv/${k}/when`, templateRule);
        const args = item.args.map((a, m) => this.template(String(a), `${p}/argv/${k}/args/${m}`, templateRule));
        if (when && args.every((a): a is ParsedTemplate => a !== undefined)) argv.push({ kind: 'when', source: item.when, when, args });
      } else {
        const arg = this.template(String(item), `${p}/argv/${k}`, templateRule);
        if (arg) argv.push({ kind: 'arg', arg });
      }
    });
    const stdin = raw.stdin !== undefined ? this.template(raw.stdin, `${p}/stdin`, templateRule) : undefined;
    const env: OperatorActionDefinition['env'] = [];
    for (const [name, value] of Object.entries(raw.env ?? {})) {
      if (/^CORTEX_/.test(name)) this.error(`${p}/env/${name}`, `${name}: CORTEX_* variables are set by cortex itself`);
      const t = this.template(value, `${p}/env/${name}`, templateRule);
      if (t) env.push({ name, value: t });
    }

    const format = raw.output?.format ?? 'text';
    const { outputs, map } = this.outputs(raw, format, `${p}/output`);
    const outputKeys = new Set(Object.keys(outputs));
    const outputRule = (path: readonly PathSegment[], root: string): string | undefined => {
      const key = path[1];
      if (typeof key !== 'string') return `\${${root}} needs an output key, e.g. \${${root}.exit_code}`;
      if (!outputKeys.has(key)) return `"${key}" is not an output of ${raw.name} (outputs: ${[...outputKeys].join(', ')})`;
      return undefined;
    };
    const condition =
      raw.success?.condition !== undefined
        ? this.condition(raw.success.condition, `${p}/success/condition`, (path) =>
            path[0] === 'output' ? outputRule(path, 'output') : path[0] === 'params' ? paramRule(path, 'params') : 'a success condition may read ${output.<key>} and ${params.<name>} only',
          )
        : undefined;

    let compensation: ActionSpec['compensation'];
    if (raw.compensation) {
      const requires = new Set<string>();
      const rule: RefRule = (path) => {
        if (path[0] === 'input') return paramRule(path, 'input');
        if (path[0] === 'output') {
          const why = outputRule(path, 'output');
          if (!why) requires.add(path[1] as string);
          return why;
        }
        return 'compensation parameters may read ${input.<param>} (the original parameters) and ${output.<key>} (its outputs) only';
      };
      this.templatesIn(raw.compensation.parameters ?? {}, `${p}/compensation/parameters`, rule);
      compensation = {
        action: raw.compensation.action,
        parameters: raw.compensation.parameters ?? {},
        ...(requires.size ? { requires_outputs: [...requires] } : {}),
      };
    }
    if (this.issues.length > before) return undefined;

    const spec: ActionSpec = {
      contractor: this.file.contractor,
      name: raw.name,
      summary: raw.summary,
      kind: 'tool',
      uses: [target.tool ?? basename(target.program as string)],
      parameters,
      outputs,
      idempotent: raw.idempotent ?? false,
      ...(compensation ? { compensation } : {}),
      operatorDefined: true,
    };
    const secretNames = new Set<string>();
    const addSecrets = (t: ParsedTemplate | undefined) => {
      for (const part of t?.template.parts ?? []) {
        if (part.kind === 'expr') for (const r of collectRefs(part.expr)) if (r.path[0] === 'secrets') secretNames.add(String(r.path[1]));
      }
    };
    for (const item of argv) (item.kind === 'arg' ? [item.arg] : item.args).forEach(addSecrets);
    addSecrets(stdin);
    env.forEach((e) => addSecrets(e.value));
    const def: OperatorActionDefinition = {
      file: this.doc.displayPath,
      contractor: this.file.contractor,
      name: raw.name,
      ...(target.tool ? { tool: target.tool } : { program: target.program as string }),
      argv,
      ...(stdin ? { stdin } : {}),
      env,
      format,
      map,
      exitCodes: raw.success?.exit_codes ?? [0],
      ...(condition ? { condition: { source: raw.success?.condition as string, expr: condition } } : {}),
      errorCode: raw.failure?.error_code ?? DEFAULT_ERROR_CODE,
      retryable: raw.failure?.retryable ?? true,
      ...(raw.failure?.hint ? { hint: raw.failure.hint } : {}),
      ...(raw.timeout_seconds !== undefined ? { timeoutMs: Math.round(raw.timeout_seconds * 1000) } : {}),
      secretNames: [...secretNames],
    };
    return { spec, def, pointer: p, doc: this.doc };
  }

  /** The tool or program, and whether argv[0] names it (when no `tool` is given). */
  private program(raw: RawOperatorAction, p: string): { tool?: ToolName; program?: string; skipFirst: boolean } {
    let name: string;
    let at: string;
    let skipFirst = false;
    if (raw.tool !== undefined) {
      name = raw.tool;
      at = `${p}/tool`;
    } else {
      const first = raw.argv[0];
      if (typeof first !== 'string') {
        this.error(`${p}/argv`, 'without "tool", argv[0] must be the program to run (a string)');
        return { program: 'invalid', skipFirst: true };
      }
      name = first;
      at = `${p}/argv/0`;
      skipFirst = true;
    }
    if ((TOOL_NAMES as readonly string[]).includes(name)) return { tool: name as ToolName, skipFirst };
    if (name.includes('${')) {
      this.error(at, `unknown tool "${name}": the program cannot be a template (cortex checks it before running); put the varying part in argv`);
    } else if (/\s/.test(name)) {
      this.error(at, `unknown tool "${name}": give one program here and its arguments in argv (no shell is involved)`);
    } else if (!isAbsolute(name) && name.includes('/')) {
      this.error(at, `unknown tool "${name}": a relative path depends on the working directory; give an absolute path or a program name on PATH`);
    } else if (!isAbsolute(name) && !PROGRAM_NAME.test(name)) {
      this.error(at, `unknown tool "${name}": expected pvesh, talosctl, kubectl, helm, an absolute path or a program name on PATH`);
    }
    return { program: name, skipFirst };
  }

  private checkParameterSchema(schema: ParamSchema, pointer: string): void {
    if (JSON.stringify(schema).includes('"$id"')) {
      this.error(pointer, 'a parameter schema may not declare $id (use $defs and local $ref)');
      return;
    }
    try {
      compileSchema(schema);
    } catch (e) {
      this.error(pointer, `not a valid JSON Schema (draft 2020-12, strict): ${(e as Error).message}`);
    }
  }

  private outputs(raw: RawOperatorAction, format: OutputFormat, p: string): { outputs: Record<string, string>; map: OutputMapping[] } {
    const outputs: Record<string, string> = { exit_code: 'Exit code of the program.' };
    const map: OutputMapping[] = [];
    const entries = Object.entries(raw.output?.map ?? {});
    if (entries.length && (format === 'text' || format === 'none')) {
      this.error(`${p}/map`, `output.map needs format json or lines (format is ${format})`);
      return { outputs, map };
    }
    if (entries.length === 0) {
      if (format === 'json') outputs.json = 'Standard output parsed as JSON (null when empty; a stream of JSON documents becomes a list).';
      if (format === 'lines') outputs.lines = 'The non-empty lines of standard output, trailing whitespace removed.';
      if (format === 'text') outputs.stdout = 'Standard output, trailing whitespace removed (the last 64 KiB).';
    }
    for (const [key, entry] of entries) {
      const src = typeof entry === 'string' ? entry : entry.path;
      const at = `${p}/map/${key}${typeof entry === 'string' ? '' : '/path'}`;
      if (key === 'exit_code') {
        this.error(`${p}/map/${key}`, 'exit_code is always an output; choose another key');
        continue;
      }
      let path: PathSegment[];
      try {
        path = parseOutputPath(src);
      } catch (e) {
        this.error(at, `bad path "${src}": ${(e as Error).message}`);
        continue;
      }
      if (format === 'lines' && (path.length !== 1 || typeof path[0] !== 'number')) {
        this.error(at, `bad path "${src}": the lines of the output are a list; use an index such as [0]`);
        continue;
      }
      map.push({ key, source: src, path });
      const desc = typeof entry === 'string' ? undefined : entry.description;
      outputs[key] = desc ?? (format === 'json' ? `\`${formatPath(path) || '.'}\` of the JSON output.` : `Line ${String(path[0])} of the output.`);
    }
    return { outputs, map };
  }

  private template(src: string, pointer: string, rule: RefRule): ParsedTemplate | undefined {
    try {
      const template = parseTemplate(src);
      for (const part of template.parts) {
        if (part.kind !== 'expr') continue;
        for (const r of collectRefs(part.expr)) {
          const why = rule(r.path);
          if (why) this.error(pointer, `\${${r.text}}: ${why}`);
        }
      }
      return { source: src, template };
    } catch (e) {
      if (e instanceof ExpressionSyntaxError) {
        this.error(pointer, `bad expression in "${src}": ${e.message}`);
        return undefined;
      }
      throw e;
    }
  }

  private condition(src: string, pointer: string, rule: RefRule): Expr | undefined {
    try {
      const expr = parseCondition(src);
      for (const r of collectRefs(expr)) {
        const why = rule(r.path);
        if (why) this.error(pointer, `${r.text}: ${why}`);
      }
      return expr;
    } catch (e) {
      if (e instanceof ExpressionSyntaxError) {
        this.error(pointer, `bad condition "${src}": ${e.message}`);
        return undefined;
      }
      throw e;
    }
  }

  /** Checks every template string inside a JSON-like value. */
  private templatesIn(value: unknown, pointer: string, rule: RefRule): void {
    if (typeof value === 'string') {
      if (value.includes('${')) this.template(value, pointer, rule);
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => this.templatesIn(v, `${pointer}/${i}`, rule));
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) this.templatesIn(v, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, rule);
    }
  }
}

/** Checks one schema-valid operator file; returns its actions (those without problems) and the issues found. */
export function compileOperatorFile(doc: SourceDocument): { actions: CompiledOperatorAction[]; issues: Issue[] } {
  const c = new FileCompiler(doc, doc.data as RawOperatorFile);
  c.run();
  return { actions: c.actions, issues: c.issues };
}
