import { afterAll, describe, expect, it } from 'vitest';
import { cortex, listFiles, removeRoot } from './helpers.js';
import { INCIDENT_PARAMS, labRoot } from './lab-helpers.js';

const r = labRoot();
afterAll(() => removeRoot(r.root));

const CASES: Array<{ workflow: string; params?: string[]; expect: RegExp[] }> = [
  { workflow: 'deploy-monitoring-stack', expect: [/\$ pvesh get \/cluster\/nextid --output-format json/, /\$ pvesh create \/nodes\/\S+\/qemu\/9000\/clone --newid <nextid>/, /\$ helm .*upgrade --install kube-prometheus-stack kube-prometheus-stack .*--version 55\.5\.0 -f - --wait/, /\$ kubectl .*rollout status/, /POST <endpoints\.n8n>\/api\/v1\/workflows|POST https?:\/\/\S+\/api\/v1\/workflows/] },
  { workflow: 'build-k8s-cluster', expect: [/\$ talosctl .*gen config prod-k8s-02/, /\$ talosctl .*bootstrap/, /\$ pvesh create \/cluster\/sdn\/vnets/] },
  { workflow: 'disaster-recovery-failover', expect: [/\$ talosctl .*health/, /webhook\/cortex\/update_dns_records/] },
  { workflow: 'app-deployment', params: ['-p', 'environment=production'], expect: [/webhook\/cortex\/build_docker_image/, /\$ kubectl .*apply --server-side --field-manager=cortex/, /phase deploy \[talos-contractor\]\s+\[approval required\]/] },
  {
    workflow: 'security-incident-response',
    params: INCIDENT_PARAMS,
    expect: [
      /\$ kubectl .*cordon k8s-worker-02/,
      /\$ kubectl .*drain k8s-worker-02/,
      /waits for a person: cortex approve <execution> --action review-findings/,
      // per-action conditions, decided from the parameters, or unknown until an earlier output exists
      /^ {2}isolate-pod: apply_network_policy .*\)\s+if \$\{parameters\.affected_resource\.type\} == 'pod' \(false\)$/m,
      /^ {2}escalate-widespread: send_notification .*if \$\{analyze-logs\.output\.scope\} == 'multiple_systems' \(unknown\)$/m,
    ],
  },
];

describe('run --dry-run of every built-in workflow', () => {
  for (const c of CASES) {
    it(`${c.workflow}: the real command lines and requests, in order, and nothing written`, async () => {
      const before = listFiles(r.root);
      const res = await cortex(['run', c.workflow, ...(c.params ?? []), '--dry-run'], { root: r.root, env: { CORTEX_SECRET_CEPH_CSI_RBD_KEY: 'ceph-secret-value-123' } });
      expect(res.exitCode, res.stderr).toBe(0);
      for (const re of c.expect) expect(res.stdout).toMatch(re);
      expect(res.stdout).not.toMatch(/no implementation/);
      // no action's plan failed (e.g. "! p.nodes.map is not a function" for a list an earlier action supplies)
      expect(res.stdout).not.toMatch(/^ {4}! /m);
      expect(res.stdout).not.toContain('ceph-secret-value-123');
      expect(listFiles(r.root)).toEqual(before);
    });
  }
});
