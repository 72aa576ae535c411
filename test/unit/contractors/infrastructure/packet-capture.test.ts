import { describe, expect, it } from 'vitest';
import type { HttpRequest } from '../../../../src/ports/http-client.js';
import { fakeDeps, FakeHttpClient, MapSecretSource } from '../../../fakes/fakes.js';
import { makeRuntime } from '../runtime-helper.js';
import { compensationOf, impl, spec } from './helpers.js';
import { json, PveFake, RES_VM, vmRes } from './pve-fake.js';

const URL = 'https://forensics.cortex.local/api';
const CONFIG = { proxmox: { task_poll_seconds: 1 }, endpoints: { forensics: { url: URL, secret: 'FORENSICS_TOKEN' } } };

async function run(name: string, params: Record<string, unknown>, fake: PveFake, handler: (req: HttpRequest) => { status: number; body?: string }) {
  const deps = fakeDeps({ http: new FakeHttpClient(handler), secrets: new MapSecretSource({ FORENSICS_TOKEN: 'tok-123' }) });
  deps.runner.on('pvesh', [], (args) => fake.reply(args));
  const { rt, dispose } = makeRuntime(params, { spec: spec(name), deps, config: CONFIG });
  try {
    return { outputs: await (await impl(name)).run(rt), deps };
  } catch (error) {
    return { error: error as Error & { errorCode?: string }, deps };
  } finally {
    dispose();
  }
}

const capture = { id: 'cap-7', status: 'running', vmid: 112, node: 'pve-02', interface: 'tap112i0', output: 's3://cortex-forensics/incidents/SEC-1/pcap/', location: 's3://cortex-forensics/incidents/SEC-1/pcap/tap112i0-20261125T120000Z.pcap', ends_at: '2026-11-25T13:00:00Z' };

describe('start_packet_capture / stop_packet_capture', () => {
  it('finds the VM node and asks the forensics service to capture tap<vmid>i0', async () => {
    const fake = new PveFake().on(RES_VM, json([vmRes(112, 'k8s-worker-02', 'pve-02')]));
    const r = await run('start_packet_capture', { target: 'k8s-worker-02', duration: 3600, output: capture.output }, fake, (req) =>
      req.method === 'GET' ? { status: 200, body: JSON.stringify({ captures: [] }) } : { status: 201, body: JSON.stringify(capture) },
    );
    expect(r.outputs).toEqual({ active: true, location: capture.location, capture_id: 'cap-7', vmid: 112, node: 'pve-02', interface: 'tap112i0', ends_at: '2026-11-25T13:00:00Z' });
    const reqs = r.deps.http.requests;
    expect(reqs.map((q) => `${q.method} ${q.url}`)).toEqual([`GET ${URL}/api/v1/captures?status=running&vmid=112`, `POST ${URL}/api/v1/captures`]);
    expect(JSON.parse(reqs[1]?.body ?? '')).toEqual({ node: 'pve-02', interface: 'tap112i0', output: capture.output, duration: 3600, vmid: 112, target: 'k8s-worker-02' });
    expect(reqs[1]?.headers?.authorization).toBe('Bearer tok-123');
    expect(fake.calls).toEqual([RES_VM]);
    expect(compensationOf('start_packet_capture', {}, r.outputs as Record<string, unknown>)).toEqual({ action: 'stop_packet_capture', params: { capture_id: 'cap-7' } });
  });

  it('reuses a capture already running to the same output', async () => {
    const fake = new PveFake().on(RES_VM, json([vmRes(112, 'k8s-worker-02', 'pve-02')]));
    const r = await run('start_packet_capture', { vmid: 112, output: capture.output }, fake, () => ({ status: 200, body: JSON.stringify({ captures: [capture] }) }));
    expect(r.outputs?.capture_id).toBe('cap-7');
    expect(r.deps.http.requests).toHaveLength(1);
  });

  it('a 4xx is not retryable, a 5xx is', async () => {
    const fake = new PveFake().on(RES_VM, json([vmRes(112, 'k8s-worker-02', 'pve-02')]));
    const r = await run('start_packet_capture', { vmid: 112, output: 'x' }, fake, (req) => (req.method === 'GET' ? { status: 200, body: '{"captures":[]}' } : { status: 400, body: '{"error":"tcpdump: tap112i0: No such device exists"}' }));
    expect(r.error).toMatchObject({ errorCode: 'packet_capture_failed', retryable: false });
    expect(r.error?.message).toContain('tcpdump: tap112i0: No such device exists');
  });

  it('stops a running capture; a finished or unknown one counts as stopped', async () => {
    const r = await run('stop_packet_capture', { capture_id: 'cap-7' }, new PveFake(), (req) =>
      req.method === 'GET' ? { status: 200, body: JSON.stringify(capture) } : { status: 200, body: JSON.stringify({ ...capture, status: 'stopped', bytes: 1048576 }) },
    );
    expect(r.outputs).toEqual({ capture_id: 'cap-7', location: capture.location, stopped: true, bytes: 1048576 });
    expect(r.deps.http.requests.map((q) => `${q.method} ${q.url}`)).toEqual([`GET ${URL}/api/v1/captures/cap-7`, `POST ${URL}/api/v1/captures/cap-7/stop`]);
    const done = await run('stop_packet_capture', { capture_id: 'cap-7' }, new PveFake(), () => ({ status: 200, body: JSON.stringify({ ...capture, status: 'finished', bytes: 5 }) }));
    expect(done.outputs).toEqual({ capture_id: 'cap-7', location: capture.location, stopped: false, bytes: 5 });
    const unknown = await run('stop_packet_capture', { capture_id: 'cap-9' }, new PveFake(), () => ({ status: 404, body: '{"error":"capture cap-9 not found"}' }));
    expect(unknown.outputs).toEqual({ capture_id: 'cap-9', location: null, stopped: false, bytes: null });
  });
});
