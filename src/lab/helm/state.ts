import { readState } from '../lab-dir.js';
import type { MinimalObject } from '../talos/kube-api.js';

export type ReleaseStatus = 'deployed' | 'superseded' | 'failed' | 'uninstalled' | 'uninstalling' | 'pending-install' | 'pending-upgrade' | 'pending-rollback' | 'unknown';

/** One revision of a release, as helm's storage driver keeps it. */
export interface HelmRevision {
  revision: number;
  status: ReleaseStatus;
  chart: string;
  chart_version: string;
  app_version: string;
  /** User-supplied values (helm's `config`). */
  values: Record<string, unknown>;
  description: string;
  first_deployed: string;
  last_deployed: string;
  deleted: string;
  /** The objects this revision rendered (what uninstall and rollback act on). */
  objects: MinimalObject[];
}

/** <lab>/state/helm.json: releases per namespace, each a list of revisions (oldest first). */
export interface HelmState {
  /** What `helm version --short` prints: v3.x (default) or v4.x. */
  version: string;
  releases: Record<string, Record<string, HelmRevision[]>>;
}

export const HELM_STATE = 'helm';
export const DEFAULT_HELM_VERSION = 'v3.16.2+g13654a5';

export function emptyHelmState(): HelmState {
  return { version: DEFAULT_HELM_VERSION, releases: {} };
}

export function readHelm(lab: string): HelmState {
  return readState(lab, HELM_STATE, emptyHelmState);
}

export function helmMajorOf(state: HelmState): 3 | 4 {
  return /^v4\./.test(state.version) ? 4 : 3;
}

/** The minor version of `version` (v3.12.3 -> 12): flags arrive with minor releases. */
export function helmMinorOf(state: HelmState): number {
  return Number(/^v\d+\.(\d+)/.exec(state.version)?.[1] ?? 0);
}

export function latest(revs: readonly HelmRevision[] | undefined): HelmRevision | undefined {
  return revs && revs.length > 0 ? revs[revs.length - 1] : undefined;
}

export function lastDeployed(revs: readonly HelmRevision[] | undefined): HelmRevision | undefined {
  return [...(revs ?? [])].reverse().find((r) => r.status === 'deployed');
}
