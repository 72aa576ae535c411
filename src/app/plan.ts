/**
 * Saved plans, as `terraform plan -out` / `terraform apply PLAN`: `cortex plan` records the
 * definition's hash, the parameters, a digest of the configuration and every command and request;
 * `cortex run --plan` runs that workflow with those parameters only while all of it still holds.
 */
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ErrorObject } from 'ajv';
import { DefinitionInvalidError, NotFoundError, PlanChangedError, UsageError } from '../errors.js';
import type { ResolvedConfig } from '../config/config.js';
import { maskParameters, parseParamAssignments } from '../definitions/parameters.js';
import { parseDocumentText, pathToPointer, pointerToPath } from '../definitions/load-document.js';
import { describeAjvError, selectAjvErrors, validatorFor } from '../definitions/schemas.js';
import type { ParamSpec, WorkflowDefinition } from '../definitions/types.js';
import { planExecution, type PlannedPhase } from '../engine/plan.js';
import { newExecutionRecord } from '../engine/run-workflow.js';
import type { Masker } from '../model/masker.js';
import type { App } from './context.js';
import type { PreparedWorkflow } from './prepare.js';
import type { StartRequest } from './start.js';

/** The plan file (schemas/plan.schema.json). */
export interface PlanDocument {
  plan_format: 1;
  created_at: string;
  created_by: { user: string; host: string };
  cortex_version: string;
  workflow: { workflow_id: string; workflow_name: string; version: string; path: string; hash: string };
  /** Resolved parameters, secret ones "***". */
  parameters: Record<string, unknown>;
  /** JSON pointer of each secret parameter value → salted scrypt digest. */
  secret_parameters: Record<string, string>;
  config: { path: string | null; digest: string };
  phases: PlannedPhase[];
}

/** Largest plan file read (a plan of the biggest built-in workflow is about 100 KiB). */
const MAX_PLAN_BYTES = 5 * 1024 * 1024;
// scrypt's interactive-login cost: a leaked plan does not make a weak secret cheap to guess.
const SCRYPT = { N: 16384, r: 8, p: 1 } as const;

/** The commands and requests of a run of `prep` (what `run --dry-run` prints), secrets masked. */
export async function planSteps(
  app: App,
  prep: PreparedWorkflow,
  masker: Masker,
  at: { now: string; user: string; host: string },
): Promise<PlannedPhase[]> {
  const def = prep.loaded.definition;
  const record = newExecutionRecord({ executionId: `${def.workflow_id}-dry-run`, loaded: prep.loaded, parameters: prep.maskedParams, trigger: { type: 'manual' }, now: at.now });
  const { now } = at;
  const phases = await planExecution({
    loaded: prep.loaded,
    record,
    params: prep.params,
    env: app.env,
    catalogue: prep.catalogue,
    impls: prep.impls,
    config: prep.config,
    builtins: {
      workflow_id: def.workflow_id,
      workflow_name: def.workflow_name,
      execution_id: '<execution_id>',
      status: 'running',
      date: now.slice(0, 10).replace(/-/g, ''),
      time: now.slice(11, 19).replace(/:/g, ''),
      timestamp: now,
      sequence: '<sequence>',
      user: at.user,
      host: at.host,
    },
  });
  return masker.maskValue(phases) as PlannedPhase[];
}

/** JSON with object keys sorted at every level: the same value always gives the same text. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** Digest of the resolved configuration (config.yaml, its defaults and the CORTEX_PVESH/... overrides). */
export function configDigest(config: ResolvedConfig): string {
  const { source: _source, ...rest } = config;
  return `sha256:${createHash('sha256').update(canonical(rest)).digest('hex')}`;
}

function secretDigest(value: unknown, salt: Buffer = randomBytes(16)): string {
  const hash = scryptSync(canonical(value), salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

function secretMatches(value: unknown, digest: string): boolean {
  const [, n, r, p, salt, hash] = digest.split('$');
  const expected = Buffer.from(hash ?? '', 'base64');
  const got = scryptSync(canonical(value), Buffer.from(salt ?? '', 'base64'), expected.length || 32, { N: Number(n), r: Number(r), p: Number(p) });
  return got.length === expected.length && timingSafeEqual(got, expected);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every value of a `secret: true` parameter (or nested property / item), by JSON pointer. */
export function secretLeaves(def: WorkflowDefinition, params: Record<string, unknown>): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (value: unknown, spec: ParamSpec | undefined, path: Array<string | number>) => {
    if (spec === undefined || value === undefined) return;
    if (spec.secret === true) {
      out.set(pathToPointer(path), value);
      return;
    }
    if (Array.isArray(value) && spec.items) value.forEach((v, i) => walk(v, spec.items, [...path, i]));
    if (isPlainObject(value) && spec.properties) {
      for (const k of Object.keys(value)) if (Object.hasOwn(spec.properties, k)) walk(value[k], spec.properties[k], [...path, k]);
    }
  };
  for (const k of Object.keys(params)) if (def.parameters && Object.hasOwn(def.parameters, k)) walk(params[k], def.parameters[k], [k]);
  return out;
}

/** Builds the plan of a prepared run. Refuses parameters it could not record faithfully (exit 2). */
export async function makePlan(
  app: App,
  prep: PreparedWorkflow,
  masker: Masker,
  meta: { now: string; user: string; host: string; cortexVersion: string; configPath: string | null },
): Promise<PlanDocument> {
  const def = prep.loaded.definition;
  // A non-secret value that contains a secret's value would be recorded as "***" and the run
  // would then use "***": say so rather than write a plan that cannot be run as made.
  const bySpec = maskParameters(def, prep.params);
  if (canonical(bySpec) !== canonical(prep.maskedParams)) {
    throw new UsageError(`a parameter of ${def.workflow_id} contains the value of a secret parameter: a plan cannot record it without the secret`, {
      hint: 'pass that value in a secret parameter, or run without a plan',
    });
  }
  const secrets: Record<string, string> = {};
  for (const [pointer, value] of secretLeaves(def, prep.params)) secrets[pointer] = secretDigest(value);
  return {
    plan_format: 1,
    created_at: meta.now,
    created_by: { user: meta.user, host: meta.host },
    cortex_version: meta.cortexVersion,
    workflow: { workflow_id: def.workflow_id, workflow_name: def.workflow_name, version: def.version, path: prep.loaded.displayPath, hash: prep.loaded.hash },
    parameters: prep.maskedParams,
    secret_parameters: secrets,
    config: { path: meta.configPath, digest: configDigest(prep.config) },
    phases: await planSteps(app, prep, masker, { now: meta.now, user: meta.user, host: meta.host }),
  };
}

/** Reads and validates a plan file: a bad one is exit 2 with file:line:column: what. */
export async function readPlanFile(cwd: string, file: string): Promise<PlanDocument> {
  const path = resolve(cwd, file);
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    throw new NotFoundError(`plan file ${file} does not exist`, { hint: 'make one with cortex plan WORKFLOW_ID -o FILE' });
  }
  if (size > MAX_PLAN_BYTES) throw new DefinitionInvalidError([{ file, message: `larger than ${MAX_PLAN_BYTES} bytes: not a cortex plan` }], { code: 'CORTEX_PLAN_INVALID' });
  let doc: ReturnType<typeof parseDocumentText>;
  try {
    doc = parseDocumentText(await readFile(path, 'utf8'), 'json', file);
  } catch (e) {
    if (e instanceof DefinitionInvalidError) throw new DefinitionInvalidError(e.issues, { code: 'CORTEX_PLAN_INVALID', hint: 'a plan is the JSON file cortex plan -o FILE writes' });
    throw e;
  }
  const validate = validatorFor('plan');
  if (!validate(doc.data)) {
    throw new DefinitionInvalidError(
      selectAjvErrors(validate.errors as ErrorObject[]).map((e) => {
        const d = describeAjvError(e);
        return doc.issueAt(d.pointer, d.message);
      }),
      { code: 'CORTEX_PLAN_INVALID', summary: `${file} is not a valid cortex plan:`, hint: 'make a new one with cortex plan WORKFLOW_ID -o FILE' },
    );
  }
  return doc.data as PlanDocument;
}

/** A copy of `value` without the leaves at `pointers` (the secret parameters, given again). */
function withoutLeaves(value: Record<string, unknown>, pointers: string[]): Record<string, unknown> {
  const copy = structuredClone(value);
  for (const pointer of pointers) {
    const path = pointerToPath(pointer);
    let cur: unknown = copy;
    for (const seg of path.slice(0, -1)) cur = isPlainObject(cur) || Array.isArray(cur) ? (cur as Record<string, unknown>)[seg] : undefined;
    const last = path[path.length - 1] as string;
    if (isPlainObject(cur)) delete cur[last];
  }
  return copy;
}

/**
 * The start request of `run --plan`: the plan's workflow and parameters; `-p` may give the secret
 * parameters again (any other value given must equal the plan's, or the run is refused).
 */
export function planStartRequest(plan: PlanDocument, file: string, given: { workflowId?: string; assignments: string[] }): Omit<StartRequest, 'check'> {
  if (given.workflowId !== undefined && given.workflowId !== plan.workflow.workflow_id) {
    throw new UsageError(`the plan is for workflow ${plan.workflow.workflow_id}, not ${given.workflowId}`, { hint: `cortex run --plan FILE (the workflow id may be left out)` });
  }
  // Every secret value is given again: a plan keeps only its digest.
  const assigned = parseParamAssignments(given.assignments).map((a) => pathToPointer(a.key.split('.')));
  const missing = Object.keys(plan.secret_parameters).filter((p) => !assigned.some((g) => p === g || p.startsWith(`${g}/`)));
  if (missing.length) throw missingSecrets(missing, file);
  return {
    workflowId: plan.workflow.workflow_id,
    values: withoutLeaves(plan.parameters, Object.keys(plan.secret_parameters)),
    assignments: given.assignments,
  };
}

function missingSecrets(pointers: string[], file: string): UsageError {
  const names = pointers.map((p) => pointerToPath(p).join('.'));
  return new UsageError(`the plan was made with secret parameter(s) ${names.join(', ')}, which a plan does not keep: give them again`, {
    hint: `cortex run --plan ${file} ${names.map((n) => `-p ${n}=...`).join(' ')}`,
  });
}

function show(v: unknown): string {
  const s = v === undefined ? 'not set' : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Differences between two values, by JSON pointer (at most `limit`). */
function differences(a: unknown, b: unknown, path: Array<string | number> = [], out: string[] = [], limit = 5): string[] {
  if (out.length >= limit || canonical(a) === canonical(b)) return out;
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])]) differences(a[k], b[k], [...path, k], out, limit);
  } else if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((x, i) => differences(x, b[i], [...path, i], out, limit));
  } else out.push(`${pathToPointer(path) || '/'}: ${show(a)} in the plan, ${show(b)} now`);
  return out;
}

/** What differs between the planned actions and those of a run now, by phase/action. */
function commandChanges(planned: PlannedPhase[], now: PlannedPhase[]): string[] {
  const key = (a: { phase_id: string; action_id: string }) => `${a.phase_id}/${a.action_id}`;
  const before = new Map(planned.flatMap((p) => p.actions.map((a) => [key(a), a] as const)));
  const after = new Map(now.flatMap((p) => p.actions.map((a) => [key(a), a] as const)));
  const out: string[] = [];
  for (const [k, a] of after) {
    const b = before.get(k);
    if (!b) out.push(`action ${k}: not in the plan`);
    else {
      const d = differences(b, a);
      if (d.length) out.push(`the commands of ${k}: ${d[0]}`);
    }
  }
  for (const k of before.keys()) if (!after.has(k)) out.push(`action ${k}: in the plan, not run now`);
  if (out.length === 0) out.push(...differences(planned, now, ['phases']).map((d) => `the commands: ${d}`));
  return out.slice(0, 10);
}

/**
 * Refuses (exit 3, naming each change) a plan whose definition, configuration, parameters or
 * commands differ from what `prep` would run now; a secret parameter not given again is exit 2.
 */
export async function checkPlan(app: App, prep: PreparedWorkflow, plan: PlanDocument, masker: Masker, file: string): Promise<void> {
  const def = prep.loaded.definition;
  const secrets = secretLeaves(def, prep.params);
  const missing = Object.keys(plan.secret_parameters).filter((p) => !secrets.has(p));
  if (missing.length) throw missingSecrets(missing, file);
  const changes: string[] = [];
  if (prep.loaded.hash !== plan.workflow.hash) {
    changes.push(`${prep.loaded.displayPath} changed (${plan.workflow.hash.slice(7, 19)} in the plan, ${prep.loaded.hash.slice(7, 19)} now)`);
  }
  if (configDigest(prep.config) !== plan.config.digest) {
    changes.push(`the configuration changed (${prep.config.source ? 'config.yaml' : 'defaults'}, or a CORTEX_PVESH/CORTEX_TALOSCTL/CORTEX_KUBECTL/CORTEX_HELM override)`);
  }
  for (const d of differences(plan.parameters, maskParameters(def, prep.params))) changes.push(`parameter ${d}`);
  for (const [pointer, value] of secrets) {
    const digest = plan.secret_parameters[pointer];
    if (digest === undefined) changes.push(`secret parameter ${pointer}: not set in the plan, given now`);
    else if (!secretMatches(value, digest)) changes.push(`secret parameter ${pointer}: not the value the plan was made with`);
  }
  if (changes.length === 0) {
    // Same inputs, yet other commands: an ${env.X} the actions read, operator action files, or another cortex.
    changes.push(...commandChanges(plan.phases, await planSteps(app, prep, masker, { now: plan.created_at, user: plan.created_by.user, host: plan.created_by.host })));
  }
  if (changes.length) {
    throw new PlanChangedError(`${file} no longer matches what it was made from:\n${changes.map((c) => `  ${c}`).join('\n')}`, {
      hint: `make a new plan: cortex plan ${plan.workflow.workflow_id} -o ${file}`,
    });
  }
}
