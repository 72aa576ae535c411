import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TriggerDef, WorkflowDefinition } from '../../../src/definitions/types.js';
import { CronSchedule } from '../../../src/definitions/cron.js';
import { sourceOf, normalizeRoute, type TriggerEntry } from '../../../src/triggers/load.js';
import type { StartRequest, StartResult, Starter } from '../../../src/triggers/start.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

export function fixture(rel: string): Buffer {
  return readFileSync(join(FIXTURES, rel));
}

export function fixtureJson(rel: string): unknown {
  return JSON.parse(fixture(rel).toString('utf8'));
}

/** A small workflow definition (never run in unit tests). */
export function workflow(id: string, parameters: WorkflowDefinition['parameters'] = {}, triggers: TriggerDef[] = []): WorkflowDefinition {
  return {
    workflow_id: id,
    workflow_name: id,
    version: '1.0.0',
    parameters,
    phases: [{ phase_id: 'p', contractor: 'infrastructure-contractor', actions: [{ action_id: 'a', action: 'execute_command', parameters: { command: ['true'] } }] }],
    triggers,
  } as WorkflowDefinition;
}

/** A TriggerEntry as load.ts builds it. */
export function entry(def: WorkflowDefinition, t: TriggerDef, id = String(t.id ?? `${t.type}-0`)): TriggerEntry {
  const e: TriggerEntry = { key: `${def.workflow_id}/${id}`, id, workflowId: def.workflow_id, def, trigger: t, type: t.type, enabled: t.enabled !== false, origin: 'test' };
  if (t.type === 'schedule') e.schedule = new CronSchedule(String(t.cron ?? t.schedule), typeof t.timezone === 'string' ? t.timezone : 'UTC');
  else {
    const source = sourceOf(t);
    if (source) {
      e.source = source;
      const path = (t.path ?? t.webhook_path) as string | undefined;
      e.route = path ? normalizeRoute(path) : source;
    }
  }
  return e;
}

export function scheduleEntry(id: string, cron: string, timezone: string, extra: Partial<TriggerDef> = {}): TriggerEntry {
  const t = { type: 'schedule', id, cron, timezone, ...extra } as TriggerDef;
  return entry(workflow(`wf-${id}`, { slot: { type: 'string', default: '' } }), t);
}

/** A starter that records its requests and answers with made-up execution ids. */
export function fakeStarter(options: { delayMs?: number; fail?: (r: StartRequest) => StartResult | undefined } = {}): Starter & { calls: StartRequest[] } {
  const calls: StartRequest[] = [];
  let n = 0;
  const f = (async (req: StartRequest): Promise<StartResult> => {
    calls.push(req);
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    const failed = options.fail?.(req);
    if (failed) return failed;
    n++;
    return { ok: true, executionId: `${req.workflowId}-20260101T000000Z-${n.toString(16).padStart(4, '0')}`, pid: 1000 + n };
  }) as Starter & { calls: StartRequest[] };
  f.calls = calls;
  return f;
}

export function tempDir(files: Record<string, string> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'cortex-triggers-'));
  mkdirSync(join(root, 'workflows'), { recursive: true });
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  return root;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
