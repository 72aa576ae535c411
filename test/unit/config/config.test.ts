import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, resolveConfig, splitWords, TOOL_NAMES } from '../../../src/config/config.js';
import { DefinitionInvalidError, UsageError, formatIssue } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'cortex-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(text: string): string {
  const path = join(dir, `config-${n++}.yaml`);
  writeFileSync(path, text);
  return path;
}

async function issues(text: string): Promise<{ err: DefinitionInvalidError; lines: string[] }> {
  const e = await loadConfig(file(text), {}).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(DefinitionInvalidError);
  const err = e as DefinitionInvalidError;
  return { err, lines: err.issues.map(formatIssue) };
}

const DEFAULTS = {
  actionTimeoutSeconds: 600,
  httpTimeoutSeconds: 30,
  killGraceSeconds: 5,
  maxParallel: 4,
  outputTailBytes: 2048,
  httpMaxRetries: 3,
  maxRetryAfterSeconds: 60,
};

describe('loadConfig', () => {
  it('without a config.yaml: every default, tools by their plain names', async () => {
    const cfg = await loadConfig(join(dir, 'absent.yaml'), {});
    expect(cfg).toEqual({
      tools: { pvesh: ['pvesh'], talosctl: ['talosctl'], kubectl: ['kubectl'], helm: ['helm'] },
      helmMajor: undefined,
      clusters: {},
      proxmox: {},
      endpoints: {},
      defaults: DEFAULTS,
      serve: {},
      source: null,
    });
  });

  it('reads a valid file: tools, clusters, proxmox, endpoints, defaults (the rest keep their defaults)', async () => {
    const path = file(`# cortex configuration
tools:
  pvesh: [ssh, root@pve01, pvesh]
  helm_major: 4
clusters:
  default: { kubeconfig: /etc/cortex/kubeconfig }
  prod-k8s-01: { kubeconfig: /etc/cortex/prod.kubeconfig, context: admin@prod, talosconfig: /etc/cortex/talosconfig }
proxmox: { node: pve-01, storage: ceph-rbd, template_vmid: 9000 }
endpoints:
  slack: { url_secret: SLACK_WEBHOOK_URL }
  n8n: { url: "https://n8n.example.com", secret: N8N_API_KEY, header: X-N8N-API-KEY }
defaults:
  action_timeout_seconds: 900
  max_parallel: 2
`);
    const cfg = await loadConfig(path, {});
    expect(cfg.tools).toEqual({ pvesh: ['ssh', 'root@pve01', 'pvesh'], talosctl: ['talosctl'], kubectl: ['kubectl'], helm: ['helm'] });
    expect(cfg.helmMajor).toBe(4);
    expect(cfg.clusters['prod-k8s-01']).toEqual({ kubeconfig: '/etc/cortex/prod.kubeconfig', context: 'admin@prod', talosconfig: '/etc/cortex/talosconfig' });
    expect(cfg.proxmox).toEqual({ node: 'pve-01', storage: 'ceph-rbd', template_vmid: 9000 });
    expect(cfg.endpoints.n8n).toEqual({ url: 'https://n8n.example.com', secret: 'N8N_API_KEY', header: 'X-N8N-API-KEY' });
    expect(cfg.defaults).toEqual({ ...DEFAULTS, actionTimeoutSeconds: 900, maxParallel: 2 });
    expect(cfg.source).toBe(path);
  });

  it('an empty file is the defaults', async () => {
    const cfg = await loadConfig(file(''), {});
    expect(cfg.defaults).toEqual(DEFAULTS);
    expect(cfg.tools.kubectl).toEqual(['kubectl']);
  });

  it('malformed YAML: file:line:column', async () => {
    const { err, lines } = await issues('tools:\n  pvesh: [ssh, root@pve01\ndefaults: {}\n');
    expect(err.exitCode).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^config\.yaml:\d+:\d+: malformed YAML: /);
  });

  it('a duplicate key is malformed YAML with its position', async () => {
    const { lines } = await issues('defaults:\n  max_parallel: 2\n  max_parallel: 3\n');
    expect(lines[0]).toMatch(/^config\.yaml:3:3: malformed YAML: .*unique/i);
  });

  it('schema errors: every one, with file:line:column, pointer and what was expected', async () => {
    const { err, lines } = await issues(`tools:
  kubectl: "kubectl --context prod"
  podman: [podman]
defaults:
  max_parallel: 0
  action_timeout_seconds: soon
endpoints:
  slack: { auth: magic }
`);
    expect(err.code).toBe('CORTEX_CONFIG_INVALID');
    expect(err.message.split('\n')[0]).toBe('config.yaml is not a valid configuration:');
    // ajv's order; sorted here by position.
    expect([...lines].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))).toEqual([
      'config.yaml:2:12: /tools/kubectl: expected array',
      'config.yaml:3:3: /tools/podman: unknown property "podman" (not allowed here)',
      'config.yaml:5:17: /defaults/max_parallel: must be >= 1',
      'config.yaml:6:27: /defaults/action_timeout_seconds: expected integer',
      'config.yaml:8:18: /endpoints/slack/auth: expected one of "none", "bearer", "basic", "header", "token", "routing_key"',
    ]);
  });

  it('the display path names the file in messages', async () => {
    const e = (await loadConfig(file('defaults: 3\n'), {}, 'coordination/config.yaml').catch((x: unknown) => x)) as DefinitionInvalidError;
    expect(e.issues.map(formatIssue)).toEqual(['coordination/config.yaml:1:11: /defaults: expected object']);
  });

  it('environment overrides replace the file\'s command lines', async () => {
    const cfg = await loadConfig(file('tools:\n  kubectl: [kubectl, --context, prod]\n  helm: [/opt/helm/bin/helm]\n'), {
      CORTEX_KUBECTL: 'ssh bastion kubectl',
      CORTEX_PVESH: '/usr/bin/pvesh',
    });
    expect(cfg.tools).toEqual({ pvesh: ['/usr/bin/pvesh'], talosctl: ['talosctl'], kubectl: ['ssh', 'bastion', 'kubectl'], helm: ['/opt/helm/bin/helm'] });
  });
});

describe('resolveConfig: CORTEX_* overrides parsed into argv', () => {
  it('maps each tool to its variable', () => {
    const env = { CORTEX_PVESH: 'a', CORTEX_TALOSCTL: 'b', CORTEX_KUBECTL: 'c', CORTEX_HELM: 'd' };
    expect(TOOL_NAMES.map((t) => resolveConfig({}, env, null).tools[t])).toEqual([['a'], ['b'], ['c'], ['d']]);
  });

  it('respects quotes: an argument with spaces stays one word', () => {
    const cfg = resolveConfig({}, { CORTEX_PVESH: `ssh -o "ProxyCommand=ssh -W %h:%p jump" root@pve01 pvesh`, CORTEX_HELM: `'/opt/my tools/helm'` }, null);
    expect(cfg.tools.pvesh).toEqual(['ssh', '-o', 'ProxyCommand=ssh -W %h:%p jump', 'root@pve01', 'pvesh']);
    expect(cfg.tools.helm).toEqual(['/opt/my tools/helm']);
  });

  it('an empty variable is no override', () => {
    expect(resolveConfig({ tools: { kubectl: ['k'] } }, { CORTEX_KUBECTL: '' }, null).tools.kubectl).toEqual(['k']);
  });
});

describe('splitWords', () => {
  it.each([
    ['kubectl', ['kubectl']],
    ['  ssh   root@pve01\tpvesh  ', ['ssh', 'root@pve01', 'pvesh']],
    [`ssh -o 'StrictHostKeyChecking no' h`, ['ssh', '-o', 'StrictHostKeyChecking no', 'h']],
    [`a "b \\" c" d`, ['a', 'b " c', 'd']],
    [`a 'b \\ c'`, ['a', 'b \\ c']],
    [`a\\ b c`, ['a b', 'c']],
    [`x "" y ''`, ['x', '', 'y', '']],
    [`pre"quoted part"post`, ['prequoted partpost']],
    [`$(reboot) ; rm -rf / | cat`, ['$(reboot)', ';', 'rm', '-rf', '/', '|', 'cat']],
    ['', []],
  ])('%j', (input, words) => {
    expect(splitWords(input)).toEqual(words);
  });

  it('an unterminated quote is an error', () => {
    expect(() => splitWords(`ssh "root@pve01 pvesh`)).toThrow('unterminated " quote');
    expect(() => splitWords(`ssh 'x`)).toThrow(`unterminated ' quote`);
  });
});

describe('queue mode configuration', () => {
  it('has no queue unless config.yaml or CORTEX_QUEUE_URL names one', async () => {
    expect((await loadConfig(file('defaults: { max_parallel: 2 }\n'), {})).queue).toBeUndefined();
    expect((await loadConfig(file('defaults: { max_parallel: 2 }\n'), { CORTEX_QUEUE_URL: '' })).queue).toBeUndefined();
  });

  it('reads queue.url and lock_seconds from config.yaml; CORTEX_QUEUE_URL overrides the url', async () => {
    const path = file('queue: { url: "redis://10.0.0.5:6379/2", lock_seconds: 5 }\n');
    expect((await loadConfig(path, {})).queue).toEqual({ url: 'redis://10.0.0.5:6379/2', lockSeconds: 5, contractors: [] });
    expect((await loadConfig(path, { CORTEX_QUEUE_URL: 'rediss://u:p@redis.example:6380' })).queue).toEqual({ url: 'rediss://u:p@redis.example:6380', lockSeconds: 5, contractors: [] });
    expect(resolveConfig({}, { CORTEX_QUEUE_URL: 'redis://127.0.0.1' }, null).queue).toEqual({ url: 'redis://127.0.0.1', lockSeconds: 30, contractors: [] });
  });

  it('reads queue.contractors (whose actions go on their own queues), also with CORTEX_QUEUE_URL', async () => {
    const path = file('queue: { url: "redis://10.0.0.5:6379/2", contractors: [talos-contractor] }\n');
    expect((await loadConfig(path, {})).queue?.contractors).toEqual(['talos-contractor']);
    expect((await loadConfig(path, { CORTEX_QUEUE_URL: 'redis://127.0.0.1' })).queue?.contractors).toEqual(['talos-contractor']);
    await expect(loadConfig(file('queue: { url: "redis://10.0.0.5", contractors: ["Bad Name"] }\n'), {})).rejects.toThrow(/contractors/);
  });

  it.each([
    ['http://127.0.0.1:6379', /scheme http/],
    ['127.0.0.1:6379', /scheme 127.0.0.1|does not parse/],
    ['redis://', /does not parse|no host/],
    ['redis://h:6379/zero', /database number/],
    ['redis://h:99999', /does not parse/],
    ['redis://h/0?x=1', /no query/],
  ])('refuses CORTEX_QUEUE_URL=%s with one usage error (exit 2)', (url, why) => {
    const e = (() => {
      try {
        resolveConfig({}, { CORTEX_QUEUE_URL: url }, null);
      } catch (x) {
        return x as UsageError;
      }
      throw new Error('accepted');
    })();
    expect(e).toBeInstanceOf(UsageError);
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/^CORTEX_QUEUE_URL is not a Redis URL/);
    expect(e.message).toMatch(why);
  });

  it('never shows the password of a refused URL', () => {
    expect(() => resolveConfig({ queue: { url: 'redis://u:s3cret@h/x' } }, {}, null)).toThrow(/config.yaml queue.url is not a Redis URL .*"redis:\/\/u:\*\*\*@h\/x"/);
  });

  it('refuses a queue without url or with unknown keys (schema)', async () => {
    const { lines } = await issues('queue: { lock_seconds: 0, host: x }\n');
    expect(lines.join('\n')).toMatch(/queue/);
  });
});
