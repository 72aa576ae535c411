/** Shared set-up of the talos-contractor adapter tests: config, scratch dir, scripted tools, fixtures. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigFile } from '../../../../src/config/config.js';
import type { ActionImpl } from '../../../../src/contractors/action-impl.js';
import { IMPLEMENTATIONS } from '../../../../src/contractors/talos/index.js';
import { TALOS_SPECS } from '../../../../src/contractors/talos/specs.js';
import type { ProcessResult } from '../../../../src/ports/process-runner.js';
import type { FakeHttpClient } from '../../../fakes/fakes.js';
import { makeRuntime, type ObservationStore, type TestRuntime } from '../runtime-helper.js';

export const FIXTURES = join(import.meta.dirname, '../../../fixtures');

export function fixture(path: string): string {
  return readFileSync(join(FIXTURES, path), 'utf8');
}

interface KubectlResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A recorded REAL kubectl result (test/fixtures/kubectl-outputs/results.json). */
export function kubectlResult(tag: string): Partial<ProcessResult> {
  const all = JSON.parse(fixture('kubectl-outputs/results.json')) as Record<string, KubectlResult>;
  const r = all[tag];
  if (!r) throw new Error(`no kubectl fixture ${tag}`);
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

export const KC = '/etc/cortex/prod.kubeconfig';
export const TC = '/etc/cortex/prod.talosconfig';

export function baseConfig(extra: Partial<ConfigFile> = {}): ConfigFile {
  return {
    clusters: {
      'prod-k8s-01': {
        kubeconfig: KC,
        talosconfig: TC,
        control_plane_nodes: ['10.10.1.10', '10.10.1.11', '10.10.1.12'],
        worker_nodes: ['10.10.1.20', '10.10.1.21', '10.10.1.22'],
      },
      default: { kubeconfig: '/etc/cortex/default.kubeconfig', talosconfig: '/etc/cortex/default.talosconfig', context: 'lab' },
    },
    ...extra,
  };
}

export type Handler = (args: readonly string[], input?: string) => Partial<ProcessResult>;

/** Routes each call of a tool to the first handler whose key occurs in the joined argv. */
export function router(routes: Array<[string | RegExp, Partial<ProcessResult> | Handler]>): (args: readonly string[], opts?: { input?: string }) => Partial<ProcessResult> {
  return (args, opts) => {
    const line = args.join(' ');
    for (const [key, reply] of routes) {
      if (typeof key === 'string' ? line.includes(key) : key.test(line)) return typeof reply === 'function' ? reply(args, opts?.input) : reply;
    }
    return { exitCode: 127, stderr: `test: no route for ${line}` };
  };
}

export interface Harness extends TestRuntime {
  /** The coordination root the actions' files live under. */
  root: string;
  scratch: string;
  impl: ActionImpl;
  calls(): string[][];
  inputs(): Array<string | undefined>;
  http: FakeHttpClient;
}

/**
 * A runtime for `action` (params checked against its spec, defaults applied) whose files and
 * scratch dir are real, under the coordination root `o.root` (default: a fresh one).
 */
export async function harness(action: string, params: Record<string, unknown>, o: { config?: ConfigFile; root?: string; timeoutMs?: number; observed?: ObservationStore } = {}): Promise<Harness> {
  const spec = TALOS_SPECS.find((s) => s.name === action);
  if (!spec) throw new Error(`no spec ${action}`);
  const load = IMPLEMENTATIONS[action];
  if (!load) throw new Error(`no implementation ${action}`);
  const { root, scratch } = o.root ? { root: o.root, scratch: scratchOf(o.root) } : engineScratch();
  const t = makeRuntime(params, { spec, root, config: o.config ?? baseConfig(), actionId: 'act-1', ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}), ...(o.observed ? { observed: o.observed } : {}) });
  const deps = t.deps;
  return {
    ...t,
    root,
    scratch,
    impl: await load(),
    http: deps.http,
    calls: () => deps.runner.calls.map((c) => [c.command, ...c.args]),
    inputs: () => deps.runner.calls.map((c) => c.options?.input),
  };
}

function scratchOf(root: string): string {
  return join(root, 'state', 'scratch', 'test-exec-0001');
}

/** A fresh coordination root and the engine's scratch dir of the harness's execution under it. */
export function engineScratch(): { root: string; scratch: string } {
  const root = mkdtempSync(join(tmpdir(), 'talos-root-'));
  return { root, scratch: scratchOf(root) };
}
