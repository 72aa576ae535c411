import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { clusterFor, kubectlPlanArgs, planCluster, type ClusterTarget } from './cluster.js';
import { applyArgs, applyObjects, getJson, kubectlOk, manifestStream, type KubeList } from './kube.js';
import { ISOLATE_LABEL, ISOLATE_POLICY_ANNOTATION, isolationLabel, isolationLabelValue, renderNetworkPolicy, type EgressRuleParam, type IngressRuleParam } from './network-policy.js';
import { invalidParams } from './tool-errors.js';
import { placeholderNote } from './plan-values.js';

interface Params {
  cluster: string;
  namespace?: string;
  policy_name: string;
  target_selector: { node?: string; match_labels?: Record<string, string>; pod?: string };
  ingress_rules?: IngressRuleParam[];
  egress_rules?: EgressRuleParam[];
}

const FAILED = { errorCode: 'network_policy_failed', retryable: false };

/** Pods to label, grouped by namespace, for a node or pod target. */
async function targetPods(rt: ActionRuntime, t: ClusterTarget, p: Params): Promise<Map<string, string[]>> {
  const byNs = new Map<string, string[]>();
  if (p.target_selector.node) {
    const list = await getJson<KubeList>(rt, t, `kubectl get pods on ${p.target_selector.node}`, [
      'pods',
      ...(p.namespace ? ['-n', p.namespace] : ['--all-namespaces']),
      '--field-selector',
      `spec.nodeName=${p.target_selector.node}`,
    ]);
    for (const pod of list.items) {
      const ns = pod.metadata.namespace ?? p.namespace ?? 'default';
      byNs.set(ns, [...(byNs.get(ns) ?? []), pod.metadata.name]);
    }
    if (p.namespace && !byNs.has(p.namespace)) byNs.set(p.namespace, []);
  } else if (p.target_selector.pod) {
    byNs.set(p.namespace as string, [p.target_selector.pod]);
  }
  return byNs;
}

function policyFor(p: Params, namespace: string, podSelector: Record<string, string>): Record<string, unknown> {
  return renderNetworkPolicy({
    name: p.policy_name,
    namespace,
    podSelector,
    ...(p.ingress_rules ? { ingress: p.ingress_rules } : {}),
    ...(p.egress_rules ? { egress: p.egress_rules } : {}),
  });
}

/** Label, then annotate, the pods of one namespace: the label selects them, the annotation names the policy. */
export function isolateArgs(policyName: string, namespace: string, pods: readonly string[]): string[][] {
  return [
    ['label', 'pod', ...pods, '-n', namespace, isolationLabel(policyName), '--overwrite'],
    ['annotate', 'pod', ...pods, '-n', namespace, `${ISOLATE_POLICY_ANNOTATION}=${policyName}`, '--overwrite'],
  ];
}

function validate(p: Params): void {
  const ts = p.target_selector;
  const n = [ts.node, ts.match_labels, ts.pod].filter((x) => x !== undefined).length;
  if (n !== 1) throw invalidParams('target_selector needs exactly one of node, match_labels, pod');
  if ((ts.match_labels || ts.pod) && !p.namespace) throw invalidParams('namespace is required for a match_labels or pod target');
}

export const applyNetworkPolicyAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    // a target an earlier action supplies: shown as for a node or pod target, which it may be
    const later = placeholderNote('target', p.target_selector);
    const ts = later ? {} : p.target_selector;
    if (ts.match_labels) {
      return [{ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...applyArgs({})), stdin: manifestStream([policyFor(p, p.namespace as string, ts.match_labels)]) }];
    }
    const steps: PlannedStep[] = later ? [{ kind: 'wait', note: `${later}: a node or pod target labels its pods as below; match_labels needs no labels` }] : [];
    if (ts.node) steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'pods', ...(p.namespace ? ['-n', p.namespace] : ['--all-namespaces']), '--field-selector', `spec.nodeName=${ts.node}`, '-o', 'json') });
    for (const args of isolateArgs(p.policy_name, p.namespace ?? '<namespace>', [ts.pod ?? '<pods>'])) steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...args), note: 'per namespace' });
    steps.push({
      kind: 'command',
      tool: 'kubectl',
      args: kubectlPlanArgs(t, ...applyArgs({})),
      stdin: manifestStream([policyFor(p, p.namespace ?? '<namespace>', { [ISOLATE_LABEL]: isolationLabelValue(p.policy_name) })]),
      note: 'one policy per namespace with such pods',
    });
    return steps;
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    validate(p);
    const t = await clusterFor(rt, p.cluster);
    const ts = p.target_selector;
    if (ts.match_labels) {
      const ns = p.namespace as string;
      await applyObjects(rt, t, [policyFor(p, ns, ts.match_labels)], {}, FAILED);
      return { policy_name: p.policy_name, namespaces: [ns], policies: [`${ns}/${p.policy_name}`], labelled_pods: [], isolation_label: null };
    }
    const byNs = await targetPods(rt, t, p);
    const labelled: string[] = [];
    for (const [ns, pods] of byNs) {
      if (pods.length === 0) continue;
      for (const args of isolateArgs(p.policy_name, ns, pods)) await kubectlOk(rt, t, `kubectl ${args[0]} pods in ${ns}`, args, FAILED);
      labelled.push(...pods.map((pod) => `${ns}/${pod}`));
    }
    const namespaces = [...byNs.keys()];
    if (namespaces.length > 0) {
      await applyObjects(rt, t, namespaces.map((ns) => policyFor(p, ns, { [ISOLATE_LABEL]: isolationLabelValue(p.policy_name) })), {}, FAILED);
    }
    return { policy_name: p.policy_name, namespaces, policies: namespaces.map((ns) => `${ns}/${p.policy_name}`), labelled_pods: labelled, isolation_label: isolationLabel(p.policy_name) };
  },
};
