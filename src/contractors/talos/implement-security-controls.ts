import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { clusterFor, kubectlPlanArgs, planCluster, type ClusterTarget } from './cluster.js';
import { applyArgs, applyObjects, kubectlOk, manifestStream } from './kube.js';
import { defaultDenyPolicy } from './network-policy.js';
import { lines } from './parse.js';
import { invalidParams } from './tool-errors.js';
import { isPlaceholder } from './plan-values.js';

interface Control {
  type: 'pod_security_standard' | 'default_deny_network_policy' | 'network_policy' | 'namespace_labels';
  namespace?: string;
  level?: 'privileged' | 'baseline' | 'restricted';
  mode?: 'enforce' | 'audit' | 'warn';
  name?: string;
  labels?: Record<string, string>;
  policy?: Record<string, unknown>;
}

interface Params {
  cluster?: string;
  controls: Control[];
}

const FAILED = { errorCode: 'security_control_failed', retryable: false };

/** Problems that make a control impossible to apply, checked before anything changes. */
export function controlProblems(controls: readonly Control[]): string[] {
  const out: string[] = [];
  controls.forEach((c, i) => {
    const where = `controls[${i}] (${c.type})`;
    if (!c.namespace) out.push(`${where}: namespace is required`);
    if (c.type === 'pod_security_standard' && !c.level) out.push(`${where}: level is required`);
    if (c.type === 'network_policy' && (!c.name || !c.policy)) out.push(`${where}: name and policy are required`);
    if (c.type === 'namespace_labels' && Object.keys(c.labels ?? {}).length === 0) out.push(`${where}: labels are required`);
  });
  return out;
}

async function namespacesFor(rt: ActionRuntime, t: ClusterTarget, ns: string): Promise<string[]> {
  if (ns !== '*') return [ns];
  const res = await kubectlOk(rt, t, 'kubectl get namespaces', ['get', 'namespaces', '-o', 'name'], { errorCode: 'kubectl_failed', retryable: true });
  return lines(res.stdout)
    .map((l) => l.replace(/^namespaces?\//, ''))
    .filter((n) => n !== 'kube-system');
}

function networkPolicy(c: Control, ns: string): Record<string, unknown> {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: c.name, namespace: ns, labels: { 'app.kubernetes.io/managed-by': 'cortex' } },
    spec: c.policy,
  };
}

export const implementSecurityControlsAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, { cluster: p.cluster ?? 'default' });
    if (isPlaceholder(p.controls)) return [{ kind: 'wait', note: `applies each control in ${p.controls}: Pod Security labels (kubectl label namespace) or NetworkPolicies (kubectl apply --server-side)` }];
    return p.controls.map((c): PlannedStep => {
      const ns = c.namespace ?? '<namespace>';
      switch (c.type) {
        case 'pod_security_standard':
          return { kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'label', 'namespace', ns === '*' ? '<every namespace but kube-system>' : ns, `pod-security.kubernetes.io/${c.mode ?? 'enforce'}=${c.level ?? '<level>'}`, '--overwrite') };
        case 'namespace_labels':
          return { kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'label', 'namespace', ns, ...Object.entries(c.labels ?? {}).map(([k, v]) => `${k}=${v}`), '--overwrite') };
        case 'default_deny_network_policy':
          return { kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...applyArgs({})), stdin: manifestStream([defaultDenyPolicy(ns)]) };
        case 'network_policy':
          return { kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...applyArgs({})), stdin: manifestStream([networkPolicy(c, ns)]) };
      }
    });
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const problems = controlProblems(p.controls);
    if (problems.length > 0) throw invalidParams(`security controls cannot be applied: ${problems.join('; ')}`);
    const t = await clusterFor(rt, p.cluster ?? 'default');
    const applied: string[] = [];
    for (const c of p.controls) {
      const namespaces = await namespacesFor(rt, t, c.namespace as string);
      if (namespaces.length === 0) continue;
      switch (c.type) {
        case 'pod_security_standard': {
          const label = `pod-security.kubernetes.io/${c.mode ?? 'enforce'}=${c.level}`;
          await kubectlOk(rt, t, 'kubectl label namespace', ['label', 'namespace', ...namespaces, label, '--overwrite'], FAILED);
          applied.push(`pod_security_standard ${label} on ${namespaces.join(',')}`);
          break;
        }
        case 'namespace_labels': {
          const labels = Object.entries(c.labels ?? {}).map(([k, v]) => `${k}=${v}`);
          await kubectlOk(rt, t, 'kubectl label namespace', ['label', 'namespace', ...namespaces, ...labels, '--overwrite'], FAILED);
          applied.push(`namespace_labels ${labels.join(',')} on ${namespaces.join(',')}`);
          break;
        }
        case 'default_deny_network_policy':
          await applyObjects(rt, t, namespaces.map((ns) => defaultDenyPolicy(ns)), {}, FAILED);
          applied.push(`default_deny_network_policy cortex-default-deny in ${namespaces.join(',')}`);
          break;
        case 'network_policy':
          await applyObjects(rt, t, namespaces.map((ns) => networkPolicy(c, ns)), {}, FAILED);
          applied.push(`network_policy ${c.name} in ${namespaces.join(',')}`);
          break;
      }
    }
    return { applied, count: applied.length };
  },
};
