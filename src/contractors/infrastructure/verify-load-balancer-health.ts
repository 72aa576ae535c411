/**
 * Health of a backend pool. Backends are probed from the load-balancer VM itself through the
 * QEMU guest agent (`agent/exec` of a small curl script, then `agent/exec-status`): that is where
 * HAProxy checks them from, and it needs no network path from the cortex host to the backends.
 * When the LB VM is not found or its agent does not answer, cortex probes them directly over HTTP.
 */
import { ActionFailedError, InterruptedError } from '../../errors.js';
import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { readIpset } from './ipset.js';
import { ipsetName, parseBackendComment, parseHealthCheckComment } from './names.js';
import { isPveshError, planCall, Pvesh } from './pvesh.js';
import { vmPath } from './vm-power.js';
import { agentEnabled, findVm, ipFromIpconfig, listVms, vmConfig, type ClusterVm } from './vms.js';

interface Params {
  load_balancer: string;
  backend_pool: string;
  expected_healthy_backends?: number;
  version?: string;
  health_path?: string;
  listen_port?: number;
  scheme?: 'http' | 'https';
}

interface Backend {
  ip: string;
  port: number | null;
  version: string | null;
  healthy: boolean;
}

const SAFE_PATH = /^\/[A-Za-z0-9._~/%?&=+:@!$*,;-]*$/;

export function probeUrl(b: { ip: string; port: number | null }, path: string): string {
  const host = b.ip.includes(':') ? `[${b.ip}]` : b.ip;
  return `http://${host}:${b.port ?? 80}${path}`;
}

/** The shell script run in the LB VM: one line `<url> <http_code>` per backend (000: no answer). */
export function probeScript(urls: string[], timeoutSeconds: number): string {
  return [
    `probe() { printf '%s %s\\n' "$1" "$(curl -s -o /dev/null -w '%{http_code}' --max-time ${timeoutSeconds} "$1" || true)"; }`,
    ...urls.map((u) => `probe '${u}'`),
    '',
  ].join('\n');
}

export function parseProbeOutput(out: string): Map<string, number> {
  const codes = new Map<string, number>();
  for (const line of out.split('\n')) {
    const m = /^(\S+) (\d{3})\s*$/.exec(line.trim());
    if (m) codes.set(m[1] as string, Number(m[2]));
  }
  return codes;
}

const healthyCode = (c: number | undefined) => c !== undefined && c >= 200 && c < 400;

async function probeViaAgent(rt: ActionRuntime, pv: Pvesh, lb: ClusterVm, urls: string[], timeoutSeconds: number): Promise<Map<string, number> | undefined> {
  const base = vmPath(lb.node, lb.vmid);
  let pid: number;
  try {
    const r = await pv.call('create', `${base}/agent/exec`, [['command', ['sh']], ['input-data', probeScript(urls, timeoutSeconds)]], { errorCode: 'lb_probe_failed' });
    pid = Number((r as { pid?: number } | null)?.pid);
    if (!Number.isFinite(pid)) return undefined;
  } catch (e) {
    if (isPveshError(e)) {
      rt.debug(`verify_load_balancer_health: guest agent of ${lb.name} unusable (${e.pveMessage}); probing directly`);
      return undefined;
    }
    throw e;
  }
  const intervalMs = Math.max(10, (rt.config.proxmox.task_poll_seconds ?? 1) * 1000);
  const deadline = rt.now().getTime() + (urls.length * timeoutSeconds + 10) * 1000;
  for (let i = 0; ; i++) {
    if (i > 0) await rt.sleep(intervalMs);
    const st = (await pv.get<{ exited?: number | boolean; exitcode?: number; 'out-data'?: string; 'err-data'?: string }>(`${base}/agent/exec-status`, [['pid', pid]], { errorCode: 'lb_probe_failed' })) ?? {};
    if (st.exited === 1 || st.exited === true) return parseProbeOutput(st['out-data'] ?? '');
    if (rt.now().getTime() > deadline) {
      throw new ActionFailedError(`the probe script in ${lb.name} (pid ${pid}) did not finish`, { errorCode: 'lb_probe_failed', retryable: true });
    }
  }
}

async function probeDirect(rt: ActionRuntime, urls: string[], timeoutSeconds: number): Promise<Map<string, number>> {
  const codes = new Map<string, number>();
  await Promise.all(
    urls.map(async (url) => {
      try {
        const res = await rt.http({ method: 'GET', url, timeoutMs: timeoutSeconds * 1000 });
        codes.set(url, res.status);
      } catch (e) {
        if (e instanceof InterruptedError || (e instanceof ActionFailedError && e.errorCode === 'action_timeout')) throw e;
        codes.set(url, 0);
      }
    }),
  );
  return codes;
}

async function lbVm(rt: ActionRuntime, pv: Pvesh, name: string): Promise<ClusterVm | undefined> {
  const vms = await listVms(pv);
  const vmid = rt.config.proxmox.load_balancer_vmid;
  try {
    return await findVm(pv, vmid !== undefined ? { vmid } : { name }, vms);
  } catch {
    return undefined;
  }
}

export const verifyLoadBalancerHealthAction: ActionImpl = {
  plan(params, ctx) {
    const p = params as unknown as Params;
    const name = ipsetName(p.load_balancer, p.backend_pool);
    const lb = ctx.config.proxmox.load_balancer_vmid !== undefined ? `VM ${ctx.config.proxmox.load_balancer_vmid}` : p.load_balancer;
    const steps: PlannedStep[] = [
      planCall('get', '/cluster/firewall/ipset'),
      planCall('get', `/cluster/firewall/ipset/${name}`),
      planCall('get', '/cluster/resources', [['type', 'vm']], `find the LB VM ${lb}`),
      planCall('get', '/nodes/<lb-node>/qemu/<lb-vmid>/config'),
      planCall('create', '/nodes/<lb-node>/qemu/<lb-vmid>/agent/exec', [['command', ['sh']], ['input-data', '<curl probe script>']], 'probe each backend from the LB VM'),
      planCall('get', '/nodes/<lb-node>/qemu/<lb-vmid>/agent/exec-status', [['pid', '<pid>']]),
      { kind: 'request', method: 'GET', url: 'http://<backend-ip>:<port><health path>', note: 'only when the LB VM guest agent is unavailable' },
    ];
    return steps;
  },

  async run(rt) {
    const p = rt.params as unknown as Params;
    const pv = new Pvesh(rt);
    const name = ipsetName(p.load_balancer, p.backend_pool);
    const set = await readIpset(pv, name);
    if (!set.exists) {
      throw new ActionFailedError(`backend pool ${p.backend_pool} of ${p.load_balancer} does not exist (no IPSet ${name})`, { errorCode: 'lb_pool_not_found', retryable: false });
    }
    const hc = parseHealthCheckComment(set.comment);
    const path = hc?.path ?? p.health_path ?? '/health';
    const timeout = hc?.timeout ?? 3;
    const entries = set.entries
      .map((e) => ({ e, meta: parseBackendComment(e.comment) }))
      .filter(({ meta }) => p.version === undefined || meta?.version === p.version);
    const backends: Backend[] = entries.map(({ e, meta }) => ({ ip: e.cidr, port: meta?.port ?? null, version: meta?.version ?? null, healthy: false }));
    const urls = backends.map((b) => probeUrl(b, path));

    const lb = await lbVm(rt, pv, p.load_balancer);
    let lbIp: string | undefined;
    let codes: Map<string, number> | undefined;
    if (lb) {
      const config = await vmConfig(pv, lb.node, lb.vmid);
      lbIp = ipFromIpconfig(config.ipconfig0);
      if (urls.length > 0 && lb.status === 'running' && agentEnabled(config) && SAFE_PATH.test(path)) {
        codes = await probeViaAgent(rt, pv, lb, urls, timeout);
      }
    }
    if (urls.length > 0 && !codes) codes = await probeDirect(rt, urls, timeout);
    backends.forEach((b, i) => {
      b.healthy = b.port !== null && healthyCode(codes?.get(urls[i] as string));
    });

    const scheme = p.scheme ?? 'http';
    const endpoint = `${scheme}://${lbIp ?? p.load_balancer}:${p.listen_port ?? (scheme === 'https' ? 443 : 80)}`;
    const healthy = backends.filter((b) => b.healthy).length;
    const expected = p.expected_healthy_backends ?? 1;
    const status = healthy >= expected && healthy === backends.length ? 'healthy' : healthy >= expected ? 'degraded' : 'down';
    if (healthy < expected) {
      const bad = backends.filter((b) => !b.healthy).map((b) => `${b.ip}:${b.port ?? '?'} (${codes?.get(probeUrl(b, path)) ?? 'no answer'})`);
      throw new ActionFailedError(
        `${healthy} of ${backends.length} backends of ${name} healthy, ${expected} expected${p.version ? ` (version ${p.version})` : ''}${bad.length ? `: unhealthy ${bad.join(', ')}` : ''}`,
        { errorCode: 'lb_backend_unhealthy', retryable: true },
      );
    }
    return { status, healthy_count: healthy, total_count: backends.length, endpoint, backends };
  },
};
