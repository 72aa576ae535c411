import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, cleanEnv, cortex, listFiles, readJson, removeRoot, tempRoot, waitPastApprovalDeadline } from './helpers.js';
import { waitFor } from '../helpers/wait.js';
import { checkRootFiles } from './schema-check.js';

const roots: string[] = [];
afterAll(() => roots.forEach(removeRoot));

/** A workflow that touches marker files in the root and removes them on rollback. */
function gated(r: string, extra = ''): Record<string, string> {
  const touch = (id: string, name: string) =>
    `      - { action_id: ${id}, action: execute_command, parameters: { command: [touch, "${r}/${name}"] }, compensation: { action: execute_command, parameters: { command: [rm, -f, "${r}/${name}"] } } }`;
  return {
    'workflows/gated.yaml': `workflow_id: gated
workflow_name: gated
version: 1.0.0
phases:
  - phase_id: prepare
    contractor: infrastructure-contractor
    actions:
${touch('make-a', 'a.marker')}
  - phase_id: deploy
    contractor: talos-contractor
    requires_approval: true
    approval_role: release_manager
${extra}    actions:
${touch('make-b', 'b.marker')}
      - { action_id: review, action: execute_command, parameters: { command: ["true"] } }
`,
  };
}

function root(files: (r: string) => Record<string, string>): string {
  const r = tempRoot({});
  roots.push(r);
  for (const [k, v] of Object.entries(files(r))) writeFileSync(join(r, k), v);
  return r;
}

async function onlyId(r: string): Promise<string> {
  const res = await cortex(['status', '--json'], { root: r });
  return (JSON.parse(res.stdout) as { executions: Array<{ execution_id: string }> }).executions[0]!.execution_id;
}

function auditLines(r: string): Array<Record<string, unknown>> {
  return readFileSync(join(r, 'audit', 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('approvals', () => {
  it('approve continues the execution; who and why are recorded in the record and the audit trail', async () => {
    const r = root((d) => gated(d));
    const first = await cortex(['run', 'gated'], { root: r });
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toMatch(/awaiting_approval gated-/);
    const id = await onlyId(r);
    const st = await cortex(['status'], { root: r });
    expect(st.stdout).toMatch(/awaiting_approval/);
    const ok = await cortex(['approve', id, '--comment', 'change CHG-42'], { root: r });
    expect(ok.exitCode, ok.stderr).toBe(0);
    const rec = readJson<{ status: string; approvals: Array<{ decision: string; user: string; comment: string }>; phases: Array<{ approval?: { decision: string; decided_by: string } }> }>(join(r, 'workflows', 'history', `workflow-${id}.json`));
    expect(rec.status).toBe('completed');
    expect(rec.approvals[0]).toMatchObject({ decision: 'approved', comment: 'change CHG-42' });
    expect(rec.phases[1]?.approval).toMatchObject({ decision: 'approved' });
    expect(existsSync(join(r, 'b.marker'))).toBe(true);
    const audit = auditLines(r);
    expect(audit.map((a) => `${a.command}:${a.result}`)).toEqual(['run:started', 'run:awaiting_approval', 'approve:started', 'approve:completed']);
    expect(audit[2]).toMatchObject({ comment: 'change CHG-42', execution_id: id, user: expect.any(String), host: expect.any(String) });
    expect(checkRootFiles(r)).toEqual([]);
  });

  it('reject ends it and rolls back what completed', async () => {
    const r = root((d) => gated(d));
    await cortex(['run', 'gated'], { root: r });
    expect(existsSync(join(r, 'a.marker'))).toBe(true);
    const id = await onlyId(r);
    const res = await cortex(['reject', id, '--comment', 'freeze'], { root: r });
    expect(res.exitCode, res.stderr).toBe(0);
    const rec = readJson<{ status: string }>(join(r, 'workflows', 'history', `workflow-${id}.json`));
    expect(rec.status).toBe('rolled_back');
    expect(existsSync(join(r, 'a.marker'))).toBe(false);
    expect(existsSync(join(r, 'b.marker'))).toBe(false);
  });

  it('an approval past approval_timeout: status shows it and changes nothing; a late approve rejects and rolls back', async () => {
    const r = root((d) => gated(d, '    approval_timeout: 1\n'));
    await cortex(['run', 'gated'], { root: r });
    const id = await onlyId(r);
    const activeFile = join(r, 'workflows', 'active', `workflow-${id}.json`);
    await waitPastApprovalDeadline(r, id);
    const before = readFileSync(activeFile, 'utf8');
    const st = await cortex(['status'], { root: r });
    expect(st.stdout).toMatch(/approval expired/);
    expect(st.stdout).toContain(`cortex resume ${id}`);
    // status only reads: the record is as it was, and nothing was started.
    expect(readFileSync(activeFile, 'utf8')).toBe(before);
    expect(existsSync(join(r, 'workflows', 'history', `workflow-${id}.json`))).toBe(false);
    const late = await cortex(['approve', id], { root: r });
    expect(late.stderr).toMatch(/had expired before this approval/);
    const rec = readJson<{ status: string; phases: Array<{ approval?: { decision: string } }> }>(join(r, 'workflows', 'history', `workflow-${id}.json`));
    expect(rec.phases[1]?.approval?.decision).toBe('expired');
    expect(rec.status).toBe('rolled_back');
    expect(existsSync(join(r, 'a.marker'))).toBe(false);
  });

  it('approve of an execution that is not waiting exits 3', async () => {
    const r = root((d) => gated(d));
    await cortex(['run', 'gated'], { root: r });
    const id = await onlyId(r);
    await cortex(['approve', id], { root: r });
    const again = await cortex(['approve', id], { root: r });
    expect(again.exitCode).toBe(3);
  });
});

describe('rollback, resume, cancel', () => {
  it('run then rollback returns to the start; a second rollback is a no-op', async () => {
    const r = root((d) => gated(d));
    await cortex(['run', 'gated'], { root: r });
    const id = await onlyId(r);
    await cortex(['approve', id], { root: r });
    expect(existsSync(join(r, 'b.marker'))).toBe(true);
    const dry = await cortex(['rollback', id, '--dry-run'], { root: r });
    expect(dry.stdout).toMatch(/will run undo-make-b/);
    expect(existsSync(join(r, 'b.marker'))).toBe(true);
    const rb = await cortex(['rollback', id], { root: r });
    expect(rb.exitCode, rb.stderr).toBe(0);
    expect(existsSync(join(r, 'a.marker')) || existsSync(join(r, 'b.marker'))).toBe(false);
    const again = await cortex(['rollback', id], { root: r });
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/already rolled back/);
    expect(checkRootFiles(r)).toEqual([]);
  });

  it('resume continues after kill -9 from the first action that did not complete', async () => {
    const r = root(() => ({
      'workflows/steps.yaml': `workflow_id: steps
workflow_name: steps
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: one, action: execute_command, parameters: { command: [sh, -c, "echo one >> $0", "${'${'}env.OUT}"] } }
      - { action_id: slow, action: wait, parameters: { seconds: 2 } }
      - { action_id: two, action: execute_command, parameters: { command: [sh, -c, "echo two >> $0", "${'${'}env.OUT}"] } }
`,
    }));
    const out = join(r, 'out.txt');
    const child = execa('node', [CLI, '--root', r, 'run', 'steps'], { env: cleanEnv({ OUT: out }), extendEnv: false, reject: false });
    const log = join(r, 'masters/infrastructure/logs/contractor.log');
    await waitFor(() => existsSync(out) && existsSync(log) && readFileSync(log, 'utf8').includes('action=slow event=start'), { what: 'the action one to write out.txt and slow to start', timeoutMs: 15_000 });
    child.kill('SIGKILL');
    await child;
    const id = await onlyId(r);
    const st = await cortex(['status'], { root: r });
    expect(st.stdout).toMatch(/interrupted/);
    const again = await cortex(['run', 'steps'], { root: r, env: { OUT: out } });
    expect(again.exitCode).toBe(3);
    expect(again.stderr).toMatch(/was interrupted/);
    const res = await cortex(['resume', id], { root: r, env: { OUT: out } });
    expect(res.exitCode, res.stdout + res.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('one\ntwo\n');
    expect(checkRootFiles(r)).toEqual([]);
  }, 60_000);

  it('cancel stops a running execution in another process and records cancelled', async () => {
    const r = root(() => ({
      'workflows/long.yaml': `workflow_id: long
workflow_name: long
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: nap, action: execute_command, parameters: { command: [sleep, "30"] } }
`,
    }));
    const child = execa('node', [CLI, '--root', r, 'run', 'long'], { env: cleanEnv(), extendEnv: false, reject: false });
    const log = join(r, 'masters/infrastructure/logs/contractor.log');
    await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('event=start'), { what: 'the action nap to start', timeoutMs: 15_000 });
    const id = await onlyId(r);
    const res = await cortex(['cancel', id], { root: r });
    expect(res.exitCode, res.stderr).toBe(0);
    const ran = await child;
    expect(ran.exitCode).toBe(130);
    const rec = readJson<{ status: string }>(join(r, 'workflows', 'history', `workflow-${id}.json`));
    expect(rec.status).toBe('cancelled');
    expect(listFiles(join(r, 'workflows', 'active'))).toEqual([]);
  });
});
