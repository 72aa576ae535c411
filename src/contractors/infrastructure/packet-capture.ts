/**
 * Packet captures through the forensics service (config endpoints.forensics, Bearer token), which
 * runs tcpdump on the Proxmox node's tap<vmid>i<n> interface. The API cortex uses (the lab's
 * forensics service implements the same, src/lab/http/forensics.ts):
 *   GET  /api/v1/captures?status=running&vmid=<vmid>  -> 200 {"captures":[Capture...]}
 *   POST /api/v1/captures {node, interface, output, duration, vmid, target, filter?, max_size_mb?}
 *        -> 201 Capture, or 200 with the capture already running for node + interface + output
 *   GET  /api/v1/captures/<id>                        -> 200 Capture | 404
 *   POST /api/v1/captures/<id>/stop                   -> 200 Capture (status "stopped")
 * Capture = {id, status: "running"|"stopped"|"finished", node, interface, vmid, output, location,
 *            started_at, ends_at, stopped_at, bytes}. Errors: 4xx/5xx with {"error": "..."}.
 */
import { ActionFailedError, oneLine } from '../../errors.js';
import type { ActionImpl, ActionRuntime } from '../action-impl.js';
import { resolveEndpoint } from '../endpoints.js';
import { parseJsonBody, sendWithRetries } from '../http-util.js';
import type { HttpResponse } from '../../ports/http-client.js';
import { planCall, Pvesh } from './pvesh.js';
import { describeSelector, planVm, requireVm, type VmSelector } from './vms.js';

interface Capture {
  id: string;
  status?: string;
  vmid?: number;
  node?: string;
  interface?: string;
  output?: string;
  location?: string;
  ends_at?: string;
  bytes?: number;
}

interface StartParams extends VmSelector {
  duration?: number;
  output: string;
  filter?: string;
  interface_index?: number;
  max_size_mb?: number;
}

function failure(what: string, res: HttpResponse): ActionFailedError {
  let msg = res.body.slice(0, 300);
  try {
    const j = JSON.parse(res.body) as { error?: string; message?: string };
    msg = j.error ?? j.message ?? msg;
  } catch {
    // plain text body
  }
  return new ActionFailedError(`${what}: HTTP ${res.status}: ${oneLine(msg, 300)}`, {
    errorCode: res.status >= 500 || res.status === 429 ? 'forensics_unavailable' : 'packet_capture_failed',
    retryable: res.status >= 500 || res.status === 429,
  });
}

async function json(rt: ActionRuntime, method: string, url: string, headers: Record<string, string>, body?: unknown): Promise<HttpResponse> {
  const req = {
    method,
    url,
    headers: { accept: 'application/json', ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  };
  // Reads are retried on 429/5xx; a create is sent once (a retry of the action finds it running).
  return method === 'GET' ? sendWithRetries(rt, req) : rt.http(req);
}

export const startPacketCaptureAction: ActionImpl = {
  plan(params, ctx) {
    const p = params as unknown as StartParams;
    const { node, vmid } = planVm(p);
    const base = ctx.config.endpoints.forensics?.url ?? '<forensics>';
    return [
      planCall('get', '/cluster/resources', [['type', 'vm']], `find ${describeSelector(p)} and its node`),
      { kind: 'request', method: 'GET', url: `${base}/api/v1/captures?status=running&vmid=${vmid}`, note: 'reuse a running capture to the same output' },
      {
        kind: 'request',
        method: 'POST',
        url: `${base}/api/v1/captures`,
        body: { node, interface: `tap${vmid}i${p.interface_index ?? 0}`, output: p.output, duration: p.duration ?? 3600, vmid, target: '<vm name>', ...(p.filter ? { filter: p.filter } : {}) },
      },
    ];
  },

  async run(rt) {
    const p = rt.params as unknown as StartParams;
    const vm = await requireVm(new Pvesh(rt), p);
    const ep = await resolveEndpoint(rt, 'forensics');
    const iface = `tap${vm.vmid}i${p.interface_index ?? 0}`;
    const out = (c: Capture) => ({
      active: c.status === undefined || c.status === 'running',
      location: c.location ?? c.output ?? p.output,
      capture_id: c.id,
      vmid: vm.vmid,
      node: vm.node,
      interface: c.interface ?? iface,
      ends_at: c.ends_at ?? null,
    });

    const listRes = await json(rt, 'GET', `${ep.url}/api/v1/captures?status=running&vmid=${vm.vmid}`, ep.headers);
    if (listRes.status !== 200) throw failure('list running captures', listRes);
    const listed = parseJsonBody(listRes, 'forensics captures') as { captures?: Capture[] } | Capture[];
    const running = (Array.isArray(listed) ? listed : (listed.captures ?? [])).filter(
      (c) => (c.status ?? 'running') === 'running' && c.output === p.output && (c.interface ?? iface) === iface,
    );
    if (running[0]) {
      rt.debug(`start_packet_capture: capture ${running[0].id} already runs for VM ${vm.vmid}; reusing it`);
      return out(running[0]);
    }

    const body = {
      node: vm.node,
      interface: iface,
      output: p.output,
      duration: p.duration ?? 3600,
      vmid: vm.vmid,
      target: vm.name,
      ...(p.filter ? { filter: p.filter } : {}),
      ...(p.max_size_mb ? { max_size_mb: p.max_size_mb } : {}),
    };
    const res = await json(rt, 'POST', `${ep.url}/api/v1/captures`, ep.headers, body);
    if (res.status !== 200 && res.status !== 201) throw failure(`start the capture of ${iface} on ${vm.node}`, res);
    const c = parseJsonBody(res, 'forensics capture') as Capture;
    if (!c || typeof c.id !== 'string') {
      throw new ActionFailedError('the forensics service returned no capture id', { errorCode: 'bad_response', retryable: false });
    }
    return out(c);
  },
};

export const stopPacketCaptureAction: ActionImpl = {
  plan(params, ctx) {
    const id = String((params as { capture_id?: string }).capture_id ?? '<capture_id>');
    const base = ctx.config.endpoints.forensics?.url ?? '<forensics>';
    return [
      { kind: 'request', method: 'GET', url: `${base}/api/v1/captures/${encodeURIComponent(id)}` },
      { kind: 'request', method: 'POST', url: `${base}/api/v1/captures/${encodeURIComponent(id)}/stop`, note: 'only while it runs' },
    ];
  },

  async run(rt) {
    const id = String(rt.params.capture_id);
    const ep = await resolveEndpoint(rt, 'forensics');
    const url = `${ep.url}/api/v1/captures/${encodeURIComponent(id)}`;
    const res = await json(rt, 'GET', url, ep.headers);
    if (res.status === 404) {
      // Finished captures may be forgotten by the service: nothing is running.
      return { capture_id: id, location: null, stopped: false, bytes: null };
    }
    if (res.status !== 200) throw failure(`read capture ${id}`, res);
    let c = parseJsonBody(res, 'forensics capture') as Capture;
    let stopped = false;
    if ((c.status ?? 'running') === 'running') {
      const stop = await json(rt, 'POST', `${url}/stop`, ep.headers, {});
      if (stop.status === 404) return { capture_id: id, location: c.location ?? null, stopped: false, bytes: c.bytes ?? null };
      if (stop.status !== 200) throw failure(`stop capture ${id}`, stop);
      c = parseJsonBody(stop, 'forensics capture') as Capture;
      stopped = true;
    }
    return { capture_id: id, location: c.location ?? c.output ?? null, stopped, bytes: c.bytes ?? null };
  },
};
