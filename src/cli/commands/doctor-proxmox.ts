/**
 * doctor's checks of the Proxmox HTTPS API (proxmox.api): the token's secret, the API's answer
 * (`GET /version`: reachable, TLS trusted, token accepted) and the token's privileges
 * (`GET /access/permissions`) against those cortex's infrastructure actions need.
 */
import type { ProxmoxApiConfig } from '../../config/config.js';
import { API_TOKEN_PATTERN, apiErrorText, apiRequest } from '../../contractors/infrastructure/pve-transport.js';
import type { HttpClient } from '../../ports/http-client.js';
import { HttpTransportError } from '../../ports/http-client.js';
import type { SecretSource } from '../../ports/secret-source.js';

/** One line of doctor's report (doctor.ts DoctorCheck). */
export interface ProxmoxCheck {
  check: string;
  name: string;
  status: 'ok' | 'warning' | 'problem';
  message: string;
  fix?: string;
  details?: string[];
}

/**
 * Privileges the infrastructure actions need, by the API methods' permission checks (proxmox/
 * pve-docs apidata.js @ e5010dce, and qemu-server's clone for Datastore.AllocateSpace). Either
 * name of a pair is enough (VM.Monitor ran the guest agent before Proxmox VE 9).
 */
const NEEDED: Array<{ privilege: string | [string, string]; for: string }> = [
  { privilege: 'Sys.Audit', for: 'cluster status, replication, firewall reads' },
  { privilege: 'VM.Audit', for: 'every VM lookup' },
  { privilege: 'VM.Allocate', for: 'provision_vm, destroy_vm' },
  { privilege: 'VM.Clone', for: 'provision_vm (clone of the template)' },
  { privilege: 'Datastore.AllocateSpace', for: 'provision_vm (disks of the clone)' },
  { privilege: 'VM.Config.Disk', for: 'provision_vm (resize)' },
  { privilege: 'VM.Config.CPU', for: 'provision_vm' },
  { privilege: 'VM.Config.Memory', for: 'provision_vm' },
  { privilege: 'VM.Config.Network', for: 'provision_vm, apply_firewall_rules' },
  { privilege: 'VM.Config.Options', for: 'provision_vm (tags, description)' },
  { privilege: 'VM.Config.Cloudinit', for: 'provision_vm (ipconfig, nameserver)' },
  { privilege: 'VM.PowerMgmt', for: 'start_vm, stop_vm' },
  { privilege: 'VM.Snapshot', for: 'create_vm_snapshot, delete_vm_snapshot' },
  { privilege: 'VM.Snapshot.Rollback', for: 'rollback_vm_snapshot' },
  { privilege: ['VM.GuestAgent.Unrestricted', 'VM.Monitor'], for: 'verify_load_balancer_health (guest agent)' },
  { privilege: 'Sys.Modify', for: 'update_load_balancer (IPSets), cluster firewall options' },
  { privilege: 'SDN.Allocate', for: 'create_sdn_vnet, delete_sdn_vnet' },
  { privilege: 'SDN.Use', for: 'VMs on an SDN VNet' },
];

/** Where a privilege may be granted for cortex's use of it (a grant on / covers all). */
function areasOf(privilege: string): string[] {
  if (privilege.startsWith('VM.')) return ['/', '/vms'];
  if (privilege.startsWith('Datastore.')) return ['/', '/storage'];
  if (privilege.startsWith('SDN.')) return ['/', '/sdn', '/sdn/zones'];
  return ['/', '/nodes'];
}

function has(perms: Record<string, Record<string, unknown>>, privilege: string): boolean {
  return areasOf(privilege).some((p) => perms[p]?.[privilege] !== undefined);
}

export async function checkProxmoxApi(api: ProxmoxApiConfig, deps: { http: HttpClient; secrets: SecretSource; timeoutMs: number }): Promise<ProxmoxCheck[]> {
  const name = 'proxmox.api';
  let token: string | undefined;
  try {
    token = (await deps.secrets.get(api.token_secret))?.trim().replace(/^PVEAPIToken=/, '');
  } catch (e) {
    return [{ check: 'proxmox-api', name, status: 'problem', message: `secret ${api.token_secret}: ${(e as Error).message}` }];
  }
  if (!token) return [{ check: 'proxmox-api', name, status: 'problem', message: `the token secret ${api.token_secret} is not set`, fix: `set ${deps.secrets.describe(api.token_secret)} to USER@REALM!TOKENID=SECRET (mode 600)` }];
  if (!API_TOKEN_PATTERN.test(token)) {
    return [{ check: 'proxmox-api', name, status: 'problem', message: `secret ${api.token_secret} does not hold an API token`, fix: 'set it to USER@REALM!TOKENID=SECRET (pveum user token add <user> <tokenid> prints the secret once)' }];
  }
  const tls = api.ca_file || api.fingerprint ? { tls: { ...(api.ca_file ? { caFile: api.ca_file } : {}), ...(api.fingerprint ? { fingerprint: api.fingerprint } : {}) } } : {};
  const get = async (path: string) => {
    const req = apiRequest(api.url, 'get', path);
    return deps.http.request({ method: 'GET', url: req.url, headers: { authorization: `PVEAPIToken=${token}`, accept: 'application/json' }, timeoutMs: deps.timeoutMs, ...tls });
  };
  const tokenId = token.slice(0, token.indexOf('='));
  const out: ProxmoxCheck[] = [];
  try {
    const v = await get('/version');
    if (v.status !== 200) {
      const text = apiErrorText(v.status, v.statusText, safeJson(v.body));
      return [{ check: 'proxmox-api', name, status: 'problem', message: `GET ${api.url} /version: ${text}`, fix: v.status === 401 ? `the API refused token ${tokenId}: check secret ${api.token_secret} (mistyped, expired or removed?)` : 'check proxmox.api.url (https://<node>:8006)' }];
    }
    const version = (safeJson(v.body) as { data?: { version?: string } } | undefined)?.data?.version ?? '?';
    out.push({ check: 'proxmox-api', name, status: 'ok', message: `pve-manager ${version} at ${api.url} (token ${tokenId}${api.fingerprint ? ', certificate fingerprint pinned' : api.ca_file ? `, CA ${api.ca_file}` : ''})` });
  } catch (e) {
    const tlsProblem = e instanceof HttpTransportError && e.code === 'tls';
    return [
      {
        check: 'proxmox-api',
        name,
        status: 'problem',
        message: `${api.url}: ${(e as Error).message}`,
        fix: tlsProblem ? "pin the node's certificate: proxmox.api.fingerprint (the web UI's Certificates page shows it) or proxmox.api.ca_file (/etc/pve/pve-root-ca.pem)" : 'check that the node is reachable from here on port 8006',
      },
    ];
  }
  try {
    const p = await get('/access/permissions');
    const perms = (safeJson(p.body) as { data?: Record<string, Record<string, unknown>> } | undefined)?.data;
    if (p.status !== 200 || !perms) {
      out.push({ check: 'proxmox-api', name: 'token privileges', status: 'warning', message: `GET /access/permissions: ${apiErrorText(p.status, p.statusText, safeJson(p.body))}` });
      return out;
    }
    const missing = NEEDED.filter((n) => !(Array.isArray(n.privilege) ? n.privilege.some((x) => has(perms, x)) : has(perms, n.privilege)));
    if (missing.length === 0) out.push({ check: 'proxmox-api', name: 'token privileges', status: 'ok', message: `${tokenId} has every privilege cortex uses` });
    else {
      out.push({
        check: 'proxmox-api',
        name: 'token privileges',
        status: 'problem',
        message: `${tokenId} lacks ${missing.map((m) => (Array.isArray(m.privilege) ? m.privilege.join(' or ') : m.privilege)).join(', ')}`,
        details: missing.map((m) => `${Array.isArray(m.privilege) ? m.privilege.join(' or ') : m.privilege}: ${m.for}`),
        fix: `grant a role with them on / (e.g. pveum acl modify / --tokens '${tokenId}' --roles PVEAdmin; with privilege separation the token needs its own ACL)`,
      });
    }
  } catch (e) {
    out.push({ check: 'proxmox-api', name: 'token privileges', status: 'warning', message: `GET /access/permissions: ${(e as Error).message}` });
  }
  return out;
}

function safeJson(text: string): unknown {
  try {
    return text.trim() ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}
