import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { SpawnProcessRunner } from '../../adapters/spawn-process-runner.js';
import { EnvFileSecretSource } from '../../adapters/env-file-secret-source.js';
import { FetchHttpClient } from '../../adapters/fetch-http-client.js';
import { isRecordedProcessAlive } from '../../adapters/pid.js';
import { listActiveRecords } from '../../adapters/record-files.js';
import { loadConfig, resolveConfig, TOOL_NAMES, type ResolvedConfig, type ToolName } from '../../config/config.js';
import { createCatalogue } from '../../contractors/catalogue.js';
import { formatHelmVersion, HELM_MINIMUM, helmTooOld, parseHelmVersion } from '../../contractors/talos/helm.js';
import { loadCatalogue } from '../../contractors/load-catalogue.js';
import { definitionOf } from '../../contractors/operator/operator-action.js';
import type { Catalogue } from '../../model/catalogue.js';
import { toolCommandLine } from '../../model/remote-shell.js';
import { checkDefinitionFile, duplicateIdIssues, listDefinitionFiles } from '../../definitions/repository.js';
import type { WorkflowDefinition } from '../../definitions/types.js';
import { liveStatus } from '../../engine/live-status.js';
import { CortexError, DefinitionInvalidError, ExitCode, formatIssue, UsageError } from '../../errors.js';
import { layout, type Layout } from '../../layout.js';
import type { ProcessResult } from '../../ports/process-runner.js';
import type { CommandContext } from '../context.js';
import { actionsOf } from '../../app/prepare.js';
import { processCheck } from '../state.js';
import { checkProxmoxApi } from './doctor-proxmox.js';

/**
 * `cortex doctor [--json] [--timeout S]`: checks the environment cortex runs in and says, for
 * each problem, what to do. Exit 0 when nothing is wrong (warnings allowed), 4 otherwise.
 *
 * A tool (or operator-action program) that no workflow in the root uses is only a warning: a
 * root that never touches Proxmox need not install pvesh. Templates do not count as users.
 */

type Status = 'ok' | 'warning' | 'problem';

export interface DoctorCheck {
  check: string;
  name: string;
  status: Status;
  message: string;
  /** What to do about a warning or problem. */
  fix?: string;
  details?: string[];
}

/** How long a stale lock's directory may go without a refresh (ProperLockManager's default). */
const LOCK_STALE_MS = 30_000;
const DEFAULT_TIMEOUT_SECONDS = 5;

const VERSION_ARGS: Record<ToolName, string[]> = {
  pvesh: ['get', '/version', '--output-format', 'json'],
  talosctl: ['version', '--client', '--short'],
  kubectl: ['version', '--client', '-o', 'json'],
  helm: ['version', '--short'],
};

function envName(tool: ToolName): string {
  return `CORTEX_${tool.toUpperCase()}`;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where a command resolves: a path as given (relative to cwd), or the first executable on PATH. */
function locate(command: string, env: Record<string, string | undefined>, cwd: string): { path?: string; exists: boolean } {
  if (command.includes('/')) {
    const p = isAbsolute(command) ? command : resolve(cwd, command);
    let exists = false;
    try {
      exists = statSync(p).isFile();
    } catch {
      exists = false;
    }
    return isExecutableFile(p) ? { path: p, exists } : { exists };
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, command);
    if (isExecutableFile(p)) return { path: p, exists: true };
  }
  return { exists: false };
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).slice(-1)[0]?.trim() ?? '';
}

/** The version a tool printed, in a few words. */
function versionOf(tool: ToolName, stdout: string): string {
  try {
    if (tool === 'kubectl') {
      const v = (JSON.parse(stdout) as { clientVersion?: { gitVersion?: string } }).clientVersion?.gitVersion;
      if (v) return v;
    }
    if (tool === 'pvesh') {
      const v = JSON.parse(stdout) as { version?: string; release?: string };
      if (v.version) return `pve-manager ${v.version}`;
    }
  } catch {
    // fall through to the text forms
  }
  return /v\d+\.\d+\.\d+[\w.+-]*/.exec(stdout)?.[0] ?? stdout.trim().split('\n')[0]?.trim() ?? '';
}

class Doctor {
  readonly checks: DoctorCheck[] = [];
  private readonly l: Layout;

  constructor(
    private readonly ctx: CommandContext,
    private readonly timeoutMs: number,
  ) {
    this.l = layout(ctx.root.dir);
  }

  private add(c: DoctorCheck): void {
    this.checks.push(c);
  }

  async run(): Promise<void> {
    const rootOk = this.checkRoot();
    const config = await this.checkConfig();
    const catalogue = await this.checkContractors(rootOk);
    const definitions = rootOk ? await this.checkWorkflows(catalogue) : [];
    const users = usersOf(definitions, catalogue);
    await this.checkTools(config, users);
    if (config.proxmox.api) {
      const secrets = new EnvFileSecretSource(this.l.secrets, this.ctx.env);
      for (const c of await checkProxmoxApi(config.proxmox.api, { http: new FetchHttpClient(), secrets, timeoutMs: this.timeoutMs })) this.add(c);
    }
    this.checkPrograms(catalogue, users);
    this.checkClusters(config);
    await this.checkSecrets(config);
    if (config.queue) await this.checkQueue(config.queue.url);
    if (rootOk) {
      await this.checkWritable();
      await this.checkLocks();
      this.checkExecutions();
    }
  }

  private checkRoot(): boolean {
    const { dir, source } = this.ctx.root;
    if (isDir(dir)) {
      this.add({ check: 'root', name: 'coordination directory', status: 'ok', message: `${dir} (from ${source === 'flag' ? '--root' : source === 'env' ? '$CORTEX_HOME' : source === 'cwd' ? './coordination' : '~/.cortex'})` });
      return true;
    }
    const missing = existsSync(dir) ? `${dir} is not a directory` : `${dir} does not exist`;
    if (source === 'home') {
      this.add({ check: 'root', name: 'coordination directory', status: 'warning', message: `${missing}; it is created with the built-in workflows on first use`, fix: `cortex init ${dir}` });
    } else {
      this.add({ check: 'root', name: 'coordination directory', status: 'problem', message: missing, fix: `create it: cortex init ${dir}` });
    }
    return false;
  }

  /** Queue mode: Redis answers, keeps its jobs across a restart, evicts nothing; workers are connected. */
  private async checkQueue(url: string): Promise<void> {
    const [{ inspectQueue }, { redactUrl }] = await Promise.all([import('../../adapters/bullmq-queue.js'), import('../../config/config.js')]);
    const where = redactUrl(url);
    let q;
    try {
      q = await inspectQueue(url);
    } catch (e) {
      this.add({ check: 'queue', name: 'queue', status: 'problem', message: `cannot reach Redis at ${where}: ${(e as Error).message}`, fix: 'start redis-server there, or unset CORTEX_QUEUE_URL / queue: to run without a queue' });
      return;
    }
    this.add({ check: 'queue', name: 'queue', status: 'ok', message: `Redis ${q.redisVersion} at ${where}` });
    if (q.appendonly !== undefined && q.appendonly !== 'yes') {
      this.add({ check: 'queue', name: 'queue persistence', status: 'warning', message: `appendonly is ${q.appendonly}: queued jobs are lost when Redis restarts`, fix: 'redis-cli CONFIG SET appendonly yes (and appendonly yes in redis.conf)' });
    }
    if (q.maxmemoryPolicy !== undefined && q.maxmemoryPolicy !== 'noeviction') {
      this.add({ check: 'queue', name: 'queue eviction', status: 'warning', message: `maxmemory-policy is ${q.maxmemoryPolicy}: Redis may evict jobs under memory pressure`, fix: 'redis-cli CONFIG SET maxmemory-policy noeviction (and in redis.conf)' });
    }
    const names = q.workers.map((w) => w.name.replace(/^cortex-worker:/, '')).sort();
    this.add(
      names.length
        ? { check: 'queue', name: 'queue workers', status: 'ok', message: `${names.length} connected`, details: names }
        : { check: 'queue', name: 'queue workers', status: 'warning', message: 'no worker is connected: queued executions wait', fix: 'start one: cortex worker (deploy/ has a systemd unit and Kubernetes manifests)' },
    );
  }

  private async checkConfig(): Promise<ResolvedConfig> {
    try {
      const config = await loadConfig(this.l.config, this.ctx.env, 'config.yaml');
      this.add({ check: 'config', name: 'config.yaml', status: 'ok', message: config.source ? 'valid' : 'absent: defaults apply' });
      return config;
    } catch (e) {
      if (e instanceof UsageError && /queue/i.test(e.message)) {
        this.add({ check: 'config', name: 'queue', status: 'problem', message: e.message, ...(e.hint ? { fix: e.hint } : {}) });
      } else if (e instanceof DefinitionInvalidError) {
        this.add({
          check: 'config',
          name: 'config.yaml',
          status: 'problem',
          message: `${this.l.config} is not valid`,
          details: e.issues.map(formatIssue),
          fix: 'correct the lines named (schemas/config.schema.json describes every field)',
        });
      } else {
        // splitWords refuses a CORTEX_* override with an unterminated quote.
        this.add({
          check: 'config',
          name: 'tool overrides',
          status: 'problem',
          message: `cannot read the configuration: ${(e as Error).message}`,
          fix: `check the quoting of ${TOOL_NAMES.map(envName).join(', ')}`,
        });
      }
    }
    // Go on with what can be used: the environment overrides if they parse, else the plain names.
    try {
      return resolveConfig({}, { ...this.ctx.env, CORTEX_QUEUE_URL: undefined }, null);
    } catch {
      return resolveConfig({}, {}, null);
    }
  }

  private async checkContractors(rootOk: boolean): Promise<Catalogue> {
    if (!rootOk) return createCatalogue();
    try {
      const catalogue = await loadCatalogue(this.ctx.root.dir);
      const operator = catalogue.contractors().flatMap((c) => catalogue.actionsOf(c)).filter((s) => s.operatorDefined);
      if (operator.length) this.add({ check: 'contractors', name: 'contractors/', status: 'ok', message: `${operator.length} operator-defined action(s) valid` });
      return catalogue;
    } catch (e) {
      if (!(e instanceof DefinitionInvalidError)) throw e;
      this.add({
        check: 'contractors',
        name: 'contractors/',
        status: 'problem',
        message: 'operator action files are invalid (every command that loads the catalogue fails)',
        details: e.issues.map(formatIssue),
        fix: 'correct the lines named (schemas/contractor-actions.schema.json describes the format)',
      });
      return createCatalogue();
    }
  }

  private async checkWorkflows(catalogue: Catalogue): Promise<Array<{ def: WorkflowDefinition; isTemplate: boolean }>> {
    const files = await listDefinitionFiles(this.ctx.root.dir);
    const checked = [];
    for (const f of files) checked.push(await checkDefinitionFile(f, catalogue));
    for (const issue of duplicateIdIssues(checked)) checked.find((c) => c.displayPath === issue.file)?.result.errors.push(issue);
    const valid = [];
    for (const c of checked) {
      if (c.result.errors.length === 0 && c.result.definition) {
        valid.push({ def: c.result.definition, isTemplate: c.isTemplate });
        continue;
      }
      const lines = c.result.errors.map(formatIssue);
      this.add({
        check: 'workflows',
        name: c.displayPath,
        status: 'problem',
        message: `invalid workflow definition (${lines.length} error(s))`,
        details: lines.slice(0, 10).concat(lines.length > 10 ? [`... ${lines.length - 10} more`] : []),
        fix: `cortex validate ${c.displayPath} lists every problem`,
      });
    }
    if (files.length === 0) this.add({ check: 'workflows', name: 'workflows/', status: 'warning', message: 'no workflow definitions', fix: `cortex init ${this.ctx.root.dir} adds the built-in ones` });
    else if (valid.length) this.add({ check: 'workflows', name: 'workflows/', status: 'ok', message: `${valid.length} of ${files.length} definition(s) valid` });
    return valid;
  }

  /** A problem when a workflow uses it, else a warning. */
  private needed(users: Set<string> | undefined): { status: Status; note: string } {
    if (users?.size) {
      const list = [...users].sort();
      return { status: 'problem', note: ` (used by ${list.slice(0, 4).join(', ')}${list.length > 4 ? ', ...' : ''})` };
    }
    return { status: 'warning', note: ' (no workflow in this root uses it)' };
  }

  private async checkTools(config: ResolvedConfig, users: Map<string, Set<string>>): Promise<void> {
    const runner = new SpawnProcessRunner({ baseEnv: this.ctx.env as NodeJS.ProcessEnv, killGraceMs: 1000, maxBufferBytes: 1024 * 1024 });
    const results = await Promise.all(TOOL_NAMES.map((t) => this.checkTool(t, config, runner, users.get(t))));
    results.forEach((c) => this.add(c));
    const helm = results.find((c) => c.name === 'helm');
    const helmVersion = helm?.status === 'ok' ? parseHelmVersion(helm.message) : undefined;
    const tooOld = helmVersion ? helmTooOld(helmVersion) : undefined;
    if (tooOld) {
      const { status, note } = this.needed(users.get('helm'));
      this.add({ check: 'tool', name: 'helm', status, message: `${tooOld}${note}`, fix: `install Helm ${formatHelmVersion(HELM_MINIMUM)} or newer (or set tools.helm to one)` });
    }
    const major = /^v(\d+)\./.exec(helm?.status === 'ok' ? helm.message : '')?.[1];
    if (config.helmMajor !== undefined && major !== undefined && Number(major) !== config.helmMajor) {
      this.add({ check: 'tool', name: 'helm', status: 'warning', message: `config.yaml says tools.helm_major: ${config.helmMajor}, but helm is ${helm?.message.split(' ')[0]}`, fix: 'correct tools.helm_major (or remove it: cortex detects the version)' });
    }
  }

  private async checkTool(tool: ToolName, config: ResolvedConfig, runner: SpawnProcessRunner, users: Set<string> | undefined): Promise<DoctorCheck> {
    if (tool === 'pvesh' && config.proxmox.api) return { check: 'tool', name: tool, status: 'ok', message: `not used: Proxmox is reached through its HTTPS API (proxmox.api)` };
    const argv = config.tools[tool];
    const [command, ...prefix] = argv as [string, ...string[]];
    const shown = argv.join(' ');
    const { status, note } = this.needed(users);
    const configure = `install ${tool}, or set its command line: tools.${tool} in config.yaml or ${envName(tool)}`;
    const where = locate(command, this.ctx.env, this.ctx.cwd);
    if (!where.path) {
      return {
        check: 'tool',
        name: tool,
        status,
        message: where.exists ? `${command} is not executable${note}` : `${command} not found${command.includes('/') ? '' : ' on PATH'}${note}`,
        fix: where.exists ? `chmod +x ${command}, or ${configure}` : configure,
      };
    }
    const res: ProcessResult = await runner.run(command, toolCommandLine(prefix, VERSION_ARGS[tool]), { timeoutMs: this.timeoutMs, cwd: this.ctx.cwd });
    const cmdline = `${shown} ${VERSION_ARGS[tool].join(' ')}`;
    const fail = (why: string, fix: string): DoctorCheck => ({ check: 'tool', name: tool, status, message: `\`${cmdline}\` ${why}${note}`, fix });
    if (res.spawnError) return fail(`could not start (${res.spawnError.code})`, configure);
    if (res.timedOut) return fail(`gave no answer within ${this.timeoutMs / 1000}s`, tool === 'pvesh' ? 'check that the Proxmox host is reachable (ssh keys, host keys, network)' : `check that ${command} runs without prompting`);
    if (res.exitCode !== 0) {
      const tail = lastLine(res.stderr) || lastLine(res.stdout);
      return fail(`exited ${res.exitCode ?? res.signal}${tail ? `: ${tail}` : ''}`, tool === 'pvesh' ? 'pvesh must reach the Proxmox API: run cortex on a PVE node or set tools.pvesh to [ssh, root@<node>, pvesh]' : configure);
    }
    return { check: 'tool', name: tool, status: 'ok', message: `${versionOf(tool, res.stdout)} (${[where.path, ...prefix].join(' ')})` };
  }

  /** Programs of operator-defined actions (tools are checked above). */
  private checkPrograms(catalogue: Catalogue, users: Map<string, Set<string>>): void {
    const seen = new Set<string>();
    for (const spec of catalogue.contractors().flatMap((c) => catalogue.actionsOf(c))) {
      const program = spec.operatorDefined ? definitionOf(spec)?.program : undefined;
      if (!program || seen.has(program)) continue;
      seen.add(program);
      const actions = catalogue
        .contractors()
        .flatMap((c) => catalogue.actionsOf(c))
        .filter((s) => s.operatorDefined && definitionOf(s)?.program === program);
      const using = new Set(actions.flatMap((s) => [...(users.get(`${s.contractor}/${s.name}`) ?? [])]));
      const where = locate(program, this.ctx.env, this.ctx.cwd);
      const names = actions.map((s) => `${s.contractor}/${s.name}`).join(', ');
      if (where.path) {
        this.add({ check: 'program', name: program, status: 'ok', message: `${where.path} (for ${names})` });
        continue;
      }
      const { status, note } = this.needed(using);
      this.add({ check: 'program', name: program, status, message: `${program} ${where.exists ? 'is not executable' : 'not found'}, needed by ${names}${note}`, fix: `install ${program} or correct the action in contractors/` });
    }
  }

  private checkClusters(config: ResolvedConfig): void {
    for (const [name, cluster] of Object.entries(config.clusters)) {
      for (const key of ['kubeconfig', 'talosconfig'] as const) {
        const p = cluster[key];
        if (!p) continue;
        const full = resolve(this.ctx.cwd, p);
        let ok = false;
        try {
          ok = statSync(full).isFile();
        } catch {
          ok = false;
        }
        if (!ok) this.add({ check: 'cluster', name: `clusters.${name}.${key}`, status: 'problem', message: `${p} not found`, fix: `write the ${key} there (talosctl kubeconfig / talosctl gen config), or correct clusters.${name}.${key} in config.yaml` });
      }
    }
  }

  private async checkSecrets(config: ResolvedConfig): Promise<void> {
    const source = new EnvFileSecretSource(this.l.secrets, this.ctx.env);
    const wanted: Array<{ secret: string; where: string; optional: boolean }> = [];
    for (const [name, ep] of Object.entries(config.endpoints)) {
      if (ep?.secret) wanted.push({ secret: ep.secret, where: `endpoints.${name}.secret`, optional: false });
      if (ep?.url_secret) wanted.push({ secret: ep.url_secret, where: `endpoints.${name}.url_secret`, optional: false });
    }
    if (config.serve.token_secret) wanted.push({ secret: config.serve.token_secret, where: 'serve.token_secret', optional: true });
    if (config.serve.github_secret) wanted.push({ secret: config.serve.github_secret, where: 'serve.github_secret', optional: true });
    for (const w of wanted) {
      const name = `secret ${w.secret}`;
      let value: string | undefined;
      try {
        value = await source.get(w.secret);
      } catch (e) {
        this.add({ check: 'secret', name, status: 'problem', message: `${(e as Error).message} (${w.where})`, ...(e instanceof CortexError && e.hint ? { fix: e.hint } : {}) });
        continue;
      }
      if (value === undefined) {
        this.add({
          check: 'secret',
          name,
          status: w.optional ? 'warning' : 'problem',
          message: `not set (${w.where}${w.optional ? '; only cortex serve needs it' : ''})`,
          fix: `set ${source.describe(w.secret)} (mode 600)`,
        });
      } else if (value.length < 4) {
        this.add({ check: 'secret', name, status: 'problem', message: `shorter than 4 characters (${w.where}); cortex cannot mask it reliably`, fix: `set the real value in ${source.describe(w.secret)}` });
      } else {
        this.add({ check: 'secret', name, status: 'ok', message: `set (${w.where})` });
      }
    }
  }

  private async checkWritable(): Promise<void> {
    const file = join(this.l.state, `.doctor-${process.pid}-${Date.now()}`);
    const existed = isDir(this.l.state);
    try {
      await mkdir(this.l.state, { recursive: true, mode: 0o700 });
      await writeFile(file, 'cortex doctor\n', { mode: 0o600 });
      await unlink(file);
      // Leave the root as it was: state/ is created by the commands that need it.
      if (!existed) await rmdir(this.l.state).catch(() => undefined);
      this.add({ check: 'writable', name: 'coordination directory', status: 'ok', message: `can create and remove files under ${this.l.state}` });
    } catch (e) {
      await unlink(file).catch(() => undefined);
      this.add({
        check: 'writable',
        name: 'coordination directory',
        status: 'problem',
        message: `cannot write under ${this.l.state}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        fix: `give the user running cortex write access to ${this.ctx.root.dir} (and check the file system is not read-only or full)`,
      });
    }
  }

  private async checkLocks(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(this.l.locks)).filter((n) => n.endsWith('.lock')).sort();
    } catch {
      return;
    }
    const host = hostname();
    for (const entry of names) {
      const name = entry.slice(0, -'.lock'.length);
      const lockDir = join(this.l.locks, entry);
      const ownerFile = join(this.l.locks, `${name}.owner.json`);
      let mtime: number;
      try {
        mtime = (await stat(lockDir)).mtimeMs;
      } catch {
        continue;
      }
      let owner: { pid?: unknown; host?: unknown; execution_id?: unknown; acquired_at?: unknown; start_time?: unknown; boot_id?: unknown } | undefined;
      try {
        owner = JSON.parse(await readFile(ownerFile, 'utf8')) as typeof owner;
      } catch {
        owner = undefined;
      }
      const age = Date.now() - mtime;
      const pid = typeof owner?.pid === 'number' ? owner.pid : undefined;
      const ownerHost = typeof owner?.host === 'string' ? owner.host : undefined;
      const who = pid !== undefined ? `pid ${pid} on ${ownerHost ?? 'an unknown host'}${typeof owner?.execution_id === 'string' ? ` (execution ${owner.execution_id})` : ''}` : 'an unknown owner';
      const stamp = { ...(typeof owner?.start_time === 'number' ? { start_time: owner.start_time } : {}), ...(typeof owner?.boot_id === 'string' ? { boot_id: owner.boot_id } : {}) };
      const deadOwner = pid !== undefined && ownerHost === host && !isRecordedProcessAlive({ pid, ...stamp });
      if (deadOwner || age > LOCK_STALE_MS) {
        this.add({
          check: 'lock',
          name,
          status: 'problem',
          message: `stale lock held by ${who}: ${deadOwner ? 'that process is gone' : `not refreshed for ${Math.round(age / 1000)}s`}`,
          fix: `the next cortex command that needs it takes it over; to clear it now: rm -r ${lockDir} ${ownerFile}`,
        });
      } else {
        this.add({ check: 'lock', name, status: 'ok', message: `held by ${who}` });
      }
    }
  }

  private checkExecutions(): void {
    const alive = processCheck();
    const now = Date.now();
    const records = listActiveRecords(this.l.root, (file, e) =>
      this.add({ check: 'execution', name: file, status: 'problem', message: `unreadable execution record: ${e.message}`, fix: `restore or move ${file} (cortex writes it atomically; it was probably edited by hand)` }),
    );
    for (const rec of records) {
      const id = rec.execution_id;
      if (liveStatus(rec, { isProcessAlive: alive }) === 'interrupted') {
        this.add({
          check: 'execution',
          name: id,
          status: 'problem',
          message: `interrupted: ${rec.workflow_id} was ${rec.status} and its process (pid ${rec.process?.pid} on ${rec.process?.host}) is gone`,
          fix: `cortex resume ${id} or cortex rollback ${id}`,
        });
        continue;
      }
      if (rec.status !== 'awaiting_approval') continue;
      for (const p of rec.phases) {
        const exp = p.approval?.expires_at;
        if (p.status !== 'awaiting_approval' || p.approval?.decision || !exp || Date.parse(exp) > now) continue;
        this.add({
          check: 'approval',
          name: id,
          status: 'problem',
          message: `phase ${p.phase_id} has waited for approval past its approval_timeout (expired at ${exp})`,
          fix: `cortex reject ${id} (or cortex resume ${id}): the expired approval counts as a rejection and what completed is rolled back`,
        });
      }
    }
    if (records.length) this.add({ check: 'execution', name: 'workflows/active/', status: 'ok', message: `${records.length} active execution(s) read` });
  }
}

/** Which non-template workflows use each tool (`kubectl`) and each operator action (`<contractor>/<action>`). */
function usersOf(definitions: Array<{ def: WorkflowDefinition; isTemplate: boolean }>, catalogue: Catalogue): Map<string, Set<string>> {
  const users = new Map<string, Set<string>>();
  const add = (key: string, id: string) => users.set(key, (users.get(key) ?? new Set()).add(id));
  for (const { def, isTemplate } of definitions) {
    if (isTemplate) continue;
    for (const a of actionsOf(def, catalogue)) {
      for (const u of a.spec?.uses ?? []) add(u, def.workflow_id);
      if (a.spec?.operatorDefined) add(`${a.spec.contractor}/${a.spec.name}`, def.workflow_id);
    }
  }
  return users;
}

function print(ctx: CommandContext, checks: DoctorCheck[]): void {
  const s = ctx.out.style;
  const label: Record<Status, string> = { ok: s.green('ok     '), warning: s.yellow('warning'), problem: s.red('PROBLEM') };
  ctx.out.line(`${s.bold('cortex doctor')} ${ctx.root.dir}`);
  for (const c of checks) {
    ctx.out.line(`${label[c.status]}  ${c.check.padEnd(11)} ${c.name}: ${c.message}`);
    for (const d of c.details ?? []) ctx.out.line(`           ${' '.repeat(11)} ${s.dim(d)}`);
    if (c.fix && c.status !== 'ok') ctx.out.line(`           ${' '.repeat(11)} what to do: ${c.fix}`);
  }
  const problems = checks.filter((c) => c.status === 'problem').length;
  const warnings = checks.filter((c) => c.status === 'warning').length;
  ctx.out.line('');
  if (problems) ctx.out.line(s.red(`${problems} problem(s), ${warnings} warning(s)`));
  else ctx.out.line(s.green(`no problems${warnings ? `, ${warnings} warning(s)` : ''}`));
}

export async function doctor(ctx: CommandContext, _args: unknown[], opts: { timeout?: string }): Promise<number> {
  const seconds = opts.timeout === undefined ? DEFAULT_TIMEOUT_SECONDS : Number(opts.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 300) {
    throw new UsageError(`--timeout ${opts.timeout}: expected seconds between 0 and 300`);
  }
  const d = new Doctor(ctx, Math.round(seconds * 1000));
  await d.run();
  const problems = d.checks.filter((c) => c.status === 'problem').length;
  if (ctx.out.json) {
    ctx.out.data({
      root: ctx.root.dir,
      ok: problems === 0,
      problems,
      warnings: d.checks.filter((c) => c.status === 'warning').length,
      checks: d.checks,
    });
  } else print(ctx, d.checks);
  return problems ? ExitCode.ENVIRONMENT : ExitCode.OK;
}
