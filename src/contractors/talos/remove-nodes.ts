import type { ActionImpl, PlannedStep } from '../action-impl.js';
import { clusterFor, kubectlPlanArgs, planCluster, talosArgs, talosEndpointHost, talosPlanArgs } from './cluster.js';
import { getJson, kubectl, kubectlOk, type KubeList } from './kube.js';
import { nodesByIp } from './join-nodes.js';
import { talosctl } from './talos.js';
import { classifyTalos, toolFailure } from './tool-errors.js';
import { planList } from './plan-values.js';

interface Params {
  cluster: string;
  nodes: string[];
  ips?: string[];
  drain?: boolean;
  reset?: boolean;
  timeout_seconds?: number;
}

const FAILED = { errorCode: 'node_removal_failed', retryable: true };

function drainArgs(node: string, timeout: number): string[] {
  return ['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--force', `--timeout=${timeout}s`];
}

function resetArgs(ip: string, endpoint: string): string[] {
  return ['reset', '-n', ip, '-e', endpoint, '--graceful', '--reboot=false'];
}

export const removeNodesAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    const kc = kubectlPlanArgs(t);
    const tc = talosPlanArgs(t);
    const steps: PlannedStep[] = [];
    const ips = planList<string>(p.ips);
    planList<string>(p.nodes).forEach((n, i) => {
      if (p.drain !== false) steps.push({ kind: 'command', tool: 'kubectl', args: [...kc, ...drainArgs(n, p.timeout_seconds ?? 600)] });
      steps.push({ kind: 'command', tool: 'kubectl', args: [...kc, 'delete', 'node', n, '--ignore-not-found'] });
      if (p.reset !== false) {
        const ip = ips[i] ?? `<InternalIP of ${n}>`;
        steps.push({ kind: 'command', tool: 'talosctl', args: [...tc, ...resetArgs(ip, t.endpoint ?? t.controlPlaneNodes[0] ?? ip)] });
      }
    });
    return steps;
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    const timeout = p.timeout_seconds ?? 600;
    // Addresses for talosctl reset, read before the Node objects are deleted.
    const ipOf = new Map<string, string>();
    if (p.reset !== false) {
      for (const [ip, n] of nodesByIp(await getJson<KubeList>(rt, t, 'kubectl get nodes', ['nodes']))) ipOf.set(n.name, ip);
    }
    const removed: string[] = [];
    for (const [i, node] of p.nodes.entries()) {
      if (p.drain !== false) {
        const res = await kubectl(rt, t, drainArgs(node, timeout), { timeoutMs: (timeout + 30) * 1000 });
        // A node that is already gone counts as removed.
        if (res.exitCode !== 0 && !/\(NotFound\)/.test(res.stderr)) throw toolFailure('kubectl', `kubectl drain ${node}`, res, FAILED);
      }
      await kubectlOk(rt, t, `kubectl delete node ${node}`, ['delete', 'node', node, '--ignore-not-found'], FAILED);
      const ip = p.ips?.[i] ?? ipOf.get(node);
      if (p.reset !== false && ip) {
        const ep = t.endpoint ?? talosEndpointHost(t.controlPlaneNodes.find((c) => c !== ip)) ?? ip;
        const res = await talosctl(rt, talosArgs(t, ...resetArgs(ip, ep)));
        if (res.exitCode !== 0 && classifyTalos(res.stderr)?.errorCode !== 'talos_unavailable') {
          throw toolFailure('talosctl', `talosctl reset -n ${ip}`, res, FAILED, 'action');
        }
        if (res.exitCode !== 0) rt.debug(`talosctl reset ${ip}: the machine does not answer; counted as removed`);
      }
      removed.push(node);
    }
    return { removed };
  },
};
