import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { execa } from 'execa';
import { cortex } from './helpers.js';
import { checkRootFiles } from './schema-check.js';
import { historyRecords, invocationLog, labShow, requestLog } from './lab-helpers.js';
import { labRoots, runSim } from './lab-run.js';

const fresh = labRoots();

// Failure injection and the stand-ins' refusals (split from lab-workflows.e2e.test.ts so the files run in parallel).
describe('the lab: failure injection', () => {
  it('a failing first attempt of a provision with a fallback host recovers on the fallback (retry)', async () => {
    const { root, lab } = fresh();
    const res = await runSim(root, lab, ['deploy-monitoring-stack', '--simulate-fail', 'provision-monitoring-01:1']);
    expect(res.exitCode, res.stdout.slice(-2000)).toBe(0);
    const [rec] = historyRecords(root) as Array<{ phases: Array<{ actions: Array<{ action_id: string; attempts: Array<{ status: string; fallback?: boolean }> }> }> }>;
    const a = rec?.phases[0]?.actions.find((x) => x.action_id === 'provision-monitoring-01');
    expect(a?.attempts.map((x) => [x.status, Boolean(x.fallback)])).toEqual([
      ['failed', false],
      ['succeeded', true],
    ]);
    const clones = invocationLog(lab).filter((i) => i.action_id === 'provision-monitoring-01' && i.args[0] === 'create' && /\/clone$/.test(i.args[1] ?? ''));
    expect(clones).toHaveLength(2);
  }, 120_000);

  it('skip_action and alert_only: the workflow completes and records what failed', async () => {
    const { root, lab } = fresh();
    const res = await runSim(root, lab, ['deploy-monitoring-stack', '--simulate-fail', 'notify-slack', '--simulate-fail', 'check-grafana']);
    expect(res.exitCode, res.stdout.slice(-2000)).toBe(0);
    const [rec] = historyRecords(root) as Array<{ status: string; notifications: Array<{ action_id: string }>; phases: Array<{ actions: Array<{ action_id: string; status: string }> }> }>;
    const actions = rec!.phases.flatMap((p) => p.actions);
    expect(actions.find((a) => a.action_id === 'notify-slack')?.status).toBe('skipped');
    expect(actions.find((a) => a.action_id === 'check-grafana')?.status).toBe('failed');
    expect(rec!.notifications.map((n) => n.action_id)).toContain('check-grafana');
    expect(requestLog(lab).some((r) => r.service === 'slack' && r.status === 503)).toBe(true);
  }, 120_000);

  it('rollback: a helm install that keeps failing undoes what the run created', async () => {
    const { root, lab } = fresh();
    const res = await runSim(root, lab, ['deploy-monitoring-stack', '--simulate-fail', 'install-kube-prometheus-stack']);
    expect(res.exitCode).toBe(1);
    expect(res.stdout).toMatch(/rolled_back deploy-monitoring-stack-/);
    const show = await labShow(root, lab);
    expect((show.state.pve?.vms as string[]).some((v) => /monitoring-node-0/.test(v))).toBe(false);
    expect(checkRootFiles(root)).toEqual([]);
  }, 120_000);

  it('pause: a DNS update that fails pauses the failover for the operator', async () => {
    const { root, lab } = fresh();
    const res = await runSim(root, lab, ['disaster-recovery-failover', '--simulate-fail', 'update-dns']);
    expect(res.exitCode).toBe(1);
    expect(res.stdout).toMatch(/paused disaster-recovery-failover-/);
    const st = await cortex(['status', '--json'], { root });
    expect(JSON.parse(st.stdout).executions[0]).toMatchObject({ status: 'paused' });
  }, 120_000);

  it('rollback_deployment: a rollout that fails undoes the deploy phase only', async () => {
    const { root, lab } = fresh();
    const res = await runSim(root, lab, ['app-deployment', '--simulate-fail', 'wait-rollout']);
    expect(res.exitCode).toBe(1);
    const [rec] = historyRecords(root) as Array<{ status: string; rollback?: { scope: string; status: string } }>;
    expect(rec).toMatchObject({ status: 'failed', rollback: { scope: 'phase', status: 'completed' } });
  }, 120_000);
});

describe('the lab stand-ins refuse malformed commands like the real tools', () => {
  it('pvesh, helm and talosctl reject wrong argument lists with the real texts and exit codes', async () => {
    const { root, lab } = fresh();
    await runSim(root, lab, ['deploy-monitoring-stack', '--dry-run']);
    const init = await cortex(['lab', 'reset', '--lab', lab], { root });
    expect(init.exitCode).toBe(0);
    // The stand-ins are written by a simulated run; use one to create bin/.
    await runSim(root, lab, ['disaster-recovery-failover', '--simulate-fail', 'update-dns']);
    const env = { CORTEX_LAB_DIR: lab, PATH: `${join(lab, 'bin')}:${process.env.PATH}` };
    const bad = await execa(join(lab, 'bin', 'pvesh'), ['get', '/nodes/pve-01/foo', '--output-format', 'json'], { env, reject: false });
    // pve-manager PVE/CLI/pvesh.pm (extract_path_info): an unknown path fails before anything else, exit 1.
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/No 'get' handler defined for '\/nodes\/pve-01\/foo'/);
    const dup = await execa(join(lab, 'bin', 'pvesh'), ['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '101', '--output-format', 'json'], { env, reject: false });
    expect(dup.stderr).toMatch(/400 Parameter verification failed\.\nnewid: VM 101 already exists/);
    const helm = await execa(join(lab, 'bin', 'helm'), ['upgrade', '--install', 'x', 'chart', '--frobnicate'], { env, reject: false });
    expect(helm.exitCode).toBe(1);
    expect(helm.stderr).toMatch(/Error: unknown flag: --frobnicate/);
    const talos = await execa(join(lab, 'bin', 'talosctl'), ['bootstrap', '--frobnicate'], { env, reject: false });
    expect(talos.exitCode).toBe(1);
    expect(talos.stderr).toMatch(/unknown flag: --frobnicate/);
  }, 120_000);
});
