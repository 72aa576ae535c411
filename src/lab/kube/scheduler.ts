/**
 * The lab scheduler's decisions: which nodes a pod may run on (Ready, schedulable, nodeSelector,
 * required node affinity, NoSchedule/NoExecute taints), which one it gets (fewest pods of the same
 * owner, then fewest pods), and pod IPs from the node's podCIDR.
 */
import { isPlainObject, type KObject } from './object.js';

interface Taint {
  key: string;
  value?: string;
  effect: string;
}
interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

/** PodNodeSelector admission: a namespace annotation merged into its pods' nodeSelector. */
export const NODE_SELECTOR_ANNOTATION = 'scheduler.alpha.kubernetes.io/node-selector';

export function namespaceNodeSelector(ns: KObject | undefined): Record<string, string> {
  const text = ns?.metadata.annotations?.[NODE_SELECTOR_ANNOTATION];
  if (!text) return {};
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const [k, v] = part.split('=');
    if (k?.trim()) out[k.trim()] = (v ?? '').trim();
  }
  return out;
}

export function isNodeReady(node: KObject): boolean {
  const conds = (node.status?.conditions ?? []) as { type: string; status: string }[];
  return conds.some((c) => c.type === 'Ready' && c.status === 'True');
}

export function nodeInternalIp(node: KObject): string | undefined {
  const addrs = (node.status?.addresses ?? []) as { type: string; address: string }[];
  return addrs.find((a) => a.type === 'InternalIP')?.address;
}

function tolerates(tolerations: readonly Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if ((t.operator ?? 'Equal') === 'Exists') return !t.key || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

export function untoleratedTaint(pod: KObject, node: KObject): Taint | undefined {
  const taints = (node.spec?.taints ?? []) as Taint[];
  const tols = (pod.spec?.tolerations ?? []) as Toleration[];
  return taints.find((t) => (t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !tolerates(tols, t));
}

interface SelectorTerm {
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

function termMatches(term: SelectorTerm, labels: Record<string, string>): boolean {
  return (term.matchExpressions ?? []).every((e) => {
    const has = e.key in labels;
    const v = labels[e.key];
    switch (e.operator) {
      case 'In':
        return has && (e.values ?? []).includes(v!);
      case 'NotIn':
        return !has || !(e.values ?? []).includes(v!);
      case 'Exists':
        return has;
      case 'DoesNotExist':
        return !has;
      case 'Gt':
        return has && Number(v) > Number(e.values?.[0]);
      case 'Lt':
        return has && Number(v) < Number(e.values?.[0]);
      default:
        return false;
    }
  });
}

/** nodeSelector and required node affinity. */
export function matchesNodeSelection(pod: KObject, node: KObject): boolean {
  const labels = node.metadata.labels ?? {};
  const sel = (pod.spec?.nodeSelector ?? {}) as Record<string, string>;
  if (!Object.entries(sel).every(([k, v]) => labels[k] === v)) return false;
  const req = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (isPlainObject(req) && Array.isArray(req.nodeSelectorTerms) && req.nodeSelectorTerms.length)
    return (req.nodeSelectorTerms as SelectorTerm[]).some((t) => termMatches(t, labels));
  return true;
}

export type Placement = { node: KObject } | { reason: string };

/** Picks a node for a pod, or says why none fits (the FailedScheduling message). */
export function placePod(pod: KObject, nodes: readonly KObject[], pods: readonly KObject[]): Placement {
  const reasons = new Map<string, number>();
  const note = (r: string) => reasons.set(r, (reasons.get(r) ?? 0) + 1);
  const fits: KObject[] = [];
  const live = nodes.filter((n) => !n.metadata.deletionTimestamp);
  for (const n of live) {
    if (!isNodeReady(n)) note("node(s) had untolerated taint {node.kubernetes.io/not-ready: }");
    else if (n.spec?.unschedulable) note('node(s) were unschedulable');
    else if (!matchesNodeSelection(pod, n)) note("node(s) didn't match Pod's node affinity/selector");
    else {
      const t = untoleratedTaint(pod, n);
      if (t) note(`node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`);
      else fits.push(n);
    }
  }
  if (!fits.length) {
    const parts = [...reasons.entries()].map(([r, c]) => `${c} ${r}`).sort();
    const n = live.length;
    return {
      reason: `0/${n} nodes are available: ${parts.join(', ')}${parts.length ? '. ' : ''}preemption: 0/${n} nodes are available: ${n} Preemption is not helpful for scheduling.`,
    };
  }
  const owner = pod.metadata.ownerReferences?.find((o) => o.controller)?.uid;
  const active = pods.filter((p) => !p.metadata.deletionTimestamp && p.spec?.nodeName);
  const score = (n: KObject) => {
    const on = active.filter((p) => p.spec.nodeName === n.metadata.name);
    return [owner ? on.filter((p) => p.metadata.ownerReferences?.some((o) => o.uid === owner)).length : 0, on.length];
  };
  fits.sort((a, b) => {
    const [a1, a2] = score(a);
    const [b1, b2] = score(b);
    return a1! - b1! || a2! - b2! || (a.metadata.name < b.metadata.name ? -1 : 1);
  });
  return { node: fits[0]! };
}

/** Next free pod IP in the node's podCIDR (10.244.N.0/24), or the node IP for hostNetwork pods. */
export function allocatePodIp(pod: KObject, node: KObject, pods: readonly KObject[]): string | undefined {
  if (pod.spec?.hostNetwork) return nodeInternalIp(node);
  const cidr = node.spec?.podCIDR as string | undefined;
  const m = cidr ? /^(\d+\.\d+\.\d+)\.0\/24$/.exec(cidr) : null;
  if (!m) return undefined;
  const used = new Set(pods.filter((p) => p.spec?.nodeName === node.metadata.name && !p.spec?.hostNetwork).map((p) => p.status?.podIP as string));
  for (let i = 2; i < 255; i++) {
    const ip = `${m[1]}.${i}`;
    if (!used.has(ip)) return ip;
  }
  return undefined;
}

/** A free 10.244.N.0/24 for a node without one (the node IPAM controller). */
export function allocatePodCidr(nodes: readonly KObject[]): string {
  const used = new Set(nodes.map((n) => n.spec?.podCIDR as string).filter(Boolean));
  for (let i = 0; i < 256; i++) {
    const c = `10.244.${i}.0/24`;
    if (!used.has(c)) return c;
  }
  return '10.244.255.0/24';
}
