import { stringify } from 'yaml';
import { latencyMs, shouldFail, updateState } from '../lab-dir.js';
import { bool, list, ms, str, type FlagSpec } from '../talos/cobra.js';
import { resolveChart, renderChart } from './charts.js';
import { delay, exactly, HelmError, releaseJson, statusTable, waitFlag, waits, type HelmCommand, type HelmCtx } from './common.js';
import { deleteObjects, ensureNamespace, syncObjects, waitReady } from './objects.js';
import { emptyHelmState, HELM_STATE, lastDeployed, latest, type HelmRevision } from './state.js';
import { collectValues } from './values.js';

const RELEASE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function chartFlags(): FlagSpec[] {
  return [
    { name: 'ca-file', type: 'string' },
    { name: 'cert-file', type: 'string' },
    { name: 'key-file', type: 'string' },
    { name: 'keyring', type: 'string' },
    { name: 'insecure-skip-tls-verify', type: 'bool' },
    { name: 'pass-credentials', type: 'bool' },
    { name: 'password', type: 'string' },
    { name: 'plain-http', type: 'bool' },
    { name: 'repo', type: 'string' },
    { name: 'username', type: 'string' },
    { name: 'verify', type: 'bool' },
    { name: 'version', type: 'string' },
    { name: 'devel', type: 'bool' },
    { name: 'values', short: 'f', type: 'strings', default: [] },
    { name: 'set', type: 'stringArray' },
    { name: 'set-string', type: 'stringArray' },
    { name: 'set-file', type: 'stringArray' },
    { name: 'set-json', type: 'stringArray' },
    { name: 'set-literal', type: 'stringArray' },
  ];
}

export function installFlags(major: 3 | 4, cmd: 'install' | 'upgrade'): FlagSpec[] {
  const v4 = major === 4;
  return [
    ...chartFlags(),
    { name: 'atomic', type: 'bool', ...(v4 ? { deprecated: 'use --rollback-on-failure instead' } : {}) },
    ...(v4 ? [{ name: 'rollback-on-failure', type: 'bool' as const }, { name: 'server-side', type: 'string' as const, default: 'auto' }, { name: 'force-replace', type: 'bool' as const }, { name: 'force-conflicts', type: 'bool' as const }] : []),
    { name: 'force', type: 'bool', ...(v4 ? { deprecated: 'use --force-replace instead' } : {}) },
    { name: 'create-namespace', type: 'bool' },
    { name: 'dependency-update', type: 'bool' },
    { name: 'description', type: 'string' },
    { name: 'disable-openapi-validation', type: 'bool' },
    { name: 'dry-run', type: 'string', noOptValue: 'client' },
    { name: 'enable-dns', type: 'bool' },
    { name: 'hide-notes', type: 'bool' },
    { name: 'labels', short: 'l', type: 'stringArray' },
    { name: 'no-hooks', type: 'bool' },
    { name: 'output', short: 'o', type: 'string', default: 'table', validate: (v) => (['table', 'json', 'yaml'].includes(v) ? undefined : 'invalid format type') },
    { name: 'post-renderer', type: 'string' },
    { name: 'post-renderer-args', type: 'stringArray' },
    { name: 'render-subchart-notes', type: 'bool' },
    { name: 'skip-crds', type: 'bool' },
    { name: 'skip-schema-validation', type: 'bool' },
    { name: 'take-ownership', type: 'bool' },
    { name: 'timeout', type: 'duration', default: 300_000 },
    waitFlag(major),
    { name: 'wait-for-jobs', type: 'bool' },
    ...(cmd === 'upgrade'
      ? [
          { name: 'install', short: 'i', type: 'bool' as const },
          { name: 'cleanup-on-fail', type: 'bool' as const },
          { name: 'history-max', type: 'int' as const, default: 10 },
          { name: 'reset-values', type: 'bool' as const },
          { name: 'reuse-values', type: 'bool' as const },
          { name: 'reset-then-reuse-values', type: 'bool' as const },
        ]
      : [
          { name: 'generate-name', short: 'g', type: 'bool' as const },
          { name: 'name-template', type: 'string' as const },
          { name: 'replace', type: 'bool' as const },
        ]),
  ];
}

function manifestOf(rev: HelmRevision): string {
  return rev.objects.map((o) => `---\n# Source: ${rev.chart}/templates/${o.kind.toLowerCase()}.yaml\n${stringify(o)}`).join('');
}

function printRelease(ctx: HelmCtx, name: string, namespace: string, rev: HelmRevision): void {
  const format = str(ctx.p, 'output') ?? 'table';
  const json = releaseJson(name, namespace, rev, ctx.major, manifestOf(rev));
  if (format === 'json') ctx.out.push(JSON.stringify(json));
  else if (format === 'yaml') ctx.out.push(stringify(json).trimEnd());
  else ctx.out.push(...statusTable(name, namespace, rev));
}

interface Reservation {
  installing: boolean;
  rev: HelmRevision;
  previous: HelmRevision | undefined;
  firstDeployed: string;
}

/**
 * `helm upgrade --install` / `helm install`: records a pending revision, creates the chart's
 * objects through the lab API server, waits for them when asked, and on failure rolls back or
 * uninstalls with --atomic / --rollback-on-failure, printing helm's texts.
 */
async function installOrUpgrade(ctx: HelmCtx, cmd: 'install' | 'upgrade'): Promise<void> {
  const [name, chartRef] = ctx.p.positionals as [string, string];
  const namespace = str(ctx.p, 'namespace') ?? 'default';
  const fail = (installing: boolean, msg: string) => new HelmError(`${installing ? 'INSTALLATION' : 'UPGRADE'} FAILED: ${msg}`);
  if (!RELEASE_NAME.test(name) || name.length > 53) {
    throw fail(cmd === 'install', `release name "${name}": invalid release name, must match regex ${RELEASE_NAME.source} and the length must not be longer than 53`);
  }
  let values: Record<string, unknown>;
  try {
    values = collectValues(list(ctx.p, 'values'), list(ctx.p, 'set'), list(ctx.p, 'set-string'), ctx.stdin, ctx.cwd);
  } catch (e) {
    throw new HelmError((e as Error).message);
  }
  let chart;
  try {
    chart = resolveChart(chartRef, str(ctx.p, 'repo'), str(ctx.p, 'version'), ctx.cwd);
  } catch (e) {
    throw new HelmError((e as Error).message);
  }
  const objects = renderChart(chart, name, namespace, values);
  const atomic = bool(ctx.p, 'atomic') || bool(ctx.p, 'rollback-on-failure');
  const wait = waits(ctx) || atomic;
  const dryRun = ctx.p.set.has('dry-run') && str(ctx.p, 'dry-run') !== 'none' && str(ctx.p, 'dry-run') !== 'false';
  const now = new Date().toISOString();
  const res = updateState(ctx.lab, HELM_STATE, emptyHelmState, (st): Reservation | string => {
    const nsReleases = (st.releases[namespace] ??= {});
    const revs = nsReleases[name] ?? [];
    const last = latest(revs);
    if (last?.status.startsWith('pending-')) return `${cmd === 'install' ? 'INSTALLATION' : 'UPGRADE'} FAILED: another operation (install/upgrade/rollback) is in progress`;
    const installing = !last || last.status === 'uninstalled';
    if (cmd === 'install' && !installing) return 'INSTALLATION FAILED: cannot re-use a name that is still in use';
    if (cmd === 'upgrade' && installing && !bool(ctx.p, 'install')) return `UPGRADE FAILED: "${name}" has no deployed releases`;
    const rev: HelmRevision = {
      revision: (last?.revision ?? 0) + 1,
      status: installing ? 'pending-install' : 'pending-upgrade',
      chart: chart.name,
      chart_version: chart.version,
      app_version: chart.appVersion,
      values,
      description: dryRun ? 'Dry run complete' : installing ? 'Initial install underway' : 'Preparing upgrade',
      first_deployed: installing ? now : (revs[0]?.first_deployed ?? now),
      last_deployed: now,
      deleted: '',
      objects,
    };
    if (!dryRun) nsReleases[name] = [...revs, rev];
    const previous = lastDeployed(revs) ?? (installing ? undefined : last);
    return { installing, rev, previous: previous ? structuredClone(previous) : undefined, firstDeployed: rev.first_deployed };
  });
  if (typeof res === 'string') throw new HelmError(res);
  const { installing, rev, previous } = res;
  const format = str(ctx.p, 'output') ?? 'table';
  if (cmd === 'upgrade' && installing && format === 'table') ctx.out.push(`Release "${name}" does not exist. Installing it now.`);
  if (dryRun) {
    printRelease(ctx, name, namespace, rev);
    return;
  }
  const forget = () =>
    updateState(ctx.lab, HELM_STATE, emptyHelmState, (st) => {
      const revs = st.releases[namespace]?.[name];
      if (!revs) return;
      const kept = revs.filter((r) => r.revision !== rev.revision);
      if (kept.length > 0) (st.releases[namespace] as Record<string, HelmRevision[]>)[name] = kept;
      else delete st.releases[namespace]?.[name];
      if (Object.keys(st.releases[namespace] ?? {}).length === 0) delete st.releases[namespace];
    });
  let cause: string | undefined;
  if (shouldFail(ctx.lab, ctx.call.actionId, ctx.call.attempt)) {
    await delay(latencyMs(ctx.lab, 50));
    cause = 'context deadline exceeded';
  } else if (ctx.kube) {
    const nsProblem = await ensureNamespace(ctx.kube, namespace, bool(ctx.p, 'create-namespace'));
    if (nsProblem) {
      // The release record itself lives in that namespace: nothing is recorded.
      forget();
      throw fail(installing, nsProblem);
    }
    cause = await syncObjects(ctx.kube, objects, previous?.objects ?? []);
    if (!cause && wait && !(await waitReady(ctx.kube, ctx.lab, objects, ms(ctx.p, 'timeout')))) cause = 'context deadline exceeded';
  }
  if (cause === undefined) {
    const done = updateState(ctx.lab, HELM_STATE, emptyHelmState, (st) => {
      const revs = st.releases[namespace]?.[name] ?? [];
      for (const r of revs) {
        if (r.revision === rev.revision) {
          r.status = 'deployed';
          r.description = str(ctx.p, 'description') ?? (installing ? 'Install complete' : 'Upgrade complete');
          r.last_deployed = new Date().toISOString();
        } else if (r.status === 'deployed') r.status = 'superseded';
      }
      const max = Number(ctx.p.values.get('history-max') ?? 10);
      if (max > 0 && revs.length > max) (st.releases[namespace] as Record<string, HelmRevision[]>)[name] = revs.slice(revs.length - max);
      return structuredClone(revs.find((r) => r.revision === rev.revision) as HelmRevision);
    });
    if (cmd === 'upgrade' && !installing && format === 'table') ctx.out.push(`Release "${name}" has been upgraded. Happy Helming!`);
    printRelease(ctx, name, namespace, done);
    return;
  }
  await failRelease(ctx, { name, namespace, installing, rev, previous, atomic, cause });
}

async function failRelease(ctx: HelmCtx, o: { name: string; namespace: string; installing: boolean; rev: HelmRevision; previous: HelmRevision | undefined; atomic: boolean; cause: string }): Promise<never> {
  const { name, namespace, installing, rev, previous, atomic, cause } = o;
  const flag = ctx.major === 4 ? 'rollback-on-failure' : 'atomic';
  if (ctx.major === 4) ctx.err.push(`level=WARN msg="${installing ? 'install' : 'upgrade'} failed" name=${name} error="${cause}"`);
  updateState(ctx.lab, HELM_STATE, emptyHelmState, (st) => {
    const r = st.releases[namespace]?.[name]?.find((x) => x.revision === rev.revision);
    if (r) {
      r.status = 'failed';
      r.description = `${installing ? 'Install' : 'Upgrade'} "${name}" failed: ${cause}`;
    }
  });
  if (!atomic) throw new HelmError(`${installing ? 'INSTALLATION' : 'UPGRADE'} FAILED: ${cause}`);
  // helm 3 logs the automatic rollback only with --debug (helm 4 printed its WARN line above).
  if (ctx.major === 3 && bool(ctx.p, 'debug')) {
    ctx.err.push(installing ? `install.go:488: [debug] Install failed and atomic is set, uninstalling release` : `upgrade.go:526: [debug] Upgrade failed and atomic is set, rolling back to last successful release`);
  }
  if (installing || !previous) {
    if (ctx.kube) await deleteObjects(ctx.kube, rev.objects);
    updateState(ctx.lab, HELM_STATE, emptyHelmState, (st) => {
      delete st.releases[namespace]?.[name];
    });
    throw new HelmError(`${installing ? 'INSTALLATION' : 'UPGRADE'} FAILED: release ${name} failed, and has been uninstalled due to ${flag} being set: ${cause}`);
  }
  if (ctx.kube) await syncObjects(ctx.kube, previous.objects, rev.objects);
  updateState(ctx.lab, HELM_STATE, emptyHelmState, (st) => {
    const revs = st.releases[namespace]?.[name];
    if (!revs) return;
    const at = new Date().toISOString();
    for (const r of revs) if (r.status === 'deployed') r.status = 'superseded';
    revs.push({ ...structuredClone(previous), revision: (latest(revs)?.revision ?? rev.revision) + 1, status: 'deployed', description: `Rollback to ${previous.revision}`, last_deployed: at, deleted: '' });
  });
  throw new HelmError(`UPGRADE FAILED: release ${name} failed, and has been rolled back due to ${flag} being set: ${cause}`);
}

export const upgradeCommand: HelmCommand = {
  name: 'upgrade',
  use: 'upgrade [RELEASE] [CHART] [flags]',
  flags: (major) => installFlags(major, 'upgrade'),
  args: exactly('upgrade', 'upgrade [RELEASE] [CHART] [flags]', 2),
  cluster: true,
  mutating: true,
  run: (ctx) => installOrUpgrade(ctx, 'upgrade'),
};

export const installCommand: HelmCommand = {
  name: 'install',
  use: 'install [NAME] [CHART] [flags]',
  flags: (major) => installFlags(major, 'install'),
  args: exactly('install', 'install [NAME] [CHART] [flags]', 2),
  cluster: true,
  mutating: true,
  run: (ctx) => installOrUpgrade(ctx, 'install'),
};
