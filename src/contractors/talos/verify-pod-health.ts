import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { clusterFor, kubectlPlanArgs, planCluster, type ClusterTarget } from './cluster.js';
import { getJson, getOptional, selectorOf, type KubeList, type KubeObject } from './kube.js';
import { nodesByIp } from './join-nodes.js';

interface Params {
  cluster: string;
  namespace: string;
  deployment?: string;
  selector?: string;
  expected_replicas?: number;
  all_ready_required?: boolean;
  min_ready_fraction?: number;
  service?: string;
}

interface PodStatus {
  phase?: string;
  podIP?: string;
  conditions?: Array<{ type: string; status: string }>;
  containerStatuses?: Array<{ name: string; state?: { waiting?: { reason?: string } } }>;
  initContainerStatuses?: Array<{ name: string; state?: { waiting?: { reason?: string } } }>;
}

const BAD_WAITING = new Set(['CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull', 'CreateContainerConfigError', 'InvalidImageName']);

export interface PodHealth {
  name: string;
  healthy: boolean;
  ready: boolean;
  ip?: string;
  node?: string;
  reason?: string;
}

/** TOOLS.md §5 verify_pod_health: Running (or Succeeded), Ready=True, no container waiting in a crash/pull loop. */
export function podHealth(pod: KubeObject): PodHealth {
  const s = (pod.status ?? {}) as PodStatus;
  const ready = s.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const waiting = [...(s.containerStatuses ?? []), ...(s.initContainerStatuses ?? [])]
    .map((c) => c.state?.waiting?.reason)
    .find((r): r is string => typeof r === 'string' && BAD_WAITING.has(r));
  const phaseOk = s.phase === 'Running' || s.phase === 'Succeeded';
  const healthy = !waiting && (s.phase === 'Succeeded' || (phaseOk && ready));
  const node = typeof pod.spec?.nodeName === 'string' ? pod.spec.nodeName : undefined;
  return {
    name: pod.metadata.name,
    healthy,
    ready: healthy && s.phase === 'Running',
    ...(s.podIP ? { ip: s.podIP } : {}),
    ...(node ? { node } : {}),
    ...(healthy ? {} : { reason: waiting ?? `${s.phase ?? 'Unknown'}${phaseOk ? ', not Ready' : ''}` }),
  };
}

async function selectorFor(rt: ActionRuntime, t: ClusterTarget, p: Params): Promise<string> {
  if (p.selector) return p.selector;
  const d = await getJson<KubeObject>(rt, t, `kubectl get deployment ${p.deployment}`, ['deployment', p.deployment as string, '-n', p.namespace]);
  const labels = (d.spec?.selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels;
  return selectorOf(labels) || `app=${p.deployment}`;
}

export const verifyPodHealthAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    const steps: PlannedStep[] = [];
    if (!p.selector) steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'deployment', p.deployment as string, '-n', p.namespace, '-o', 'json'), note: 'selector from spec.selector.matchLabels' });
    steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'pods', '-n', p.namespace, '-l', p.selector ?? '<selector>', '-o', 'json') });
    steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'nodes', '-o', 'json'), note: 'node IPs of the ready pods' });
    const svc = p.service ?? p.deployment;
    if (svc) steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'service', svc, '-n', p.namespace, '--ignore-not-found', '-o', 'json') });
    return steps;
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    const selector = await selectorFor(rt, t, p);
    const pods = (await getJson<KubeList>(rt, t, 'kubectl get pods', ['pods', '-n', p.namespace, '-l', selector])).items.filter((pod) => !pod.metadata.deletionTimestamp);
    const health = pods.map(podHealth);
    const ready = health.filter((h) => h.ready || h.healthy);
    const unhealthy = health.filter((h) => !h.healthy);
    const readyNodes = new Set(ready.map((h) => h.node).filter((n): n is string => Boolean(n)));
    let nodeIps: string[] = [];
    if (readyNodes.size > 0) {
      const byIp = nodesByIp(await getJson<KubeList>(rt, t, 'kubectl get nodes', ['nodes']));
      nodeIps = [...byIp].filter(([, n]) => readyNodes.has(n.name)).map(([ip]) => ip);
    }
    const svcName = p.service ?? p.deployment;
    let nodePorts: number[] = [];
    if (svcName) {
      const svc = await getOptional<KubeObject>(rt, t, `kubectl get service ${svcName}`, ['service', svcName, '-n', p.namespace]);
      const ports = (svc?.spec?.ports as Array<{ nodePort?: number }> | undefined) ?? [];
      nodePorts = ports.map((x) => x.nodePort).filter((n): n is number => typeof n === 'number');
    }
    const problems: string[] = [];
    if (pods.length === 0) problems.push(`no pods match ${selector} in ${p.namespace}`);
    if (p.expected_replicas !== undefined && ready.length < p.expected_replicas) problems.push(`${ready.length}/${p.expected_replicas} expected pods ready`);
    if ((p.all_ready_required ?? true) && unhealthy.length > 0) problems.push(`unhealthy: ${unhealthy.map((u) => `${u.name} (${u.reason})`).join(', ')}`);
    if (p.min_ready_fraction !== undefined && pods.length > 0 && ready.length / pods.length < p.min_ready_fraction) {
      problems.push(`ready fraction ${(ready.length / pods.length).toFixed(2)} < ${p.min_ready_fraction}`);
    }
    if (problems.length > 0) {
      throw new ActionFailedError(`pod health check failed: ${problems.join('; ')}`, { errorCode: 'pod_health_check_failed', retryable: true });
    }
    return {
      healthy: true,
      ready_replicas: ready.length,
      total_pods: pods.length,
      unhealthy_pods: unhealthy.map((u) => u.name),
      pod_ips: ready.map((h) => h.ip).filter((ip): ip is string => Boolean(ip)),
      node_ips: nodeIps,
      node_ports: nodePorts,
    };
  },
};
