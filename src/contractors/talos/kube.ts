import type { ActionRuntime, ToolOptions } from '../action-impl.js';
import type { ProcessResult } from '../../ports/process-runner.js';
import { kubectlArgs, type ClusterTarget } from './cluster.js';
import { objectNames, parseToolJson } from './parse.js';
import { toolFailure, type ErrorClass } from './tool-errors.js';

/** The parts of Kubernetes objects the adapters read. */
export interface KubeMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  generation?: number;
  ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }>;
}
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: KubeMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}
export interface KubeList<T = KubeObject> {
  items: T[];
}

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';

export async function kubectl(rt: ActionRuntime, t: ClusterTarget, args: string[], options?: ToolOptions): Promise<ProcessResult> {
  return rt.tool('kubectl', kubectlArgs(t, ...args), options);
}

/** Runs kubectl and throws a classified ActionFailedError unless it exits 0. */
export async function kubectlOk(rt: ActionRuntime, t: ClusterTarget, what: string, args: string[], fallback: ErrorClass, options?: ToolOptions): Promise<ProcessResult> {
  const res = await kubectl(rt, t, args, options);
  if (res.exitCode !== 0) throw toolFailure('kubectl', what, res, fallback);
  return res;
}

const READ_FAILED: ErrorClass = { errorCode: 'kubectl_failed', retryable: true };

/** `kubectl get ... -o json`, parsed. */
export async function getJson<T>(rt: ActionRuntime, t: ClusterTarget, what: string, args: string[]): Promise<T> {
  const res = await kubectlOk(rt, t, what, ['get', ...args, '-o', 'json'], READ_FAILED);
  return parseToolJson<T>(what, res.stdout);
}

/** `kubectl get <one object> --ignore-not-found -o json`: undefined when it does not exist. */
export async function getOptional<T>(rt: ActionRuntime, t: ClusterTarget, what: string, args: string[]): Promise<T | undefined> {
  const res = await kubectlOk(rt, t, what, ['get', ...args, '--ignore-not-found', '-o', 'json'], READ_FAILED);
  return res.stdout.trim() ? parseToolJson<T>(what, res.stdout) : undefined;
}

/** Objects as kubectl reads them from stdin: one JSON document per line (kubectl's JSON stream decoder). */
export function manifestStream(objects: readonly unknown[]): string {
  return `${objects.map((o) => JSON.stringify(o)).join('\n')}\n`;
}

export interface ApplyOptions {
  namespace?: string;
  fieldManager?: string;
  forceConflicts?: boolean;
  /** Apply this file instead of stdin. */
  file?: string;
}

/** argv of a server-side apply from stdin (or a file). */
export function applyArgs(o: ApplyOptions): string[] {
  return [
    'apply',
    '--server-side',
    `--field-manager=${o.fieldManager ?? 'cortex'}`,
    ...(o.forceConflicts ? ['--force-conflicts'] : []),
    ...(o.namespace ? ['-n', o.namespace] : []),
    '-f',
    o.file ?? '-',
    '-o',
    'name',
  ];
}

/** Server-side apply; returns the applied objects as `kind.group/name`. */
export async function applyObjects(rt: ActionRuntime, t: ClusterTarget, objects: readonly unknown[], o: ApplyOptions = {}, fallback: ErrorClass = { errorCode: 'manifest_apply_failed', retryable: false }): Promise<string[]> {
  const res = await kubectlOk(rt, t, 'kubectl apply', applyArgs(o), fallback, o.file ? {} : { input: manifestStream(objects) });
  return objectNames(res.stdout);
}

/** `k=v,k2=v2` from matchLabels. */
export function selectorOf(labels: Record<string, string> | undefined): string {
  return Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export function revisionOf(obj: KubeObject | undefined): number {
  if (!obj) return 0;
  return Math.max(1, Number(obj.metadata.annotations?.[REVISION_ANNOTATION] ?? 1) || 1);
}

export function num(v: unknown, fallback = 0): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}
