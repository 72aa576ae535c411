import { stringify } from 'yaml';
import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, PlannedStep } from '../action-impl.js';
import { clusterFor, helmPlanArgs, planCluster } from './cluster.js';
import { helm, helmHistory, helmMajor, lastDeployed } from './helm.js';
import { goDuration, parseToolJson } from './parse.js';
import { toolFailure } from './tool-errors.js';
import { planList } from './plan-values.js';

interface Params {
  cluster: string;
  release: string;
  chart: string;
  repo_url?: string;
  version?: string;
  namespace: string;
  create_namespace?: boolean;
  values?: Record<string, unknown>;
  values_files?: string[];
  atomic?: boolean;
  wait?: boolean;
  timeout_seconds?: number;
}

/** What `helm upgrade --install -o json` prints (the release object). */
interface HelmRelease {
  name?: string;
  namespace?: string;
  version?: number;
  info?: { status?: string; description?: string };
  chart?: { metadata?: { name?: string; version?: string; appVersion?: string } };
}

/** argv after the kubeconfig flags. `-f -` reads the values YAML from stdin. */
export function upgradeInstallArgs(p: Params, major: 3 | 4): string[] {
  const hasValues = p.values !== undefined && Object.keys(p.values).length > 0;
  const oci = p.repo_url?.startsWith('oci://') ?? false;
  return [
    'upgrade',
    '--install',
    p.release,
    // --repo takes chart repositories only; an OCI registry is part of the chart reference.
    oci ? `${(p.repo_url as string).replace(/\/+$/, '')}/${p.chart}` : p.chart,
    '--namespace',
    p.namespace,
    ...((p.create_namespace ?? true) ? ['--create-namespace'] : []),
    ...(p.repo_url && !oci ? ['--repo', p.repo_url] : []),
    ...(p.version ? ['--version', p.version] : []),
    ...planList<string>(p.values_files).flatMap((f) => ['-f', f]),
    ...(hasValues ? ['-f', '-'] : []),
    ...((p.wait ?? true) ? ['--wait'] : []),
    '--timeout',
    goDuration(p.timeout_seconds ?? 600),
    // Helm 4 renamed --atomic (still accepted there, with a deprecation warning).
    ...((p.atomic ?? true) ? [major === 4 ? '--rollback-on-failure' : '--atomic'] : []),
    '-o',
    'json',
  ];
}

export function valuesYaml(values: Record<string, unknown> | undefined): string | undefined {
  return values !== undefined && Object.keys(values).length > 0 ? stringify(values) : undefined;
}

export const installHelmChartAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    const major = ctx.config.helmMajor ?? 3;
    const steps: PlannedStep[] = [];
    if (!ctx.config.helmMajor) steps.push({ kind: 'command', tool: 'helm', args: ['version', '--short'], note: 'once per process: Helm 4 uses --rollback-on-failure instead of --atomic' });
    steps.push({ kind: 'command', tool: 'helm', args: helmPlanArgs(t, 'history', p.release, '--namespace', p.namespace, '-o', 'json'), note: 'previous revision (0 when the release does not exist)' });
    const stdin = valuesYaml(p.values);
    steps.push({ kind: 'command', tool: 'helm', args: helmPlanArgs(t, ...upgradeInstallArgs(p, major)), ...(stdin ? { stdin } : {}) });
    return steps;
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    const major = await helmMajor(rt);
    // A re-run after an interrupted attempt finds the revision that attempt installed; the undo
    // must go back to what was live before the first attempt.
    const previous = await rt.remember('previous_revision', async () => lastDeployed(await helmHistory(rt, t, p.release, p.namespace)));
    const timeout = p.timeout_seconds ?? 600;
    const stdin = valuesYaml(p.values);
    // helm enforces --timeout itself; the process deadline only catches a hung client.
    const res = await helm(rt, t, upgradeInstallArgs(p, major), { ...(stdin ? { input: stdin } : {}), timeoutMs: (timeout + 60) * 1000 });
    if (res.exitCode !== 0) throw toolFailure('helm', `helm upgrade --install ${p.release}`, res, { errorCode: 'helm_install_failed', retryable: false }, 'action');
    const rel = parseToolJson<HelmRelease>('helm upgrade --install', res.stdout);
    const status = rel.info?.status ?? 'unknown';
    if (status !== 'deployed') {
      throw new ActionFailedError(`helm upgrade --install ${p.release} ended with status ${status}${rel.info?.description ? `: ${rel.info.description}` : ''}`, {
        errorCode: 'helm_install_failed',
        retryable: false,
      });
    }
    return {
      release: p.release,
      namespace: p.namespace,
      revision: rel.version ?? null,
      previous_revision: previous,
      status,
      chart_version: rel.chart?.metadata?.version ?? p.version ?? null,
      app_version: rel.chart?.metadata?.appVersion ?? null,
    };
  },
};
