import { describe, expect, it } from 'vitest';
import { compensationOf, runAction } from './helpers.js';
import { J, json, PveFake, RES_VM, vmRes } from './pve-fake.js';
import { parseProbeOutput, probeScript } from '../../../../src/contractors/infrastructure/verify-load-balancer-health.js';

describe('load-balancer', () => {
  const SET = 'lb-prod-lb-01-web-api';
  const IPSETS = ['get', '/cluster/firewall/ipset', ...J];
  const ENTRIES = ['get', `/cluster/firewall/ipset/${SET}`, ...J];
  const HC = 'cortex-hc:/health:5:3:2:3';

  describe('update_load_balancer', () => {
    const params = {
      load_balancer: 'prod-lb-01',
      backend_pool: 'web-api',
      action: 'add_backend',
      backend_config: { version: 'abc1234', servers: ['10.10.1.20', { ip: '10.10.1.30', port: 30081, weight: 50 }], port: 30080, health_check: { path: '/health', interval: 5, timeout: 3, rise: 2, fall: 3 } },
    };

    it('adds backends (rewriting an IP already present) and records the previous pool', async () => {
      const previous = [{ cidr: '10.10.1.20', comment: 'cortex:3f9c2e1:30080' }, { cidr: '10.10.1.21', comment: 'cortex:3f9c2e1:30080' }];
      const fake = new PveFake()
        .on(IPSETS, json([{ name: SET, comment: HC, digest: 'd' }]))
        .on(ENTRIES, json(previous.map((e) => ({ ...e, digest: 'd' }))), json([{ cidr: '10.10.1.20', comment: 'cortex:abc1234:30080' }, previous[1], { cidr: '10.10.1.30', comment: 'cortex:abc1234:30081:50' }]))
        .on(['set', `/cluster/firewall/ipset/${SET}/10.10.1.20`, '--comment', 'cortex:abc1234:30080', ...J], json(null))
        .on(['create', `/cluster/firewall/ipset/${SET}`, '--cidr', '10.10.1.30', '--comment', 'cortex:abc1234:30081:50', ...J], json(null));
      const r = await runAction('update_load_balancer', params, fake);
      expect(r.error).toBeUndefined();
      expect(r.outputs).toEqual({
        ipset: SET,
        entries: 3,
        added: [{ cidr: '10.10.1.20', comment: 'cortex:abc1234:30080' }, { cidr: '10.10.1.30', comment: 'cortex:abc1234:30081:50' }],
        removed: [],
        previous_entries: previous,
        version: 'abc1234',
      });
      expect(r.calls).toEqual([
        IPSETS,
        ENTRIES,
        ['set', `/cluster/firewall/ipset/${SET}/10.10.1.20`, '--comment', 'cortex:abc1234:30080', ...J],
        ['create', `/cluster/firewall/ipset/${SET}`, '--cidr', '10.10.1.30', '--comment', 'cortex:abc1234:30081:50', ...J],
        IPSETS,
        ENTRIES,
      ]);
      const comp = compensationOf('update_load_balancer', params, r.outputs as Record<string, unknown>);
      expect(comp).toEqual({ action: 'rollback_load_balancer', params: { load_balancer: 'prod-lb-01', backend_pool: 'web-api', action: 'restore', entries: previous } });
    });

    it('creates a missing IPSet with the health check; replace_backends removes the others', async () => {
      const name = 'lb-k8s-lb-01-prod-k8s-02-apiserver';
      const fake = new PveFake()
        .on(IPSETS, json([]), json([{ name, comment: 'cortex-hc:/readyz:5:3:2:3' }]))
        .on(['create', '/cluster/firewall/ipset', '--name', name, '--comment', 'cortex-hc:/readyz:5:3:2:3', ...J], json(null))
        .on(['create', `/cluster/firewall/ipset/${name}`, '--cidr', '10.10.1.10', '--comment', 'cortex:v1.29.1:6443', ...J], json(null))
        .get(`/cluster/firewall/ipset/${name}`, [{ cidr: '10.10.1.10', comment: 'cortex:v1.29.1:6443' }]);
      const r = await runAction(
        'update_load_balancer',
        { load_balancer: 'k8s-lb-01', backend_pool: 'prod-k8s-02-apiserver', action: 'replace_backends', backend_config: { version: 'v1.29.1', servers: ['10.10.1.10'], port: 6443, health_check: { path: '/readyz', interval: 5, timeout: 3 } } },
        fake,
      );
      expect(r.outputs).toMatchObject({ ipset: name, entries: 1, previous_entries: [], removed: [] });
      expect(compensationOf('update_load_balancer', { load_balancer: 'k8s-lb-01', backend_pool: 'prod-k8s-02-apiserver' }, r.outputs as Record<string, unknown>).params.entries).toEqual([]);

      const replace = new PveFake()
        .on(IPSETS, json([{ name: SET, comment: HC }]))
        .on(ENTRIES, json([{ cidr: '10.10.1.20', comment: 'cortex:old:30080' }, { cidr: '10.10.1.21', comment: 'cortex:old:30080' }]), json([{ cidr: '10.10.1.21', comment: 'cortex:new:30080' }]))
        .on(['delete', `/cluster/firewall/ipset/${SET}/10.10.1.20`, ...J], json(null))
        .on(['set', `/cluster/firewall/ipset/${SET}/10.10.1.21`, '--comment', 'cortex:new:30080', ...J], json(null));
      const r2 = await runAction('update_load_balancer', { load_balancer: 'prod-lb-01', backend_pool: 'web-api', action: 'replace_backends', backend_config: { version: 'new', servers: ['10.10.1.21'], port: 30080 } }, replace);
      expect(r2.outputs).toMatchObject({ entries: 1, removed: [{ cidr: '10.10.1.20', comment: 'cortex:old:30080' }] });
    });

    it('sanitises the IPSet name and needs a port', async () => {
      const r = await runAction('update_load_balancer', { load_balancer: 'lb.example', backend_pool: 'shop/api', backend_config: { version: 'v', servers: ['10.0.0.1'] } }, new PveFake().on(IPSETS, json([])));
      expect(r.error).toMatchObject({ errorCode: 'invalid_parameters' });
      expect(r.calls).toEqual([IPSETS]);
      const r2 = await runAction('update_load_balancer', { load_balancer: 'lb.example', backend_pool: 'shop/api', action: 'remove_backend', backend_config: { version: 'v' } }, new PveFake().on(IPSETS, json([])));
      expect(r2.outputs).toMatchObject({ ipset: 'lb-lb-example-shop-api', entries: 0 });
    });
  });

  describe('rollback_load_balancer', () => {
    it('restores the recorded pool exactly', async () => {
      const fake = new PveFake()
        .on(IPSETS, json([{ name: SET, comment: HC }]))
        .on(ENTRIES, json([{ cidr: '10.10.1.20', comment: 'cortex:abc1234:30080' }, { cidr: '10.10.1.30', comment: 'cortex:abc1234:30080' }]), json([{ cidr: '10.10.1.20', comment: 'cortex:3f9c2e1:30080' }]))
        .on(['delete', `/cluster/firewall/ipset/${SET}/10.10.1.30`, ...J], json(null))
        .on(['set', `/cluster/firewall/ipset/${SET}/10.10.1.20`, '--comment', 'cortex:3f9c2e1:30080', ...J], json(null));
      const r = await runAction('rollback_load_balancer', { load_balancer: 'prod-lb-01', backend_pool: 'web-api', action: 'restore', entries: [{ cidr: '10.10.1.20', comment: 'cortex:3f9c2e1:30080' }] }, fake);
      expect(r.outputs).toEqual({
        ipset: SET,
        removed: [{ cidr: '10.10.1.30', comment: 'cortex:abc1234:30080' }],
        restored: [{ cidr: '10.10.1.20', comment: 'cortex:3f9c2e1:30080' }],
        entries: 1,
      });
    });

    it('an empty restore deletes the IPSet; remove_backend deletes a version', async () => {
      const fake = new PveFake()
        .on(IPSETS, json([{ name: SET }]))
        .on(ENTRIES, json([{ cidr: '10.10.1.20', comment: 'cortex:abc:30080' }]))
        .on(['delete', `/cluster/firewall/ipset/${SET}/10.10.1.20`, ...J], json(null))
        .on(['delete', `/cluster/firewall/ipset/${SET}`, ...J], json(null));
      const r = await runAction('rollback_load_balancer', { load_balancer: 'prod-lb-01', backend_pool: 'web-api', action: 'restore', entries: [] }, fake);
      expect(r.outputs).toMatchObject({ entries: 0, removed: [{ cidr: '10.10.1.20', comment: 'cortex:abc:30080' }] });
      expect(r.calls.at(-1)).toEqual(['delete', `/cluster/firewall/ipset/${SET}`, ...J]);

      const byVersion = new PveFake()
        .on(IPSETS, json([{ name: SET }]))
        .on(ENTRIES, json([{ cidr: '10.10.1.20', comment: 'cortex:abc:30080' }, { cidr: '10.10.1.21', comment: 'cortex:old:30080' }]))
        .on(['delete', `/cluster/firewall/ipset/${SET}/10.10.1.20`, ...J], json(null));
      const r2 = await runAction('rollback_load_balancer', { load_balancer: 'prod-lb-01', backend_pool: 'web-api', version: 'abc' }, byVersion);
      expect(r2.outputs).toEqual({ ipset: SET, removed: [{ cidr: '10.10.1.20', comment: 'cortex:abc:30080' }], restored: [], entries: 1 });
    });
  });
});

describe('verify-load-balancer-health', () => {
  const SET = 'lb-dr-lb-01-dr-k8s-01-ingress-https';
  const LB = vmRes(250, 'dr-lb-01', 'dc2-pve-01');
  const ENTRIES = [
    { cidr: '10.20.1.20', comment: 'cortex:ingress-nginx-4.9.0:30443' },
    { cidr: '10.20.1.21', comment: 'cortex:ingress-nginx-4.9.0:30443' },
  ];
  const URLS = ['http://10.20.1.20:30443/healthz', 'http://10.20.1.21:30443/healthz'];
  const EXEC = ['create', '/nodes/dc2-pve-01/qemu/250/agent/exec', '--command', 'sh', '--input-data', probeScript(URLS, 3)];
  const PARAMS = { load_balancer: 'dr-lb-01', backend_pool: 'dr-k8s-01-ingress-https', expected_healthy_backends: 1, health_path: '/healthz', scheme: 'https' };

  function base(codes: string) {
    return new PveFake()
      .get('/cluster/firewall/ipset', [{ name: SET, comment: 'cortex-hc:/healthz:5:3:2:3' }])
      .get(`/cluster/firewall/ipset/${SET}`, ENTRIES)
      .on(RES_VM, json([LB]))
      .get('/nodes/dc2-pve-01/qemu/250/config', { agent: 1, ipconfig0: 'ip=10.20.1.100/24,gw=10.20.1.1' })
      .on([...EXEC, ...J], json({ pid: 4101 }))
      .on(['get', '/nodes/dc2-pve-01/qemu/250/agent/exec-status', '--pid', '4101', ...J], json({ exited: 0 }), json({ exited: 1, exitcode: 0, 'out-data': codes }));
  }

  describe('verify_load_balancer_health', () => {
    it('writes a probe script the LB VM runs with sh and parses its answers', () => {
      expect(probeScript(['http://10.0.0.1:80/h'], 3)).toBe(
        `probe() { printf '%s %s\\n' "$1" "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$1" || true)"; }\nprobe 'http://10.0.0.1:80/h'\n`,
      );
      expect([...parseProbeOutput('http://a:1/ 200\nhttp://b:1/ 000\ngarbage\n')]).toEqual([['http://a:1/', 200], ['http://b:1/', 0]]);
    });

    it('probes each backend from the LB VM through the guest agent', async () => {
      const fake = base(`${URLS[0]} 200\n${URLS[1]} 200\n`);
      const r = await runAction('verify_load_balancer_health', PARAMS, fake);
      expect(r.error).toBeUndefined();
      expect(r.outputs).toEqual({
        status: 'healthy',
        healthy_count: 2,
        total_count: 2,
        endpoint: 'https://10.20.1.100:443',
        backends: [
          { ip: '10.20.1.20', port: 30443, version: 'ingress-nginx-4.9.0', healthy: true },
          { ip: '10.20.1.21', port: 30443, version: 'ingress-nginx-4.9.0', healthy: true },
        ],
      });
      expect(r.calls).toEqual([
        ['get', '/cluster/firewall/ipset', ...J],
        ['get', `/cluster/firewall/ipset/${SET}`, ...J],
        RES_VM,
        ['get', '/nodes/dc2-pve-01/qemu/250/config', ...J],
        [...EXEC, ...J],
        ['get', '/nodes/dc2-pve-01/qemu/250/agent/exec-status', '--pid', '4101', ...J],
        ['get', '/nodes/dc2-pve-01/qemu/250/agent/exec-status', '--pid', '4101', ...J],
      ]);
      expect(r.deps.http.requests).toEqual([]);
    });

    it('is degraded with some backends down, and fails (retryable) below the expected count', async () => {
      const r = await runAction('verify_load_balancer_health', PARAMS, base(`${URLS[0]} 200\n${URLS[1]} 000\n`));
      expect(r.outputs).toMatchObject({ status: 'degraded', healthy_count: 1, total_count: 2 });
      const r2 = await runAction('verify_load_balancer_health', { ...PARAMS, expected_healthy_backends: 2 }, base(`${URLS[0]} 503\n${URLS[1]} 200\n`));
      expect(r2.error).toMatchObject({ errorCode: 'lb_backend_unhealthy', retryable: true });
      expect(r2.error?.message).toBe('1 of 2 backends of lb-dr-lb-01-dr-k8s-01-ingress-https healthy, 2 expected: unhealthy 10.20.1.20:30443 (503)');
    });

    it('probes directly over HTTP when the guest agent does not answer, and filters by version', async () => {
      const fake = base('')
        .on([...EXEC, ...J], { exitCode: 255, stderr: 'QEMU guest agent is not running\n' });
      const r = await runAction('verify_load_balancer_health', { ...PARAMS, version: 'ingress-nginx-4.9.0' }, fake);
      expect(r.outputs).toMatchObject({ status: 'healthy', healthy_count: 2 });
      expect(r.deps.http.requests.map((q) => `${q.method} ${q.url} ${q.timeoutMs}`)).toEqual([`GET ${URLS[0]} 3000`, `GET ${URLS[1]} 3000`]);
    });

    it('fails for a pool that does not exist', async () => {
      const r = await runAction('verify_load_balancer_health', PARAMS, new PveFake().get('/cluster/firewall/ipset', []));
      expect(r.error).toMatchObject({ errorCode: 'lb_pool_not_found', retryable: false });
    });
  });
});
