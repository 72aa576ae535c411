/**
 * The security lead's tasks: what cortex drafts for review_investigation_findings (from the
 * findings and the affected VM's config, read with a scripted pvesh) and how approving
 * verify_remediation_complete completes its outputs.
 */
import { describe, expect, it } from 'vitest';
import type { ActionImpl } from '../../../../src/contractors/action-impl.js';
import { IMPLEMENTATIONS } from '../../../../src/contractors/security/index.js';
import { SECURITY_SPECS } from '../../../../src/contractors/security/specs.js';
import type { ActionSpec } from '../../../../src/model/catalogue.js';
import { makeRuntime } from '../runtime-helper.js';
import { depsWith, J, PveFake, RES_VM, vmRes } from '../infrastructure/pve-fake.js';

const spec = (name: string) => SECURITY_SPECS.find((s) => s.name === name) as ActionSpec;
const impl = (name: string) => (IMPLEMENTATIONS[name] as () => Promise<ActionImpl>)();

const W2_CONFIG = {
  name: 'k8s-worker-02',
  cores: 8,
  sockets: 1,
  memory: '16384',
  boot: 'order=scsi0;ide2',
  scsi0: 'local-zfs:vm-112-disk-0,iothread=1,size=200G',
  ide2: 'local-zfs:vm-112-cloudinit,media=cdrom',
  net0: 'virtio=BC:24:11:00:00:70,bridge=vmbr0,tag=20,firewall=1',
  ipconfig0: 'ip=10.10.1.21/24,gw=10.10.1.1',
  nameserver: '10.10.0.2 10.10.0.3',
  searchdomain: 'cortex.local',
  onboot: 1,
  tags: 'cortex;k8s;worker;prod-k8s-01',
};

const FINDINGS = {
  attack_vector: 'ssh_key_compromise',
  scope: 'single_system',
  iocs: [
    { type: 'ip', value: '203.0.113.45', source: 'known_bad_ips' },
    { type: 'sha256', value: '2b29a9805ca4dd5609e367a7776f3637341e016b33e4f8752157ad3962f4ef49', source: 'malware_signatures' },
  ],
};

async function draft(params: Record<string, unknown>, fake: PveFake) {
  const deps = depsWith(fake);
  const { rt, dispose } = makeRuntime(params, { spec: spec('review_investigation_findings'), deps });
  try {
    return await (await impl('review_investigation_findings')).run(rt);
  } finally {
    dispose();
  }
}

describe('review_investigation_findings: the draft', () => {
  it('drafts replacement specs from the affected VM\'s config, rules from the IoCs, warn/audit controls', async () => {
    const fake = new PveFake().on(RES_VM, { stdout: `${JSON.stringify([vmRes(112, 'k8s-worker-02', 'pve-02')])}\n` }).get('/nodes/pve-02/qemu/112/config', W2_CONFIG);
    const out = await draft(
      { report: 's3://f/SEC-1/report.pdf', findings: FINDINGS, affected_resource: { type: 'node', identifier: 'k8s-worker-02', cluster: 'prod-k8s-01' } },
      fake,
    );
    expect(out.replacement_specs).toEqual({
      name: 'k8s-worker-02',
      node: 'pve-02',
      cores: 8,
      sockets: 1,
      memory_mb: 16384,
      storage: 'local-zfs',
      disk_gb: 200,
      bridge: 'vmbr0',
      vlan: 20,
      ip: '10.10.1.21/24',
      gateway: '10.10.1.1',
      nameservers: ['10.10.0.2', '10.10.0.3'],
      search_domain: 'cortex.local',
      tags: ['k8s', 'worker', 'prod-k8s-01'],
      onboot: true,
    });
    expect(fake.calls).toEqual([RES_VM, ['get', '/nodes/pve-02/qemu/112/config', ...J]]);
    const plan = out.remediation_plan as Record<string, unknown>;
    expect(plan.attack_vector).toBe('ssh_key_compromise');
    expect(plan.new_detection_rules).toEqual([
      expect.objectContaining({ type: 'ip', value: '203.0.113.45' }),
      expect.objectContaining({ type: 'sha256', value: FINDINGS.iocs[1]?.value }),
    ]);
    expect(plan.new_procedures).toEqual(expect.arrayContaining([expect.stringMatching(/SSH key/)]));
    expect(out.vulnerabilities).toEqual([]);
    expect(out.recommended_controls).toEqual([
      { type: 'pod_security_standard', namespace: '*', level: 'restricted', mode: 'warn' },
      { type: 'pod_security_standard', namespace: '*', level: 'restricted', mode: 'audit' },
    ]);
  });

  it('without the VM (not found, or pvesh failing) drafts the rest and says why specs are missing', async () => {
    const missing = await draft({ report: 'r', findings: FINDINGS, affected_resource: { type: 'vm', identifier: 'web-01' } }, new PveFake().on(RES_VM, { stdout: '[]\n' }));
    expect(missing.replacement_specs).toBeNull();
    expect((missing.remediation_plan as { notes: string[] }).notes[0]).toMatch(/no VM "web-01"/);
    expect(missing.recommended_controls).toEqual([]);
    const down = await draft({ report: 'r', affected_resource: { type: 'node', identifier: 'k8s-worker-02' } }, new PveFake().on(RES_VM, { exitCode: 255, stderr: 'ipcc_send_rec[1] failed: Connection refused\n' }));
    expect(down.replacement_specs).toBeNull();
    expect((down.remediation_plan as { notes: string[] }).notes[0]).toMatch(/could not read the VM "k8s-worker-02".*Connection refused/);
  });

  it('drafts nothing when generate_remediation_plan is false, and approving marks it approved', async () => {
    expect(await draft({ report: 'r', generate_remediation_plan: false }, new PveFake())).toEqual({});
    expect((await impl('review_investigation_findings')).complete?.({ remediation_plan: 'x' }, {})).toEqual({ outputs: { remediation_plan: 'x', approved: true } });
  });
});

describe('verify_remediation_complete', () => {
  const checks = { checks: ['compromised_resource_removed', 'patches_applied'] };

  it('the draft confirms every check; approved as is it is verified', async () => {
    const v = await impl('verify_remediation_complete');
    const { rt, dispose } = makeRuntime(checks, { spec: spec('verify_remediation_complete') });
    const drafted = await v.run(rt);
    dispose();
    expect(v.complete?.(drafted, checks)).toEqual({ outputs: { verified: true, failed_checks: [], notes: '' } });
  });

  it('failed checks (or verified: false) make the task fail, naming them', async () => {
    const v = await impl('verify_remediation_complete');
    expect(v.complete?.({ failed_checks: ['patches_applied', 'nosuch'], notes: 'nginx still old' }, checks)).toEqual({
      outputs: { verified: false, failed_checks: ['patches_applied', 'nosuch'], notes: 'nginx still old' },
      failed: 'remediation not verified: patches_applied, nosuch not confirmed (not among the checks: nosuch)',
    });
    expect(v.complete?.({ verified: false }, checks)?.failed).toBe('remediation not verified (verified: false)');
  });
});
