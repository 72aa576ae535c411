/**
 * deploy-monitoring-stack in the lab over each way of reaching Proxmox: pvesh through ssh (the
 * lab's ssh re-parses the command line like the node's shell) and the HTTPS API with a token.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cortex, removeRoot } from './helpers.js';
import { historyRecords, invocationLog, labRoot } from './lab-helpers.js';

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
});
