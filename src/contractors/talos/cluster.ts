import { dirname, join } from 'node:path';
import type { ClusterConfig, ResolvedConfig } from '../../config/config.js';
import { ActionFailedError } from '../../errors.js';
import type { ActionRuntime } from '../action-impl.js';

/**
 * Where a cluster's tool configuration comes from, resolved once per action.
 *
 * Generated files (machine configs with the cluster PKI, talosconfig, kubeconfig) live in the
 * cluster's directory: `<base>/clusters/<cluster>/`, where `<base>` is the directory of the
 * configured talosconfig (clusters.<name>, else clusters.default) or, when none is configured,
 * the coordination root. They are referenced by path only: never copied into outputs or logs.
 */
export interface ClusterTarget {
  name: string;
  kubeconfig?: string;
  /** kubectl --context / helm --kube-context, only with a configured kubeconfig. */
  context?: string;
  talosconfig?: string;
  /** talosctl -e host from config (scheme and :6443 removed), used when no node is known. */
  endpoint?: string;
  controlPlaneNodes: string[];
  workerNodes: string[];
  /** Directory of the generated files. */
  dir: string;
  /** `<base>`: dirname of the configured talosconfig, or the coordination root. */
  base: string;
}

/** A talosctl -e value from a configured endpoint: `https://10.0.0.5:6443` -> `10.0.0.5`. */
export function talosEndpointHost(endpoint: string | undefined): string | undefined {
  if (!endpoint) return undefined;
  const m = /^(?:[a-z]+:\/\/)?(\[[^\]]+\]|[^/:]+)(?::(\d+))?/i.exec(endpoint.trim());
  if (!m) return endpoint;
  const host = m[1] as string;
  return m[2] && m[2] !== '6443' ? `${host}:${m[2]}` : host;
}

function pick(config: ResolvedConfig, name: string): { own: ClusterConfig; fallback: ClusterConfig } {
  return { own: config.clusters[name] ?? {}, fallback: config.clusters.default ?? {} };
}

/** `<base>/clusters`: next to the configured talosconfig, else `clustersDir` (`<root>/clusters`). */
function clustersBase(config: ResolvedConfig, name: string, clustersDir: string | undefined): string {
  const { own, fallback } = pick(config, name);
  const configuredTalos = own.talosconfig ?? fallback.talosconfig;
  return configuredTalos ? join(dirname(configuredTalos), 'clusters') : (clustersDir ?? join('<root>', 'clusters'));
}

/** The generated talosconfig and kubeconfig of a cluster, whether or not they exist. */
function generatedFiles(clusters: string, name: string): { talosconfig: string; kubeconfig: string } {
  return { talosconfig: join(clusters, name, 'talosconfig'), kubeconfig: join(clusters, name, 'kubeconfig') };
}

/**
 * Resolves a cluster synchronously. `clustersDir` is needed only when no talosconfig is
 * configured; `exists` says which generated files are there (they win over the fallback).
 */
export function resolveClusterWith(config: ResolvedConfig, name: string, clustersDir: string | undefined, exists: (p: string) => boolean): ClusterTarget {
  const { own, fallback } = pick(config, name);
  const clusters = clustersBase(config, name, clustersDir);
  const base = dirname(clusters);
  const dir = join(clusters, name);
  const { talosconfig: generatedTalos, kubeconfig: generatedKube } = generatedFiles(clusters, name);
  const talosconfig = own.talosconfig ?? (exists(generatedTalos) ? generatedTalos : fallback.talosconfig);
  let kubeconfig: string | undefined;
  let context: string | undefined;
  if (own.kubeconfig) {
    kubeconfig = own.kubeconfig;
    context = own.context;
  } else if (exists(generatedKube)) {
    kubeconfig = generatedKube;
  } else {
    kubeconfig = fallback.kubeconfig;
    context = own.context ?? fallback.context;
  }
  return {
    name,
    ...(kubeconfig ? { kubeconfig } : {}),
    ...(context ? { context } : {}),
    ...(talosconfig ? { talosconfig } : {}),
    ...(own.endpoint ? { endpoint: talosEndpointHost(own.endpoint) } : {}),
    controlPlaneNodes: own.control_plane_nodes ?? [],
    workerNodes: own.worker_nodes ?? [],
    dir,
    base,
  };
}

/** The cluster of an action's `cluster` parameter, at run time. */
export async function clusterFor(rt: ActionRuntime, name = String(rt.params.cluster ?? 'default')): Promise<ClusterTarget> {
  const clustersDir = rt.files.clustersDir();
  const generated = generatedFiles(clustersBase(rt.config, name, clustersDir), name);
  const present = new Set<string>();
  for (const f of [generated.talosconfig, generated.kubeconfig]) if (await rt.files.exists(f)) present.add(f);
  return resolveClusterWith(rt.config, name, clustersDir, (p) => present.has(p));
}

/**
 * For plan(): the same resolution without I/O, with `<root>` standing for the coordination root.
 * Generated files are not looked for: the configured ones (or `<clusters.NAME.*>`) are shown.
 */
export function planCluster(config: ResolvedConfig, params: Record<string, unknown>): ClusterTarget {
  return resolveClusterWith(config, String(params.cluster ?? 'default'), undefined, () => false);
}

function notConfigured(t: ClusterTarget, what: 'kubeconfig' | 'talosconfig'): ActionFailedError {
  return new ActionFailedError(`no ${what} for cluster "${t.name}"`, {
    errorCode: 'cluster_not_configured',
    retryable: false,
    hint: `set clusters.${t.name}.${what} (or clusters.default.${what}) in config.yaml`,
  });
}

/** `--kubeconfig <path> [--context <ctx>] ...rest` for kubectl. */
export function kubectlArgs(t: ClusterTarget, ...rest: string[]): string[] {
  if (!t.kubeconfig) throw notConfigured(t, 'kubeconfig');
  return ['--kubeconfig', t.kubeconfig, ...(t.context ? ['--context', t.context] : []), ...rest];
}

/** `--kubeconfig <path> [--kube-context <ctx>] ...rest` for helm. */
export function helmArgs(t: ClusterTarget, ...rest: string[]): string[] {
  if (!t.kubeconfig) throw notConfigured(t, 'kubeconfig');
  return ['--kubeconfig', t.kubeconfig, ...(t.context ? ['--kube-context', t.context] : []), ...rest];
}

/** `--talosconfig <path> ...rest` for talosctl commands that use the authenticated API. */
export function talosArgs(t: ClusterTarget, ...rest: string[]): string[] {
  if (!t.talosconfig) throw notConfigured(t, 'talosconfig');
  return ['--talosconfig', t.talosconfig, ...rest];
}

/**
 * The node a talosctl command targets: the parameter, else the first configured control plane
 * (clusters.<name>.control_plane_nodes), else the configured talosctl endpoint.
 */
export function defaultNode(t: ClusterTarget, node: unknown): string | undefined {
  return typeof node === 'string' && node ? node : (t.controlPlaneNodes[0] ?? t.endpoint);
}

/**
 * defaultNode, or a failure when nothing names a node: without -n talosctl would send the request
 * to the talosconfig context's nodes (another cluster's, or several, which health and etcd
 * snapshot refuse), so cortex never leaves the choice to the context.
 */
export function requireNode(t: ClusterTarget, node: unknown, what: string): string {
  const n = defaultNode(t, node);
  if (n) return n;
  throw new ActionFailedError(`no node to run talosctl ${what} on for cluster "${t.name}"`, {
    errorCode: 'cluster_not_configured',
    retryable: false,
    hint: `pass node, or set clusters.${t.name}.control_plane_nodes (or clusters.${t.name}.endpoint) in config.yaml`,
  });
}

/** For plan(): defaultNode, or a placeholder naming where it would come from. */
export function planNode(t: ClusterTarget, node: unknown): string {
  return defaultNode(t, node) ?? `<clusters.${t.name}.control_plane_nodes[0]>`;
}

/** `-n <node> -e <endpoint>`: always both, so the talosconfig context never decides; -e is the endpoint parameter, else the node. */
export function nodeArgs(_t: ClusterTarget, node: string, endpoint: unknown): string[] {
  const ep = typeof endpoint === 'string' && endpoint ? talosEndpointHost(endpoint) : undefined;
  return ['-n', node, '-e', ep ?? node];
}

/** kubectlArgs for plan(): a placeholder when no kubeconfig is configured. */
export function kubectlPlanArgs(t: ClusterTarget, ...rest: string[]): string[] {
  return t.kubeconfig ? kubectlArgs(t, ...rest) : ['--kubeconfig', `<clusters.${t.name}.kubeconfig>`, ...rest];
}

export function helmPlanArgs(t: ClusterTarget, ...rest: string[]): string[] {
  return t.kubeconfig ? helmArgs(t, ...rest) : ['--kubeconfig', `<clusters.${t.name}.kubeconfig>`, ...rest];
}

export function talosPlanArgs(t: ClusterTarget, ...rest: string[]): string[] {
  return t.talosconfig ? talosArgs(t, ...rest) : ['--talosconfig', `<clusters.${t.name}.talosconfig>`, ...rest];
}
