import { basename, join } from 'node:path';
import { ActionFailedError, oneLine } from '../../errors.js';
import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { resolveEndpoint } from '../endpoints.js';
import { sendWithRetries } from '../http-util.js';
import { artifactsDir, safeName } from './artifacts.js';
import { clusterFor, kubectlPlanArgs, planCluster, type ClusterTarget } from './cluster.js';
import { kubectl, kubectlOk, type KubeList } from './kube.js';
import { isPlaceholder } from './plan-values.js';

type Capture = 'pod_list' | 'events' | 'logs' | 'nodes' | 'deployments' | 'services' | 'network_policies';

interface Params {
  cluster: string;
  node?: string;
  namespace?: string;
  capture?: Capture[];
  output_location?: string;
  log_lines?: number;
}

const DEFAULT_CAPTURE: Capture[] = ['pod_list', 'events', 'logs'];
const CAPTURE_KINDS: Capture[] = ['pod_list', 'events', 'logs', 'nodes', 'deployments', 'services', 'network_policies'];
const READ = { errorCode: 'forensics_capture_failed', retryable: true };

export function isRemote(location: string | undefined): boolean {
  return typeof location === 'string' && /^(s3|https?):\/\//.test(location);
}

function scope(p: Params): string[] {
  return p.namespace ? ['-n', p.namespace] : ['--all-namespaces'];
}

/** The `kubectl get` argv for each capture kind (logs come from the pod list). */
export function captureArgs(kind: Exclude<Capture, 'logs'>, p: Params): string[] {
  switch (kind) {
    case 'pod_list':
      return ['get', 'pods', ...scope(p), ...(p.node ? ['--field-selector', `spec.nodeName=${p.node}`] : []), '-o', 'json'];
    case 'events':
      return ['get', 'events', ...scope(p), '-o', 'json'];
    case 'nodes':
      return p.node ? ['get', 'node', p.node, '-o', 'json'] : ['get', 'nodes', '-o', 'json'];
    case 'deployments':
      return ['get', 'deployments', ...scope(p), '-o', 'json'];
    case 'services':
      return ['get', 'services', ...scope(p), '-o', 'json'];
    case 'network_policies':
      return ['get', 'networkpolicies', ...scope(p), '-o', 'json'];
  }
}

export function logArgs(pod: string, namespace: string, lines: number): string[] {
  return ['logs', pod, '-n', namespace, '--all-containers=true', `--tail=${lines}`, '--timestamps'];
}

/**
 * Upload through the forensics service (config endpoints.forensics):
 * `PUT <url>/api/v1/uploads?location=<destination>` with the file as the body.
 */
async function upload(rt: ActionRuntime, dest: string, file: string): Promise<void> {
  const ep = await resolveEndpoint(rt, 'forensics');
  const body = await rt.files.readText(file);
  const res = await sendWithRetries(rt, {
    method: 'PUT',
    url: `${ep.url}/api/v1/uploads?location=${encodeURIComponent(dest)}`,
    headers: { ...ep.headers, 'content-type': file.endsWith('.json') ? 'application/json' : 'text/plain; charset=utf-8' },
    body,
  });
  if (res.status < 200 || res.status >= 300) {
    throw new ActionFailedError(`forensics upload of ${basename(file)} answered ${res.status}: ${oneLine(res.body, 200)}`, {
      errorCode: res.status >= 500 || res.status === 429 ? 'http_server_error' : 'forensics_upload_failed',
      retryable: res.status >= 500 || res.status === 429,
    });
  }
}

async function captureLogs(rt: ActionRuntime, t: ClusterTarget, dir: string, pods: KubeList, lines: number): Promise<string[]> {
  const files: string[] = [];
  await rt.files.mkdirPrivate(join(dir, 'logs'));
  for (const pod of pods.items) {
    const ns = pod.metadata.namespace ?? 'default';
    const res = await kubectl(rt, t, logArgs(pod.metadata.name, ns, lines));
    const file = join(dir, 'logs', `${safeName(ns, pod.metadata.name)}.log`);
    // A pod whose logs cannot be read is noted in its file; the rest of the capture goes on.
    await rt.files.writePrivate(file, res.exitCode === 0 ? res.stdout : `# kubectl logs failed (exit ${res.exitCode}): ${res.stderr.trim()}\n`);
    files.push(file);
  }
  return files;
}

export const captureClusterStateAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    // a list an earlier action supplies: every kind it may name is shown
    const kinds = isPlaceholder(p.capture) ? CAPTURE_KINDS : (p.capture ?? DEFAULT_CAPTURE);
    const steps: PlannedStep[] = isPlaceholder(p.capture) ? [{ kind: 'wait', note: `captures the kinds in ${p.capture}; each would run:` }] : [];
    for (const k of kinds) {
      if (k === 'logs') {
        if (!kinds.includes('pod_list')) steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...captureArgs('pod_list', p)) });
        steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...logArgs('<pod>', '<namespace>', p.log_lines ?? 1000)), note: 'for each captured pod' });
      } else {
        steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, ...captureArgs(k, p)) });
      }
    }
    if (isRemote(p.output_location)) steps.push({ kind: 'request', method: 'PUT', url: `<endpoints.forensics>/api/v1/uploads?location=${p.output_location}<file>`, note: 'for each file' });
    return steps;
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    const kinds = p.capture ?? DEFAULT_CAPTURE;
    const remote = isRemote(p.output_location);
    const dir = p.output_location && !remote ? p.output_location : await artifactsDir(rt, 'cluster-state');
    await rt.files.mkdirPrivate(dir);
    const files: string[] = [];
    let pods: KubeList | undefined;
    for (const k of kinds) {
      if (k === 'logs') continue;
      const res = await kubectlOk(rt, t, `kubectl ${captureArgs(k, p).slice(0, 2).join(' ')}`, captureArgs(k, p), READ);
      const file = join(dir, `${k}.json`);
      await rt.files.writePrivate(file, res.stdout);
      files.push(file);
      if (k === 'pod_list') pods = JSON.parse(res.stdout) as KubeList;
    }
    if (kinds.includes('logs')) {
      if (!pods) pods = JSON.parse((await kubectlOk(rt, t, 'kubectl get pods', captureArgs('pod_list', p), READ)).stdout) as KubeList;
      files.push(...(await captureLogs(rt, t, dir, pods, p.log_lines ?? 1000)));
    }
    if (!remote) return { location: dir, files, pods: pods?.items.length ?? 0 };
    const base = (p.output_location as string).replace(/\/+$/, '');
    const uploaded: string[] = [];
    for (const f of files) {
      const rel = f.slice(dir.length + 1);
      await upload(rt, `${base}/${rel}`, f);
      uploaded.push(`${base}/${rel}`);
    }
    return { location: p.output_location, files: uploaded, pods: pods?.items.length ?? 0 };
  },
};
