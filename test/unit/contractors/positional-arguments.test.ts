/**
 * Values that reach a tool as positional arguments never start with "-" (issue 12, case 10):
 * helm's chart, talosctl's output paths and gen config endpoint, `key=value` labels and taints of
 * kubectl label/taint. Option values (`--version X`, `-l SEL`, pvesh `--name X`) are safe: cobra
 * and Getopt::Long take the next word as the value whatever it starts with.
 */
import { describe, expect, it } from 'vitest';
import { builtinSpecs } from '../../../src/contractors/catalogue.js';
import { compileSchema } from '../../../src/definitions/schemas.js';

type Schema = { properties?: Record<string, Schema>; items?: Schema } & Record<string, unknown>;

/** The schema at `path` (property names; `[]` steps into array items) of an action's parameters. */
function schemaAt(action: string, path: string): Schema {
  const spec = builtinSpecs().find((s) => s.name === action && s.contractor !== '*');
  if (!spec) throw new Error(`no action ${action}`);
  let s = spec.parameters as Schema;
  for (const step of path.split('.')) {
    s = step === '[]' ? (s.items as Schema) : (s.properties?.[step] as Schema);
    if (!s) throw new Error(`${action}: no ${path}`);
  }
  return s;
}

const CASES: Array<{ action: string; path: string; good: unknown[]; bad: unknown[] }> = [
  { action: 'install_helm_chart', path: 'chart', good: ['prometheus-community/kube-prometheus-stack', 'oci://registry.example/charts/web', './charts/web', 'web'], bad: ['-f', '--post-renderer=/tmp/x', ' web'] },
  { action: 'etcd_snapshot', path: 'path', good: ['/backups/prod/etcd.db', 'etcd.db'], bad: ['--help', '-n'] },
  { action: 'get_kubeconfig', path: 'path', good: ['/srv/kubeconfig'], bad: ['--merge=true'] },
  { action: 'generate_talos_config', path: 'endpoint', good: ['https://10.10.1.100:6443', '10.10.1.100'], bad: ['--with-secrets=/tmp/x'] },
  { action: 'generate_talos_config', path: 'additional_sans.[]', good: ['10.10.1.100', 'api.lab.example'], bad: ['-x', 'a,b'] },
  { action: 'join_nodes', path: 'labels', good: [{ 'node-role.kubernetes.io/worker': '' }, { tier: 'web' }], bad: [{ '--overwrite': 'false' }, { '-l': 'x' }, { tier: '-x' }] },
  { action: 'join_nodes', path: 'taints.[]', good: ['dedicated=gpu:NoSchedule', 'node.example/maint:NoExecute'], bad: ['-dedicated=gpu:NoSchedule', '--all:NoSchedule'] },
  { action: 'create_namespace', path: 'labels', good: [{ team: 'payments' }], bad: [{ '-x': 'y' }] },
  { action: 'verify_namespace_exists', path: 'labels', good: [{ team: 'payments' }], bad: [{ '-x': 'y' }] },
  { action: 'implement_security_controls', path: 'controls.[].labels', good: [{ 'pod-security.kubernetes.io/enforce': 'restricted' }], bad: [{ '--overwrite': 'false' }] },
];

describe('positional arguments built from parameters', () => {
  for (const c of CASES) {
    it(`${c.action}.${c.path} refuses values a tool would read as options`, () => {
      const validate = compileSchema(schemaAt(c.action, c.path));
      for (const v of c.good) expect(validate(v), `${JSON.stringify(v)} accepted`).toBe(true);
      for (const v of c.bad) expect(validate(v), `${JSON.stringify(v)} refused`).toBe(false);
    });
  }
});
