import { afterAll, describe, expect, it } from 'vitest';
import { cortex, removeRoot } from './helpers.js';
import { checkRootFiles } from './schema-check.js';
import { historyRecords, INCIDENT_PARAMS, labRoot, labSnapshot } from './lab-helpers.js';

const roots: string[] = [];
afterAll(() => roots.forEach(removeRoot));

interface Case {
  workflow: string;
  params?: string[];
  /** An action of the last phase to fail, and what the run then ends as. */
  fail: string;
  endsAs: 'rolled_back' | 'paused' | 'completed';
}

const CASES: Case[] = [
  { workflow: 'deploy-monitoring-stack', fail: 'create-critical-handler', endsAs: 'rolled_back' },
  { workflow: 'build-k8s-cluster', fail: 'create-deploy-webhook', endsAs: 'rolled_back' },
  { workflow: 'app-deployment', fail: 'smoke-tests', endsAs: 'rolled_back' },
  // The failover's last phase pauses on a failed DNS update; the operator then rolls back.
  { workflow: 'disaster-recovery-failover', fail: 'update-dns', endsAs: 'paused' },
];

async function prepare(): Promise<{ root: string; lab: string; start: Record<string, unknown> }> {
  const r = labRoot();
  roots.push(r.root);
  const reset = await cortex(['lab', 'reset', '--lab', r.lab], { root: r.root });
  expect(reset.exitCode).toBe(0);
  return { ...r, start: labSnapshot(r.lab) };
}

async function onlyExecution(root: string): Promise<string> {
  const st = await cortex(['status', '--json'], { root });
  const active = (JSON.parse(st.stdout) as { executions: Array<{ execution_id: string }> }).executions;
  if (active[0]) return active[0].execution_id;
  return historyRecords(root)[0]?.execution_id as string;
}

describe('every built-in workflow is reversible in the lab', () => {
  for (const c of CASES) {
    it(`${c.workflow}: a failure in its last phase ends ${c.endsAs === 'rolled_back' ? 'rolled_back' : `${c.endsAs}, then cortex rollback`} with the lab back to its start; a second rollback is a no-op`, async () => {
      const { root, lab, start } = await prepare();
      const res = await cortex(['run', c.workflow, ...(c.params ?? []), '--simulate', '--lab', lab, '--simulate-fail', c.fail], { root, timeoutMs: 180_000 });
      expect(res.stdout).toMatch(new RegExp(`${c.endsAs} ${c.workflow}-`));
      const id = await onlyExecution(root);
      if (c.endsAs !== 'rolled_back') {
        const rb = await cortex(['rollback', id], { root, timeoutMs: 180_000 });
        expect(rb.exitCode, rb.stdout.slice(-1500)).toBe(0);
      }
      const rec = historyRecords(root).find((r) => r.execution_id === id) as { status: string; rollback: { status: string } };
      expect(rec.status).toBe('rolled_back');
      expect(labSnapshot(lab)).toEqual(start);
      const again = await cortex(['rollback', id], { root });
      expect(again.exitCode).toBe(0);
      expect(again.stdout).toMatch(/already rolled back/);
      expect(labSnapshot(lab)).toEqual(start);
      expect(checkRootFiles(root)).toEqual([]);
    }, 240_000);
  }

  it('security-incident-response: a rejected remediation rolls the containment back, keeping only the evidence', async () => {
    const { root, lab, start } = await prepare();
    const res = await cortex(['run', 'security-incident-response', ...INCIDENT_PARAMS, '--simulate', '--lab', lab, '--simulate-fail', 'snapshot-vm'], { root, timeoutMs: 180_000 });
    expect(res.stdout).toMatch(/awaiting_approval security-incident-response-/);
    expect(labSnapshot(lab)).not.toEqual(start);
    const id = await onlyExecution(root);
    const rb = await cortex(['reject', id, '--comment', 'false positive'], { root, timeoutMs: 180_000 });
    expect(rb.exitCode, rb.stdout.slice(-1500)).toBe(0);
    expect((historyRecords(root)[0] as { status: string }).status).toBe('rolled_back');
    const after = labSnapshot(lab) as { vms: string[] };
    const before = start as { vms: string[] };
    // Forensic snapshots are evidence: the workflow keeps them on purpose (compensation: false).
    const noEvidence = (vms: string[]) => vms.map((v) => v.replace(/snaps=\[[^\]]*\]/, 'snaps=[]'));
    expect({ ...after, vms: noEvidence(after.vms) }).toEqual({ ...start, vms: noEvidence(before.vms) });
  }, 240_000);
});

describe('approvals in the lab', () => {
  it('a rejected production deploy leaves nothing behind', async () => {
    const { root, lab, start } = await prepare();
    const res = await cortex(['run', 'app-deployment', '-p', 'environment=production', '--simulate', '--lab', lab], { root, timeoutMs: 180_000 });
    expect(res.stdout).toMatch(/awaiting_approval app-deployment-/);
    const id = await onlyExecution(root);
    const rj = await cortex(['reject', id, '--comment', 'not in the freeze'], { root, timeoutMs: 180_000 });
    expect(rj.exitCode, rj.stdout.slice(-1500)).toBe(0);
    expect((historyRecords(root)[0] as { status: string }).status).toBe('rolled_back');
    expect(labSnapshot(lab)).toEqual(start);
  }, 240_000);
});

// Rollback after success (run, then cortex rollback on the same lab returns it to its start) is
// checked in lab-workflows.e2e.test.ts after each successful run, so the run is not made twice.
