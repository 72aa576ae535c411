import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { cortex, removeRoot } from './helpers.js';
import { checkRootFiles } from './schema-check.js';
import { historyRecords, INCIDENT_PARAMS, invocationLog, labRoot, labShow, labSnapshot, REFERENCE_DEPLOY_PARAMS, requestLog } from './lab-helpers.js';
import { itWithShared } from '../helpers/shared.js';

const roots: string[] = [];
afterAll(() => roots.forEach(removeRoot));

function fresh(options: { reference?: boolean } = {}) {
  const r = labRoot(options);
  roots.push(r.root);
  return r;
}

interface PersonTaskRecord {
  status: string;
  phases: Array<{ actions: Array<{ action_id: string; status: string; outputs?: Record<string, unknown>; person_task?: { draft?: Record<string, unknown>; draft_file?: string; outputs_from?: string; data_file?: string; result?: string } }> }>;
}

function portOpen(url: string): Promise<boolean> {
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

async function runSim(root: string, lab: string, args: string[]) {
  const res = await cortex(['run', ...args, '--simulate', '--lab', lab], { root, timeoutMs: 120_000 });
  return res;
}

/** The lab reset to its seed, and that state (to compare with after a rollback). */
async function resetLab(root: string, lab: string): Promise<Record<string, unknown>> {
  const reset = await cortex(['lab', 'reset', '--lab', lab], { root });
  expect(reset.exitCode).toBe(0);
  return labSnapshot(lab);
}

/** Rollback after success: `cortex rollback` of the completed run returns the lab to its start. */
async function rollsBackToStart(root: string, lab: string, id: string, start: Record<string, unknown>): Promise<void> {
  expect(labSnapshot(lab)).not.toEqual(start);
  const rb = await cortex(['rollback', id], { root, timeoutMs: 180_000 });
  expect(rb.exitCode, rb.stdout.slice(-1500)).toBe(0);
  expect(labSnapshot(lab)).toEqual(start);
}

describe('the lab: built-in workflows end to end', () => {
  it('deploy-monitoring-stack: VMs running, stack deployed, alert workflows created, Slack told; lab servers gone after; rollback returns the lab to its start', async () => {
    const { root, lab } = fresh();
    const start = await resetLab(root, lab);
    const res = await runSim(root, lab, ['deploy-monitoring-stack']);
    expect(res.exitCode, res.stdout.slice(-2000) + res.stderr).toBe(0);
    expect(checkRootFiles(root)).toEqual([]);
    const [rec] = historyRecords(root);
    expect(rec).toMatchObject({ status: 'completed', simulate: true });
    const show = await labShow(root, lab);
    const vms = show.state.pve?.vms as string[];
    expect(vms.some((v) => /monitoring-node-01 on \S+: running/.test(v))).toBe(true);
    expect(vms.some((v) => /monitoring-node-02 on \S+: running/.test(v))).toBe(true);
    expect((show.state.helm?.releases as Record<string, string>)['monitoring/kube-prometheus-stack']).toMatch(/55\.5\.0 revision 1 deployed/);
    expect(JSON.stringify(show.state.kube?.deployments)).toMatch(/monitoring\/kube-prometheus-stack-grafana 1\/1/);
    const n8n = JSON.stringify(show.state.http?.n8n);
    expect(n8n).toMatch(/critical-alert-handler active/);
    expect(n8n).toMatch(/warning-alert-handler active/);
    const reqs = requestLog(lab);
    expect(reqs.filter((r) => r.service === 'slack' && r.method === 'POST' && r.status === 200)).toHaveLength(1);
    expect(reqs.some((r) => r.service === 'prometheus' && r.path === '/-/healthy' && r.status === 200)).toBe(true);
    // Every lab tool call carried the calling execution and action.
    expect(invocationLog(lab).every((i) => i.execution_id === rec?.execution_id && i.action_id)).toBe(true);
    // The lab stopped with the command: no server left listening.
    expect(existsSync(join(lab, 'services.json'))).toBe(false);
    const kubeUrl = readFileSync(join(lab, 'kubeconfig'), 'utf8').match(/server: (\S+)/)?.[1] as string;
    expect(kubeUrl).toMatch(/^https?:\/\/127\.0\.0\.1:\d+$/);
    expect(await portOpen(kubeUrl)).toBe(false);
    // No process the lab started (stand-ins run from <lab>/bin) outlives the command.
    const ps = await execa('ps', ['-eo', 'pid,args'], { reject: false });
    expect(ps.stdout.split('\n').filter((l) => l.includes(lab))).toEqual([]);
    // Every lab server listened on 127.0.0.1 only.
    const services = readFileSync(join(lab, 'requests.jsonl'), 'utf8');
    expect(services.length).toBeGreaterThan(0);
    await rollsBackToStart(root, lab, rec?.execution_id as string, start);
  }, 240_000);

  it('build-k8s-cluster: six VMs, a bootstrapped Talos cluster with its add-ons, automation workflows', async () => {
    const { root, lab } = fresh();
    const res = await runSim(root, lab, ['build-k8s-cluster']);
    expect(res.exitCode, res.stdout.slice(-2000) + res.stderr).toBe(0);
    expect(checkRootFiles(root)).toEqual([]);
    const show = await labShow(root, lab);
    const vms = (show.state.pve?.vms as string[]).filter((v) => / prod-k8s-02-(cp|worker)-0\d on \S+: running/.test(v));
    expect(vms).toHaveLength(6);
    expect(show.state.talos?.['prod-k8s-02']).toMatchObject({ bootstrapped: true });
    const releases = show.state.helm?.releases as Record<string, string>;
    for (const r of ['kube-system/cilium', 'ingress-nginx/ingress-nginx', 'cert-manager/cert-manager']) expect(releases[r]).toMatch(/deployed/);
    expect(JSON.stringify(show.state.kube?.nodes)).toMatch(/prod-k8s-02-worker-03/);
    expect(JSON.stringify(show.state.http?.n8n)).toMatch(/deployment-webhook-handler active/);
  }, 120_000);

  it('disaster-recovery-failover: DR workloads scaled up, DNS moved to the DR site, PagerDuty resolved; rollback returns the lab to its start', async () => {
    const { root, lab } = fresh();
    const start = await resetLab(root, lab);
    const res = await runSim(root, lab, ['disaster-recovery-failover']);
    expect(res.exitCode, res.stdout.slice(-2000) + res.stderr).toBe(0);
    expect(checkRootFiles(root)).toEqual([]);
    const show = await labShow(root, lab);
    const dns = JSON.stringify(show.state.http?.n8n);
    expect(dns).toMatch(/api\.cortex\.local A 10\.20\.1\.100/);
    const reqs = requestLog(lab);
    expect(reqs.some((r) => r.service === 'n8n' && r.path === '/webhook/cortex/update_dns_records' && r.status === 200)).toBe(true);
    expect(reqs.some((r) => r.service === 'slack' && r.status === 200)).toBe(true);
    // dr-health and dr-etcd-backup name no node: cortex passes the DR control plane (config), never the talosconfig context's nodes
    const talos = invocationLog(lab).filter((i) => i.tool === 'talosctl' && ['dr-health', 'dr-etcd-backup'].includes(i.action_id ?? ''));
    expect(talos.map((i) => [i.action_id, i.args.slice(i.args.indexOf('-n'), i.args.indexOf('-n') + 4)])).toEqual([
      ['dr-health', ['-n', '10.20.1.10', '-e', '10.20.1.10']],
      ['dr-etcd-backup', ['-n', '10.20.1.10', '-e', '10.20.1.10']],
    ]);
    await rollsBackToStart(root, lab, historyRecords(root)[0]?.execution_id as string, start);
  }, 240_000);

  it('app-deployment: image built and pushed, deployed at the pushed digest, load balancer pool filled, GitHub status success; rollback returns the lab to its start', async () => {
    const { root, lab } = fresh();
    const start = await resetLab(root, lab);
    const res = await runSim(root, lab, ['app-deployment']);
    expect(res.exitCode, res.stdout.slice(-2000) + res.stderr).toBe(0);
    expect(checkRootFiles(root)).toEqual([]);
    const show = await labShow(root, lab);
    expect(JSON.stringify(show.state.kube?.deployments)).toMatch(/production\/web-api/);
    expect(JSON.stringify(show.state.pve?.ipsets)).toMatch(/lb-/);
    expect(JSON.stringify(show.state.http?.github)).toMatch(/success/);
    const reqs = requestLog(lab);
    expect(reqs.some((r) => r.service === 'n8n' && r.path === '/webhook/cortex/build_docker_image')).toBe(true);
    expect(reqs.some((r) => r.service === 'apps' && r.path === '/version' && r.status === 200)).toBe(true);
    await rollsBackToStart(root, lab, historyRecords(root)[0]?.execution_id as string, start);
  }, 240_000);

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

  itWithShared('the reference deployment template with -p require_approval=false completes', async () => {
    const { root, lab } = fresh({ reference: true });
    const res = await runSim(root, lab, ['app-deployment-template', ...REFERENCE_DEPLOY_PARAMS]);
    expect(res.exitCode, res.stdout.slice(-2000) + res.stderr).toBe(0);
    expect(checkRootFiles(root)).toEqual([]);
  }, 120_000);
});

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
