import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../../src/config/config.js';
import { IMPLEMENTATIONS } from '../../../../src/contractors/talos/index.js';
import { TALOS_SPECS } from '../../../../src/contractors/talos/specs.js';
import { baseConfig } from './helpers.js';
import { checkParams } from '../runtime-helper.js';

/** Minimal valid parameters of every action (checked against its schema). */
export const SAMPLES: Record<string, Record<string, unknown>> = {
  generate_talos_config: { cluster: 'prod-k8s-02', endpoint: '10.10.1.100', config_patches: [{ a: 1 }] },
  apply_talos_config: { cluster: 'prod-k8s-01', nodes: ['10.10.1.20'], machine_type: 'worker' },
  bootstrap_talos_cluster: { cluster: 'prod-k8s-01', node: '10.10.1.10' },
  talos_health: { cluster: 'prod-k8s-01' },
  get_kubeconfig: { cluster: 'prod-k8s-01' },
  etcd_snapshot: { cluster: 'prod-k8s-01' },
  upgrade_talos_node: { cluster: 'prod-k8s-01', node: '10.10.1.20', image: 'ghcr.io/siderolabs/installer:v1.6.2' },
  rollback_talos_node: { cluster: 'prod-k8s-01', node: '10.10.1.20' },
  join_nodes: { cluster: 'prod-k8s-01', nodes: ['10.10.20.11'], labels: { a: 'b' }, taints: ['k=v:NoSchedule'] },
  remove_nodes: { cluster: 'prod-k8s-01', nodes: ['k8s-worker-03'] },
  create_namespace: { cluster: 'prod-k8s-01', namespace: 'monitoring' },
  verify_namespace_exists: { cluster: 'prod-k8s-01', namespace: 'monitoring', create_if_missing: true },
  verify_secrets: { cluster: 'prod-k8s-01', namespace: 'production', required_secrets: ['db'], required_keys: { db: ['password'] } },
  apply_kubernetes_manifest: { cluster: 'prod-k8s-01', namespace: 'production', manifest: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' } } },
  wait_for_rollout: { cluster: 'prod-k8s-01', namespace: 'production', selector: 'app=web' },
  verify_pod_health: { cluster: 'prod-k8s-01', namespace: 'production', deployment: 'web' },
  rollback_kubernetes_deployment: { cluster: 'prod-k8s-01', namespace: 'production', deployment: 'web', revision: 0 },
  scale_deployment: { cluster: 'prod-k8s-01', namespace: 'production', replicas_by_deployment: { web: 2 }, wait: true },
  cordon_node: { cluster: 'prod-k8s-01', node: 'k8s-worker-02' },
  uncordon_node: { cluster: 'prod-k8s-01', node: 'k8s-worker-02', skip: true },
  drain_node: { cluster: 'prod-k8s-01', node: 'k8s-worker-02', preserve_forensics: true },
  apply_network_policy: { cluster: 'prod-k8s-01', policy_name: 'iso', target_selector: { node: 'k8s-worker-02' }, ingress_rules: [] },
  delete_network_policy: { cluster: 'prod-k8s-01', policy_name: 'iso' },
  capture_cluster_state: { cluster: 'prod-k8s-01', node: 'k8s-worker-02', output_location: 's3://b/x/' },
  install_helm_chart: { cluster: 'prod-k8s-01', release: 'web', chart: 'repo/web', namespace: 'apps', values: { a: 1 } },
  uninstall_helm_release: { cluster: 'prod-k8s-01', release: 'web', namespace: 'apps', preserve_pvcs: false },
  rollback_helm_release: { cluster: 'prod-k8s-01', release: 'web', namespace: 'apps', revision: 'previous' },
  apply_security_patches: { cluster: 'prod-k8s-01', vulnerabilities: [{ id: 'CVE-1', fixed_image: 'x:2' }, { id: 'CVE-2' }] },
  implement_security_controls: { cluster: 'prod-k8s-01', controls: [{ type: 'pod_security_standard', namespace: '*', level: 'baseline' }, { type: 'default_deny_network_policy', namespace: 'p' }] },
};

describe('talos-contractor catalogue coverage', () => {
  it('every spec has an implementation and nothing else is registered', () => {
    expect(Object.keys(IMPLEMENTATIONS).sort()).toEqual(TALOS_SPECS.map((s) => s.name).sort());
  });

  it.each(TALOS_SPECS.map((s) => [s.name]))('%s plans concrete tool command lines', async (name) => {
    const spec = TALOS_SPECS.find((s) => s.name === name);
    const params = checkParams(spec as never, SAMPLES[name] as Record<string, unknown>);
    const impl = await (IMPLEMENTATIONS[name] as () => Promise<{ plan: (p: Record<string, unknown>, c: unknown) => Array<{ kind: string; tool?: string; args?: string[] }> }>)();
    const steps = impl.plan(params, { config: resolveConfig(baseConfig(), {}, null), executionId: 'e', workflowId: 'w', actionId: 'a', contractor: 'talos-contractor' });
    expect(steps.length).toBeGreaterThan(0);
    for (const s of steps.filter((x) => x.kind === 'command')) {
      expect(['talosctl', 'kubectl', 'helm']).toContain(s.tool);
      // get_kubeconfig validates the file it just wrote, not the configured kubeconfig.
      if ((s.tool === 'kubectl' && name !== 'get_kubeconfig') || (s.tool === 'helm' && s.args?.[0] !== 'version')) expect(s.args?.slice(0, 2)).toEqual(['--kubeconfig', '/etc/cortex/prod.kubeconfig']);
    }
  });
});

describe('talos-contractor plans with values an earlier action supplies', () => {
  /** What `run --dry-run` passes for `${earlier.output.key}`: a "<earlier.output.key>" string, whatever the type. */
  const placeholder = (param: string) => `<earlier.output.${param}>`;
  const structured = (schema: { type?: unknown; oneOf?: unknown[]; anyOf?: unknown[] } | undefined): boolean => {
    const types = [schema?.type, ...[...(schema?.oneOf ?? []), ...(schema?.anyOf ?? [])].map((s) => (s as { type?: unknown }).type)].flat();
    return types.includes('array') || types.includes('object');
  };

  it.each(TALOS_SPECS.map((s) => [s.name]))('%s: a placeholder for each list or object parameter is shown, without an error', async (name) => {
    const spec = TALOS_SPECS.find((s) => s.name === name)!;
    const sample = checkParams(spec as never, SAMPLES[name] as Record<string, unknown>);
    const props = (spec.parameters as { properties?: Record<string, { type?: unknown }> }).properties ?? {};
    const lists = Object.keys(props).filter((k) => structured(props[k]));
    const impl = await (IMPLEMENTATIONS[name] as () => Promise<{ plan: (p: Record<string, unknown>, c: unknown) => Array<{ kind: string; args?: string[]; note?: string }> }>)();
    const ctx = { config: resolveConfig(baseConfig(), {}, null), executionId: 'e', workflowId: 'w', actionId: 'a', contractor: 'talos-contractor' };
    for (const param of lists) {
      const params = { ...sample, [param]: placeholder(param) };
      let steps: Array<{ kind: string; args?: string[]; note?: string }> = [];
      expect(() => (steps = impl.plan(params, ctx)), `${name}.${param}`).not.toThrow();
      expect(steps.length, `${name}.${param}`).toBeGreaterThan(0);
      // the plan says where the value comes from, and never takes the placeholder apart (a string
      // spread into an object, iterated as a list of characters) or shows "[object Object]"
      const text = JSON.stringify(steps);
      expect(text, `${name}.${param}`).toContain(placeholder(param));
      expect(text, `${name}.${param}`).not.toMatch(/\[object Object\]|"0":"<"|undefined/);
      const args = steps.flatMap((st) => st.args ?? []);
      expect(args.filter((a) => a === '<' || /[=/]<$|\/0$/.test(a)), `${name}.${param}`).toEqual([]);
    }
  });
});
