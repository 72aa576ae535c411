import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { DefinitionInvalidError, ParametersInvalidError, ToolNotFoundError, UsageError, type Issue } from '../errors.js';
import type { ImplementationRegistry } from '../contractors/action-impl.js';
import { loadCatalogue } from '../contractors/load-catalogue.js';
import { createImplementationRegistry } from '../contractors/registry.js';
import type { ActionSpec, Catalogue } from '../model/catalogue.js';
import { loadConfig, TOOL_NAMES, type ResolvedConfig, type ToolName } from '../config/config.js';
import { renderTemplate, ExpressionEvalError } from '../definitions/expression-eval.js';
import { parseTemplate } from '../definitions/expression-parser.js';
import { loadDocument } from '../definitions/load-document.js';
import { maskParameters, resolveParameters, secretParameterValues } from '../definitions/parameters.js';
import { findWorkflow } from '../definitions/repository.js';
import { isSecretEnvName, secretEnvMessage } from '../definitions/references.js';
import type { LoadedWorkflow, WorkflowDefinition } from '../definitions/types.js';
import { layout } from '../layout.js';
import type { DefinitionsMemo } from '../definitions/memo.js';
import { ensureRoot, type ResolvedRoot } from '../root.js';

export interface PreparedWorkflow {
  loaded: LoadedWorkflow;
  catalogue: Catalogue;
  impls: ImplementationRegistry;
  config: ResolvedConfig;
  /** Values to run with (defaults applied, default expressions resolved). */
  params: Record<string, unknown>;
  /** The same with secret parameters masked: what records and output show. */
  maskedParams: Record<string, unknown>;
  secretValues: string[];
}

/** Where a command finds its definitions, config and files. */
export interface RootContext {
  root: ResolvedRoot;
  env: Record<string, string | undefined>;
  cwd: string;
  /** A long-lived process (serve): keeps what is loaded from unchanged definition files. */
  definitions?: DefinitionsMemo;
}

/**
 * The catalogue, the config and the definition of `workflowId` as the files are now. With a memo
 * (serve), files unchanged since the last use are not read again; the config and the definition
 * are then each caller's own copies (the catalogue is shared: nothing changes it).
 */
export async function loadDefinitions(ctx: RootContext, workflowId: string): Promise<{ catalogue: Catalogue; config: ResolvedConfig; loaded: LoadedWorkflow & { warnings: Issue[] } }> {
  const dir = ctx.root.dir;
  const snap = ctx.definitions?.snapshot();
  if (!snap) {
    const catalogue = await loadCatalogue(dir);
    return { catalogue, config: await loadRootConfig(ctx), loaded: await findWorkflow(dir, workflowId, catalogue) };
  }
  const catalogue = await snap.get('catalogue', () => loadCatalogue(dir));
  const [config, loaded] = await Promise.all([
    snap.get('config', () => loadRootConfig(ctx)),
    // Validity depends on the catalogue too (operator actions), which this state of the files fixes.
    snap.get(`workflow:${workflowId}`, () => findWorkflow(dir, workflowId, catalogue)),
  ]);
  return { catalogue, config: structuredClone(config), loaded: structuredClone(loaded) };
}

export async function loadRootConfig(ctx: RootContext): Promise<ResolvedConfig> {
  return loadConfig(layout(ctx.root.dir).config, ctx.env, 'config.yaml');
}

/** Every action (with its phase contractor) a workflow may run, rollback steps included. */
export function actionsOf(def: WorkflowDefinition, catalogue: Catalogue): Array<{ contractor: string; action: string; where: string; spec?: ActionSpec }> {
  const out: Array<{ contractor: string; action: string; where: string; spec?: ActionSpec }> = [];
  const add = (contractor: string, action: string, where: string) => out.push({ contractor, action, where, spec: catalogue.get(contractor, action) });
  for (const p of def.phases) {
    for (const a of p.actions) {
      add(p.contractor, a.action, `${p.phase_id}/${a.action_id}`);
      const steps = (a.parameters as { steps?: unknown } | undefined)?.steps;
      if (catalogue.get(p.contractor, a.action)?.kind === 'plan' && Array.isArray(steps)) {
        steps.forEach((s, i) => {
          const st = s as { contractor?: unknown; action?: unknown };
          if (typeof st.contractor === 'string' && typeof st.action === 'string') add(st.contractor, st.action, `${p.phase_id}/${a.action_id}/steps/${i}`);
        });
      }
    }
  }
  for (const r of def.rollback_procedure?.phases ?? []) {
    if (typeof r === 'string') continue;
    if (r.action) add(r.contractor, r.action, `rollback/${r.phase_id}`);
    for (const a of r.actions ?? []) add(r.contractor, a.action, `rollback/${r.phase_id}/${a.action_id}`);
  }
  return out;
}

/** Refuses, before anything starts, a workflow that uses an action cortex cannot run yet (exit 2). */
export function assertImplemented(def: WorkflowDefinition, catalogue: Catalogue, impls: ImplementationRegistry): void {
  const missing = actionsOf(def, catalogue).filter((a) => a.spec && a.spec.kind !== 'person' && !impls.has(a.spec));
  if (missing.length) {
    throw new UsageError(
      `workflow "${def.workflow_id}" uses action(s) cortex cannot run yet: ${[...new Set(missing.map((m) => `${m.contractor}/${m.action}`))].join(', ')} (at ${missing.map((m) => m.where).join(', ')})`,
      { hint: 'define them as operator actions in coordination/contractors/<contractor>.yaml, or remove them' },
    );
  }
}

function onPath(command: string, env: Record<string, string | undefined>): boolean {
  if (command.includes('/')) return existsSync(isAbsolute(command) ? command : resolve(command));
  return (env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, command)));
}

/** Exit 4 before starting when a tool the workflow needs is not installed. */
export function assertToolsPresent(def: WorkflowDefinition, catalogue: Catalogue, config: ResolvedConfig, env: Record<string, string | undefined>): void {
  const needed = new Map<ToolName, string[]>();
  for (const a of actionsOf(def, catalogue)) {
    for (const u of a.spec?.uses ?? []) {
      if ((TOOL_NAMES as readonly string[]).includes(u)) needed.set(u as ToolName, [...(needed.get(u as ToolName) ?? []), a.where]);
    }
  }
  // With proxmox.api set, Proxmox is reached over HTTPS: pvesh need not be installed.
  if (config.proxmox.api) needed.delete('pvesh');
  const missing = [...needed].filter(([tool]) => !onPath((config.tools[tool] as string[])[0] as string, env));
  if (missing.length) {
    throw new ToolNotFoundError(
      `required tool(s) not found: ${missing.map(([t, where]) => `${(config.tools[t] as string[])[0]} (for ${t}, used by ${where.slice(0, 3).join(', ')}${where.length > 3 ? ', ...' : ''})`).join('; ')}`,
      { hint: 'install them, set their command line in config.yaml (tools:) or CORTEX_PVESH/CORTEX_TALOSCTL/CORTEX_KUBECTL/CORTEX_HELM, or rehearse with --simulate' },
    );
  }
}

/** Resolves `${...}` in parameter values that came from defaults (e.g. image_tag: "${GIT_SHA}"). */
function resolveDefaultExpressions(def: WorkflowDefinition, params: Record<string, unknown>, env: Record<string, string | undefined>, builtins: Record<string, unknown>): void {
  const issues: Issue[] = [];
  for (const [name, spec] of Object.entries(def.parameters ?? {})) {
    const v = params[name];
    if (typeof v !== 'string' || v !== spec.default || !v.includes('${')) continue;
    try {
      params[name] = renderTemplate(parseTemplate(v), (path) => {
        const [root, second] = path;
        if (root === 'env' || (path.length === 1 && typeof root === 'string' && /^[A-Z][A-Z0-9_]*$/.test(root))) {
          const key = root === 'env' ? String(second) : (root as string);
          if (isSecretEnvName(key)) throw new ExpressionEvalError(secretEnvMessage(key));
          const value = env[key];
          if (value === undefined) throw new ExpressionEvalError(`environment variable ${key} is not set`);
          return value;
        }
        if (typeof root === 'string' && root in builtins) return builtins[root];
        throw new ExpressionEvalError(`a default can only use environment variables and built-ins`);
      });
    } catch (e) {
      issues.push({ pointer: `/${name}`, message: `default ${v}: ${(e as Error).message}; pass -p ${name}=...` });
    }
  }
  if (issues.length) throw new ParametersInvalidError(issues, def.workflow_id);
}

export async function prepareWorkflow(
  ctx: RootContext,
  workflowId: string,
  input: { assignments?: string[]; paramsFile?: string; values?: Record<string, unknown> },
): Promise<PreparedWorkflow> {
  await ensureRoot(ctx.root);
  const { catalogue, config, loaded } = await loadDefinitions(ctx, workflowId);
  let file: Record<string, unknown> | undefined;
  if (input.paramsFile) {
    const doc = await loadDocument(resolve(ctx.cwd, input.paramsFile), input.paramsFile);
    if (doc.data === null || typeof doc.data !== 'object' || Array.isArray(doc.data)) {
      throw new DefinitionInvalidError([{ file: input.paramsFile, message: 'expected a mapping of parameter names to values' }]);
    }
    file = doc.data as Record<string, unknown>;
  }
  const params = resolveParameters(loaded.definition, {
    ...(input.assignments ? { assignments: input.assignments } : {}),
    ...(file ? { file, fileName: input.paramsFile } : {}),
    ...(input.values ? { values: input.values } : {}),
  });
  resolveDefaultExpressions(loaded.definition, params, ctx.env, { workflow_id: loaded.definition.workflow_id, workflow_name: loaded.definition.workflow_name });
  const secretValues = secretParameterValues(loaded.definition, params);
  return {
    loaded,
    catalogue,
    impls: createImplementationRegistry(),
    config,
    params,
    maskedParams: maskParameters(loaded.definition, params, secretValues),
    secretValues,
  };
}
