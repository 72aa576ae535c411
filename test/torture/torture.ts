import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, cleanEnv, cortex, listFiles, removeRoot } from '../e2e/helpers.js';
import { checkRootFiles } from '../e2e/schema-check.js';
import { invocationLog, labRoot, labSnapshot, requestLog } from '../e2e/lab-helpers.js';
import { processesWithEnv } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

/** Small seeded PRNG (mulberry32): a failing trial is reproduced from its printed seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORKFLOW = 'deploy-monitoring-stack';

function startedActions(root: string): number {
  let n = 0;
  for (const dir of ['infrastructure', 'talos', 'n8n']) {
    const p = join(root, 'masters', dir, 'logs', 'contractor.log');
    if (existsSync(p)) n += (readFileSync(p, 'utf8').match(/ event=start /g) ?? []).length;
  }
  return n;
}

function activeRecord(root: string): { execution_id: string; status: string; phases: Array<{ actions: Array<{ action_id: string; status: string }> }> } | undefined {
  const dir = join(root, 'workflows', 'active');
  if (!existsSync(dir)) return undefined;
  const f = readdirSync(dir).find((n) => /^workflow-.*\.json$/.test(n));
  return f ? JSON.parse(readFileSync(join(dir, f), 'utf8')) : undefined;
}

function anyRecord(root: string, id: string): { status: string } {
  for (const d of ['active', 'history']) {
    const p = join(root, 'workflows', d, `workflow-${id}.json`);
    if (existsSync(p)) return JSON.parse(readFileSync(p, 'utf8')) as { status: string };
  }
  throw new Error(`no record ${id}`);
}

/** Every JSON file under the root parses (and the schema-governed ones validate). */
function everyFileParses(root: string): string[] {
  const problems = checkRootFiles(root);
  for (const rel of listFiles(root)) {
    if (!rel.endsWith('.json') || rel.startsWith('lab/')) continue;
    try {
      JSON.parse(readFileSync(join(root, rel), 'utf8'));
    } catch (e) {
      problems.push(`${rel}: ${(e as Error).message}`);
    }
  }
  for (const rel of listFiles(root).filter((r) => r.endsWith('.jsonl') && !r.startsWith('lab/'))) {
    const lines = readFileSync(join(root, rel), 'utf8').split('\n').filter(Boolean);
    for (const l of lines) {
      try {
        JSON.parse(l);
      } catch {
        problems.push(`${rel}: a torn line`);
      }
    }
  }
  return problems;
}

export interface TrialResult {
  seed: number;
  killAfterActions: number;
  executionId: string;
  outcome: 'completed' | 'rolled_back';
}

/**
 * One torture trial: run the workflow in a freshly reset lab, kill -9 the cortex process after a
 * random number of started actions (plus a random few ms), then `cortex resume` (and `cortex
 * rollback` where resume asks for a choice). Checks every invariant; returns what happened.
 */
export async function trial(root: string, lab: string, seed: number, reference: Record<string, unknown>, start: Record<string, unknown>): Promise<TrialResult> {
  const rand = prng(seed);
  const killAfterActions = 1 + Math.floor(rand() * 18);
  const jitterMs = Math.floor(rand() * 250);
  const reset = await cortex(['lab', 'reset', '--lab', lab], { root });
  expect(reset.exitCode).toBe(0);
  const child = execa('node', [CLI, '--root', root, 'run', WORKFLOW, '--simulate', '--lab', lab], { env: cleanEnv(), extendEnv: false, reject: false });
  const before = startedActions(root);
  // Until the chosen number of actions started, or the run ended first (then it is not killed mid-way).
  await waitFor(() => startedActions(root) - before >= killAfterActions || child.exitCode !== null, {
    what: `seed ${seed}: ${killAfterActions} started actions (or the run to end)`,
    timeoutMs: 60_000,
    intervalMs: 20,
    detail: () => `${startedActions(root) - before} started`,
  });
  await new Promise((r) => setTimeout(r, jitterMs)); // the random part of the kill moment, not a settle
  child.kill('SIGKILL');
  await child;
  // Tools the killed process had started run on; let them finish as they would after a crash.
  await waitFor(() => processesWithEnv('CORTEX_LAB_DIR', lab).length === 0, {
    what: `seed ${seed}: the lab tools the killed run started to exit`,
    timeoutMs: 60_000,
    detail: () => `still running: ${processesWithEnv('CORTEX_LAB_DIR', lab).join(', ')}`,
  });

  const killed = activeRecord(root);
  const id = killed?.execution_id ?? (listFiles(join(root, 'workflows', 'history')).map((f) => f.replace(/^workflow-|\.json$/g, '')).sort().pop() as string);
  const where = `seed ${seed} (kill after ${killAfterActions} started actions + ${jitterMs} ms), execution ${id}`;
  expect(everyFileParses(root), where).toEqual([]);
  const completedBefore = new Set((killed?.phases ?? []).flatMap((p) => p.actions.filter((a) => a.status === 'completed').map((a) => a.action_id)));
  const invocationsBefore = invocationLog(lab).length;
  const requestsBefore = requestLog(lab).length;

  let outcome: TrialResult['outcome'] = 'completed';
  if (killed) {
    let res = await cortex(['resume', id], { root, timeoutMs: 300_000 });
    for (let i = 0; i < 3 && anyRecord(root, id).status !== 'completed'; i++) {
      if (/--retry-action/.test(res.stdout + res.stderr)) {
        // Resume cannot know whether a non-idempotent action took effect: the operator rolls back.
        res = await cortex(['rollback', id], { root, timeoutMs: 300_000 });
        outcome = 'rolled_back';
        break;
      }
      res = await cortex(['resume', id], { root, timeoutMs: 300_000 });
    }
    expect(anyRecord(root, id).status, `${where}\n${res.stdout.slice(-1500)}\n${res.stderr}`).toBe(outcome);
  }

  // No action that had completed before the kill ran again.
  const rerun = [...invocationLog(lab).slice(invocationsBefore), ...requestLog(lab).slice(requestsBefore)]
    .map((e) => ('action_id' in e ? e.action_id : (e as { action?: string | null }).action) ?? '')
    .filter((a) => completedBefore.has(a));
  expect(rerun, where).toEqual([]);
  expect(everyFileParses(root), where).toEqual([]);
  expect(labSnapshot(lab), where).toEqual(outcome === 'completed' ? reference : start);
  // Metrics counted the execution exactly once.
  const ledger = readFileSync(join(root, 'workflows', 'metrics', 'executions.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.includes(`"execution_id":"${id}"`));
  expect(ledger, where).toHaveLength(1);
  expect(listFiles(join(root, 'workflows', 'active')), where).toEqual([]);
  return { seed, killAfterActions, executionId: id, outcome };
}

/**
 * A torture suite: one uninterrupted reference run, then `trials` trials with seeds
 * CORTEX_TORTURE_SEED (default 20261125) + offset + i. Split over files so they run in parallel.
 */
export function tortureSuite(part: string, offset: number): void {
  const baseSeed = Number(process.env.CORTEX_TORTURE_SEED ?? 20261125);
  const trials = Number(process.env.CORTEX_TORTURE_TRIALS ?? 15);
  const r = labRoot();
  afterAll(() => removeRoot(r.root));
  describe(`torture: kill -9 and resume (part ${part})`, () => {
    it(`${trials} trials from seed ${baseSeed + offset}`, async () => {
      const reset = await cortex(['lab', 'reset', '--lab', r.lab], { root: r.root });
      expect(reset.exitCode).toBe(0);
      const start = labSnapshot(r.lab);
      const ref = await cortex(['run', WORKFLOW, '--simulate', '--lab', r.lab], { root: r.root, timeoutMs: 300_000 });
      expect(ref.exitCode, ref.stdout.slice(-1000)).toBe(0);
      const reference = labSnapshot(r.lab);
      const outcomes: string[] = [];
      for (let i = 0; i < trials; i++) {
        const seed = baseSeed + offset + i;
        const res = await trial(r.root, r.lab, seed, reference, start);
        outcomes.push(`seed ${seed}: killed after ${res.killAfterActions} actions -> ${res.outcome}`);
      }
      console.log(outcomes.join('\n'));
    }, 900_000);
  });
}
