import { join } from 'node:path';
import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { clusterFor, kubectlPlanArgs, planCluster, type ClusterTarget } from './cluster.js';
import { artifactsDir, safeName } from './artifacts.js';
import { getJson, kubectl, type KubeList, type KubeObject } from './kube.js';
import { lines } from './parse.js';
import { toolFailure } from './tool-errors.js';

interface Params {
  cluster: string;
  node: string;
  ignore_daemonsets?: boolean;
  delete_emptydir_data?: boolean;
  force?: boolean;
  grace_period_seconds?: number;
  pod_selector?: string;
  preserve_forensics?: boolean;
  timeout_seconds?: number;
}

export const LOG_LINES = 1000;

export function drainArgs(p: Params): string[] {
  const forensics = p.preserve_forensics ?? false;
  return [
    'drain',
    p.node,
    ...((p.ignore_daemonsets ?? true) ? ['--ignore-daemonsets'] : []),
    // Forensics: never destroy emptyDir data or bare pods.
    ...(p.delete_emptydir_data && !forensics ? ['--delete-emptydir-data'] : []),
    ...(p.force && !forensics ? ['--force'] : []),
    ...(p.grace_period_seconds !== undefined ? [`--grace-period=${p.grace_period_seconds}`] : []),
    ...(p.pod_selector ? [`--pod-selector=${p.pod_selector}`] : []),
    `--timeout=${p.timeout_seconds ?? 300}s`,
  ];
}

/** `evicting pod ns/name` lines of a drain whose `pod/name evicted` line follows. */
export function evictedPods(stdout: string): string[] {
  const all = lines(stdout);
  const done = new Set(all.map((l) => /^pod\/(\S+) evicted$/.exec(l)?.[1]).filter((x): x is string => Boolean(x)));
  const out: string[] = [];
  for (const l of all) {
    const m = /^evicting pod (\S+)\/(\S+)$/.exec(l);
    if (m && done.has(m[2] as string) && !out.includes(`${m[1]}/${m[2]}`)) out.push(`${m[1]}/${m[2]}`);
  }
  return out;
}

/** Saves the node's pod list and each pod's last log lines before anything is evicted. */
export async function saveNodeForensics(rt: ActionRuntime, t: ClusterTarget, node: string): Promise<string> {
  const dir = await artifactsDir(rt, `forensics-${safeName(node)}`);
  const res = await kubectl(rt, t, ['get', 'pods', '--all-namespaces', '--field-selector', `spec.nodeName=${node}`, '-o', 'json']);
  if (res.exitCode !== 0) throw toolFailure('kubectl', `kubectl get pods on ${node}`, res, { errorCode: 'forensics_capture_failed', retryable: true });
  await rt.files.writePrivate(join(dir, 'pods.json'), res.stdout);
  const pods = (JSON.parse(res.stdout) as KubeList).items;
  for (const pod of pods) {
    const ns = pod.metadata.namespace ?? 'default';
    const logs = await kubectl(rt, t, ['logs', pod.metadata.name, '-n', ns, '--all-containers=true', `--tail=${LOG_LINES}`, '--timestamps']);
    const text = logs.exitCode === 0 ? logs.stdout : `# kubectl logs failed (exit ${logs.exitCode}): ${logs.stderr.trim()}\n`;
    await rt.files.writePrivate(join(dir, `${safeName(ns, pod.metadata.name)}.log`), text);
  }
  return dir;
}

export const drainNodeAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    const steps: PlannedStep[] = [{ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'node', p.node, '-o', 'json'), note: 'was it cordoned before?' }];
    if (p.preserve_forensics) {
      steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'pods', '--all-namespaces', '--field-selector', `spec.nodeName=${p.node}`, '-o', 'json'), note: 'saved under the execution artifacts' });
      steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'logs', '<pod>', '-n', '<namespace>', '--all-containers=true', `--tail=${LOG_LINES}`, '--timestamps'), note: 'for each pod on the node' });
    }
    steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...drainArgs(p)) });
    return steps;
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    // kubectl drain cordons first: a re-run would see that attempt's cordon, so the first answer is kept.
    const wasCordoned = await rt.remember('was_cordoned', async () => (await getJson<KubeObject>(rt, t, `kubectl get node ${p.node}`, ['node', p.node])).spec?.unschedulable === true);
    const forensicsPath = p.preserve_forensics ? await saveNodeForensics(rt, t, p.node) : null;
    const timeout = p.timeout_seconds ?? 300;
    const res = await kubectl(rt, t, drainArgs(p), { timeoutMs: (timeout + 30) * 1000 });
    if (res.exitCode !== 0) throw toolFailure('kubectl', `kubectl drain ${p.node}`, res, { errorCode: 'node_drain_failed', retryable: true });
    const evicted = evictedPods(res.stdout);
    return { node: p.node, evacuated_pods: evicted.length, evicted, forensics_path: forensicsPath, was_cordoned: wasCordoned };
  },
};
