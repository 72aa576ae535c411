import type { ActionRuntime, ToolOptions } from '../action-impl.js';
import { ActionFailedError, oneLine } from '../../errors.js';
import type { ProcessResult } from '../../ports/process-runner.js';
import { helmArgs, type ClusterTarget } from './cluster.js';
import { parseToolJson } from './parse.js';
import { stderrSummary } from './tool-errors.js';

/** A Helm release version, `v3.16.2+g13654a5` -> { major: 3, minor: 16, patch: 2 }. */
export interface HelmVersion {
  major: number;
  minor: number;
  patch: number;
}

/**
 * The oldest Helm cortex's command lines work with: `helm uninstall --wait` arrived in v3.7.0
 * (helm/helm eeac8388, cmd/helm/uninstall.go); every other flag cortex passes is older
 * (--create-namespace v3.2.0). cortex does not use `uninstall --ignore-not-found` (v3.13.0).
 */
export const HELM_MINIMUM: HelmVersion = { major: 3, minor: 7, patch: 0 };

const versions = new Map<string, Promise<HelmVersion>>();

/** Forgets the detected helm versions (tests). */
export function resetHelmMajorCache(): void {
  versions.clear();
}

export function parseHelmVersion(text: string): HelmVersion | undefined {
  const m = /v(\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) } : undefined;
}

/** `v3.16.2+g13654a5` -> 3. */
export function parseHelmMajor(text: string): 3 | 4 | undefined {
  const m = /v(\d+)\.\d+/.exec(text);
  if (!m) return undefined;
  return Number(m[1]) >= 4 ? 4 : 3;
}

export function helmVersionAtLeast(v: HelmVersion, min: HelmVersion): boolean {
  return v.major !== min.major ? v.major > min.major : v.minor !== min.minor ? v.minor > min.minor : v.patch >= min.patch;
}

export function formatHelmVersion(v: HelmVersion): string {
  return `v${v.major}.${v.minor}.${v.patch}`;
}

/** Why cortex cannot use this helm, or undefined when it can. */
export function helmTooOld(v: HelmVersion): string | undefined {
  if (helmVersionAtLeast(v, HELM_MINIMUM)) return undefined;
  return `helm ${formatHelmVersion(v)} is older than ${formatHelmVersion(HELM_MINIMUM)}, the oldest Helm cortex's command lines work with (helm uninstall --wait)`;
}

/**
 * Helm's version: `helm version --short` once per process and command line, refused when older
 * than HELM_MINIMUM. With config tools.helm_major no detection is done (only the major is known).
 */
export async function helmMajor(rt: ActionRuntime): Promise<3 | 4> {
  if (rt.config.helmMajor) return rt.config.helmMajor;
  const key = rt.config.tools.helm.join('\u0000');
  let p = versions.get(key);
  if (!p) {
    p = (async () => {
      const res = await rt.tool('helm', ['version', '--short']);
      const version = res.exitCode === 0 ? parseHelmVersion(res.stdout) : undefined;
      if (!version) {
        throw new ActionFailedError(`helm version --short failed (exit ${res.exitCode}): ${stderrSummary(res) || oneLine(res.stdout, 300)}`, {
          errorCode: 'tool_not_working',
          retryable: false,
          hint: 'check the helm command line in config.yaml (tools.helm), or set tools.helm_major',
        });
      }
      const old = helmTooOld(version);
      if (old) throw new ActionFailedError(old, { errorCode: 'tool_not_working', retryable: false, hint: 'install a newer helm (cortex doctor checks the version)' });
      return version;
    })();
    versions.set(key, p);
    p.catch(() => versions.delete(key));
  }
  return (await p).major >= 4 ? 4 : 3;
}

export async function helm(rt: ActionRuntime, t: ClusterTarget, args: string[], options?: ToolOptions): Promise<ProcessResult> {
  return rt.tool('helm', helmArgs(t, ...args), options);
}

/** One entry of `helm history -o json` (revision is an int). */
export interface HelmHistoryEntry {
  revision: number;
  status: string;
  chart?: string;
  app_version?: string;
  description?: string;
}

/** The release's status (`helm status -o json` info.status), or undefined when Helm has no such release. */
export async function helmReleaseStatus(rt: ActionRuntime, t: ClusterTarget, release: string, namespace: string): Promise<string | undefined> {
  const res = await helm(rt, t, ['status', release, '--namespace', namespace, '-o', 'json']);
  if (res.exitCode !== 0) {
    if (/release: not found/.test(res.stderr)) return undefined;
    throw new ActionFailedError(`helm status ${release} failed (exit ${res.exitCode}): ${stderrSummary(res)}`, {
      errorCode: /cluster unreachable|connection refused/.test(res.stderr) ? 'k8s_api_unavailable' : 'helm_failed',
      retryable: true,
      exitStatus: res.exitCode,
      stderrTail: res.stderr.slice(-2000),
    });
  }
  return parseToolJson<{ info?: { status?: string } }>('helm status', res.stdout).info?.status ?? 'unknown';
}

/** Release history, or [] when the release does not exist. */
export async function helmHistory(rt: ActionRuntime, t: ClusterTarget, release: string, namespace: string): Promise<HelmHistoryEntry[]> {
  const res = await helm(rt, t, ['history', release, '--namespace', namespace, '-o', 'json']);
  if (res.exitCode !== 0) {
    if (/release: not found/.test(res.stderr)) return [];
    throw new ActionFailedError(`helm history ${release} failed (exit ${res.exitCode}): ${stderrSummary(res)}`, {
      errorCode: /cluster unreachable|connection refused/.test(res.stderr) ? 'k8s_api_unavailable' : 'helm_failed',
      retryable: true,
      exitStatus: res.exitCode,
      stderrTail: res.stderr.slice(-2000),
    });
  }
  return parseToolJson<HelmHistoryEntry[]>('helm history', res.stdout);
}

/** The newest revision whose status is `deployed`, or 0. */
export function lastDeployed(history: readonly HelmHistoryEntry[]): number {
  return history.filter((h) => h.status === 'deployed').reduce((max, h) => Math.max(max, Number(h.revision) || 0), 0);
}
