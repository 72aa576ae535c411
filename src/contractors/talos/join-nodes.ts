import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { clusterFor, kubectlPlanArgs, planCluster, requireNode, type ClusterTarget } from './cluster.js';
import { insecureApplyArgs, machineConfigPath, requireConfig } from './apply-talos-config.js';
import { getJson, kubectlOk, type KubeList, type KubeObject } from './kube.js';
import { getMembers, isConfiguredNode, talosctl } from './talos.js';
import { toolFailure } from './tool-errors.js';
import { isPlaceholder, placeholderNote, planList, planRecord } from './plan-values.js';

interface Params {
  cluster: string;
  nodes: string[];
  machine_type?: 'worker' | 'controlplane';
  config_file?: string;
  labels?: Record<string, string>;
  taints?: string[];
  ready_timeout_seconds?: number;
}

const POLL_MS = 5000;
const JOIN_FAILED = { errorCode: 'node_join_failed', retryable: false };

interface NodeStatus {
  addresses?: Array<{ type: string; address: string }>;
  conditions?: Array<{ type: string; status: string }>;
}

/** Kubernetes nodes by InternalIP, with their Ready condition. */
export function nodesByIp(list: KubeList): Map<string, { name: string; ready: boolean }> {
  const out = new Map<string, { name: string; ready: boolean }>();
  for (const n of list.items) {
    const status = (n.status ?? {}) as NodeStatus;
    const ip = status.addresses?.find((a) => a.type === 'InternalIP')?.address;
    if (!ip) continue;
    const ready = status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    out.set(ip, { name: n.metadata.name, ready });
  }
  return out;
}

async function waitReady(rt: ActionRuntime, t: ClusterTarget, ips: string[], timeoutSeconds: number): Promise<Map<string, { name: string; ready: boolean }>> {
  const deadline = rt.now().getTime() + timeoutSeconds * 1000;
  for (;;) {
    const byIp = nodesByIp(await getJson<KubeList<KubeObject>>(rt, t, 'kubectl get nodes', ['nodes']));
    const missing = ips.filter((ip) => !byIp.get(ip)?.ready);
    if (missing.length === 0) return byIp;
    if (rt.now().getTime() + POLL_MS > deadline) {
      const detail = missing.map((ip) => (byIp.has(ip) ? `${byIp.get(ip)?.name} (${ip}) not Ready` : `${ip} not registered`)).join(', ');
      throw new ActionFailedError(`nodes did not become Ready within ${timeoutSeconds}s: ${detail}`, { errorCode: 'node_join_failed', retryable: true });
    }
    await rt.sleep(POLL_MS);
  }
}

export const joinNodesAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    const file = machineConfigPath(t, p.config_file, p.machine_type ?? 'worker');
    const kc = kubectlPlanArgs(t);
    const each = placeholderNote('for each node of', p.nodes);
    const steps: PlannedStep[] = planList<string>(p.nodes).map((ip) => ({
      kind: 'command' as const,
      tool: 'talosctl',
      args: insecureApplyArgs(ip, file, 'auto', []),
      note: `${each ? `${each}; ` : ''}a node already configured is checked with talosctl get members instead`,
    }));
    steps.push({ kind: 'command', tool: 'kubectl', args: [...kc, 'get', 'nodes', '-o', 'json'], note: `repeated until every new node is Ready (${p.ready_timeout_seconds ?? 600}s)` });
    const labels = isPlaceholder(p.labels) ? [p.labels] : Object.entries(planRecord(p.labels)).map(([k, v]) => `${k}=${v}`);
    if (labels.length > 0) steps.push({ kind: 'command', tool: 'kubectl', args: [...kc, 'label', 'node', '<node names>', ...labels, '--overwrite'] });
    for (const taint of planList<string>(p.taints)) steps.push({ kind: 'command', tool: 'kubectl', args: [...kc, 'taint', 'node', '<node name>', taint, '--overwrite'], ...(isPlaceholder(p.taints) ? { note: 'for each taint' } : {}) });
    return steps;
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    const file = machineConfigPath(t, p.config_file, p.machine_type ?? 'worker');
    await requireConfig(rt, file);
    for (const ip of p.nodes) {
      const res = await talosctl(rt, insecureApplyArgs(ip, file, 'auto', []));
      if (res.exitCode === 0) continue;
      if (!isConfiguredNode(res.stderr)) throw toolFailure('talosctl', `talosctl apply-config --insecure -n ${ip}`, res, JOIN_FAILED);
      // Configured already (an earlier attempt): fine when it is a member of this cluster.
      const members = await getMembers(rt, t, requireNode(t, undefined, 'get members'));
      if (!members.some((m) => m.spec.addresses?.includes(ip))) {
        throw new ActionFailedError(`node ${ip} is configured but is not a member of cluster ${t.name}`, {
          errorCode: 'node_join_failed',
          retryable: false,
          hint: 'the machine belongs to another cluster; reset it (talosctl reset) before joining',
        });
      }
    }
    const byIp = await waitReady(rt, t, p.nodes, p.ready_timeout_seconds ?? 600);
    const names = p.nodes.map((ip) => byIp.get(ip)?.name as string);
    const labels = Object.entries(p.labels ?? {}).map(([k, v]) => `${k}=${v}`);
    if (labels.length > 0) {
      await kubectlOk(rt, t, 'kubectl label node', ['label', 'node', ...names, ...labels, '--overwrite'], JOIN_FAILED);
    }
    for (const taint of p.taints ?? []) {
      for (const n of names) await kubectlOk(rt, t, `kubectl taint node ${n}`, ['taint', 'node', n, taint, '--overwrite'], JOIN_FAILED);
    }
    return { nodes: names, ips: [...p.nodes], ready: names.length };
  },
};
