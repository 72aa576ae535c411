import type { ActionImpl, PlannedStep } from '../action-impl.js';
import { clusterFor, kubectlPlanArgs, planCluster } from './cluster.js';
import { getJson, kubectl, kubectlOk, type KubeList } from './kube.js';
import { ISOLATE_LABEL, ISOLATE_POLICY_ANNOTATION, isolationLabel } from './network-policy.js';
import { toolFailure } from './tool-errors.js';
import { planList } from './plan-values.js';

interface Params {
  cluster: string;
  policy_name: string;
  namespace?: string;
  namespaces?: string[];
  remove_labels?: boolean;
}

const FAILED = { errorCode: 'network_policy_delete_failed', retryable: true };

function deleteArgs(name: string, ns: string): string[] {
  return ['delete', 'networkpolicy', name, '-n', ns, '--ignore-not-found', '-o', 'name'];
}

/** The annotation first (the label selects the pods), then the label. */
export function unlabelArgs(name: string, ns: string): string[][] {
  return [
    ['annotate', 'pods', '-n', ns, '-l', isolationLabel(name), `${ISOLATE_POLICY_ANNOTATION}-`],
    ['label', 'pods', '-n', ns, '-l', isolationLabel(name), `${ISOLATE_LABEL}-`],
  ];
}

export const deleteNetworkPolicyAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    const namespaces = p.namespaces !== undefined ? planList<string>(p.namespaces) : p.namespace ? [p.namespace] : ['<each namespace holding it>'];
    const steps: PlannedStep[] = [];
    if (!p.namespaces && !p.namespace) steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'networkpolicies', '--all-namespaces', '--field-selector', `metadata.name=${p.policy_name}`, '-o', 'json') });
    for (const ns of namespaces) {
      steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...deleteArgs(p.policy_name, ns)) });
      if (p.remove_labels !== false) for (const args of unlabelArgs(p.policy_name, ns)) steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...args) });
    }
    return steps;
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    let namespaces = p.namespaces ?? (p.namespace ? [p.namespace] : undefined);
    if (!namespaces) {
      const list = await getJson<KubeList>(rt, t, 'kubectl get networkpolicies', ['networkpolicies', '--all-namespaces', '--field-selector', `metadata.name=${p.policy_name}`]);
      namespaces = [...new Set(list.items.map((i) => i.metadata.namespace ?? 'default'))];
    }
    const deleted: string[] = [];
    for (const ns of namespaces) {
      const res = await kubectlOk(rt, t, `kubectl delete networkpolicy ${p.policy_name} -n ${ns}`, deleteArgs(p.policy_name, ns), FAILED);
      if (res.stdout.trim()) deleted.push(`${ns}/${p.policy_name}`);
      if (p.remove_labels !== false) {
        for (const args of unlabelArgs(p.policy_name, ns)) {
          const l = await kubectl(rt, t, args);
          // No pod carries the label any more: nothing to remove.
          if (l.exitCode !== 0 && !/no objects passed|No resources found|not found/.test(l.stderr)) throw toolFailure('kubectl', `kubectl ${args[0]} pods -n ${ns}`, l, FAILED);
        }
      }
    }
    return { deleted };
  },
};
