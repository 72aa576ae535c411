import { describe, expect, it } from 'vitest';
import { parseProbeOutput, probeScript } from '../../../../src/contractors/infrastructure/verify-load-balancer-health.js';
import { runAction } from './helpers.js';
import { J, json, PveFake, RES_VM, vmRes } from './pve-fake.js';

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
