import type { CallContext } from '../lab-dir.js';
import type { FlagSpec, Parsed } from '../talos/cobra.js';
import type { LabKube } from '../talos/kube-api.js';
import type { HelmRevision } from './state.js';

/** An error helm prints as `Error: <message>` (exit 1). */
export class HelmError extends Error {}

export interface HelmCtx {
  call: CallContext;
  lab: string;
  p: Parsed;
  out: string[];
  err: string[];
  kube: LabKube | undefined;
  cwd: string;
  stdin: () => string;
  major: 3 | 4;
  minor: number;
}

export interface HelmCommand {
  name: string;
  aliases?: string[];
  use: string;
  /** The command's flags in that Helm version (flags arrive with minor releases: --ignore-not-found in 3.13). */
  flags: (major: 3 | 4, minor: number) => FlagSpec[];
  /** Checks the positional count; returns helm's `"helm x" requires ...` text. */
  args?: (n: number) => string | undefined;
  /** Reads or changes releases (needs the cluster). */
  cluster: boolean;
  /** Changes releases: --simulate-fail makes it fail. */
  mutating: boolean;
  run(ctx: HelmCtx): Promise<void>;
}

export function exactly(cmd: string, use: string, n: number) {
  return (got: number) => (got === n ? undefined : `"helm ${cmd}" requires ${n} argument${n === 1 ? '' : 's'}\n\nUsage:  helm ${use}`);
}

export function atLeast(cmd: string, use: string, n: number) {
  return (got: number) => (got >= n ? undefined : `"helm ${cmd}" requires at least ${n} argument${n === 1 ? '' : 's'}\n\nUsage:  helm ${use}`);
}

export function globalFlags(major: 3 | 4): FlagSpec[] {
  return [
    { name: 'burst-limit', type: 'int', default: 100 },
    { name: 'debug', type: 'bool' },
    { name: 'kube-apiserver', type: 'string' },
    { name: 'kube-as-group', type: 'stringArray' },
    { name: 'kube-as-user', type: 'string' },
    { name: 'kube-ca-file', type: 'string' },
    { name: 'kube-context', type: 'string' },
    { name: 'kube-insecure-skip-tls-verify', type: 'bool' },
    { name: 'kube-tls-server-name', type: 'string' },
    { name: 'kube-token', type: 'string' },
    { name: 'kubeconfig', type: 'string' },
    { name: 'namespace', short: 'n', type: 'string' },
    { name: 'qps', type: 'string' },
    { name: 'registry-config', type: 'string' },
    { name: 'repository-cache', type: 'string' },
    { name: 'repository-config', type: 'string' },
    ...(major === 4
      ? [
          { name: 'content-cache', type: 'string' as const },
          { name: 'color', type: 'string' as const, default: 'auto' },
          { name: 'colour', type: 'string' as const, default: 'auto' },
        ]
      : []),
  ];
}

const WAIT_STRATEGIES = ['watcher', 'hookOnly', 'legacy', 'true', 'false'];

/** `--wait`: a boolean in Helm 3, a strategy in Helm 4 (bare `--wait` means watcher). */
export function waitFlag(major: 3 | 4): FlagSpec {
  return major === 4
    ? { name: 'wait', type: 'string', noOptValue: 'watcher', default: 'hookOnly', validate: (v) => (WAIT_STRATEGIES.includes(v) ? undefined : `invalid wait strategy "${v}"; valid values are: watcher, hookOnly, legacy`) }
    : { name: 'wait', type: 'bool' };
}

/** Whether --wait asks to wait for resources; warns like Helm 4 for the boolean forms. */
export function waits(ctx: HelmCtx): boolean {
  const v = ctx.p.values.get('wait');
  if (ctx.major === 3) return v === true;
  if (ctx.p.set.has('wait') && (v === 'true' || v === 'false')) ctx.err.push(`Warning: --wait=${v} is deprecated (boolean value) and can be replaced with --wait=${v === 'true' ? 'watcher' : 'hookOnly'}`);
  return v !== 'hookOnly' && v !== 'false';
}

/** Go's time.Time.String(): `2026-11-25 12:00:00.123 +0000 UTC` (what `helm list -o json` prints). */
export function goTimeString(iso: string): string {
  const d = new Date(iso);
  const frac = String(d.getUTCMilliseconds()).padStart(3, '0').replace(/0+$/, '');
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)}${frac ? `.${frac}` : ''} +0000 UTC`;
}

/** Go's time.ANSIC: `Wed Nov 25 12:00:00 2026` (helm's table output). */
export function ansic(iso: string): string {
  const d = new Date(iso);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${d.toISOString().slice(11, 19)} ${d.getUTCFullYear()}`;
}

/** The release object of `helm status/upgrade -o json` (revision `version` is an int). */
export function releaseJson(name: string, namespace: string, rev: HelmRevision, major: 3 | 4, manifest: string): Record<string, unknown> {
  return {
    name,
    info: {
      first_deployed: rev.first_deployed,
      last_deployed: rev.last_deployed,
      deleted: rev.deleted,
      description: rev.description,
      status: rev.status,
      notes: '',
    },
    chart: {
      metadata: { name: rev.chart, version: rev.chart_version, appVersion: rev.app_version, apiVersion: 'v2', type: 'application' },
      lock: null,
      templates: [],
      values: {},
      schema: null,
      files: [],
    },
    config: rev.values,
    manifest,
    version: rev.revision,
    namespace,
    ...(major === 4 ? { apply_method: 'ssa' } : {}),
  };
}

export function statusTable(name: string, namespace: string, rev: HelmRevision): string[] {
  return [`NAME: ${name}`, `LAST DEPLOYED: ${ansic(rev.last_deployed)}`, `NAMESPACE: ${namespace}`, `STATUS: ${rev.status}`, `REVISION: ${rev.revision}`, 'TEST SUITE: None'];
}

export function tabTable(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((v, i) => (i === r.length - 1 ? v : `${v.padEnd(widths[i] as number)}\t`)).join(''));
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}
