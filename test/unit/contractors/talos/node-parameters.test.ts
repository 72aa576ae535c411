import { describe, expect, it } from 'vitest';
import { builtinSpecs } from '../../../../src/contractors/catalogue.js';
import { DNS_SUBDOMAIN } from '../../../../src/contractors/param-schema.js';
import { compileSchema } from '../../../../src/definitions/schemas.js';

/** Parameters that name the machines talosctl acts on (-n) or talks through (-e), or Kubernetes nodes. */
const NODE_PARAMETERS = new Set(['node', 'nodes', 'ips', 'control_plane_nodes', 'worker_nodes', 'endpoint']);

type Schema = Record<string, unknown> & { items?: Record<string, unknown> };
const talos = builtinSpecs().filter((s) => s.contractor === 'talos-contractor');
const cases = talos.flatMap((spec) =>
  Object.entries((spec.parameters.properties ?? {}) as Record<string, Schema>)
    .filter(([name]) => NODE_PARAMETERS.has(name))
    // generate_talos_config's endpoint is the Kubernetes API URL, not a talosctl -e address.
    .filter(([name]) => !(spec.name === 'generate_talos_config' && name === 'endpoint'))
    .map(([name, schema]) => ({ action: spec.name, name, schema, isKubernetesName: (schema.items ?? schema).pattern === DNS_SUBDOMAIN })),
);

describe('talos-contractor parameters that name nodes', () => {
  it('cover the single-node actions and the node lists', () => {
    const names = cases.map((c) => `${c.action}.${c.name}`);
    for (const n of ['upgrade_talos_node.node', 'rollback_talos_node.node', 'etcd_snapshot.node', 'bootstrap_talos_cluster.node', 'apply_talos_config.nodes', 'remove_nodes.ips', 'join_nodes.nodes', 'talos_health.node', 'get_kubeconfig.node', 'cordon_node.node']) {
      expect(names).toContain(n);
    }
  });

  for (const c of cases) {
    it(`${c.action}.${c.name}: one ${c.isKubernetesName ? 'Kubernetes node name' : 'address or DNS name'} per value, never a list or an option`, () => {
      const validate = compileSchema(c.schema);
      const wrap = (v: string) => (c.schema.type === 'array' ? [v] : v);
      const good = c.isKubernetesName ? ['cp-1.lab.example.com', 'cp1'] : ['10.10.1.10', 'cp-1.lab.example.com', 'cp1', 'fd00::10'];
      const bad = ['10.10.1.10,10.10.1.11,10.10.1.12', '10.10.1.10 10.10.1.11', '-n', '--nodes=10.10.1.11', '', 'cp1;reboot', ...(c.isKubernetesName ? [] : ['10.10.1.300'])];
      for (const ok of good) expect(validate(wrap(ok)), `${ok} accepted`).toBe(true);
      for (const b of bad) expect(validate(wrap(b)), `${JSON.stringify(b)} refused`).toBe(false);
    });
  }
});
