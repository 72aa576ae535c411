import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { appendLine, mkdirPrivate, waitForDiskOffThread } from '../../adapters/atomic-file.js';
import { EnvFileSecretSource } from '../../adapters/env-file-secret-source.js';
import { DefinitionInvalidError, EnvironmentError, ExitCode, UsageError, formatIssue, type Issue } from '../../errors.js';
import { layout } from '../../layout.js';
import { DefinitionsMemo } from '../../definitions/memo.js';
import { ensureRoot } from '../../root.js';
import { DedupStore } from '../../triggers/dedup.js';
import { dispatchEvent } from '../../triggers/dispatch.js';
import type { TriggerEntry } from '../../triggers/load.js';
import { createTriggerServer, DEFAULT_MAX_BODY_BYTES, parseListen, routesOf, type ServeConfig } from '../../triggers/server.js';
import { definitionsSignature, loadRootTriggers, PROBLEMS_HINT, problemLines } from '../../triggers/setup.js';
import { authWarnings, type AuthWarning } from '../../triggers/serve-auth.js';
import type { CommandContext } from '../context.js';
import { loadDefinitions, loadRootConfig } from '../../app/prepare.js';
import { appFor, launcherFor, triggerStarterFor } from '../app.js';
import { DEFAULT_MAX_QUEUED, DEFAULT_MAX_RUNNING, DEFAULT_STOP_GRACE_SECONDS, InProcessRuns, pendingRunsToPickUp } from '../../app/serve-runs.js';
import { runsLogPath } from '../../triggers/start.js';

export interface ServeOptions {
  listen?: string;
  simulate?: boolean;
  lab?: string;
}

/** `cortex serve [--listen 127.0.0.1:8080]`: receives Alertmanager, GitHub, Falco and generic webhooks. */
export async function serve(command: CommandContext, _args: unknown[], opts: ServeOptions): Promise<number> {
  // Every request and run starts by loading definitions: files unchanged since are not read again.
  const ctx: CommandContext = { ...command, definitions: new DefinitionsMemo(command.root.dir) };
  await ensureRoot(ctx.root);
  // serve drives many runs and answers HTTP in one process: no fsync may block the event loop.
  waitForDiskOffThread();
  const root = ctx.root.dir;
  let config = await loadRootConfig(ctx);
  let listen: { host: string; port: number };
  try {
    listen = parseListen(opts.listen ?? config.serve.listen ?? '127.0.0.1:8080');
  } catch (e) {
    throw new UsageError(`--listen: ${(e as Error).message}`, { hint: 'e.g. --listen 127.0.0.1:8080 (0.0.0.0:8080 for every interface)' });
  }
  const serveLog = join(layout(root).state, 'serve.log');

  // Definitions are reloaded when a file under workflows/, triggers/ or the config changes.
  let signature = '';
  let entries: TriggerEntry[] = [];
  let serveConfig: ServeConfig = {};
  let problems: string[] = [];
  let unauthenticated: AuthWarning[] = [];
  const secrets = new EnvFileSecretSource(layout(root).secrets, ctx.env);
  const warn = (w: AuthWarning) => {
    if (ctx.out.json) ctx.out.err(JSON.stringify({ warning: { code: 'CORTEX_SERVE_UNAUTHENTICATED', message: `POST ${w.path}: ${w.reason}`, path: w.path, triggers: w.triggers, reason: w.reason, fix: w.fix } }));
    else ctx.out.err(`${ctx.out.style.yellow('warning:')} POST ${w.path}: ${w.reason}\n  fix: ${w.fix}`);
  };
  const reload = async (first: boolean): Promise<TriggerEntry[]> => {
    const sig = definitionsSignature(root);
    if (sig === signature) return entries;
    let loaded: { entries: TriggerEntry[]; problems: Issue[] };
    try {
      loaded = await loadRootTriggers(root);
    } catch (e) {
      // An invalid operator actions file (contractors/): no definition can be checked, so no run
      // starts until it is repaired. The triggers loaded before go on being served and the problem
      // is said on every request (as for an invalid trigger file), not only on the first one.
      if (first || !(e instanceof DefinitionInvalidError)) throw e;
      loaded = { entries, problems: e.issues };
    }
    signature = sig;
    // At start an invalid file stops serve: its triggers would be silently absent. Later (an edit
    // while serving) the valid triggers go on being served, and the problem is said everywhere.
    if (first && loaded.problems.length) {
      throw new DefinitionInvalidError(loaded.problems, { summary: 'cortex serve does not start: these files are invalid and their triggers would be ignored:', hint: 'cortex validate' });
    }
    if (!first) config = await loadRootConfig(ctx).catch(() => config);
    serveConfig = { tokenSecret: config.serve.token_secret, githubSecret: config.serve.github_secret, maxBodyBytes: config.serve.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES };
    entries = loaded.entries;
    problems = loaded.problems.map(formatIssue);
    const stamp = new Date().toISOString();
    for (const l of problemLines(loaded.problems)) {
      ctx.out.err(`${stamp} ${l}`);
      void appendLine(serveLog, `${stamp} ${l}`, { root }).catch(() => undefined);
    }
    if (problems.length) ctx.out.err(`${stamp} hint: ${PROBLEMS_HINT}`);
    if (!first) ctx.out.err(`${stamp} definitions changed: ${entries.filter((e) => e.route).length} event trigger(s) loaded`);
    unauthenticated = await authWarnings(entries, serveConfig, secrets);
    for (const w of unauthenticated) {
      warn(w);
      void appendLine(serveLog, `${stamp} warning: POST ${w.path}: ${w.reason}`, { root }).catch(() => undefined);
    }
    return entries;
  };
  await reload(true);

  const [{ ProperLockManager }, { FsTriggerStateStore }] = await Promise.all([import('../../adapters/proper-lock-manager.js'), import('../../adapters/fs-trigger-state-store.js')]);
  const dedup = new DedupStore(new FsTriggerStateStore(root), new ProperLockManager(root));
  // Runs are driven in this process (a bounded number at once, the rest waiting with their
  // records pending), or by queue workers in queue mode. The drives have their own signal: a
  // SIGTERM first stops accepting and gives them serve.stop_grace_seconds to end.
  const drives = new AbortController();
  // Set once the application is up (below): a run driven here has ended.
  let runEnded: (executionId: string, workflowId: string | undefined, definitionHash: string | undefined) => void = () => undefined;
  const launcher = await launcherFor(ctx);
  const runsLog = runsLogPath(root);
  const runs = launcher.queued
    ? undefined
    : new InProcessRuns((signal) => appFor({ ...ctx, signal }), drives.signal, {
        maxRunning: config.serve.max_running ?? DEFAULT_MAX_RUNNING,
        maxQueued: config.serve.max_queued ?? DEFAULT_MAX_QUEUED,
        log: (line) => void appendLine(runsLog, `${new Date().toISOString()} serve: ${line}`, { root }).catch(() => undefined),
        ended: (id, workflowId, hash) => runEnded(id, workflowId, hash),
      });
  const starter = await triggerStarterFor(ctx, opts, {}, runs ?? launcher);

  const server = createTriggerServer({
    entries: () => reload(false),
    get config() {
      return serveConfig;
    },
    secret: (name) => secrets.get(name),
    problems: async () => {
      await reload(false);
      return problems;
    },
    dispatch: (list, ev) => (runs ? runs.whileAnswering(() => dispatchEvent(list, ev, { env: ctx.env, starter, dedup })) : dispatchEvent(list, ev, { env: ctx.env, starter, dedup })),
    log: (line) => {
      void appendLine(serveLog, line, { root }).catch(() => undefined);
      if (ctx.out.verbose) ctx.out.err(line);
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL' ? new EnvironmentError(`cannot listen on ${listen.host}:${listen.port}: ${e.code}`, { hint: 'choose another address with --listen HOST:PORT' }) : e),
    );
    server.listen(listen.port, listen.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  const routes = [...routesOf(entries).values()].map((r) => ({ path: `/webhook/${r.name}`, source: r.source, triggers: r.entries.map((e) => e.key) }));
  if (ctx.out.json) ctx.out.line(JSON.stringify({ listening: url, routes, warnings: unauthenticated }));
  else {
    ctx.out.line(`cortex serve listening on ${url} (root ${root}); log ${serveLog}`);
    for (const r of routes) ctx.out.line(`  POST ${url}${r.path}  ${r.source}: ${r.triggers.length ? r.triggers.join(', ') : '(no triggers yet)'}`);
    ctx.out.line(`  GET  ${url}/healthz`);
  }

  // serve is long-lived: it also enforces approval timeouts (as tick does) every 30 s.
  const { expireDueApprovals, startQueuedRuns } = await import('../../app/continue.js');
  const app = appFor(ctx);
  // What the first requests would otherwise each wait for: the definitions of the workflows that
  // events start (loaded, validated, kept while unchanged) and the folders runs are written to.
  for (const id of new Set(entries.filter((e) => e.route).map((e) => e.workflowId))) await loadDefinitions(app, id).catch(() => undefined);
  for (const dir of [layout(root).active, layout(root).locks, layout(root).journals]) await mkdirPrivate(dir, { root }).catch(() => undefined);
  const launch = (id: string) => (runs ?? launcher).launch(id);
  const startQueued = async (why: string) => {
    for (const id of await startQueuedRuns(app, launch)) {
      void appendLine(serveLog, `${new Date().toISOString()} queued run ${id} started (${why})`, { root }).catch(() => undefined);
    }
  };
  // A run serve drove has ended: a run of its workflow waiting behind it (on_conflict: queue)
  // starts now, not at the next 30 s pass. Passes do not overlap: ends during one ask for one more.
  let queuedPass: Promise<void> | undefined;
  let passAgain: string | undefined;
  const passNow = (why: string) => {
    if (queuedPass) {
      passAgain = why;
      return;
    }
    queuedPass = (async () => {
      try {
        for (let next: string | undefined = why; next !== undefined && !ctx.signal.aborted; ) {
          passAgain = undefined;
          await startQueued(next).catch((e: unknown) => ctx.out.err(`queued runs: ${(e as Error).message}`));
          next = passAgain;
        }
      } finally {
        // In the same turn as the last look at passAgain: an end after it starts a new pass.
        queuedPass = undefined;
      }
    })();
  };
  runEnded = (id, workflowId, definitionHash) => {
    if (ctx.signal.aborted || workflowId === undefined) return;
    // Only a workflow that queues its runs can have one waiting: no pass (it reads every active
    // record) for the others. A definition edited since the run started (on_conflict changed while
    // runs wait) or that cannot be read now cannot tell: a pass.
    void loadDefinitions(app, workflowId).then(
      (d) => {
        if (d.loaded.definition.on_conflict === 'queue' || d.loaded.hash !== definitionHash) passNow(`${id} ended`);
      },
      () => passNow(`${id} ended`),
    );
  };
  if (runs) {
    // Runs created for events that nothing drove yet (a previous serve stopped or crashed with them waiting).
    const left = pendingRunsToPickUp(await app.sessions.base().store.listActive().catch(() => []));
    for (const id of left) void runs.launch(id);
    if (left.length) {
      const line = `${new Date().toISOString()} ${left.length} pending run(s) created earlier are driven now: ${left.join(', ')}`;
      ctx.out.err(line);
      void appendLine(serveLog, line, { root }).catch(() => undefined);
    }
  }
  const expire = async () => {
    try {
      for (const id of await expireDueApprovals(app, (id) => (runs ?? launcher).launch(id, { continues: true }))) {
        void appendLine(serveLog, `${new Date().toISOString()} approval of ${id} expired: ${runs ? 'cortex resume started' : 'queued for a worker'} to reject and roll back`, { root }).catch(() => undefined);
      }
      // and starts queued runs (on_conflict: queue) whose workflow has room (ended elsewhere).
      await startQueued('30 s pass');
    } catch (e) {
      ctx.out.err(`approval expiry / queued runs: ${(e as Error).message}`);
    }
  };
  void expire();
  const expiry = setInterval(() => void expire(), 30_000);
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(expiry);
  // No run starts from now on (those the requests being answered create, or a queued pass
  // launches, wait with the others and stay pending); the ones going get the grace below.
  runs?.stopStarting();
  // Stop accepting, let in-flight requests finish.
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), 15_000);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
  if (runs) {
    // Runs waiting for a slot stay pending (the next serve start drives them); the ones being
    // driven get serve.stop_grace_seconds to end, then pause where they are (cortex resume ID).
    const waiting = runs.stop();
    const graceMs = (config.serve.stop_grace_seconds ?? DEFAULT_STOP_GRACE_SECONDS) * 1000;
    const grace = setTimeout(() => drives.abort(new Error(`cortex serve stopped (${String((ctx.signal.reason as Error | undefined)?.message ?? 'signal')})`)), graceMs);
    const driving = runs.drivingNow();
    if (driving.length) ctx.out.err(`waiting up to ${graceMs / 1000} s for ${driving.length} run(s) to end: ${driving.join(', ')}`);
    await runs.settled();
    clearTimeout(grace);
    const lines = [
      ...(waiting.length ? [`${waiting.length} run(s) not started stay pending; the next cortex serve drives them (or cortex resume ID): ${waiting.join(', ')}`] : []),
      ...(drives.signal.aborted && driving.length ? [`run(s) still going after ${graceMs / 1000} s were stopped where they were; cortex status shows them, cortex resume ID continues each: ${driving.join(', ')}`] : []),
    ];
    for (const l of lines) {
      ctx.out.err(l);
      await appendLine(serveLog, `${new Date().toISOString()} ${l}`, { root }).catch(() => undefined);
    }
  }
  if (!ctx.out.json) ctx.out.line(`cortex serve stopped (${String((ctx.signal.reason as Error | undefined)?.message ?? 'signal')})`);
  return ExitCode.OK;
}
