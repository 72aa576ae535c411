/**
 * Composition root of the application layer: the real ports (adapters) for one coordination
 * directory, and the lab's when simulating. Only entry points (src/cli) import this.
 */
import { resolve } from 'node:path';
import { hostname } from 'node:os';
import { UsageError } from './errors.js';
import type { App, LabRequest, Session, SessionFactory } from './app/context.js';
import type { ActionDispatcher } from './ports/action-queue.js';
import type { ProcessControl, ProcessRef } from './ports/process-control.js';
import { createRealDeps } from './deps.js';
import type { EngineDeps } from './engine/deps.js';
import type { EngineEvent } from './engine/events.js';
import type { LabFault } from './lab/lab-dir.js';
import { layout } from './layout.js';
import type { SecretSource } from './ports/secret-source.js';
import type { ResolvedRoot } from './root.js';
import type { DefinitionsMemo } from './definitions/memo.js';
import { isRecordedProcessAlive } from './adapters/pid.js';
import { EnvFileSecretSource } from './adapters/env-file-secret-source.js';

/** `--simulate-fail ACTION_ID[:N]` -> lab faults (N omitted: every attempt). */
export function parseFaults(list: string[] = []): LabFault[] {
  return list.map((spec) => {
    // ACTION_ID, or PARENT/STEP for one step of a remediation plan.
    const m = /^([A-Za-z0-9][A-Za-z0-9_-]*(?:\/[A-Za-z0-9][A-Za-z0-9_-]*)?)(?::([0-9]+))?$/.exec(spec);
    if (!m) throw new UsageError(`--simulate-fail expects ACTION_ID or ACTION_ID:N, got "${spec}"`);
    return { action_id: m[1] as string, attempts: m[2] === undefined ? null : Number(m[2]) };
  });
}

export function parseLatency(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const latency = Number(value);
  if (!Number.isFinite(latency) || latency < 0 || latency > 100) throw new UsageError(`--simulate-latency expects a factor between 0 and 100, got "${value}"`);
  return latency;
}

/** How much shorter cortex's own waits are in a --simulate run. */
export const LAB_SLEEP_SCALE = 0.01;

class LabSecretSource implements SecretSource {
  constructor(
    private readonly value: (name: string) => string,
    private readonly real: SecretSource,
  ) {}
  /** The operator's real secrets are masked in a rehearsal too. */
  async all(): Promise<string[]> {
    return (await this.real.all?.()) ?? [];
  }
  async get(name: string): Promise<string> {
    return this.value(name);
  }
  describe(name: string): string {
    return `the lab's secret ${name}`;
  }
}

/** Queue mode: the dispatcher of contractor actions for one session (its lab, if any). */
export type ActionsFor = (lab?: LabRequest) => ActionDispatcher & { close(): Promise<void> };

export function createSessionFactory(root: string, cwd: string, env: Record<string, string | undefined>, actionsFor?: ActionsFor): SessionFactory {
  let base: EngineDeps | undefined;
  const labDirFor = (lab?: LabRequest) => (lab?.dir ? resolve(cwd, lab.dir) : layout(root).lab);
  const openLocal = async (request: { lab?: LabRequest; emit: (event: EngineEvent) => void }): Promise<Session> => {
    if (!request.lab) {
      const deps = createRealDeps({ root, env, emit: request.emit });
      return { deps, config: (c) => c, stop: async () => undefined };
    }
    const latency = parseLatency(request.lab.latency);
    const faults = parseFaults(request.lab.faults);
    const [{ startLab, labSecretValue }, { LabRoutingHttpClient }, { ScaledClock }] = await Promise.all([
      import('./lab/start-lab.js'),
      import('./lab/routing-http-client.js'),
      import('./adapters/system-clock.js'),
    ]);
    const dir = labDirFor(request.lab);
    const lab = await startLab(dir, { root, faults, ...(latency !== undefined ? { latency } : {}), baseEnv: env as NodeJS.ProcessEnv });
    const deps = createRealDeps({ root, env, emit: request.emit, toolEnv: lab.toolEnv, secrets: new LabSecretSource(labSecretValue, new EnvFileSecretSource(layout(root).secrets, env)) });
    // The lab is a swap of ports: its tools on PATH, its secrets, its HTTP routing (every host
    // answered by the lab), and a clock whose back-off and polling waits are 100x shorter.
    deps.http = new LabRoutingHttpClient(deps.http, lab.urls.apps);
    deps.clock = new ScaledClock(deps.clock, LAB_SLEEP_SCALE);
    return { deps, config: (c) => lab.configFor(c), labDir: dir, stop: () => lab.stop() };
  };
  return {
    base: () => (base ??= createRealDeps({ root, env })),
    labDirFor,
    async open(request) {
      const session = await openLocal(request);
      if (!actionsFor) return session;
      // Contractor workers run in the execution's lab too: its directory goes with each job, absolute.
      const actions = actionsFor(request.lab ? { ...request.lab, dir: labDirFor(request.lab) } : undefined);
      session.deps.actions = actions;
      return { ...session, stop: async () => void (await Promise.allSettled([actions.close(), session.stop()])) };
    },
  };
}

export function createProcessControl(): ProcessControl {
  const host = hostname();
  // A pid is the recorded process only when its start time (and boot) match, where recorded.
  const isAlive = (p: ProcessRef) => (p.host === host ? isRecordedProcessAlive(p) : true);
  return {
    host,
    isAlive,
    terminate(p: ProcessRef): boolean {
      // A pid read from a file (a lock owner, a record): never init, never this process.
      if (!Number.isInteger(p.pid) || p.pid <= 1 || p.pid === process.pid) return false;
      if (p.host !== host || !isAlive(p)) return false;
      try {
        process.kill(p.pid, 'SIGTERM');
        return true;
      } catch {
        return false;
      }
    },
  };
}

/** The application for one command. */
export function createApp(args: {
  root: ResolvedRoot;
  env: Record<string, string | undefined>;
  cwd: string;
  signal: AbortSignal;
  command: string;
  actionsFor?: ActionsFor;
  hold?: () => string | undefined;
  definitions?: DefinitionsMemo;
}): App {
  return {
    ...(args.hold ? { hold: args.hold } : {}),
    ...(args.definitions ? { definitions: args.definitions } : {}),
    root: args.root,
    env: args.env,
    cwd: args.cwd,
    signal: args.signal,
    command: args.command,
    sessions: createSessionFactory(args.root.dir, args.cwd, args.env, args.actionsFor),
    processes: createProcessControl(),
  };
}
