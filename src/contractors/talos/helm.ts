import type { ActionRuntime, ToolOptions } from '../action-impl.js';
import { ActionFailedError } from '../../errors.js';
import type { ProcessResult } from '../../ports/process-runner.js';
import { helmArgs, type ClusterTarget } from './cluster.js';
import { parseToolJson } from './parse.js';
import { stderrSummary } from './tool-errors.js';

const majors = new Map<string, Promise<3 | 4>>();

/** Forgets the detected helm versions (tests). */
export function resetHelmMajorCache(): void {
  majors.clear();
}

/** `v3.16.2+g13654a5` -> 3. */
export function parseHelmMajor(text: string): 3 | 4 | undefined {
  const m = /v(\d+)\.\d+/.exec(text);
  if (!m) return undefined;
  return Number(m[1]) >= 4 ? 4 : 3;
}

/**
 * Helm's major version: config tools.helm_major, else `helm version --short` once per process
 * and command line (v4 renamed --atomic to --rollback-on-failure).
 */
export async function helmMajor(rt: ActionRuntime): Promise<3 | 4> {
  if (rt.config.helmMajor) return rt.config.helmMajor;
  const key = rt.config.tools.helm.join('\u0000');
  let p = majors.get(key);
  if (!p) {
    p = (async () => {
      const res = await rt.tool('helm', ['version', '--short']);
      const major = res.exitCode === 0 ? parseHelmMajor(res.stdout) : undefined;
      if (!major) {
        throw new ActionFailedError(`helm version --short failed (exit ${res.exitCode}): ${stderrSummary(res) || res.stdout.trim()}`, {
          errorCode: 'tool_not_working',
          retryable: false,
          hint: 'check the helm command line in config.yaml (tools.helm), or set tools.helm_major',
        });
      }
      return major;
    })();
    majors.set(key, p);
    p.catch(() => majors.delete(key));
  }
  return p;
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
