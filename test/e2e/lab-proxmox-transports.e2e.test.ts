/**
 * deploy-monitoring-stack in the lab over each way of reaching Proxmox: pvesh through ssh (the
 * lab's ssh re-parses the command line like the node's shell) and the HTTPS API with a token.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cortex, removeRoot, tempRoot } from './helpers.js';
import { historyRecords, invocationLog, labRoot, requestLog } from './lab-helpers.js';
import { labCaFile, startPveApi } from '../../src/lab/pve/https.js';
import { pveModule } from '../../src/lab/pve/module.js';
import { labSecretValue, LAB_PVE_TOKEN_SECRET } from '../../src/lab/secrets.js';

const roots: string[] = [];
afterAll(() => roots.forEach(removeRoot));

function rootWithConfig(edit: (yaml: string) => string) {
  const r = labRoot();
  roots.push(r.root);
  const path = join(r.root, 'config.yaml');
  writeFileSync(path, edit(readFileSync(path, 'utf8')));
  return r;
}

function monitoringVms(lab: string) {
  const pve = JSON.parse(readFileSync(join(lab, 'state', 'pve.json'), 'utf8')) as { vms: Array<{ name: string; status: string; config: Record<string, unknown> }> };
  return pve.vms.filter((v) => /^monitoring-node-0[12]$/.test(v.name));
}

describe('Proxmox transports in the lab', () => {
  it('pvesh through ssh: every argument reaches pvesh intact, the run completes', async () => {
    const { root, lab } = rootWithConfig((y) => y.replace(/^ {2}pvesh: \[pvesh\].*$/m, '  pvesh: [ssh, -o, BatchMode=yes, root@pve01, pvesh]'));
    const res = await cortex(['run', 'deploy-monitoring-stack', '--simulate', '--lab', lab], { root, timeoutMs: 120_000 });
    expect(res.exitCode, res.stdout.slice(-2000) + res.stderr).toBe(0);
    expect(historyRecords(root)[0]).toMatchObject({ status: 'completed' });
    const inv = invocationLog(lab);
    const ssh = inv.filter((i) => i.tool === 'ssh');
    expect(ssh.length).toBe(inv.filter((i) => i.tool === 'pvesh').length);
    expect(ssh.every((i) => i.args.slice(0, 4).join(' ') === '-o BatchMode=yes root@pve01 pvesh')).toBe(true);
    // the tags went through the remote shell as one word
    expect(ssh.some((i) => i.args.includes("'cortex;monitoring;production'"))).toBe(true);
    const vms = monitoringVms(lab);
    expect(vms.map((v) => [v.name, v.status, v.config.tags])).toEqual([
      ['monitoring-node-01', 'running', 'cortex;monitoring;production'],
      ['monitoring-node-02', 'running', 'cortex;monitoring;production'],
    ]);
    expect(String(vms[0]?.config.description)).toMatch(/\(cortex deploy-monitoring-stack /);
  }, 120_000);

  it('the HTTPS API with a token: no pvesh at all, every Proxmox call a recorded request, the configured host never contacted', async () => {
    const pin = Array.from({ length: 32 }, () => 'AB').join(':');
    const { root, lab } = rootWithConfig((y) => y.replace(/^ {2}task_poll_seconds: 1$/m, `  task_poll_seconds: 1\n  api: { url: "https://pve01.example.invalid:8006", token_secret: PVE_API_TOKEN, fingerprint: "${pin}" }`));
    const res = await cortex(['run', 'deploy-monitoring-stack', '--simulate', '--lab', lab], { root, timeoutMs: 120_000 });
    expect(res.exitCode, res.stdout.slice(-2000) + res.stderr).toBe(0);
    const [rec] = historyRecords(root);
    expect(rec).toMatchObject({ status: 'completed' });
    expect(invocationLog(lab).filter((i) => i.tool === 'pvesh' || i.tool === 'ssh')).toEqual([]);
    const pve = requestLog(lab).filter((r) => r.service === 'proxmox');
    expect(pve.length).toBeGreaterThan(20);
    expect(pve.every((r) => r.path.startsWith('/api2/json/') && r.status === 200 && r.action)).toBe(true);
    expect(pve.some((r) => r.method === 'POST' && /\/qemu\/9000\/clone$/.test(r.path))).toBe(true);
    // the execution record shows the requests (to the lab's address, not the configured host)
    const urls = JSON.stringify(rec).match(/https:\/\/[^"]+\/api2\/json\/[^"]*/g) ?? [];
    expect(urls.length).toBeGreaterThan(0);
    expect(urls.every((u) => u.startsWith('https://127.0.0.1:'))).toBe(true);
    expect(JSON.stringify(rec)).not.toContain('pve01.example.invalid');
    expect(monitoringVms(lab).map((v) => [v.name, v.status, v.config.tags])).toEqual([
      ['monitoring-node-01', 'running', 'cortex;monitoring;production'],
      ['monitoring-node-02', 'running', 'cortex;monitoring;production'],
    ]);
    // the token never lands in a file
    const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
    expect(files(root).filter((f) => readFileSync(f, 'latin1').includes('lab-secret-cortex_lab_pve_api_token'))).toEqual([]);
  }, 120_000);

  it('doctor checks the HTTPS API (version, token privileges) and does not ask for pvesh', async () => {
    const { root, lab } = labRoot();
    roots.push(root);
    pveModule.seed(lab);
    const api = await startPveApi(lab);
    try {
      writeFileSync(join(root, 'config.yaml'), `proxmox:\n  api: { url: "${api.url}", token_secret: PVE_API_TOKEN, ca_file: "${labCaFile(lab)}" }\n`);
      const res = await cortex(['doctor', '--json'], { root, env: { CORTEX_SECRET_PVE_API_TOKEN: labSecretValue(LAB_PVE_TOKEN_SECRET), PATH: '/usr/bin:/bin' } });
      const checks = (JSON.parse(res.stdout) as { checks: Array<{ check: string; name: string; status: string; message: string }> }).checks;
      expect(checks.filter((c) => c.check === 'proxmox-api').map((c) => [c.name, c.status])).toEqual([
        ['proxmox.api', 'ok'],
        ['token privileges', 'ok'],
      ]);
      expect(checks.find((c) => c.check === 'tool' && c.name === 'pvesh')).toMatchObject({ status: 'ok', message: expect.stringMatching(/^not used/) });
      expect(res.stdout).not.toContain('lab-secret-');
    } finally {
      await api.stop();
    }
  });

  it('execute_command running pvesh in the lab meets the same schema checks', async () => {
    const root = tempRoot({
      'workflows/raw-pvesh.yaml': [
        'workflow_id: raw-pvesh',
        'workflow_name: raw pvesh',
        'version: 1.0.0',
        'phases:',
        '  - phase_id: only',
        '    contractor: infrastructure-contractor',
        '    actions:',
        '      - { action_id: ok, action: execute_command, parameters: { command: [pvesh, get, /cluster/nextid, --output-format, json] } }',
        '      - { action_id: bad, action: execute_command, parameters: { command: [pvesh, set, /nodes/pve-02/qemu/112/config, --net0, "virtio,bridge=vmbr0,queues=99"] } }',
        '',
      ].join('\n'),
    });
    roots.push(root);
    const res = await cortex(['run', 'raw-pvesh', '--simulate', '--json'], { root, timeoutMs: 60_000 });
    expect(res.exitCode).toBe(1);
    const rec = historyRecords(root)[0] as { phases: Array<{ actions: Array<{ action_id: string; status: string; attempts?: Array<{ invocations?: Array<{ stderr_tail?: string; exit_code?: number }> }> }> }> };
    const actions = rec.phases[0]?.actions ?? [];
    expect(actions.map((a) => [a.action_id, a.status])).toEqual([
      ['ok', 'completed'],
      ['bad', 'failed'],
    ]);
    const inv = actions[1]?.attempts?.at(-1)?.invocations?.at(-1);
    expect(inv?.exit_code).toBe(255);
    expect(inv?.stderr_tail).toBe('400 Parameter verification failed.\nnet0: invalid format - format error\nnet0.queues: value must have a maximum value of 64\n\npvesh set <api_path> [OPTIONS] [FORMAT_OPTIONS]\n');
  }, 60_000);
});
