/**
 * The lab's Proxmox API over HTTPS answers as pve-http-server does, from the same routes and
 * schema as its pvesh; and cortex's HTTP adapter trusts it only through the pinned CA or
 * certificate fingerprint.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchHttpClient } from '../../../../src/adapters/fetch-http-client.js';
import { readJsonLines, labPaths, readState, writeLabConfig } from '../../../../src/lab/lab-dir.js';
import { fingerprintOf, labCaFile, startPveApi, type RunningPveApi } from '../../../../src/lab/pve/https.js';
import { pveModule } from '../../../../src/lab/pve/module.js';
import type { PveState } from '../../../../src/lab/pve/state.js';
import { labSecretValue, LAB_PVE_TOKEN_SECRET } from '../../../../src/lab/secrets.js';
import { waitFor } from '../../../helpers/wait.js';

let lab: string;
let api: RunningPveApi;
const http = new FetchHttpClient();
const TOKEN = `PVEAPIToken=${labSecretValue(LAB_PVE_TOKEN_SECRET)}`;

beforeAll(async () => {
  lab = mkdtempSync(join(tmpdir(), 'cortex-pve-https-'));
  pveModule.seed(lab);
  writeLabConfig(lab, { latency: 3, faults: [] });
  api = await startPveApi(lab);
});
afterAll(async () => {
  await api.stop();
  rmSync(lab, { recursive: true, force: true });
});

const tls = () => ({ caFile: labCaFile(lab) });
async function call(method: string, path: string, form?: Record<string, string>, headers: Record<string, string> = { authorization: TOKEN }) {
  const body = form ? new URLSearchParams(form).toString() : undefined;
  const res = await http.request({ method, url: `${api.url}/api2/json${path}`, headers: { ...headers, ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) }, ...(body ? { body } : {}), tls: tls() });
  return { status: res.status, reason: res.statusText, body: res.body ? (JSON.parse(res.body) as Record<string, unknown>) : undefined };
}

describe('the lab Proxmox API over HTTPS', () => {
  it('answers data, and refuses what Proxmox refuses with its codes and texts', async () => {
    expect(await call('GET', '/cluster/nextid')).toEqual({ status: 200, reason: 'OK', body: { data: 100 } });
    expect(await call('POST', '/nodes/pve-01/qemu/9000/clone', { newid: '300', bogus: '1', full: 'true' })).toEqual({
      status: 400,
      reason: 'Parameter verification failed.',
      body: {
        data: null,
        message: 'Parameter verification failed.\n',
        errors: { bogus: 'property is not defined in schema and the schema does not allow additional properties', full: "type check ('boolean') failed - got 'true'" },
      },
    });
    expect(await call('PUT', '/nodes/pve-02/qemu/112/config', { net40: 'virtio', cores: '0' })).toMatchObject({ status: 400, body: { errors: { net40: 'property is not defined in schema and the schema does not allow additional properties', cores: 'value must have a minimum value of 1' } } });
    expect(await call('POST', '/nodes/pve-01/qemu/9000/clone', {})).toMatchObject({ status: 400, body: { errors: { newid: 'property is missing and it is not optional' } } });
    expect(await call('GET', '/nodes/pve-01/frobnicate')).toEqual({ status: 501, reason: "Method 'GET /nodes/pve-01/frobnicate' not implemented", body: { data: null, message: "Method 'GET /nodes/pve-01/frobnicate' not implemented" } });
    expect(await call('DELETE', '/nodes/pve-02/qemu/112')).toEqual({ status: 500, reason: 'VM 112 is running - destroy failed', body: { data: null, message: 'VM 112 is running - destroy failed\n' } });
    expect(await call('GET', '/nodes/pve-01/qemu/112/config?node=pve-02')).toMatchObject({ status: 400, body: { errors: { node: 'duplicate parameter (already defined in URI) with conflicting values!' } } });
  });

  it('wants the token: none is "No ticket", a wrong one "Authentication failed!"', async () => {
    expect(await call('GET', '/version', undefined, {})).toEqual({ status: 401, reason: 'No ticket', body: undefined });
    expect(await call('GET', '/version', undefined, { authorization: 'PVEAPIToken=root@pam!x=nope' })).toEqual({ status: 401, reason: 'Authentication failed!', body: undefined });
  });

  it('answers a worker call with its UPID at once; the task runs on, then stops OK', async () => {
    const r = await call('POST', '/nodes/pve-01/qemu/9000/clone', { newid: '390', name: 'https-clone', full: '1' });
    const upid = r.body?.data as string;
    expect(upid).toMatch(/^UPID:pve-01:.*:qmclone:9000:root@pam:$/);
    const st = await call('GET', `/nodes/pve-01/tasks/${upid}/status`);
    expect(st.body?.data).toMatchObject({ status: 'running' });
    await waitFor(async () => ((await call('GET', `/nodes/pve-01/tasks/${upid}/status`)).body?.data as { status: string }).status === 'stopped' || undefined, { what: 'the clone task to stop', timeoutMs: 5000 });
    expect(readState<PveState>(lab, 'pve', () => ({}) as PveState).vms.find((v) => v.vmid === 390)).toMatchObject({ name: 'https-clone' });
    const recorded = readJsonLines<{ service: string; method: string; path: string; status: number }>(labPaths(lab).requests).filter((l) => l.service === 'proxmox');
    expect(recorded.some((l) => l.method === 'POST' && l.path === '/api2/json/nodes/pve-01/qemu/9000/clone' && l.status === 200)).toBe(true);
  });

  it('is trusted through the pinned CA or fingerprint only', async () => {
    const url = `${api.url}/api2/json/version`;
    const headers = { authorization: TOKEN };
    const fp = fingerprintOf(readFileSync(labCaFile(lab), 'utf8'));
    expect((await http.request({ method: 'GET', url, headers, tls: { fingerprint: fp } })).status).toBe(200);
    expect((await http.request({ method: 'GET', url, headers, tls: { fingerprint: fp.toLowerCase().replace(/:/g, '') } })).status).toBe(200);
    await expect(http.request({ method: 'GET', url, headers, tls: { fingerprint: 'AB:'.repeat(31) + 'AB' } })).rejects.toMatchObject({ code: 'tls' });
    await expect(http.request({ method: 'GET', url, headers })).rejects.toMatchObject({ code: 'tls' });
    const otherCa = join(lab, 'other-ca.crt');
    (await import('node:fs')).writeFileSync(otherCa, (await import('../../../../src/lab/kube/tls.js')).selfSignedCertificate('other').cert);
    await expect(http.request({ method: 'GET', url, headers, tls: { caFile: otherCa } })).rejects.toMatchObject({ code: 'tls' });
  });
});
