/**
 * Every trigger under a coordination directory: the `triggers` of each valid workflow definition
 * (templates excluded: they are examples) and the trigger files <root>/triggers/*.yaml|yml|json
 * (schemas/trigger-file.schema.json). Invalid files are reported as problems and skipped; the
 * triggers of the other files still work.
 */
import { readdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { ErrorObject } from 'ajv';
import { DefinitionInvalidError, type Issue } from '../errors.js';
import type { Catalogue } from '../model/catalogue.js';
import { formatOf, loadDocument, type SourceDocument } from '../definitions/load-document.js';
import { checkDefinitionFile, duplicateIdIssues, listDefinitionFiles, type CheckedDefinition } from '../definitions/repository.js';
import { ajvWith, describeAjvError, loadSchema, selectAjvErrors } from '../definitions/schemas.js';
import type { ValidateFunction } from 'ajv';
import type { TriggerDef, WorkflowDefinition } from '../definitions/types.js';
import { layout } from '../layout.js';
import { checkTrigger } from '../definitions/check-trigger.js';
import { CronSchedule } from '../definitions/cron.js';

export type EventSource = 'alertmanager' | 'github' | 'falco' | 'generic';
export const EVENT_SOURCES: readonly EventSource[] = ['alertmanager', 'github', 'falco', 'generic'];

/** One trigger, ready to match or schedule. */
export interface TriggerEntry {
  /** `<workflow_id>/<id>`: unique under the root; the key of tick.json. */
  key: string;
  id: string;
  workflowId: string;
  def: WorkflowDefinition;
  trigger: TriggerDef;
  type: string;
  enabled: boolean;
  /** Where it is defined: `workflows/x.json /triggers/0` or `triggers/y.yaml /triggers/1`. */
  origin: string;
  /** For event triggers: the payload format. */
  source?: EventSource;
  /** For event triggers: the path under /webhook/ that `cortex serve` receives it on. */
  route?: string;
  /** For schedules. */
  schedule?: CronSchedule;
}

export interface LoadedTriggers {
  entries: TriggerEntry[];
  /** Every problem: the definitions' and the triggers'. */
  problems: Issue[];
  /** Problems of the triggers themselves: trigger files with errors, duplicate keys, routes used twice (those triggers are ignored). */
  triggerProblems: Issue[];
  /** The trigger files read (`triggers/x.yaml`), valid or not. */
  triggerFiles: string[];
  workflows: Map<string, WorkflowDefinition>;
}

/** The source (payload format) of an event trigger, undefined for schedule/manual. */
export function sourceOf(t: TriggerDef): EventSource | undefined {
  switch (t.type) {
    case 'prometheus_alert':
      return 'alertmanager';
    case 'github_webhook':
      return 'github';
    case 'falco':
    case 'security_alert':
      return 'falco';
    case 'webhook':
      return (t.source as EventSource | undefined) ?? 'generic';
    default:
      return undefined;
  }
}

/** `/webhook/security-alert`, `webhook/x`, `/x` and `x` all mean the route `x` (served at /webhook/x). */
export function normalizeRoute(path: string): string {
  let p = path.trim().replace(/^\/+/, '');
  if (p.startsWith('webhook/')) p = p.slice('webhook/'.length);
  return p.replace(/\/+$/, '');
}

function routeOf(t: TriggerDef, source: EventSource): string {
  const path = (t.path ?? t.webhook_path) as string | undefined;
  return path !== undefined ? normalizeRoute(path) : source;
}

function schemaIssues(doc: SourceDocument, errors: readonly ErrorObject[]): Issue[] {
  return selectAjvErrors(errors).map((e) => {
    const d = describeAjvError(e);
    return doc.issueAt(d.pointer, d.message);
  });
}

let fileForms: { list: ValidateFunction; single: ValidateFunction } | undefined;

/** Validators of the two forms of schemas/trigger-file.schema.json (its oneOf branches). */
function triggerFileValidators(): { list: ValidateFunction; single: ValidateFunction } {
  if (!fileForms) {
    // The trigger-file schema refers to workflow.schema.json: both are registered, workflow first.
    const ajv = ajvWith('workflow', 'trigger-file');
    const id = loadSchema('trigger-file').$id as string;
    fileForms = { list: ajv.compile({ $ref: `${id}#/oneOf/0` }), single: ajv.compile({ $ref: `${id}#/oneOf/1` }) };
  }
  return fileForms;
}

interface RawTrigger {
  t: TriggerDef;
  workflowId: string;
  origin: string;
  defaultId: string;
}

/** The kind of a document: a trigger file (under a triggers/ folder, or one with no phases but triggers or a type). */
export function isTriggerFileData(path: string, data: unknown): boolean {
  if (basename(dirname(resolve(path))) === 'triggers') return true;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return false;
  const o = data as Record<string, unknown>;
  return !('phases' in o) && !('workflow_name' in o) && ('triggers' in o || 'type' in o);
}

/**
 * Checks one trigger file against its schema and the workflows it names. Returns its triggers
 * and its issues; a file with an issue contributes no trigger (half a file of triggers is a surprise).
 */
export async function checkTriggerFile(path: string, display: string, workflows: ReadonlyMap<string, WorkflowDefinition>, workflowsDir: string): Promise<{ triggers: RawTrigger[]; issues: Issue[] }> {
  const problems: Issue[] = [];
  let doc: SourceDocument;
  try {
    doc = await loadDocument(path, display);
  } catch (e) {
    if (e instanceof DefinitionInvalidError) return { triggers: [], issues: e.issues };
    throw e;
  }
  const forms = triggerFileValidators();
  // Each form is checked on its own, so the messages are about the form the file uses.
  const isList = doc.data !== null && typeof doc.data === 'object' && 'triggers' in (doc.data as object);
  const validate = isList ? forms.list : forms.single;
  if (!validate(doc.data)) return { triggers: [], issues: schemaIssues(doc, validate.errors as ErrorObject[]) };
  const data = doc.data as { workflow_id?: string; triggers?: TriggerDef[]; type?: string };
  const list: Array<{ t: TriggerDef; pointer: string }> = data.triggers ? data.triggers.map((t, i) => ({ t, pointer: `/triggers/${i}` })) : [{ t: data as TriggerDef, pointer: '' }];
  const stem = basename(path).replace(/\.(json|ya?ml)$/i, '');
  const accepted: RawTrigger[] = [];
  list.forEach(({ t, pointer }, i) => {
    const wf = (t.workflow_id as string | undefined) ?? data.workflow_id;
    if (!wf) {
      problems.push(doc.issueAt(pointer || '/', 'missing workflow_id: name the workflow at the top of the file or in the trigger'));
      return;
    }
    const def = workflows.get(wf);
    if (!def) {
      problems.push(doc.issueAt(`${pointer}/workflow_id`, `no valid workflow "${wf}" under ${workflowsDir}`));
      return;
    }
    const sink = { error: (p: string, m: string) => problems.push(doc.issueAt(p, m)), warn: () => undefined };
    const n = problems.length;
    checkTrigger({ ...t, workflow_id: undefined }, { workflowId: wf, params: def.parameters ?? {} }, pointer, sink);
    if (problems.length === n) accepted.push({ t, workflowId: wf, origin: `${display} ${pointer || '/'}`, defaultId: list.length === 1 ? stem : `${stem}-${i}` });
  });
  return { triggers: problems.length ? [] : accepted, issues: problems };
}

/** The trigger files' triggers (validated against their schema and their workflow). */
async function loadTriggerFiles(root: string, workflows: Map<string, WorkflowDefinition>, problems: Issue[], files: string[]): Promise<RawTrigger[]> {
  const dir = layout(root).triggers;
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => formatOf(n) && !n.startsWith('.')).sort();
  } catch {
    return [];
  }
  const out: RawTrigger[] = [];
  for (const name of names) {
    const display = join('triggers', name);
    files.push(display);
    const checked = await checkTriggerFile(join(dir, name), display, workflows, layout(root).workflows);
    problems.push(...checked.issues);
    out.push(...checked.triggers);
  }
  return out;
}

/** Loads every trigger under `root`. */
export async function loadTriggers(root: string, catalogue: Catalogue): Promise<LoadedTriggers> {
  const problems: Issue[] = [];
  const files = (await listDefinitionFiles(root)).filter((f) => !f.isTemplate);
  const checked: CheckedDefinition[] = [];
  for (const f of files) checked.push(await checkDefinitionFile(f, catalogue));
  const dupIssues = duplicateIdIssues(checked);
  const duplicated = new Set(dupIssues.map((i) => i.file));
  problems.push(...dupIssues);
  const workflows = new Map<string, WorkflowDefinition>();
  const origins = new Map<string, string>();
  for (const c of checked) {
    if (c.result.errors.length || !c.result.definition) {
      problems.push({ file: c.displayPath, message: `invalid definition (its triggers are ignored): ${c.result.errors.length} error(s); run cortex validate` });
      continue;
    }
    if (duplicated.has(c.displayPath)) continue;
    workflows.set(c.result.definition.workflow_id, c.result.definition);
    origins.set(c.result.definition.workflow_id, c.displayPath);
  }

  const raw: RawTrigger[] = [];
  for (const [id, def] of workflows) {
    def.triggers?.forEach((t, i) => raw.push({ t, workflowId: id, origin: `${origins.get(id)} /triggers/${i}`, defaultId: `${t.type}-${i}` }));
  }
  const definitionProblems = problems.length;
  const triggerFiles: string[] = [];
  raw.push(...(await loadTriggerFiles(root, workflows, problems, triggerFiles)));

  const entries: TriggerEntry[] = [];
  const keys = new Map<string, string>();
  const routeSources = new Map<string, { source: EventSource; origin: string }>();
  for (const { t, workflowId, origin, defaultId } of raw) {
    if (t.type === 'manual') continue;
    const id = (t.id as string | undefined) ?? defaultId;
    const key = `${workflowId}/${id}`;
    const prev = keys.get(key);
    if (prev) {
      problems.push({ file: origin.split(' ')[0], message: `trigger "${key}" is also defined at ${prev}; give one of them another id (this one is ignored)` });
      continue;
    }
    const entry: TriggerEntry = {
      key,
      id,
      workflowId,
      def: workflows.get(workflowId) as WorkflowDefinition,
      trigger: t,
      type: t.type,
      enabled: t.enabled !== false,
      origin,
    };
    if (t.type === 'schedule') {
      entry.schedule = new CronSchedule(String(t.cron ?? t.schedule), typeof t.timezone === 'string' ? t.timezone : 'UTC');
    } else {
      const source = sourceOf(t);
      if (!source) continue;
      const route = routeOf(t, source);
      const fixed = (EVENT_SOURCES as readonly string[]).includes(route) ? (route as EventSource) : undefined;
      const other = routeSources.get(route);
      if ((fixed && fixed !== source) || (other && other.source !== source)) {
        problems.push({
          file: origin.split(' ')[0],
          message: `trigger "${key}" receives ${source} events on /webhook/${route}, which ${fixed && fixed !== source ? `is the ${fixed} path` : `already receives ${other?.source} events (${other?.origin})`}; give it another path (this one is ignored)`,
        });
        continue;
      }
      routeSources.set(route, { source, origin });
      entry.source = source;
      entry.route = route;
    }
    keys.set(key, origin);
    entries.push(entry);
  }
  return { entries, problems, triggerProblems: problems.slice(definitionProblems), triggerFiles, workflows };
}
