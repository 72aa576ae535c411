import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { cortex, removeRoot } from './helpers.js';
import { checkRootFiles } from './schema-check.js';
import { historyRecords, INCIDENT_PARAMS, invocationLog, labRoot, labShow, REFERENCE_DEPLOY_PARAMS, requestLog } from './lab-helpers.js';
import { itWithShared } from '../helpers/shared.js';

const roots: string[] = [];
afterAll(() => roots.forEach(removeRoot));

function fresh(options: { reference?: boolean } = {}) {
  const r = labRoot(options);
  roots.push(r.root);
  return r;
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

describe('the lab: built-in workflows end to end', () => {
  it('deploy-monitoring-stack: VMs running, stack deployed, alert workflows created, Slack told; lab servers gone after', async () => {
    const { root, lab } = fresh();
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
  }, 120_000);

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

  it('disaster-recovery-failover: DR workloads scaled up, DNS moved to the DR site, PagerDuty resolved', async () => {
    const { root, lab } = fresh();
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
  }, 120_000);

  it('app-deployment: image built and pushed, deployed at the pushed digest, load balancer pool filled, GitHub status success', async () => {
    const { root, lab } = fresh();
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
  }, 120_000);

  it('security-incident-response: contained, investigated, remediated after approvals through cortex approve', async () => {
    const { root, lab } = fresh();
    const first = await runSim(root, lab, ['security-incident-response', ...INCIDENT_PARAMS]);
    expect(first.exitCode, first.stdout.slice(-2000) + first.stderr).toBe(0);
    expect(first.stdout).toMatch(/awaiting_approval/);
    const id = /awaiting_approval (\S+)/.exec(first.stdout)?.[1] as string;
    let show = await labShow(root, lab);
    expect(show.state.kube?.nodes).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'k8s-worker-02', cordoned: true })]));
    const approve = await cortex(['approve', id, '--comment', 'go'], { root });
    expect(approve.stdout).toMatch(/review-findings/);
    const review = await cortex(
      ['approve', id, '--action', 'review-findings', '--output', 'remediation_plan=rebuild the node', '--output', 'replacement_specs={"name":"k8s-worker-02b"}', '--output', 'vulnerabilities=[{"id":"CVE-2026-1234"}]', '--output', 'recommended_controls=[{"name":"pod-security","level":"restricted"}]'],
      { root, timeoutMs: 120_000 },
    );
    expect(review.stdout).toMatch(/verify-remediation/);
    const verify = await cortex(['approve', id, '--action', 'verify-remediation', '--output', 'verified=true'], { root, timeoutMs: 120_000 });
    expect(verify.exitCode, verify.stdout.slice(-2000)).toBe(0);
    expect(verify.stdout).toMatch(/completed security-incident-response-/);
    expect(checkRootFiles(root)).toEqual([]);
    show = await labShow(root, lab);
    expect((show.state.pve?.vms as string[]).some((v) => /k8s-worker-02-forensic/.test(v))).toBe(true);
    const audit = readFileSync(join(root, 'audit', 'audit.jsonl'), 'utf8');
    expect(audit.match(/"command":"approve"/g)?.length).toBeGreaterThanOrEqual(3);
  }, 180_000);

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
