import { stringify } from 'yaml';
import { latencyMs, updateState } from '../lab-dir.js';
import { bool, ms, str } from '../talos/cobra.js';
import type { MinimalObject } from '../talos/kube-api.js';
import { atLeast, delay, exactly, goTimeString, ansic, HelmError, releaseJson, statusTable, tabTable, waitFlag, waits, type HelmCommand, type HelmCtx } from './common.js';
import { deleteObjects, syncObjects, waitDeleted, waitReady } from './objects.js';
import { emptyHelmState, HELM_STATE, lastDeployed, latest, readHelm, type HelmRevision } from './state.js';

const NOT_FOUND = 'release: not found';

function revisionsOf(ctx: HelmCtx, name: string): HelmRevision[] | undefined {
  const ns = str(ctx.p, 'namespace') ?? 'default';
  return readHelm(ctx.lab).releases[ns]?.[name];
}

function output(ctx: HelmCtx, json: unknown, table: () => string[]): void {
  const f = str(ctx.p, 'output') ?? 'table';
  if (f === 'json') ctx.out.push(JSON.stringify(json));
  else if (f === 'yaml') ctx.out.push(stringify(json).trimEnd());
  else ctx.out.push(...table());
}

const outputFlag = { name: 'output', short: 'o', type: 'string' as const, default: 'table', validate: (v: string) => (['table', 'json', 'yaml'].includes(v) ? undefined : 'invalid format type') };

function uniqueObjects(...lists: Array<readonly MinimalObject[] | undefined>): MinimalObject[] {
  const seen = new Map<string, MinimalObject>();
  for (const l of lists) for (const o of l ?? []) seen.set(`${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, o);
  return [...seen.values()];
}

export const statusCommand: HelmCommand = {
  name: 'status',
  use: 'status RELEASE_NAME [flags]',
  flags: () => [outputFlag, { name: 'revision', type: 'int', default: 0 }, { name: 'show-desc', type: 'bool' }, { name: 'show-resources', type: 'bool' }],
  args: exactly('status', 'status RELEASE_NAME [flags]', 1),
  cluster: true,
  mutating: false,
  async run(ctx) {
    const name = ctx.p.positionals[0] as string;
    const ns = str(ctx.p, 'namespace') ?? 'default';
    const revs = revisionsOf(ctx, name);
    const want = Number(ctx.p.values.get('revision') ?? 0);
    const rev = want > 0 ? revs?.find((r) => r.revision === want) : latest(revs);
    if (!rev) throw new HelmError(NOT_FOUND);
    output(ctx, releaseJson(name, ns, rev, ctx.major, ''), () => [...statusTable(name, ns, rev), ...(bool(ctx.p, 'show-desc') ? [`DESCRIPTION: ${rev.description}`] : [])]);
  },
};

export const historyCommand: HelmCommand = {
  name: 'history',
  aliases: ['hist'],
  use: 'history RELEASE_NAME [flags]',
  flags: () => [outputFlag, { name: 'max', type: 'int', default: 256 }],
  args: exactly('history', 'history RELEASE_NAME [flags]', 1),
  cluster: true,
  mutating: false,
  async run(ctx) {
    const revs = revisionsOf(ctx, ctx.p.positionals[0] as string);
    if (!revs || revs.length === 0) throw new HelmError(NOT_FOUND);
    const max = Number(ctx.p.values.get('max') ?? 256);
    const shown = revs.slice(Math.max(0, revs.length - max));
    const json = shown.map((r) => ({ revision: r.revision, updated: r.last_deployed, status: r.status, chart: `${r.chart}-${r.chart_version}`, app_version: r.app_version, description: r.description }));
    output(ctx, json, () => tabTable([['REVISION', 'UPDATED', 'STATUS', 'CHART', 'APP VERSION', 'DESCRIPTION'], ...shown.map((r) => [String(r.revision), ansic(r.last_deployed), r.status, `${r.chart}-${r.chart_version}`, r.app_version, r.description])]));
  },
};

const LIST_STATES = ['deployed', 'failed', 'pending', 'superseded', 'uninstalled', 'uninstalling'];

export const listCommand: HelmCommand = {
  name: 'list',
  aliases: ['ls'],
  use: 'list [flags]',
  flags: () => [
    outputFlag,
    { name: 'all', short: 'a', type: 'bool' },
    { name: 'all-namespaces', short: 'A', type: 'bool' },
    { name: 'date', short: 'd', type: 'bool' },
    { name: 'filter', short: 'f', type: 'string' },
    { name: 'max', short: 'm', type: 'int', default: 256 },
    { name: 'no-headers', type: 'bool' },
    { name: 'offset', type: 'int', default: 0 },
    { name: 'reverse', short: 'r', type: 'bool' },
    { name: 'selector', short: 'l', type: 'string' },
    { name: 'short', short: 'q', type: 'bool' },
    { name: 'time-format', type: 'string' },
    ...LIST_STATES.map((s) => ({ name: s, type: 'bool' as const })),
  ],
  args: (n) => (n === 0 ? undefined : '"helm list" accepts no arguments\n\nUsage:  helm list [flags]'),
  cluster: true,
  mutating: false,
  async run(ctx) {
    const state = readHelm(ctx.lab);
    const chosen = LIST_STATES.filter((s) => bool(ctx.p, s));
    // Default: deployed and failed; -a: every state.
    const allowed = bool(ctx.p, 'all') ? LIST_STATES : chosen.length > 0 ? chosen : ['deployed', 'failed'];
    let filter: RegExp | undefined;
    try {
      filter = str(ctx.p, 'filter') ? new RegExp(str(ctx.p, 'filter') as string) : undefined;
    } catch {
      throw new HelmError(`error parsing regexp: invalid or unsupported Perl syntax: \`${str(ctx.p, 'filter')}\``);
    }
    const namespaces = bool(ctx.p, 'all-namespaces') ? Object.keys(state.releases) : [str(ctx.p, 'namespace') ?? 'default'];
    const rows: Array<{ name: string; namespace: string; rev: HelmRevision }> = [];
    for (const ns of namespaces) {
      for (const [name, revs] of Object.entries(state.releases[ns] ?? {})) {
        const rev = latest(revs);
        if (!rev) continue;
        const st = rev.status.startsWith('pending') ? 'pending' : rev.status;
        if (!allowed.includes(st)) continue;
        if (filter && !filter.test(name)) continue;
        rows.push({ name, namespace: ns, rev });
      }
    }
    rows.sort((a, b) => a.name.localeCompare(b.name));
    if (bool(ctx.p, 'reverse')) rows.reverse();
    const json = rows.map((r) => ({
      name: r.name,
      namespace: r.namespace,
      // helm list prints the revision as a string (helm status/history print an int).
      revision: String(r.rev.revision),
      updated: goTimeString(r.rev.last_deployed),
      status: r.rev.status,
      chart: `${r.rev.chart}-${r.rev.chart_version}`,
      app_version: r.rev.app_version,
    }));
    if (bool(ctx.p, 'short')) {
      ctx.out.push(...rows.map((r) => r.name));
      return;
    }
    output(ctx, json, () => {
      const header = bool(ctx.p, 'no-headers') ? [] : [['NAME', 'NAMESPACE', 'REVISION', 'UPDATED', 'STATUS', 'CHART', 'APP VERSION']];
      return tabTable([...header, ...json.map((j) => [j.name, j.namespace, j.revision, j.updated, j.status, j.chart, j.app_version])]);
    });
  },
};

export const uninstallCommand: HelmCommand = {
  name: 'uninstall',
  aliases: ['un', 'delete', 'del'],
  use: 'uninstall RELEASE_NAME [...] [flags]',
  flags: (major, minor) => [
    { name: 'cascade', type: 'string', default: 'background' },
    { name: 'description', type: 'string' },
    { name: 'dry-run', type: 'bool' },
    // added in Helm 3.13.0 (cmd/helm/uninstall.go); 3.12 answers "unknown flag: --ignore-not-found"
    ...(major === 4 || minor >= 13 ? [{ name: 'ignore-not-found', type: 'bool' as const }] : []),
    { name: 'keep-history', type: 'bool' },
    { name: 'no-hooks', type: 'bool' },
    { name: 'timeout', type: 'duration', default: 300_000 },
    waitFlag(major),
  ],
  args: atLeast('uninstall', 'uninstall RELEASE_NAME [...] [flags]', 1),
  cluster: true,
  mutating: true,
  async run(ctx) {
    const ns = str(ctx.p, 'namespace') ?? 'default';
    const wait = waits(ctx);
    for (const name of ctx.p.positionals) {
      const revs = revisionsOf(ctx, name);
      const last = latest(revs);
      if (!last) {
        // pkg/action/uninstall.go returns nothing for a missing release with IgnoreNotFound, and
        // cmd/helm/uninstall.go then prints `release "x" uninstalled` all the same.
        if (!ctx.p.values.get('ignore-not-found')) throw new HelmError(`uninstall: Release not loaded: ${name}: ${NOT_FOUND}`);
        ctx.out.push(`release "${name}" uninstalled`);
        continue;
      }
      if (last.status === 'uninstalled') {
        // kept history of an uninstalled release: purged, unless history is to be kept again
        if (bool(ctx.p, 'keep-history')) throw new HelmError(`the release named "${name}" is already deleted`);
        updateState(ctx.lab, HELM_STATE, emptyHelmState, (st) => void delete st.releases[ns]?.[name]);
        ctx.out.push(`release "${name}" uninstalled`);
        continue;
      }
      if (bool(ctx.p, 'dry-run')) {
        ctx.out.push(`release "${name}" uninstalled`);
        continue;
      }
      const objects = uniqueObjects(lastDeployed(revs)?.objects, last.objects);
      if (ctx.kube) {
        await deleteObjects(ctx.kube, objects);
        if (wait && !(await waitDeleted(ctx.kube, ctx.lab, objects, ms(ctx.p, 'timeout')))) {
          throw new HelmError('uninstallation completed with 1 error(s): uninstall: Failed to purge the release: timed out waiting for the condition');
        }
      }
      updateState(ctx.lab, HELM_STATE, emptyHelmState, (st) => {
        const list = st.releases[ns]?.[name];
        if (!list) return;
        if (bool(ctx.p, 'keep-history')) {
          const l = latest(list) as HelmRevision;
          l.status = 'uninstalled';
          l.deleted = new Date().toISOString();
          l.description = str(ctx.p, 'description') ?? 'Uninstallation complete';
        } else delete st.releases[ns]?.[name];
      });
      ctx.out.push(`release "${name}" uninstalled`);
    }
  },
};

export const rollbackCommand: HelmCommand = {
  name: 'rollback',
  use: 'rollback <RELEASE> [REVISION] [flags]',
  flags: (major) => [
    { name: 'cleanup-on-fail', type: 'bool' },
    { name: 'dry-run', type: 'bool' },
    { name: 'force', type: 'bool' },
    { name: 'history-max', type: 'int', default: 10 },
    { name: 'no-hooks', type: 'bool' },
    { name: 'recreate-pods', type: 'bool' },
    { name: 'timeout', type: 'duration', default: 300_000 },
    waitFlag(major),
    { name: 'wait-for-jobs', type: 'bool' },
  ],
  args: (n) => (n === 0 ? '"helm rollback" requires at least 1 argument\n\nUsage:  helm rollback <RELEASE> [REVISION] [flags]' : n > 2 ? '"helm rollback" accepts at most 2 arguments\n\nUsage:  helm rollback <RELEASE> [REVISION] [flags]' : undefined),
  cluster: true,
  mutating: true,
  async run(ctx) {
    const [name, revArg] = ctx.p.positionals as [string, string | undefined];
    const ns = str(ctx.p, 'namespace') ?? 'default';
    if (revArg !== undefined && !/^\d+$/.test(revArg)) throw new HelmError(`could not convert revision to a number: strconv.Atoi: parsing "${revArg}": invalid syntax`);
    const revs = revisionsOf(ctx, name);
    const current = latest(revs);
    if (!revs || !current) throw new HelmError(NOT_FOUND);
    if (current.status.startsWith('pending-')) throw new HelmError('another operation (install/upgrade/rollback) is in progress');
    const targetNo = revArg !== undefined && Number(revArg) > 0 ? Number(revArg) : current.revision - 1;
    const target = revs.find((r) => r.revision === targetNo);
    if (!target) throw new HelmError(targetNo < 1 ? `release has no ${targetNo} version` : NOT_FOUND);
    if (bool(ctx.p, 'dry-run')) {
      ctx.out.push('Rollback was a success! Happy Helming!');
      return;
    }
    if (ctx.kube) {
      const problem = await syncObjects(ctx.kube, target.objects, uniqueObjects(current.objects, lastDeployed(revs)?.objects));
      if (problem) throw new HelmError(problem);
      if (waits(ctx) && !(await waitReady(ctx.kube, ctx.lab, target.objects, ms(ctx.p, 'timeout')))) throw new HelmError('context deadline exceeded');
    }
    await delay(latencyMs(ctx.lab, 10));
    updateState(ctx.lab, HELM_STATE, emptyHelmState, (st) => {
      const list = st.releases[ns]?.[name];
      if (!list) return;
      const at = new Date().toISOString();
      for (const r of list) if (r.status === 'deployed') r.status = 'superseded';
      list.push({ ...structuredClone(target), revision: (latest(list)?.revision ?? 0) + 1, status: 'deployed', description: `Rollback to ${target.revision}`, last_deployed: at, deleted: '' });
    });
    ctx.out.push('Rollback was a success! Happy Helming!');
  },
};

export const versionCommand: HelmCommand = {
  name: 'version',
  use: 'version [flags]',
  flags: () => [{ name: 'short', type: 'bool' }, { name: 'template', type: 'string' }],
  cluster: false,
  mutating: false,
  async run(ctx) {
    const v = readHelm(ctx.lab).version;
    const [tag, commit] = v.split('+g');
    if (bool(ctx.p, 'short')) ctx.out.push(v);
    else ctx.out.push(`version.BuildInfo{Version:"${tag}", GitCommit:"${(commit ?? '').padEnd(40, '0')}", GitTreeState:"clean", GoVersion:"go1.22.7"}`);
  },
};

export const repoCommand: HelmCommand = {
  name: 'repo',
  use: 'repo [command]',
  flags: () => [{ name: 'force-update', type: 'bool' }, { name: 'fail-on-repo-update-fail', type: 'bool' }, { name: 'username', type: 'string' }, { name: 'password', type: 'string' }, { name: 'pass-credentials', type: 'bool' }],
  cluster: false,
  mutating: false,
  async run(ctx) {
    const [sub, name, url] = ctx.p.positionals;
    if (sub === 'add') {
      if (!name || !url) throw new HelmError('"helm repo add" requires 2 arguments\n\nUsage:  helm repo add [NAME] [URL] [flags]');
      ctx.out.push(`"${name}" has been added to your repositories`);
    } else if (sub === 'update' || sub === 'up') {
      ctx.out.push('Hang tight while we grab the latest from your chart repositories...', 'Update Complete. ⎈Happy Helming!⎈');
    } else if (sub === 'list' || sub === 'ls') {
      throw new HelmError('no repositories to show');
    } else {
      throw new HelmError(`unknown command "${sub ?? ''}" for "helm repo"`);
    }
  },
};
