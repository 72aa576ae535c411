/** Rendering of cortex's network-policy parameters into networking.k8s.io/v1 NetworkPolicy objects. */
import { createHash } from 'node:crypto';
import { isPlaceholder } from './plan-values.js';

export interface PeerParam {
  pod_selector?: Record<string, string>;
  namespace_selector?: Record<string, string>;
  ip_block?: { cidr: string; except?: string[] };
  dns_selector?: boolean;
}
export interface PortParam {
  port?: number | string;
  end_port?: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}
export interface IngressRuleParam {
  from?: PeerParam[];
  ports?: PortParam[];
}
export interface EgressRuleParam {
  to?: PeerParam[];
  ports?: PortParam[];
}

export const ISOLATE_LABEL = 'cortex.dev/isolate';
/** Annotation beside the isolation label with the policy's full name (the label may hold a hash). */
export const ISOLATE_POLICY_ANNOTATION = 'cortex.dev/isolate-policy';

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_VALUE_MAX = 63;
const HASH_CHARS = 10;

/**
 * The cortex.dev/isolate label value that stands for a policy. A label value is at most 63
 * characters (a NetworkPolicy name may have 253): a name that fits is used as it is; a longer one
 * becomes its first 52 characters, '-' and 10 hex digits of its SHA-256, stable across runs and
 * hosts so that the policy's selector, the labelled pods and a later delete all agree.
 */
export function isolationLabelValue(policyName: string): string {
  if (policyName.length <= LABEL_VALUE_MAX && LABEL_VALUE.test(policyName)) return policyName;
  const hash = createHash('sha256').update(policyName).digest('hex').slice(0, HASH_CHARS);
  const prefix = policyName
    .replace(/[^-A-Za-z0-9_.]/g, '-')
    .slice(0, LABEL_VALUE_MAX - HASH_CHARS - 1)
    .replace(/^[^A-Za-z0-9]+/, '');
  return prefix ? `${prefix}-${hash}` : hash;
}

/** `cortex.dev/isolate=<value>`: the label (and selector) of a policy's isolated pods. */
export function isolationLabel(policyName: string): string {
  return `${ISOLATE_LABEL}=${isolationLabelValue(policyName)}`;
}

/** kube-dns in kube-system, the target of dns_selector peers. */
export const DNS_PEER = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
  podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
};

export function renderPeers(peers: readonly PeerParam[]): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const p of peers) {
    // ipBlock may not be combined with selectors in one peer: it becomes its own entry.
    if (p.ip_block) out.push({ ipBlock: { cidr: p.ip_block.cidr, ...(p.ip_block.except?.length ? { except: [...p.ip_block.except] } : {}) } });
    if (p.dns_selector) out.push(structuredClone(DNS_PEER));
    if (p.pod_selector || p.namespace_selector) {
      out.push({
        ...(p.namespace_selector ? { namespaceSelector: { matchLabels: { ...p.namespace_selector } } } : {}),
        ...(p.pod_selector ? { podSelector: { matchLabels: { ...p.pod_selector } } } : {}),
      });
    }
  }
  return out;
}

export function renderPorts(ports: readonly PortParam[]): Array<Record<string, unknown>> {
  return ports.map((p) => ({
    protocol: p.protocol ?? 'TCP',
    ...(p.port !== undefined ? { port: p.port } : {}),
    ...(p.end_port !== undefined ? { endPort: p.end_port } : {}),
  }));
}

/** A rule's peers or ports; a dry run's placeholder (an earlier action supplies them) is shown as it is. */
function renderList<T>(v: T[] | string | undefined, render: (v: T[]) => unknown[]): unknown {
  if (isPlaceholder(v)) return v;
  return Array.isArray(v) && v.length > 0 ? render(v) : undefined;
}

function renderRule(peersKey: 'from' | 'to', peers: PeerParam[] | string | undefined, ports: PortParam[] | string | undefined): Record<string, unknown> {
  const p = renderList(peers, renderPeers);
  const q = renderList(ports, renderPorts);
  return { ...(p !== undefined ? { [peersKey]: p } : {}), ...(q !== undefined ? { ports: q } : {}) };
}

/**
 * A NetworkPolicy. Absent rules leave a direction unrestricted; an empty list denies it all.
 * With neither given the policy allows all ingress (Kubernetes would otherwise default to Ingress).
 */
export function renderNetworkPolicy(o: {
  name: string;
  namespace: string;
  /** Match labels, or (in a dry run) the placeholder of an earlier action's output. */
  podSelector: Record<string, string> | string;
  ingress?: IngressRuleParam[] | string;
  egress?: EgressRuleParam[] | string;
  labels?: Record<string, string>;
}): Record<string, unknown> {
  const policyTypes: string[] = [];
  const selector = isPlaceholder(o.podSelector) ? { matchLabels: o.podSelector } : Object.keys(o.podSelector).length > 0 ? { matchLabels: { ...(o.podSelector as Record<string, string>) } } : {};
  const spec: Record<string, unknown> = { podSelector: selector };
  if (o.ingress) {
    policyTypes.push('Ingress');
    spec.ingress = isPlaceholder(o.ingress) ? o.ingress : (o.ingress as IngressRuleParam[]).map((r) => renderRule('from', r.from, r.ports));
  }
  if (o.egress) {
    policyTypes.push('Egress');
    spec.egress = isPlaceholder(o.egress) ? o.egress : (o.egress as EgressRuleParam[]).map((r) => renderRule('to', r.to, r.ports));
  }
  if (policyTypes.length === 0) {
    policyTypes.push('Ingress');
    spec.ingress = [{}];
  }
  spec.policyTypes = policyTypes;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: o.name, namespace: o.namespace, labels: { 'app.kubernetes.io/managed-by': 'cortex', ...(o.labels ?? {}) } },
    spec,
  };
}

/** cortex-default-deny: everything denied except DNS lookups to kube-dns. */
export function defaultDenyPolicy(namespace: string, name = 'cortex-default-deny'): Record<string, unknown> {
  return renderNetworkPolicy({
    name,
    namespace,
    podSelector: {},
    ingress: [],
    egress: [{ to: [{ dns_selector: true }], ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] }],
  });
}
