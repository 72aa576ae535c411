/** What the lab end-to-end files share: temporary roots, running a workflow in the lab, rollback to the start. */
import { afterAll, expect } from 'vitest';
import { connect } from 'node:net';
import { cortex, removeRoot } from './helpers.js';
import { labRoot, labSnapshot } from './lab-helpers.js';

/** A fresh root with its lab for each call, all removed after the file's tests. */
export function labRoots(): (options?: { reference?: boolean }) => { root: string; lab: string } {
  const roots: string[] = [];
  afterAll(() => roots.forEach(removeRoot));
  return (options = {}) => {
    const r = labRoot(options);
    roots.push(r.root);
    return r;
  };
}

export interface PersonTaskRecord {
  status: string;
  phases: Array<{ actions: Array<{ action_id: string; status: string; outputs?: Record<string, unknown>; person_task?: { draft?: Record<string, unknown>; draft_file?: string; outputs_from?: string; data_file?: string; result?: string } }> }>;
}

export function portOpen(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((done) => {
    const s = connect({ host: u.hostname, port: Number(u.port) });
    s.once('connect', () => {
      s.destroy();
      done(true);
    });
    s.once('error', () => done(false));
  });
}

/** A run in the lab; the bound is a hang guard (build-k8s-cluster, the longest, takes ~45 s in CI). */
export async function runSim(root: string, lab: string, args: string[]) {
  const res = await cortex(['run', ...args, '--simulate', '--lab', lab], { root, timeoutMs: 240_000 });
  return res;
}

/** The lab reset to its seed, and that state (to compare with after a rollback). */
export async function resetLab(root: string, lab: string): Promise<Record<string, unknown>> {
  const reset = await cortex(['lab', 'reset', '--lab', lab], { root });
  expect(reset.exitCode).toBe(0);
  return labSnapshot(lab);
}

/** Rollback after success: `cortex rollback` of the completed run returns the lab to its start. */
export async function rollsBackToStart(root: string, lab: string, id: string, start: Record<string, unknown>): Promise<void> {
  expect(labSnapshot(lab)).not.toEqual(start);
  const rb = await cortex(['rollback', id], { root, timeoutMs: 180_000 });
  expect(rb.exitCode, rb.stdout.slice(-1500)).toBe(0);
  expect(labSnapshot(lab)).toEqual(start);
}
