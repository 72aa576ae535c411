/**
 * The HTTPS API transport (proxmox.api): requests as Proxmox's API takes them, the token from a
 * secret in the Authorization header, and Proxmox's refusals turned into the same errors pvesh's
 * give.
 */
import { describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../../../src/config/config.js';
import { Pvesh } from '../../../../src/contractors/infrastructure/pvesh.js';
import { apiErrorText, apiRequest, planForTransport } from '../../../../src/contractors/infrastructure/pve-transport.js';
import type { HttpRequest, HttpResponse } from '../../../../src/ports/http-client.js';
import { fakeDeps, FakeHttpClient, MapSecretSource } from '../../../fakes/fakes.js';
import { makeRuntime } from '../runtime-helper.js';

const TOKEN = 'cortex@pve!cortex=1f2e3d4c-0000-4000-8000-abcdefabcdef';
const API: NonNullable<NonNullable<ConfigFile['proxmox']>['api']> = { url: 'https://pve01.example.net:8006/', token_secret: 'PVE_API_TOKEN', fingerprint: 'AB:'.repeat(31) + 'CD' };
const UPID = 'UPID:pve-01:000A1B2C:01F2E3D4:6650A1B2:qmclone:9000:cortex@pve!cortex:';

function setup(handler: (req: HttpRequest) => Partial<HttpResponse>, secret = TOKEN) {
  const http = new FakeHttpClient(handler);
  const deps = fakeDeps({ http, secrets: new MapSecretSource({ PVE_API_TOKEN: secret }) });
  const { rt, dispose } = makeRuntime({}, { deps, config: { proxmox: { api: API, task_poll_seconds: 1 } } });
  return { pv: new Pvesh(rt), http, deps, dispose };
}

const ok = (data: unknown): Partial<HttpResponse> => ({ status: 200, body: JSON.stringify({ data }) });

describe('the HTTPS API transport', () => {
  it('sends GET parameters in the query and POST parameters as a form, with the token and the pinned certificate', async () => {
    const { pv, http, dispose } = setup(() => ok(null));
    await pv.get('/cluster/resources', [['type', 'vm']]);
    await pv.call('create', '/nodes/pve-01/qemu/112/agent/exec', [['command', ['sh', '-c']], ['input-data', "probe 'a b'"], ['full', true]]);
    dispose();
    expect(http.requests.map((r) => [r.method, r.url, r.body])).toEqual([
      ['GET', 'https://pve01.example.net:8006/api2/json/cluster/resources?type=vm', undefined],
      ['POST', 'https://pve01.example.net:8006/api2/json/nodes/pve-01/qemu/112/agent/exec', 'command=sh&command=-c&input-data=probe+%27a+b%27&full=1'],
    ]);
    expect(http.requests[0]?.headers?.authorization).toBe(`PVEAPIToken=${TOKEN}`);
    expect(http.requests[1]?.headers?.['content-type']).toBe('application/x-www-form-urlencoded');
    expect(http.requests[0]?.tls).toEqual({ fingerprint: API.fingerprint });
  });

  it('takes a worker call\'s UPID from data and polls the task like pvesh', async () => {
    const { pv, http, dispose } = setup((req) => (req.url.endsWith('/clone') ? ok(UPID) : ok({ status: 'stopped', exitstatus: 'OK', upid: UPID })));
    await expect(pv.task('create', '/nodes/pve-01/qemu/9000/clone', [['newid', 101]])).resolves.toMatchObject({ exitstatus: 'OK', upid: UPID });
    dispose();
    expect(http.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST https://pve01.example.net:8006/api2/json/nodes/pve-01/qemu/9000/clone',
      `GET https://pve01.example.net:8006/api2/json/nodes/pve-01/tasks/${UPID}/status`,
    ]);
  });

  it('turns a 400 into the parameter error pvesh prints, not retryable', async () => {
    const body = { data: null, message: 'Parameter verification failed.\n', errors: { newid: 'VM 101 already exists\n', bogus: 'property is not defined in schema and the schema does not allow additional properties' } };
    const { pv, dispose } = setup(() => ({ status: 400, statusText: 'Parameter verification failed.', body: JSON.stringify(body) }));
    const e = await pv.task('create', '/nodes/pve-01/qemu/9000/clone', [['newid', 101]], { errorCode: 'vm_creation_failed' }).catch((x: unknown) => x);
    dispose();
    expect(e).toMatchObject({ errorCode: 'vm_creation_failed', retryable: false, kind: 'exists' });
    expect((e as { pveMessage: string }).pveMessage).toBe('400 Parameter verification failed.\nbogus: property is not defined in schema and the schema does not allow additional properties\nnewid: VM 101 already exists');
    expect((e as Error).message).toMatch(/^POST \/nodes\/pve-01\/qemu\/9000\/clone failed \(HTTP 400\): 400 Parameter verification failed\. \| bogus: /);
  });

  it.each([
    [500, "VM 112 is running - destroy failed\n", "VM 112 is running - destroy failed", 'state', false],
    [500, "can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout\n", "can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout", 'lock', true],
    [401, '', '401 Authentication failed!', 'auth', false],
    [403, 'Permission check failed (/vms/101, VM.Allocate)\n', '403 Permission check failed (/vms/101, VM.Allocate)', 'auth', false],
    [595, 'Connection refused\n', '595 Connection refused', 'unreachable', true],
  ])('HTTP %i: %j', async (status, message, pveMessage, kind, retryable) => {
    const { pv, dispose } = setup(() => ({ status, statusText: status === 401 ? 'Authentication failed!' : message.trim(), body: message ? JSON.stringify({ data: null, message }) : '' }));
    const e = await pv.call('delete', '/nodes/pve-02/qemu/112').catch((x: unknown) => x);
    dispose();
    expect(e).toMatchObject({ pveMessage, kind, retryable });
  });

  it('refuses a secret that is not an API token, without showing it', async () => {
    const { pv, http, dispose } = setup(() => ok(null), 'just-a-password');
    const e = await pv.get('/version').catch((x: unknown) => x);
    dispose();
    expect(e).toMatchObject({ errorCode: 'proxmox_token_invalid', retryable: false });
    expect((e as Error).message).not.toContain('just-a-password');
    expect(http.requests).toEqual([]);
  });

  it('accepts the token written with its PVEAPIToken= prefix', async () => {
    const { pv, http, dispose } = setup(() => ok({ version: '9.1.1' }), `PVEAPIToken=${TOKEN}`);
    await pv.get('/version');
    dispose();
    expect(http.requests[0]?.headers?.authorization).toBe(`PVEAPIToken=${TOKEN}`);
  });

  it('plans the requests it would send', () => {
    expect(planForTransport({ kind: 'command', tool: 'pvesh', args: ['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '<nextid>', '--full', '1', '--output-format', 'json'], note: 'n' }, API)).toEqual({
      kind: 'request',
      method: 'POST',
      url: 'https://pve01.example.net:8006/api2/json/nodes/pve-01/qemu/9000/clone',
      body: { newid: '<nextid>', full: '1' },
      note: 'n',
    });
    expect(planForTransport({ kind: 'command', tool: 'pvesh', args: ['get', '/cluster/resources', '--type', 'vm', '--output-format', 'json'] }, API)).toEqual({ kind: 'request', method: 'GET', url: 'https://pve01.example.net:8006/api2/json/cluster/resources?type=vm' });
    expect(apiRequest('https://h:8006/api2/json', 'delete', '/x/y', [])).toEqual({ method: 'DELETE', url: 'https://h:8006/api2/json/x/y' });
    expect(apiErrorText(501, "Method 'GET /nodes/x/foo' not implemented", { data: null, message: "Method 'GET /nodes/x/foo' not implemented" })).toBe("501 Method 'GET /nodes/x/foo' not implemented");
  });
});
