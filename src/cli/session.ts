import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { ResolvedConfig } from '../config/config.js';
import { createRealDeps } from '../deps.js';
import type { EngineDeps } from '../engine/deps.js';
import type { EngineEvent } from '../engine/events.js';
import type { LabFault } from '../lab/lab-dir.js';
import type { StartedLab } from '../lab/start-lab.js';
import type { SecretSource } from '../ports/secret-source.js';
import { layout } from '../layout.js';
import type { CommandContext } from './context.js';

export interface SimulateOptions {
  simulate?: boolean;
  lab?: string;
  simulateFail?: string[];
  simulateLatency?: string;
}

/** The ports for one command, with the lab started when simulating. stop() must be called. */
export interface Session {
  deps: EngineDeps;
  config: ResolvedConfig;
  lab?: StartedLab;
  stop(): Promise<void>;
}

/** `--simulate-fail ACTION_ID[:N]` -> lab faults (N omitted: every attempt). */
export function parseFaults(list: string[] = []): LabFault[] {
  return list.map((spec) => {
    // ACTION_ID, or PARENT/STEP for one step of a remediation plan.
    const m = /^([A-Za-z0-9][A-Za-z0-9_-]*(?:\/[A-Za-z0-9][A-Za-z0-9_-]*)?)(?::([0-9]+))?$/.exec(spec);
    if (!m) throw new UsageError(`--simulate-fail expects ACTION_ID or ACTION_ID:N, got "${spec}"`);
    return { action_id: m[1] as string, attempts: m[2] === undefined ? null : Number(m[2]) };
  });
}

export function labDirFor(ctx: CommandContext, lab?: string): string {
  return lab ? resolve(ctx.cwd, lab) : layout(ctx.root.dir).lab;
}

class LabSecretSource implements SecretSource {
  constructor(private readonly value: (name: string) => string) {}
  async get(name: string): Promise<string> {
    return this.value(name);
  }
  describe(name: string): string {
    return `the lab's secret ${name}`;
  }
}

export async function openSession(ctx: CommandContext, config: ResolvedConfig, opts: SimulateOptions & { emit: (e: EngineEvent) => void }): Promise<Session> {
  if (!opts.simulate) {
    if (opts.simulateFail?.length || opts.simulateLatency !== undefined || opts.lab) throw new UsageError('--simulate-fail, --simulate-latency and --lab need --simulate');
    const deps = createRealDeps({ root: ctx.root.dir, env: ctx.env, emit: opts.emit });
    return { deps, config, stop: async () => undefined };
  }
  let latency: number | undefined;
  if (opts.simulateLatency !== undefined) {
    latency = Number(opts.simulateLatency);
    if (!Number.isFinite(latency) || latency < 0 || latency > 100) throw new UsageError(`--simulate-latency expects a factor between 0 and 100, got "${opts.simulateLatency}"`);
  }
  const faults = parseFaults(opts.simulateFail);
  const { startLab, labSecretValue } = await import('../lab/start-lab.js');
  const dir = labDirFor(ctx, opts.lab);
  const lab = await startLab(dir, { faults, ...(latency !== undefined ? { latency } : {}), baseEnv: ctx.env as NodeJS.ProcessEnv });
  const deps = createRealDeps({ root: ctx.root.dir, env: ctx.env, emit: opts.emit, toolEnv: lab.toolEnv, secrets: new LabSecretSource(labSecretValue) });
  const { LabRoutingHttpClient } = await import('../lab/routing-http-client.js');
  if (lab.urls.apps) deps.http = new LabRoutingHttpClient(deps.http, lab.urls.apps);
  return { deps, config: lab.configFor(config), lab, stop: () => lab.stop() };
}

export function defaultLabDir(root: string): string {
  return join(root, 'lab');
}
