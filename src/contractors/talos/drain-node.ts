import { join } from 'node:path';
import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { clusterFor, kubectlPlanArgs, planCluster, type ClusterTarget } from './cluster.js';
import { artifactsDir, safeName } from './artifacts.js';
import { getJson, kubectl, kubectlOk, type KubeList, type KubeObject } from './kube.js';
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

/** Label cortex puts on the pods a forensic drain leaves on the node (their data is evidence). */
export const FORENSIC_HOLD_LABEL = 'cortex.dev/forensic-hold';

export function drainArgs(p: Params): string[] {
  const forensics = p.preserve_forensics ?? false;
  // Forensics: pods holding evidence carry the hold label and are kept out of the drain.
  const selector = [p.pod_selector, ...(forensics ? [`!${FORENSIC_HOLD_LABEL}`] : [])].filter(Boolean).join(',');
  return [
    'drain',
    p.node,
    ...((p.ignore_daemonsets ?? true) ? ['--ignore-daemonsets'] : []),
    // Forensics: never destroy emptyDir data or bare pods.
    ...(p.delete_emptydir_data && !forensics ? ['--delete-emptydir-data'] : []),
    ...(p.force && !forensics ? ['--force'] : []),
    ...(p.grace_period_seconds !== undefined ? [`--grace-period=${p.grace_period_seconds}`] : []),
    ...(selector ? [`--pod-selector=${selector}`] : []),
    `--timeout=${p.timeout_seconds ?? 300}s`,
  ];
}

/** A pod a forensic drain leaves on the node, and why (what kubectl drain would refuse without flags). */
export interface LeftPod {
  pod: string;
  reason: string;
}

const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

/**
 * The pods `kubectl drain` refuses to delete without --delete-emptydir-data or --force, in its
 * own terms (k8s.io/kubectl/pkg/drain/filters.go): running pods with emptyDir volumes, and pods
 * without a controller. DaemonSet and mirror pods are never evicted; finished pods always may be.
 */
export function podsDrainRefuses(pods: readonly KubeObject[]): LeftPod[] {
  const out: LeftPod[] = [];
  for (const pod of pods) {
    if (pod.metadata.deletionTimestamp || pod.metadata.annotations?.[MIRROR_ANNOTATION] !== undefined) continue;
    const controller = pod.metadata.ownerReferences?.find((o) => o.controller === true);
    if (controller?.kind === 'DaemonSet') continue;
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') continue;
    const volumes = ((pod.spec as { volumes?: Array<{ emptyDir?: unknown }> } | undefined)?.volumes ?? []);
    const reasons = [...(volumes.some((v) => v.emptyDir !== undefined) ? ['emptyDir data'] : []), ...(controller ? [] : ['no controller'])];
    if (reasons.length > 0) out.push({ pod: `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name}`, reason: reasons.join(', ') });
  }
  return out;
}

/** `kubectl label pod <names> -n <ns> cortex.dev/forensic-hold=true --overwrite`, one per namespace. */
export function holdArgs(left: readonly LeftPod[]): Array<{ namespace: string; args: string[] }> {
  const byNs = new Map<string, string[]>();
  for (const l of left) {
    const [ns, name] = l.pod.split('/') as [string, string];
    byNs.set(ns, [...(byNs.get(ns) ?? []), name]);
  }
  return [...byNs].map(([namespace, names]) => ({ namespace, args: ['label', 'pod', ...names, '-n', namespace, `${FORENSIC_HOLD_LABEL}=true`, '--overwrite'] }));
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

/** Saves the node's pod list and each pod's last log lines before anything is evicted; returns the folder and the pods. */
export async function saveNodeForensics(rt: ActionRuntime, t: ClusterTarget, node: string): Promise<{ dir: string; pods: KubeObject[] }> {
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
  return { dir, pods };
}

const DRAIN_FAILED = { errorCode: 'node_drain_failed', retryable: true };

export const drainNodeAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    const steps: PlannedStep[] = [{ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'node', p.node, '-o', 'json'), note: 'was it cordoned before?' }];
    if (p.preserve_forensics) {
      steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'cordon', p.node), note: 'no new pods while the evidence is listed' });
      steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'pods', '--all-namespaces', '--field-selector', `spec.nodeName=${p.node}`, '-o', 'json'), note: 'saved under the execution artifacts' });
      steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'logs', '<pod>', '-n', '<namespace>', '--all-containers=true', `--tail=${LOG_LINES}`, '--timestamps'), note: 'for each pod on the node' });
      steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'label', 'pod', '<pods>', '-n', '<namespace>', `${FORENSIC_HOLD_LABEL}=true`, '--overwrite'), note: 'pods with emptyDir data or no controller stay on the node (left_pods)' });
    }
    steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...drainArgs(p)) });
    return steps;
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    // kubectl drain cordons first: a re-run would see that attempt's cordon, so the first answer is kept.
    const wasCordoned = await rt.remember('was_cordoned', async () => (await getJson<KubeObject>(rt, t, `kubectl get node ${p.node}`, ['node', p.node])).spec?.unschedulable === true);
    let forensicsPath: string | null = null;
    let left: LeftPod[] = [];
    if (p.preserve_forensics) {
      // kubectl drain evicts nothing when one pod needs --delete-emptydir-data or --force: the
      // pods holding evidence are labelled and kept out of the drain, everything else goes.
      await kubectlOk(rt, t, `kubectl cordon ${p.node}`, ['cordon', p.node], { errorCode: 'node_cordon_failed', retryable: true });
      const saved = await saveNodeForensics(rt, t, p.node);
      forensicsPath = saved.dir;
      left = podsDrainRefuses(saved.pods);
      for (const h of holdArgs(left)) await kubectlOk(rt, t, `kubectl label pod -n ${h.namespace} ${FORENSIC_HOLD_LABEL}`, h.args, DRAIN_FAILED);
      if (left.length > 0) rt.debug(`left on ${p.node} for forensics: ${left.map((l) => `${l.pod} (${l.reason})`).join(', ')}`);
    }
    const timeout = p.timeout_seconds ?? 300;
    const res = await kubectl(rt, t, drainArgs(p), { timeoutMs: (timeout + 30) * 1000 });
    if (res.exitCode !== 0) throw toolFailure('kubectl', `kubectl drain ${p.node}`, res, DRAIN_FAILED);
    const evicted = evictedPods(res.stdout);
    return { node: p.node, evacuated_pods: evicted.length, evicted, left_pods: left, forensics_path: forensicsPath, was_cordoned: wasCordoned };
  },
};
