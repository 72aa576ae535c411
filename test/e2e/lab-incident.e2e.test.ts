import { describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cortex } from './helpers.js';
import { checkRootFiles } from './schema-check.js';
import { historyRecords, INCIDENT_PARAMS, labShow } from './lab-helpers.js';
import { labRoots, runSim, type PersonTaskRecord } from './lab-run.js';

const fresh = labRoots();

// The incident workflow in the lab (split from lab-workflows.e2e.test.ts so the files run in parallel).
describe('the lab: security-incident-response end to end', () => {

  /** Runs the incident to its first task for a person; returns the execution id and that task's draft file. */
  async function incidentAtReview(root: string, lab: string): Promise<{ id: string; draftFile: string }> {
    const first = await runSim(root, lab, ['security-incident-response', ...INCIDENT_PARAMS]);
    expect(first.exitCode, first.stdout.slice(-2000) + first.stderr).toBe(0);
    expect(first.stdout).toMatch(/awaiting_approval/);
    const id = /awaiting_approval (\S+)/.exec(first.stdout)?.[1] as string;
    const show = await labShow(root, lab);
    expect(show.state.kube?.nodes).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'k8s-worker-02', cordoned: true })]));
    const approve = await cortex(['approve', id, '--comment', 'go'], { root, timeoutMs: 120_000 });
    expect(approve.exitCode, approve.stdout.slice(-2000) + approve.stderr).toBe(0);
    expect(approve.stdout).toMatch(/action "review-findings" \(review_investigation_findings\) waits for a person/);
    const rec = JSON.parse((await cortex(['status', id, '--json'], { root })).stdout) as PersonTaskRecord;
    const review = rec.phases.flatMap((p) => p.actions).find((a) => a.action_id === 'review-findings');
    expect(review?.status).toBe('awaiting_input');
    // Drafted from the investigation and the affected VM, kept in the record and in a private file.
    const draft = review?.person_task?.draft as { remediation_plan: { affected_resource: string; new_detection_rules: unknown[] }; replacement_specs: Record<string, unknown> };
    expect(draft.remediation_plan.affected_resource).toBe('k8s-worker-02');
    expect(draft.remediation_plan.new_detection_rules.length).toBeGreaterThan(0);
    expect(draft.replacement_specs).toMatchObject({ name: 'k8s-worker-02', node: 'pve-02', cores: 8, ip: '10.10.1.21/24' });
    const draftFile = review?.person_task?.draft_file as string;
    expect(draftFile).toBe(join(root, 'state', 'artifacts', id, 'review-findings', 'draft.yaml'));
    expect(statSync(draftFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(draftFile, 'utf8')).toMatch(/^replacement_specs:\n {2}name: k8s-worker-02\n/m);
    // status ID shows the draft, its file and both ways to approve it; show ID is the same view.
    const status = await cortex(['status', id], { root });
    expect(status.stdout).toContain('remediation_plan:');
    expect(status.stdout).toMatch(/replacement_specs:\n\s+name: k8s-worker-02\n/);
    expect(status.stdout).toContain(draftFile);
    expect(status.stdout).toContain(`cortex approve ${id} --action review-findings\n`);
    expect(status.stdout).toContain(`cortex approve ${id} --action review-findings --data FILE`);
    const show2 = await cortex(['show', id], { root });
    expect(show2.exitCode, show2.stderr).toBe(0);
    expect(show2.stdout).toContain('remediation_plan:');
    return { id, draftFile };
  }

  function vmsNamed(show: { state: Record<string, Record<string, unknown>> }, re: RegExp): string[] {
    return (show.state.pve?.vms as string[]).filter((v) => re.test(v));
  }

  it('security-incident-response: the drafted remediation plan, approved as is, replaces the compromised node (a failed remediation pauses first)', async () => {
    const { root, lab } = fresh();
    const { id, draftFile } = await incidentAtReview(root, lab);
    // A draft edited in place is not approved "as is" silently.
    const draftText = readFileSync(draftFile, 'utf8');
    writeFileSync(draftFile, draftText.replace(/^ {2}cores: 8$/m, '  cores: 4'));
    const edited = await cortex(['approve', id, '--action', 'review-findings'], { root });
    expect(edited.exitCode).toBe(2);
    expect(edited.stderr).toContain(`the draft file ${draftFile} was edited after cortex wrote it`);
    expect(edited.stderr).toContain(`--data ${draftFile}`);
    writeFileSync(draftFile, draftText);
    // A remediation that fails stops the run (paused, exit 1) with the containment in force, instead of completing.
    const failing = await cortex(['approve', id, '--action', 'review-findings', '--simulate-fail', 'coordinate-remediation'], { root, timeoutMs: 120_000 });
    expect(failing.exitCode, failing.stdout.slice(-2000) + failing.stderr).toBe(1);
    expect(failing.stdout).toMatch(/paused security-incident-response-/);
    let show = await labShow(root, lab);
    expect(show.state.kube?.nodes).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'k8s-worker-02', cordoned: true })]));
    expect(vmsNamed(show, /k8s-worker-02-forensic/)).toEqual([]);
    const review = await cortex(['resume', id], { root, timeoutMs: 120_000 });
    expect(review.exitCode, review.stdout.slice(-2000) + review.stderr).toBe(0);
    expect(review.stdout).toMatch(/ok +coordinate-remediation execute_remediation_plan completed/);
    expect(review.stdout).toMatch(/action "verify-remediation" \(verify_remediation_complete\) waits for a person/);
    const verify = await cortex(['approve', id, '--action', 'verify-remediation'], { root, timeoutMs: 120_000 });
    expect(verify.exitCode, verify.stdout.slice(-2000) + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/completed security-incident-response-/);
    expect(checkRootFiles(root)).toEqual([]);
    const [rec] = historyRecords(root) as PersonTaskRecord[];
    expect(rec?.status).toBe('completed');
    const task = rec?.phases.flatMap((p) => p.actions).find((a) => a.action_id === 'review-findings')?.person_task;
    expect(task).toMatchObject({ outputs_from: 'draft', result: 'done' });
    expect(task?.data_file).toBeUndefined();
    // Remediated in the lab: the compromised VM kept stopped as evidence, a replacement of the drafted spec running.
    show = await labShow(root, lab);
    expect(vmsNamed(show, /k8s-worker-02-forensic/)).toEqual([expect.stringMatching(/stopped/)]);
    expect(vmsNamed(show, /^\d+ k8s-worker-02 on pve-02: running/)).toHaveLength(1);
    const audit = readFileSync(join(root, 'audit', 'audit.jsonl'), 'utf8');
    expect(audit.match(/"command":"approve"/g)?.length).toBeGreaterThanOrEqual(3);
    expect(audit).toContain('"outputs_from":"draft"');
  }, 240_000);

  it('security-incident-response: a replaced plan given with --data is checked, recorded and run', async () => {
    const { root, lab } = fresh();
    const { id, draftFile } = await incidentAtReview(root, lab);
    const editDir = join(root, 'edit');
    mkdirSync(editDir);
    const draftText = readFileSync(draftFile, 'utf8');
    // A plan the remediation could not use is refused, where it is wrong, with nothing recorded.
    writeFileSync(join(editDir, 'bad.yaml'), draftText.replace(/^ {2}cores: 8$/m, '  cores: many'));
    const bad = await cortex(['approve', id, '--action', 'review-findings', '--data', 'bad.yaml'], { root, cwd: editDir });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/bad\.yaml:\d+:\d+: \/replacement_specs\/cores/);
    expect(bad.stderr).toContain('nothing was recorded');
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    let rec = JSON.parse((await cortex(['status', id, '--json'], { root })).stdout) as PersonTaskRecord;
    expect(rec.phases.flatMap((p) => p.actions).find((a) => a.action_id === 'review-findings')?.status).toBe('awaiting_input');
    // The reviewer's version: a smaller replacement under another name (a relative path, recorded absolute).
    writeFileSync(join(editDir, 'plan.yaml'), draftText.replace(/^ {2}name: k8s-worker-02$/m, '  name: k8s-worker-02b').replace(/^ {2}cores: 8$/m, '  cores: 4'));
    const review = await cortex(['approve', id, '--action', 'review-findings', '--data', 'plan.yaml', '--output', 'vulnerabilities=[]'], { root, cwd: editDir, timeoutMs: 120_000 });
    expect(review.exitCode, review.stdout.slice(-2000) + review.stderr).toBe(0);
    expect(review.stdout).toMatch(/ok +coordinate-remediation execute_remediation_plan completed/);
    const verify = await cortex(['approve', id, '--action', 'verify-remediation'], { root, timeoutMs: 120_000 });
    expect(verify.exitCode, verify.stdout.slice(-2000) + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/completed security-incident-response-/);
    expect(checkRootFiles(root)).toEqual([]);
    [rec] = historyRecords(root) as PersonTaskRecord[];
    const action = rec?.phases.flatMap((p) => p.actions).find((a) => a.action_id === 'review-findings');
    expect(action?.person_task).toMatchObject({ outputs_from: 'data', data_file: join(editDir, 'plan.yaml'), result: 'done' });
    expect(action?.outputs?.replacement_specs).toMatchObject({ name: 'k8s-worker-02b', cores: 4 });
    const status = await cortex(['status', id], { root });
    expect(status.stdout).toContain(`approved with ${join(editDir, 'plan.yaml')}`);
    // Remediated with the reviewer's spec, not the draft's.
    const show = await labShow(root, lab);
    expect(vmsNamed(show, /k8s-worker-02-forensic/)).toEqual([expect.stringMatching(/stopped/)]);
    expect(vmsNamed(show, /^\d+ k8s-worker-02b on pve-02: running/)).toHaveLength(1);
    expect(vmsNamed(show, /^\d+ k8s-worker-02 on/)).toEqual([]);
    const pve = JSON.parse(readFileSync(join(lab, 'state', 'pve.json'), 'utf8')) as { vms: Array<{ name: string; config?: { cores?: number } }> | Record<string, { name: string; config?: { cores?: number } }> };
    const vms = Array.isArray(pve.vms) ? pve.vms : Object.values(pve.vms);
    expect(vms.find((v) => v.name === 'k8s-worker-02b')?.config?.cores).toBe(4);
    const audit = readFileSync(join(root, 'audit', 'audit.jsonl'), 'utf8');
    expect(audit).toContain(`"data_file":${JSON.stringify(join(editDir, 'plan.yaml'))}`);
  }, 240_000);
});
