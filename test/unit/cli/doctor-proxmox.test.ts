/**
 * doctor's Proxmox API checks against the lab's HTTPS API: version, TLS pinning, the token, and
 * the token's privileges from /access/permissions.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchHttpClient } from '../../../src/adapters/fetch-http-client.js';
import { checkProxmoxApi } from '../../../src/cli/commands/doctor-proxmox.js';
import { writeLabConfig } from '../../../src/lab/lab-dir.js';
import { fingerprintOf, labCaFile, startPveApi, type RunningPveApi } from '../../../src/lab/pve/https.js';
import { pveModule } from '../../../src/lab/pve/module.js';
import { labSecretValue, LAB_PVE_AUDIT_TOKEN_SECRET, LAB_PVE_TOKEN_SECRET } from '../../../src/lab/secrets.js';
import { MapSecretSource } from '../../fakes/fakes.js';

let lab: string;
let api: RunningPveApi;
beforeAll(async () => {
  lab = mkdtempSync(join(tmpdir(), 'cortex-doctor-pve-'));
  pveModule.seed(lab);
  writeLabConfig(lab, { latency: 0, faults: [] });
  api = await startPveApi(lab);
});
afterAll(async () => {
  await api.stop();
  rmSync(lab, { recursive: true, force: true });
});

const deps = (token: string | undefined) => ({ http: new FetchHttpClient(), secrets: new MapSecretSource(token === undefined ? {} : { PVE_API_TOKEN: token }), timeoutMs: 5000 });
const conf = (extra: Record<string, string> = {}) => ({ url: api.url, token_secret: 'PVE_API_TOKEN', ca_file: labCaFile(lab), ...extra });

describe('doctor: proxmox.api', () => {
  it('reports the version and a token with every privilege', async () => {
    const checks = await checkProxmoxApi(conf(), deps(labSecretValue(LAB_PVE_TOKEN_SECRET)));
    expect(checks.map((c) => [c.name, c.status])).toEqual([
      ['proxmox.api', 'ok'],
      ['token privileges', 'ok'],
    ]);
    expect(checks[0]?.message).toMatch(/^pve-manager \d+\.\d+\.\d+ at https:\/\/127\.0\.0\.1:\d+ \(token cortex@pve!lab, CA /);
  });

  it('names the privileges a read-only token lacks', async () => {
    const [, privs] = await checkProxmoxApi(conf(), deps(labSecretValue(LAB_PVE_AUDIT_TOKEN_SECRET)));
    expect(privs).toMatchObject({ name: 'token privileges', status: 'problem' });
    expect(privs?.message).toMatch(/^auditor@pve!lab lacks VM\.Allocate, VM\.Clone, /);
    expect(privs?.details).toContain('SDN.Allocate: create_sdn_vnet, delete_sdn_vnet');
  });

  it.each([
    ['an unset secret', undefined, {}, /the token secret PVE_API_TOKEN is not set/],
    ['a secret that is no token', 'hunter2', {}, /does not hold an API token/],
    ['a token the API refuses', 'cortex@pve!lab=00000000-0000-4000-8000-000000000000', {}, /401 Authentication failed!/],
    ['a certificate that is not the pinned one', undefined as string | undefined, { fingerprint: 'AB:'.repeat(31) + 'AB' }, /fingerprint .* is not the pinned AB:AB/],
  ])('a problem for %s', async (_what, token, extra, message) => {
    const checks = await checkProxmoxApi(conf(extra as Record<string, string>), deps(token === undefined && 'fingerprint' in extra ? labSecretValue(LAB_PVE_TOKEN_SECRET) : token));
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ status: 'problem' });
    expect(checks[0]?.message).toMatch(message);
    expect(JSON.stringify(checks)).not.toContain('lab-secret-');
  });

  it('trusts a pinned fingerprint', async () => {
    const fingerprint = fingerprintOf(readFileSync(labCaFile(lab), 'utf8'));
    const checks = await checkProxmoxApi({ url: api.url, token_secret: 'PVE_API_TOKEN', fingerprint }, deps(labSecretValue(LAB_PVE_TOKEN_SECRET)));
    expect(checks.every((c) => c.status === 'ok')).toBe(true);
  });
});
