import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { checkRootFiles } from './schema-check.js';
import { historyRecords, invocationLog, labShow, REFERENCE_DEPLOY_PARAMS, requestLog } from './lab-helpers.js';
import { labRoots, portOpen, resetLab, rollsBackToStart, runSim } from './lab-run.js';
import { itWithShared } from '../helpers/shared.js';

const fresh = labRoots();

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
  }, 240_000);

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

  itWithShared('the reference deployment template with -p require_approval=false completes', async () => {
    const { root, lab } = fresh({ reference: true });
    const res = await runSim(root, lab, ['app-deployment-template', ...REFERENCE_DEPLOY_PARAMS]);
    expect(res.exitCode, res.stdout.slice(-2000) + res.stderr).toBe(0);
    expect(checkRootFiles(root)).toEqual([]);
  }, 120_000);
});
