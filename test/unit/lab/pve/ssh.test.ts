/**
 * pvesh through ssh (`tools.pvesh: [ssh, root@pve01, pvesh]`): the lab's ssh re-parses the joined
 * command line as the node's shell does, and cortex's quoting gets every argument through intact.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Pvesh } from '../../../../src/contractors/infrastructure/pvesh.js';
import { probeScript } from '../../../../src/contractors/infrastructure/verify-load-balancer-health.js';
import { readState, writeLabConfig } from '../../../../src/lab/lab-dir.js';
import { pveModule } from '../../../../src/lab/pve/module.js';
import { parseShell, parseSshArgs, runSsh } from '../../../../src/lab/pve/ssh.js';
import type { PveState } from '../../../../src/lab/pve/state.js';
import { labPvesh } from '../../../../src/lab/start-lab.js';
import { shellQuote } from '../../../../src/model/remote-shell.js';
import { fakeDeps } from '../../../fakes/fakes.js';
import { makeRuntime } from '../../contractors/runtime-helper.js';

let lab: string;
beforeEach(() => {
  lab = mkdtempSync(join(tmpdir(), 'cortex-pve-ssh-'));
  pveModule.seed(lab);
  writeLabConfig(lab, { latency: 0.1, faults: [] });
});
afterEach(() => rmSync(lab, { recursive: true, force: true }));

/** The words of each command `sh` sees in `line` (printf in place of every command; no command runs). */
function shWords(line: string): string[][] {
  const out = execFileSync('sh', ['-c', `w() { printf '%s\\0' "$@"; printf '\\n'; }; ${line.replace(/(^|;|&&|\|\|)\s*pvesh\b/g, '$1 w pvesh')}`], { encoding: 'utf8', env: {} });
  return out.split('\n').slice(0, -1).map((l) => l.split('\0').slice(0, -1));
}

describe('the lab ssh parses the remote command line as the node shell does', () => {
  it.each([
    "pvesh set /x --tags 'cortex;monitoring;production' --description 'Monitoring node (Prometheus)'",
    "pvesh set /x --nameserver '10.10.0.53 10.10.0.54' --x 'it'\\''s' --y \"a \\\"b\\\" \\$c\" --z a\\ b",
    'pvesh get /x --a $UNSET_VAR --b "${UNSET_VAR}x" --c \'$HOME\' # a comment',
    'pvesh get /x --tags cortex;pvesh get /y',
    'pvesh get /x;\npvesh get /y ; pvesh get /z',
  ])('%s', (line) => {
    expect(parseShell(line).map((c) => c.words)).toEqual(shWords(line));
  });

  it('words cortex quotes come back unchanged', () => {
    const words = ['set', '/x', '--tags', 'cortex;monitoring;production', '--description', 'Monitoring (Prometheus) & more', '--nameserver', '1.1.1.1 9.9.9.9', '--input-data', probeScript(['http://10.0.0.1:80/h'], 5)];
    expect(parseShell(['pvesh', ...words.map(shellQuote)].join(' '))).toEqual([{ words: ['pvesh', ...words], then: ';' }]);
  });

  it('takes ssh options and the destination off the command', () => {
    expect(parseSshArgs(['-o', 'BatchMode=yes', '-p2222', '-tt', 'root@pve01', 'pvesh', 'get', '/x'])).toEqual({ destination: 'root@pve01', command: 'pvesh get /x' });
    expect(parseSshArgs(['-Z', 'host'])).toEqual({ error: 'unknown option -- Z' });
  });

  it('an unquoted ; runs what follows as commands; parentheses are a syntax error', async () => {
    const env = { CORTEX_LAB_DIR: lab };
    const split = await runSsh(['root@pve01', 'pvesh', 'set', '/nodes/pve-02/qemu/112/config', '--tags', 'cortex;monitoring;production', '--output-format', 'json'], env);
    // pvesh ran with --tags cortex and without --output-format json (it went to `production`)
    expect(split).toEqual({ stdout: '', stderr: 'bash: line 1: monitoring: command not found\nbash: line 1: production: command not found\n', exitCode: 127 });
    expect(readState<PveState>(lab, 'pve', () => ({}) as PveState).vms.find((v) => v.vmid === 112)?.config.tags).toBe('cortex');
    const paren = await runSsh(['root@pve01', 'pvesh', 'set', '/nodes/pve-02/qemu/112/config', '--description', 'node (monitoring)'], env);
    expect(paren).toEqual({ stdout: '', stderr: "bash: -c: line 1: syntax error near unexpected token `('\n", exitCode: 2 });
    expect((await runSsh(['root@pve01', 'pvesh get /x > /tmp/out'], env)).stderr).toBe('lab ssh: a redirection is not simulated in the lab\n');
  });

  it('the rehearsal keeps the configured ssh command line, with the lab ssh in front', () => {
    expect(labPvesh(['/usr/bin/ssh', '-o', 'BatchMode=yes', 'root@pve01', 'pvesh'])).toEqual(['ssh', '-o', 'BatchMode=yes', 'root@pve01', 'pvesh']);
    expect(labPvesh(['pvesh'])).toEqual(['pvesh']);
  });
});

describe('pvesh calls of the infrastructure contractor through ssh', () => {
  it('tags with semicolons, descriptions with parentheses, space-separated nameservers and the guest-agent script arrive intact', async () => {
    const deps = fakeDeps();
    deps.runner.on('ssh', [], async (args, opts) => runSsh(args, { CORTEX_LAB_DIR: lab, ...(opts?.env ?? {}) }));
    const { rt, dispose } = makeRuntime({}, { deps, config: { tools: { pvesh: ['ssh', '-o', 'BatchMode=yes', 'root@pve01', 'pvesh'] }, proxmox: { task_poll_seconds: 0.05 } } });
    try {
      const pv = new Pvesh(rt);
      const description = 'Monitoring node (Prometheus) for deploy-monitoring-stack; owner: ops & sre';
      await pv.call('set', '/nodes/pve-02/qemu/112/config', [
        ['tags', 'cortex;monitoring;production'],
        ['description', description],
        ['nameserver', '10.10.0.53 10.10.0.54'],
      ]);
      const cfg = readState<PveState>(lab, 'pve', () => ({}) as PveState).vms.find((v) => v.vmid === 112)?.config;
      expect(cfg).toMatchObject({ tags: 'cortex;monitoring;production', description, nameserver: '10.10.0.53 10.10.0.54' });
      const script = probeScript(['http://10.10.1.21:8080/health'], 5);
      const r = (await pv.call('create', '/nodes/pve-02/qemu/112/agent/exec', [['command', ['sh']], ['input-data', script]])) as { pid: number };
      const done = (await pv.get('/nodes/pve-02/qemu/112/agent/exec-status', [['pid', r.pid]])) as Record<string, unknown>;
      expect(done).toMatchObject({ exited: 1, exitcode: 0, 'out-data': 'http://10.10.1.21:8080/health 200\n' });
      // what ran: ssh with each appended argument quoted for the remote shell
      expect(deps.runner.calls[0]?.args).toEqual(['-o', 'BatchMode=yes', 'root@pve01', 'pvesh', 'set', '/nodes/pve-02/qemu/112/config', '--tags', "'cortex;monitoring;production'", '--description', `'${description}'`, '--nameserver', "'10.10.0.53 10.10.0.54'", '--output-format', 'json']);
    } finally {
      dispose();
    }
  });
});
