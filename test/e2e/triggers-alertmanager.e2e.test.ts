/**
 * A real Prometheus Alertmanager (Debian's prometheus-alertmanager, installed by .ci/run) sends
 * its webhook to a real `cortex serve`; amtool fires and then resolves an alert. The matching
 * workflow must start exactly once, and the resolved notification must start nothing.
 */
import { execa, execaSync, type ResultPromise } from 'execa';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, PROJECT, cleanEnv, readJson, removeRoot, tempRoot } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'am-bearer-token-7f3a';
const roots: string[] = [];
const children: ResultPromise[] = [];
afterAll(async () => {
  for (const c of children) c.kill('SIGTERM');
  await Promise.allSettled(children);
  roots.forEach(removeRoot);
});

function have(cmd: string): boolean {
  return execaSync('sh', ['-c', `command -v ${cmd}`], { reject: false }).exitCode === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const WORKFLOW = `workflow_id: memory-pressure
workflow_name: Memory pressure
version: 1.0.0
concurrency: 5
parameters:
  instance: { type: string, required: true }
  cluster: { type: string, required: true }
  summary: { type: string, default: "" }
phases:
  - phase_id: relieve
    contractor: infrastructure-contractor
    actions:
      - { action_id: note, action: execute_command, parameters: { command: [echo, "\${parameters.instance} \${parameters.cluster}"] }, timeout: 10 }
triggers:
  - type: prometheus_alert
    id: high-memory
    alert_name: HighMemoryUsage
    matchers: { severity: critical }
    parameters:
      instance: \${event.labels.instance}
      cluster: \${event.labels.cluster}
      summary: \${event.annotations.summary}
`;

describe('Alertmanager -> cortex serve (real clients)', () => {
  it('a fired alert starts the workflow exactly once; its resolution starts nothing', async () => {
    // CI installs these (.ci/run); this test is never skipped.
    expect(have('prometheus-alertmanager') && have('amtool'), 'prometheus-alertmanager and amtool must be installed (apt-get install prometheus-alertmanager)').toBe(true);

    const root = tempRoot({ 'workflows/memory-pressure.yaml': WORKFLOW, 'config.yaml': 'serve:\n  token_secret: AM_TOKEN\n' });
    roots.push(root);
    mkdirSync(join(root, 'secrets'));
    writeFileSync(join(root, 'secrets', 'AM_TOKEN'), TOKEN);
    chmodSync(join(root, 'secrets', 'AM_TOKEN'), 0o600);

    const serve = execa('node', [CLI, '--root', root, 'serve', '--listen', '127.0.0.1:0'], { env: cleanEnv(), extendEnv: false, reject: false, cwd: PROJECT });
    children.push(serve);
    let serveOut = '';
    serve.stdout?.on('data', (d: Buffer) => (serveOut += d.toString()));
    const serveUrl = await waitFor(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(serveOut)?.[1], { what: 'cortex serve to listen', timeoutMs: 15_000, detail: () => serveOut });

    const amPort = await freePort();
    const amDir = join(root, 'alertmanager');
    mkdirSync(join(amDir, 'data'), { recursive: true });
    writeFileSync(
      join(amDir, 'alertmanager.yml'),
      `route:
  receiver: cortex
  group_by: ['alertname', 'cluster']
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: cortex
    webhook_configs:
      - url: '${serveUrl}/webhook/alertmanager'
        send_resolved: true
        max_alerts: 0
        http_config:
          authorization:
            type: Bearer
            credentials: '${TOKEN}'
`,
    );
    const am = execa(
      'prometheus-alertmanager',
      [`--config.file=${join(amDir, 'alertmanager.yml')}`, `--storage.path=${join(amDir, 'data')}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address=', '--log.level=warn'],
      { reject: false, cwd: amDir },
    );
    children.push(am);
    const amUrl = `http://127.0.0.1:${amPort}`;
    await waitFor(async () => (await fetch(`${amUrl}/-/ready`).catch(() => undefined))?.ok, { what: 'alertmanager to be ready', timeoutMs: 15_000 });

    const start = new Date(Date.now() - 30_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const alert = ['HighMemoryUsage', 'severity=critical', 'instance=node-1', 'cluster=prod-k8s-01', '--annotation=summary=Memory usage above 90% on node-1', `--start=${start}`];
    const fire = await execa('amtool', [`--alertmanager.url=${amUrl}`, 'alert', 'add', ...alert], { reject: false });
    expect(fire.exitCode, fire.stderr).toBe(0);

    const serveLog = join(root, 'state', 'serve.log');
    const log = () => (existsSync(serveLog) ? readFileSync(serveLog, 'utf8') : '');
    await waitFor(() => /POST \/webhook\/alertmanager 202 /.test(log()), { what: 'the firing notification', timeoutMs: 20_000, detail: log });
    const history = join(root, 'workflows', 'history');
    const ended = await waitFor(
      () => {
        const names = existsSync(history) ? readdirSync(history).filter((n) => n.endsWith('.json') && !n.startsWith('.')) : [];
        return names.length ? names : undefined;
      },
      { what: 'the run to end', timeoutMs: 20_000 },
    );
    const rec = readJson<{ status: string; parameters: Record<string, unknown>; trigger: Record<string, string> }>(join(history, ended[0] as string));
    expect(rec.status).toBe('completed');
    expect(rec.parameters).toEqual({ instance: 'node-1', cluster: 'prod-k8s-01', summary: 'Memory usage above 90% on node-1' });
    expect(rec.trigger).toMatchObject({ type: 'event', source: 'alertmanager', trigger_id: 'high-memory', event_id: expect.stringMatching(/^alertmanager:[0-9a-f]{16}:.+:firing$/) });

    // Resolve it: the same alert with an end time in the past.
    const end = new Date(Date.now() - 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    const resolve = await execa('amtool', [`--alertmanager.url=${amUrl}`, 'alert', 'add', ...alert, `--end=${end}`], { reject: false });
    expect(resolve.exitCode, resolve.stderr).toBe(0);
    await waitFor(() => /POST \/webhook\/alertmanager 200 .*matched=0/.test(log()), { what: 'the resolved notification', timeoutMs: 20_000, detail: log });

    const lines = log().trim().split('\n');
    expect(lines.every((l) => / ua="Alertmanager\//.test(l))).toBe(true);
    expect(lines.filter((l) => / 202 /.test(l))).toHaveLength(1);
    expect(log()).not.toContain(TOKEN);
    const active = join(root, 'workflows', 'active');
    const all = [...readdirSync(history), ...(existsSync(active) ? readdirSync(active) : [])].filter((n) => n.endsWith('.json') && !n.startsWith('.'));
    expect(all).toHaveLength(1);
  });
});
