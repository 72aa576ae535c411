import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cortex, PROJECT } from './helpers.js';
import { referencePath } from '../helpers/shared.js';

/** A temporary root with the built-in workflows (and, on request, the reference templates) and its lab. */
export function labRoot(options: { reference?: boolean } = {}): { root: string; lab: string } {
  const root = mkdtempSync(join(tmpdir(), 'cortex-lab-'));
  cpSync(join(PROJECT, 'coordination', 'workflows'), join(root, 'workflows'), {
    recursive: true,
    filter: (src) => !/\/(active|history|metrics|locks)(\/|$)/.test(src),
  });
  // The shipped config.yaml too: the lab must work with it as the quick start does.
  cpSync(join(PROJECT, 'coordination', 'config.yaml'), join(root, 'config.yaml'));
  if (options.reference) {
    mkdirSync(join(root, 'workflows'), { recursive: true });
    cpSync(referencePath('deployment-workflow.json'), join(root, 'workflows', 'ref-deployment.json'));
  }
  return { root, lab: join(root, 'lab') };
}

export const INCIDENT_PARAMS = [
  '-p',
  'incident_type=node_compromise',
  '-p',
  'severity=critical',
  '-p',
  'affected_resource={"type":"node","identifier":"k8s-worker-02","ip_address":"10.10.1.21","cluster":"prod-k8s-01"}',
  '-p',
  'initial_indicators={"source":"falco","rule_triggered":"Drop and execute new binary in container","timestamp":"2026-11-25T18:52:41Z"}',
];

export const REFERENCE_DEPLOY_PARAMS = ['-p', 'require_approval=false', '-p', 'repository=web-api', '-p', 'environment=production', '-p', 'cluster=prod-k8s-01', '-p', 'namespace=production', '-p', 'image_tag=abc1234'];

function readState<T>(lab: string, name: string): T {
  return JSON.parse(readFileSync(join(lab, 'state', `${name}.json`), 'utf8')) as T;
}

interface PveVm {
  vmid: number;
  name: string;
  status: string;
  template: boolean;
  snapshots: Array<{ name: string }>;
  firewall?: { options?: Record<string, unknown>; rules?: unknown[] };
  config?: { tags?: string };
}

/**
 * What rollback must restore, read from the lab's state files: VMs (status, snapshots, firewall),
 * load-balancer pools, SDN vnets, Helm releases, cordoned nodes, network policies, deployment
 * images and replicas, n8n workflows, DNS records. Talos members and Kubernetes Nodes are left
 * out: in the lab they outlive the VMs they ran on (one API server stands for every cluster).
 */
export function labSnapshot(lab: string): Record<string, unknown> {
  const pve = readState<{ vms: PveVm[] | Record<string, PveVm>; ipsets?: unknown; sdn?: unknown }>(lab, 'pve');
  const vms = (Array.isArray(pve.vms) ? pve.vms : Object.values(pve.vms)).filter((v) => !v.template);
  const helm = readState<{ releases: Record<string, Record<string, Array<{ revision: number; status: string; chart_version?: string }>>> }>(lab, 'helm');
  const releases: Record<string, string> = {};
  for (const [ns, byName] of Object.entries(helm.releases ?? {})) {
    for (const [name, revs] of Object.entries(byName)) {
      const live = revs.filter((r) => r.status === 'deployed');
      if (live.length) releases[`${ns}/${name}`] = String(live[live.length - 1]?.chart_version ?? 'deployed');
    }
  }
  const kube = readState<{ objects: Record<string, Record<string, { metadata: { name: string; namespace?: string }; spec?: Record<string, unknown> }>> }>(lab, 'kube');
  const nodes = Object.values(kube.objects.nodes ?? {});
  const deployments = Object.values(kube.objects['deployments.apps'] ?? {}).map((d) => {
    const spec = d.spec as { replicas?: number; template?: { spec?: { containers?: Array<{ image?: string }> } } } | undefined;
    return `${d.metadata.namespace}/${d.metadata.name} x${spec?.replicas} ${(spec?.template?.spec?.containers ?? []).map((c) => c.image).join(',')}`;
  });
  const http = readState<{ n8n?: { workflows?: Record<string, { name: string; active: boolean }> | Array<{ name: string; active: boolean }> }; dns?: unknown }>(lab, 'http');
  const wfs = http.n8n?.workflows ? (Array.isArray(http.n8n.workflows) ? http.n8n.workflows : Object.values(http.n8n.workflows)) : [];
  return {
    vms: vms.map((v) => `${v.name} ${v.status} snaps=[${v.snapshots.map((s) => s.name).join(',')}] fw=${JSON.stringify(v.firewall ?? {})}`).sort(),
    ipsets: pve.ipsets,
    sdn: pve.sdn,
    releases,
    cordoned: nodes.filter((n) => (n.spec as { unschedulable?: boolean } | undefined)?.unschedulable).map((n) => n.metadata.name).sort(),
    network_policies: Object.keys(kube.objects['networkpolicies.networking.k8s.io'] ?? {}).sort(),
    deployments: deployments.sort(),
    n8n_workflows: wfs.map((w) => `${w.name} ${w.active}`).sort(),
    dns: (http as { dns?: unknown }).dns ?? null,
  };
}

export async function labShow(root: string, lab: string): Promise<{ state: Record<string, Record<string, unknown>>; invocations: Record<string, number>; requests: Record<string, number> }> {
  const res = await cortex(['lab', 'show', '--json', '--lab', lab], { root });
  return JSON.parse(res.stdout) as { state: Record<string, Record<string, unknown>>; invocations: Record<string, number>; requests: Record<string, number> };
}

export function requestLog(lab: string): Array<{ service: string; method: string; path: string; status: number; action?: string | null }> {
  const p = join(lab, 'requests.jsonl');
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

export function invocationLog(lab: string): Array<{ tool: string; args: string[]; action_id: string | null; attempt: number; execution_id: string | null }> {
  const p = join(lab, 'invocations.jsonl');
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

export function historyRecords(root: string): Array<Record<string, unknown>> {
  const dir = join(root, 'workflows', 'history');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>);
}
