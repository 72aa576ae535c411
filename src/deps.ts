import { randomBytes } from 'node:crypto';
import { mkdirPrivate } from './adapters/atomic-file.js';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { EnvFileSecretSource } from './adapters/env-file-secret-source.js';
import { SpawnProcessRunner } from './adapters/spawn-process-runner.js';
import { FetchHttpClient } from './adapters/fetch-http-client.js';
import { FsActionFileStore } from './adapters/fs-action-files.js';
import { FsStateStore } from './adapters/fs-state-store.js';
import { isRecordedProcessAlive, processStamp } from './adapters/pid.js';
import { ProperLockManager } from './adapters/proper-lock-manager.js';
import { SystemClock } from './adapters/system-clock.js';
import type { EngineDeps } from './engine/deps.js';
import type { EngineEvent } from './engine/events.js';
import type { SecretSource } from './ports/secret-source.js';
import { Masker } from './model/masker.js';
import { layout } from './layout.js';

export function currentUser(env: Record<string, string | undefined>): string {
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? env.LOGNAME ?? 'unknown';
  }
}

function ownStamp(): { startTime?: number; bootId?: string } {
  const s = processStamp(process.pid);
  return { ...(s.start_time !== undefined ? { startTime: s.start_time } : {}), ...(s.boot_id !== undefined ? { bootId: s.boot_id } : {}) };
}

/** Composition root: wires the real adapters into the engine's ports for one coordination directory. */
export function createRealDeps(args: {
  root: string;
  env: Record<string, string | undefined>;
  emit?: (e: EngineEvent) => void;
  /** Environment the tools run with (the lab puts its stand-ins first on PATH). */
  toolEnv?: NodeJS.ProcessEnv;
  /** Where secrets come from (the lab has its own). */
  secrets?: SecretSource;
}): EngineDeps {
  const clock = new SystemClock();
  const masker = new Masker();
  const locks = new ProperLockManager(args.root, { clock });
  const host = hostname();
  return {
    runner: new SpawnProcessRunner({ baseEnv: args.toolEnv ?? (args.env as NodeJS.ProcessEnv) }),
    http: new FetchHttpClient(),
    store: new FsStateStore(args.root, masker, locks, clock),
    locks,
    clock,
    secrets: args.secrets ?? new EnvFileSecretSource(layout(args.root).secrets, args.env),
    masker,
    emit: args.emit ?? (() => undefined),
    scratchDir: async (executionId) => {
      // Under the root (nothing outside it is touched); removed when the execution ends.
      const dir = join(layout(args.root).state, 'scratch', executionId);
      await mkdirPrivate(dir, { root: args.root });
      return dir;
    },
    files: new FsActionFileStore(args.root),
    randomHex4: () => randomBytes(2).toString('hex'),
    identity: { pid: process.pid, host, user: currentUser(args.env), ...ownStamp() },
    isProcessAlive: (p) => (p.host === host ? isRecordedProcessAlive(p) : true),
  };
}
