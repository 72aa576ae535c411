import { ActionFailedError, oneLine } from '../../errors.js';
import type { ProcessResult } from '../../ports/process-runner.js';

export interface ErrorClass {
  errorCode: string;
  retryable: boolean;
  hint?: string;
}

/** Last few meaningful stderr lines (kubectl's conflict hint and helm's usage are long). */
export function stderrSummary(res: Pick<ProcessResult, 'stderr' | 'stdout'>, lines = 3): string {
  const src = res.stderr.trim() || res.stdout.trim();
  const kept = src
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() && !/^(W|I)\d{4} /.test(l));
  const first = kept.findIndex((l) => /^(error|Error|rpc error|error executing|There are pending)/.test(l));
  const from = first >= 0 ? kept.slice(first) : kept;
  return from.slice(0, lines).join(' | ');
}

/** kubectl error texts (TOOLS.md §3, KUBE-LAB.md §13) -> stable error codes. */
export function classifyKubectl(stderr: string): ErrorClass | undefined {
  // drain's refusals also end in "There are pending nodes": a retry meets them again
  if (/cannot delete (cannot delete )?(Pods with local storage|Pods that declare no controller|DaemonSet-managed Pods)/.test(stderr)) {
    return {
      errorCode: 'node_drain_refused',
      retryable: false,
      hint: 'allow it with delete_emptydir_data (emptyDir data), force (pods without a controller) or ignore_daemonsets; preserve_forensics drains around such pods and lists them',
    };
  }
  if (/There are pending nodes to be drained|global timeout reached/.test(stderr)) return { errorCode: 'pod_eviction_timeout', retryable: true };
  if (/exceeded its progress deadline/.test(stderr)) return { errorCode: 'deployment_progress_deadline_exceeded', retryable: false };
  if (/timed out waiting for the condition/.test(stderr)) return { errorCode: 'deployment_rollout_timeout', retryable: true };
  if (/Apply failed with \d+ conflicts?|\(Conflict\)/.test(stderr)) {
    return { errorCode: 'k8s_conflict', retryable: false, hint: 'another field manager owns these fields; set force_conflicts: true if cortex should take them over' };
  }
  if (/\(AlreadyExists\)/.test(stderr)) return { errorCode: 'k8s_already_exists', retryable: false };
  if (/\(NotFound\)/.test(stderr)) return { errorCode: 'k8s_not_found', retryable: false };
  if (/\(Forbidden\)|forbidden:/.test(stderr)) return { errorCode: 'k8s_forbidden', retryable: false, hint: 'the kubeconfig user lacks RBAC permission for this operation' };
  if (/\(Unauthorized\)|You must be logged in/.test(stderr)) return { errorCode: 'k8s_unauthorized', retryable: false };
  if (/\(Invalid\)|is invalid|error validating|unable to decode|strict decoding error/.test(stderr)) return { errorCode: 'k8s_invalid', retryable: false };
  if (/\(TooManyRequests\)/.test(stderr)) return { errorCode: 'k8s_rate_limited', retryable: true };
  if (/\((InternalError|ServiceUnavailable|Timeout|ServerTimeout)\)|connection to the server .* was refused|Unable to connect to the server|i\/o timeout|connection refused|TLS handshake timeout/.test(stderr)) {
    return { errorCode: 'k8s_api_unavailable', retryable: true };
  }
  return undefined;
}

/** talosctl gRPC status texts -> error codes. */
export function classifyTalos(stderr: string): ErrorClass | undefined {
  if (/code = FailedPrecondition/.test(stderr)) return { errorCode: 'talos_not_ready', retryable: true };
  if (/code = (Unavailable|DeadlineExceeded)|connection refused|connection error|i\/o timeout|no route to host/.test(stderr)) {
    return { errorCode: 'talos_unavailable', retryable: true };
  }
  if (/code = (Unauthenticated|PermissionDenied)|certificate signed by unknown authority|failed to verify certificate/.test(stderr)) {
    return { errorCode: 'talos_auth_failed', retryable: false, hint: 'the talosconfig does not match this cluster (wrong PKI or context)' };
  }
  if (/unknown flag|unknown shorthand flag|unknown command|accepts \d+ arg|requires at least/.test(stderr)) return { errorCode: 'tool_usage_error', retryable: false };
  return undefined;
}

/** helm error texts (TOOLS.md §4) -> error codes. */
export function classifyHelm(stderr: string): ErrorClass | undefined {
  const transient = /context deadline exceeded|timed out waiting|another operation \(install\/upgrade\/rollback\) is in progress|connection refused|i\/o timeout|Kubernetes cluster unreachable|TLS handshake timeout/.test(stderr);
  if (/Error: (INSTALLATION|UPGRADE) FAILED:/.test(stderr)) return { errorCode: 'helm_install_failed', retryable: transient };
  if (/Error: (ROLLBACK FAILED|.*rollback)/i.test(stderr) && !/release: not found/.test(stderr)) return { errorCode: 'helm_rollback_failed', retryable: transient };
  if (/release: not found|Release not loaded/.test(stderr)) return { errorCode: 'helm_release_not_found', retryable: false };
  if (/Kubernetes cluster unreachable/.test(stderr)) return { errorCode: 'k8s_api_unavailable', retryable: true };
  if (/failed to download|chart .* not found|no chart version found|repo .* not found/.test(stderr)) return { errorCode: 'helm_chart_not_found', retryable: false };
  if (/uninstall/.test(stderr)) return { errorCode: 'helm_uninstall_failed', retryable: transient };
  if (/unknown flag|unknown shorthand flag|unknown command/.test(stderr)) return { errorCode: 'tool_usage_error', retryable: false };
  return undefined;
}

export type ToolKind = 'kubectl' | 'talosctl' | 'helm';

const CLASSIFIERS: Record<ToolKind, (s: string) => ErrorClass | undefined> = {
  kubectl: classifyKubectl,
  talosctl: classifyTalos,
  helm: classifyHelm,
};

/**
 * The ActionFailedError for a tool run that did not succeed. The tool's own classification wins
 * when it is more specific than the action's default code (NotFound, Forbidden, Unavailable...).
 */
export function toolFailure(tool: ToolKind, what: string, res: ProcessResult, fallback: ErrorClass, prefer: 'class' | 'action' = 'class'): ActionFailedError {
  const cls = CLASSIFIERS[tool](res.stderr) ?? CLASSIFIERS[tool](res.stdout);
  const chosen: ErrorClass =
    cls && prefer === 'class' ? cls : cls ? { ...fallback, retryable: cls.retryable, hint: fallback.hint ?? cls.hint } : fallback;
  const why = res.exitCode === null ? `killed by ${res.signal ?? 'signal'}` : `exit ${res.exitCode}`;
  const detail = stderrSummary(res);
  return new ActionFailedError(`${what} failed (${why})${detail ? `: ${detail}` : ''}`, {
    errorCode: chosen.errorCode,
    retryable: chosen.retryable,
    exitStatus: res.exitCode,
    signal: res.signal,
    stderrTail: res.stderr.slice(-2000),
    ...(chosen.hint ? { hint: chosen.hint } : {}),
  });
}

export function invalidParams(message: string, hint?: string): ActionFailedError {
  return new ActionFailedError(message, { errorCode: 'invalid_parameters', retryable: false, ...(hint ? { hint } : {}) });
}

export function badOutput(what: string, text: string): ActionFailedError {
  return new ActionFailedError(`${what}: unexpected output: ${oneLine(text, 200)}`, { errorCode: 'bad_output', retryable: false });
}
