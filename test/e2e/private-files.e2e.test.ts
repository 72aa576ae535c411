/**
 * Every file cortex creates under the coordination root is owner-only (issue 12, case 4): files
 * 0600 (the lab's stand-in executables 0700), folders 0700. Files the test wrote itself (the
 * definitions, config.yaml) are not judged; neither is what kubectl writes inside the lab's
 * kube-cache/ (a folder cortex creates 0700, so nothing in it is reachable by others).
 */
import { execa } from 'execa';
import { existsSync, lstatSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, PROJECT, cleanEnv, cortex, removeRoot } from './helpers.js';
import { waitFor } from '../helpers/wait.js';
import { INCIDENT_PARAMS, labRoot } from './lab-helpers.js';

const roots: string[] = [];
afterAll(() => roots.forEach(removeRoot));

/** Every path under dir (folders included), relative, without following symlinks. */
function walk(dir: string): string[] {
  const out: string[] = [];
  const visit = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      out.push(relative(dir, p));
      if (lstatSync(p).isDirectory()) visit(p);
    }
  };
  visit(dir);
  return out;
}

/** The paths under root (not in `except`) whose mode lets group or others in, with their modes. */
function notPrivate(root: string, except: Set<string> = new Set()): string[] {
  return walk(root)
    .filter((p) => !except.has(p) && !p.startsWith('lab/kube-cache/'))
    .map((p) => {
      const s = lstatSync(join(root, p));
      return { p, mode: s.mode & 0o777, isDir: s.isDirectory() };
    })
    .filter(({ mode, isDir }) => (mode & 0o077) !== 0 || (isDir ? mode !== 0o700 : (mode & 0o600) !== 0o600))
    .map(({ p, mode }) => `${p} ${mode.toString(8)}`);
}

const HOOK = `workflow_id: hook
workflow_name: hook
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: say, action: execute_command, parameters: { command: [echo, hello] }, timeout: 10 }
triggers:
  - { type: webhook, id: hook, path: hook, auth: { type: none } }
  - { type: schedule, id: nightly, cron: "0 3 * * *" }
`;

describe('private files', () => {
  it('a lab run with --debug, a triggered run, tick and serve create only owner-only files and folders under the root', async () => {
    const { root } = labRoot();
    roots.push(root);
    writeFileSync(join(root, 'workflows', 'hook.yaml'), HOOK);
    const written = new Set(walk(root));

    const run = await cortex(['run', 'security-incident-response', '--simulate', '--debug', ...INCIDENT_PARAMS], { root, timeoutMs: 180_000 });
    expect(run.exitCode, run.stderr).toBe(0);
    const trig = await cortex(['trigger', '--source', 'generic', '--path', 'hook', '--delivery', 'd-1', '--event', '-'], { root, input: '{}' });
    expect(trig.exitCode, trig.stderr).toBe(0);
    const history = join(root, 'workflows', 'history');
    await waitFor(() => existsSync(history) && readdirSync(history).some((n) => n.startsWith('workflow-hook-')), { what: 'the triggered run to end', timeoutMs: 60_000 });
    const tick = await cortex(['tick'], { root });
    expect(tick.exitCode, tick.stderr).toBe(0);

    const serve = execa('node', [CLI, '--root', root, 'serve', '--listen', '127.0.0.1:0'], { env: cleanEnv(), extendEnv: false, reject: false, cwd: PROJECT });
    const url = await new Promise<string>((resolve, reject) => {
      let text = '';
      serve.stdout?.on('data', (d: Buffer) => {
        text += d.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(text);
        if (m) resolve(m[1] as string);
      });
      void serve.then((r) => reject(new Error(`serve ended before listening: ${r.stderr}`)));
    });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    serve.kill('SIGTERM');
    expect((await serve).exitCode).toBe(0);

    for (const f of ['state/runs.log', 'state/serve.log', 'state/dedup.json', 'state/tick.json', 'audit/audit.jsonl', 'lab/state', 'lab/files', 'lab/bin/pvesh']) {
      expect(existsSync(join(root, f)), f).toBe(true);
    }
    expect(walk(root).some((p) => /^masters\/[a-z]+\/logs\/debug\.log$/.test(p))).toBe(true);
    expect(walk(root).some((p) => /^masters\/[a-z]+\/handoffs\/.+\.json$/.test(p))).toBe(true);
    expect(notPrivate(root, written)).toEqual([]);
  }, 300_000);

  it('cortex init creates an owner-only root: the folder, its definitions and config', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'cortex-init-'));
    roots.push(parent);
    const dir = join(parent, 'coordination');
    const res = await cortex(['init', dir]);
    expect(res.exitCode, res.stderr).toBe(0);
    expect(lstatSync(dir).mode & 0o777).toBe(0o700);
    expect(notPrivate(dir)).toEqual([]);
  });
});
