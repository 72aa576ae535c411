import type { ActionImpl, PlannedStep } from '../action-impl.js';
import { clusterFor, defaultNode, nodeArgs, planCluster, planNode, requireNode, talosArgs, talosPlanArgs, type ClusterTarget } from './cluster.js';
import { lines } from './parse.js';
import { talosctl } from './talos.js';
import { toolFailure } from './tool-errors.js';
import { planList } from './plan-values.js';

interface Params {
  cluster: string;
  node?: string;
  endpoint?: string;
  control_plane_nodes?: string[];
  worker_nodes?: string[];
  k8s_endpoint?: string;
  wait_timeout_seconds?: number;
}

/** -n: the node parameter, else the first control plane named (parameter, then config), else the configured endpoint. */
function healthNode(t: ClusterTarget, p: Params): unknown {
  return p.node ?? planList<string>(p.control_plane_nodes)[0] ?? defaultNode(t, undefined);
}

function healthArgs(t: ClusterTarget, p: Params, node: string): string[] {
  const cps = p.control_plane_nodes !== undefined ? planList<string>(p.control_plane_nodes) : t.controlPlaneNodes;
  const workers = p.worker_nodes !== undefined ? planList<string>(p.worker_nodes) : t.workerNodes;
  return [
    'health',
    ...nodeArgs(t, node, p.endpoint),
    '--wait-timeout',
    `${p.wait_timeout_seconds ?? 600}s`,
    ...(cps.length > 0 ? ['--control-plane-nodes', cps.join(',')] : []),
    ...(workers.length > 0 ? ['--worker-nodes', workers.join(',')] : []),
    ...(p.k8s_endpoint ? ['--k8s-endpoint', p.k8s_endpoint] : []),
  ];
}

/** The final line of each check (`waiting for etcd to be healthy: OK`), without the `...` progress lines. */
export function healthChecks(stderr: string): string[] {
  const seen = new Map<string, string>();
  for (const l of lines(stderr)) {
    const m = /^(waiting for .+?): (.+)$/.exec(l);
    if (m) seen.set(m[1] as string, l);
    else if (/^discovered nodes:/.test(l)) seen.set(l, l);
  }
  return [...seen.values()].filter((l) => !/: \.\.\.$/.test(l));
}

export const talosHealthAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    const args = healthArgs(t, p, planNode(t, healthNode(t, p)));
    return [{ kind: 'command', tool: 'talosctl', args: talosPlanArgs(t, ...args) }];
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    const wait = p.wait_timeout_seconds ?? 600;
    const started = rt.now().getTime();
    // talosctl enforces --wait-timeout itself; the process deadline only catches a hung client.
    const node = requireNode(t, healthNode(t, p), 'health');
    const res = await talosctl(rt, talosArgs(t, ...healthArgs(t, p, node)), { timeoutMs: (wait + 30) * 1000 });
    const duration = Math.round((rt.now().getTime() - started) / 100) / 10;
    if (res.exitCode !== 0) throw toolFailure('talosctl', 'talosctl health', res, { errorCode: 'cluster_unhealthy', retryable: true }, 'action');
    return { healthy: true, checks: healthChecks(res.stderr), duration_seconds: duration };
  },
};
