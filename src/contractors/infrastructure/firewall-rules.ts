import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, ActionRuntime, PlannedStep } from '../action-impl.js';
import { ruleComment, ruleIdOf } from './names.js';
import { planCall, Pvesh, type PveParams } from './pvesh.js';
import { vmPath } from './vm-power.js';
import { configuredIps, describeSelector, parseNet, planVm, requireVm, vmConfig, type ClusterVm, type VmSelector } from './vms.js';

type Port = number | string;

interface Exception {
  source: string;
  destination: string;
  port?: Port;
  protocol?: string;
  purpose: string;
}

interface RuleParam {
  id: string;
  type: 'in' | 'out';
  action: string;
  proto?: string;
  dport?: Port;
  sport?: Port;
  source?: string;
  dest?: string;
  macro?: string;
  log?: string;
  enable?: boolean;
}

interface ApplyParams extends VmSelector {
  policy?: 'deny_all' | 'allow_all' | 'keep';
  exceptions?: Exception[];
  rules?: RuleParam[];
  enable_firewall?: boolean;
  enforce_firewall?: boolean;
}

interface FwRule {
  pos: number;
  type?: string;
  action?: string;
  proto?: string;
  dport?: string | number;
  sport?: string | number;
  source?: string;
  dest?: string;
  macro?: string;
  log?: string;
  enable?: number;
  comment?: string;
}

interface FwOptions {
  enable?: number;
  policy_in?: string;
  policy_out?: string;
}

const RULE_FIELDS = ['type', 'action', 'proto', 'dport', 'sport', 'source', 'dest', 'macro', 'log'] as const;

/** The exceptions as VM-level rules: the side that names the target VM is left out. */
export function exceptionRules(exceptions: Exception[], namesTarget: (v: string) => boolean): RuleParam[] {
  return exceptions.map((ex) => {
    const toTarget = namesTarget(ex.destination);
    const fromTarget = namesTarget(ex.source);
    const proto = ex.protocol ?? (ex.port !== undefined ? 'tcp' : undefined);
    const base = { id: ex.purpose, action: 'ACCEPT', ...(proto ? { proto } : {}), ...(ex.port !== undefined ? { dport: ex.port } : {}) };
    if (fromTarget && !toTarget) return { ...base, type: 'out' as const, dest: ex.destination };
    if (toTarget && !fromTarget) return { ...base, type: 'in' as const, source: ex.source };
    if (toTarget && fromTarget) return { ...base, type: 'in' as const };
    return { ...base, type: 'in' as const, source: ex.source, dest: ex.destination };
  });
}

export function ruleParams(r: RuleParam): PveParams {
  return [
    ['type', r.type],
    ['action', r.action],
    ['macro', r.macro],
    ['proto', r.proto],
    ['dport', r.dport],
    ['sport', r.sport],
    ['source', r.source],
    ['dest', r.dest],
    ['log', r.log],
    ['enable', r.enable === false ? 0 : 1],
    ['comment', ruleComment(r.id)],
  ];
}

function sameRule(existing: FwRule, wanted: RuleParam): boolean {
  const norm = (v: unknown) => (v === undefined || v === null ? '' : String(v));
  return (
    RULE_FIELDS.every((f) => norm(existing[f]) === norm((wanted as unknown as Record<string, unknown>)[f])) &&
    (existing.enable ?? 0) === (wanted.enable === false ? 0 : 1)
  );
}

function policyParams(p: ApplyParams): PveParams {
  const enable = p.enable_firewall !== false;
  const policy = p.policy ?? 'keep';
  return [
    ['enable', enable ? 1 : undefined],
    ['policy_in', policy === 'deny_all' ? 'DROP' : policy === 'allow_all' ? 'ACCEPT' : undefined],
    ['policy_out', policy === 'deny_all' ? 'DROP' : policy === 'allow_all' ? 'ACCEPT' : undefined],
  ];
}

/** The VM's NICs without firewall=1: Proxmox compiles no VM rule for traffic on them. */
function nicsWithoutFirewall(config: Record<string, unknown>): string[] {
  return Object.keys(config)
    .filter((k) => /^net\d+$/.test(k) && parseNet(config[k])?.firewall !== true)
    .sort();
}

/** A NIC's config with firewall=<on> (the rest, MAC included, kept). */
export function withNicFirewall(value: string, on: boolean): string {
  const parts = String(value).split(',').filter((p) => !p.startsWith('firewall='));
  return [...parts, ...(on ? ['firewall=1'] : [])].join(',');
}

const CLUSTER_OPTIONS = '/cluster/firewall/options';

/**
 * VM rules are only in force when the datacenter firewall is on (off on a new cluster) and the
 * NIC has firewall=1: otherwise Proxmox compiles no rule at all. Turns them on when asked,
 * else refuses before changing anything.
 */
async function ensureEnforced(rt: ActionRuntime, pv: Pvesh, vm: ClusterVm, p: ApplyParams, config: Record<string, unknown>): Promise<{ datacenter: boolean; nics: string[] }> {
  const cluster = ((await pv.get<{ enable?: number | string }>(CLUSTER_OPTIONS)) ?? {}) as { enable?: number | string };
  // What was off before the first attempt turned anything on (a re-run finds it on).
  const before = await rt.remember('firewall_enforcement', async () => ({ datacenter_off: Number(cluster.enable ?? 0) === 0, nics: nicsWithoutFirewall(config) }));
  const dcOff = Number(cluster.enable ?? 0) === 0;
  const nicsOff = nicsWithoutFirewall(config);
  if ((dcOff || nicsOff.length) && !p.enforce_firewall) {
    const why = [...(dcOff ? ['the datacenter firewall is disabled (/cluster/firewall/options enable 0)'] : []), ...(nicsOff.length ? [`${nicsOff.join(', ')} of VM ${vm.vmid} lack${nicsOff.length === 1 ? 's' : ''} firewall=1`] : [])];
    throw new ActionFailedError(`the firewall rules would not be in force on VM ${vm.vmid}: ${why.join(' and ')}`, {
      errorCode: 'firewall_not_enforced',
      retryable: false,
      hint: 'set enforce_firewall: true to turn them on (the datacenter switch affects every node), or enable them in Proxmox (Datacenter > Firewall > Options; the VM\'s network device > Firewall)',
    });
  }
  if (dcOff) await pv.call('set', CLUSTER_OPTIONS, [['enable', 1]], { errorCode: 'firewall_update_failed', what: 'enable the datacenter firewall' });
  for (const nic of nicsOff) {
    await pv.call('set', `${vmPath(vm.node, vm.vmid)}/config`, [[nic, withNicFirewall(String(config[nic]), true)]], { errorCode: 'firewall_update_failed', what: `set firewall=1 on ${nic} of VM ${vm.vmid}` });
  }
  return { datacenter: before.datacenter_off, nics: before.nics };
}

async function targetNamer(pv: Pvesh, vm: ClusterVm, p: VmSelector, config?: Record<string, unknown>): Promise<(v: string) => boolean> {
  const ips = configuredIps(config ?? (await vmConfig(pv, vm.node, vm.vmid)));
  const names = new Set([vm.name, String(vm.vmid), ...ips, ...(p.target !== undefined ? [String(p.target)] : []), ...(p.vm !== undefined ? [String(p.vm)] : [])]);
  return (v: string) => names.has(v) || names.has(v.replace(/\/32$/, ''));
}

function desiredOf(p: ApplyParams, namesTarget: (v: string) => boolean): RuleParam[] {
  const rules = [...exceptionRules(p.exceptions ?? [], namesTarget), ...(p.rules ?? [])];
  const seen = new Set<string>();
  for (const r of rules) {
    if (seen.has(r.id)) throw new ActionFailedError(`rule id "${r.id}" is used twice`, { errorCode: 'invalid_parameters', retryable: false });
    seen.add(r.id);
  }
  return rules;
}

async function listRules(pv: Pvesh, base: string): Promise<FwRule[]> {
  const r = await pv.get<FwRule[]>(`${base}/firewall/rules`);
  return Array.isArray(r) ? r : [];
}

async function deletePositions(pv: Pvesh, base: string, positions: number[]): Promise<void> {
  for (const pos of [...new Set(positions)].sort((a, b) => b - a)) {
    await pv.call('delete', `${base}/firewall/rules/${pos}`, [], { errorCode: 'firewall_update_failed', what: `delete firewall rule ${pos}` });
  }
}

export const applyFirewallRulesAction: ActionImpl = {
  plan(params) {
    const p = params as ApplyParams;
    const { node, vmid } = planVm(p);
    const base = vmPath(node, vmid);
    const steps: PlannedStep[] = [
      planCall('get', '/cluster/resources', [['type', 'vm']], `find ${describeSelector(p)}`),
      planCall('get', `${base}/config`),
      planCall('get', CLUSTER_OPTIONS, [], p.enforce_firewall ? 'the datacenter firewall must be on' : 'fail unless the datacenter firewall is on and every NIC has firewall=1'),
      ...(p.enforce_firewall
        ? [planCall('set', CLUSTER_OPTIONS, [['enable', 1]], 'when it is off'), planCall('set', `${base}/config`, [['net<n>', '<nic>,firewall=1']], 'for each NIC without firewall=1')]
        : []),
      planCall('get', `${base}/firewall/rules`),
      planCall('delete', `${base}/firewall/rules/<pos>`, [], 'stale rules tagged cortex:<id>, highest pos first'),
    ];
    const desired = desiredOf(p, (v) => v === String(p.target ?? p.vm ?? p.name ?? p.vmid));
    for (const r of [...desired].reverse()) steps.push(planCall('create', `${base}/firewall/rules`, ruleParams(r), 'when missing'));
    steps.push(planCall('get', `${base}/firewall/options`));
    steps.push(planCall('set', `${base}/firewall/options`, policyParams(p)));
    steps.push(planCall('get', `${base}/firewall/rules`, [], 'confirm'));
    return steps;
  },

  async run(rt) {
    const p = rt.params as ApplyParams;
    const pv = new Pvesh(rt);
    const vm = await requireVm(pv, p);
    const base = vmPath(vm.node, vm.vmid);
    const config = await vmConfig(pv, vm.node, vm.vmid);
    const desired = desiredOf(p, await targetNamer(pv, vm, p, config));
    const enforced = await ensureEnforced(rt, pv, vm, p, config);

    const existing = await listRules(pv, base);
    const stale: number[] = [];
    const missing: RuleParam[] = [];
    for (const want of desired) {
      const tagged = existing.filter((r) => ruleIdOf(r.comment) === want.id);
      if (tagged.length === 1 && sameRule(tagged[0] as FwRule, want)) continue;
      stale.push(...tagged.map((r) => r.pos));
      missing.push(want);
    }
    await deletePositions(pv, base, stale);
    // A rule created without --pos goes to the top: create in reverse to keep the given order.
    for (const r of [...missing].reverse()) {
      await pv.call('create', `${base}/firewall/rules`, ruleParams(r), { errorCode: 'firewall_update_failed', what: `add firewall rule cortex:${r.id} to VM ${vm.vmid}` });
    }

    const current = ((await pv.get<FwOptions>(`${base}/firewall/options`)) ?? {}) as FwOptions;
    // The options before the first attempt changed them (a re-run finds that attempt's policy).
    const previous = await rt.remember('previous_firewall_options', async () => ({
      // null: the option was unset; the undo removes it again instead of pinning the default.
      previous_policy_in: current.policy_in ?? null,
      previous_policy_out: current.policy_out ?? null,
      previous_enable: current.enable === 1,
    }));
    const wanted = policyParams(p).filter(([k, v]) => v !== undefined && String((current as Record<string, unknown>)[k] ?? (k === 'enable' ? 0 : '')) !== String(v));
    if (wanted.length > 0) {
      await pv.call('set', `${base}/firewall/options`, wanted, { errorCode: 'firewall_update_failed', what: `set the firewall options of VM ${vm.vmid}` });
    }

    const after = await listRules(pv, base);
    const absent = desired.filter((d) => after.filter((r) => ruleIdOf(r.comment) === d.id).length !== 1);
    if (absent.length > 0) {
      throw new ActionFailedError(`firewall rules ${absent.map((r) => `cortex:${r.id}`).join(', ')} are not (exactly once) on VM ${vm.vmid} after adding them`, {
        errorCode: 'firewall_update_failed',
        retryable: true,
      });
    }
    return { vmid: vm.vmid, node: vm.node, rule_ids: desired.map((r) => r.id), rules_added: missing.length, ...previous, datacenter_firewall_enabled: enforced.datacenter, nic_firewall_enabled: enforced.nics };
  },
};

interface RemoveParams extends VmSelector {
  rule_ids: string[];
  policy_in?: string | null;
  policy_out?: string | null;
  enable_firewall?: boolean;
  /** NICs apply_firewall_rules set firewall=1 on: set back to off. */
  nic_firewall_off?: string[];
  /** apply_firewall_rules turned the datacenter firewall on: turn it off again. */
  disable_datacenter_firewall?: boolean;
}

function restoreParams(p: RemoveParams): PveParams {
  const unset = (['policy_in', 'policy_out'] as const).filter((k) => p[k] === null);
  return [
    ['enable', p.enable_firewall === undefined ? undefined : p.enable_firewall ? 1 : 0],
    ['policy_in', p.policy_in ?? undefined],
    ['policy_out', p.policy_out ?? undefined],
    ['delete', unset.length ? unset.join(',') : undefined],
  ];
}

export const removeFirewallRulesAction: ActionImpl = {
  plan(params) {
    const p = params as unknown as RemoveParams;
    const { node, vmid } = planVm(p);
    const base = vmPath(node, vmid);
    const steps: PlannedStep[] = [
      planCall('get', '/cluster/resources', [['type', 'vm']], `find ${describeSelector(p)}`),
      planCall('get', `${base}/firewall/rules`),
      planCall('delete', `${base}/firewall/rules/<pos>`, [], `rules tagged ${p.rule_ids.map(ruleComment).join(', ') || '(none)'}, highest pos first`),
    ];
    if (restoreParams(p).some(([, v]) => v !== undefined)) steps.push(planCall('set', `${base}/firewall/options`, restoreParams(p)));
    for (const nic of p.nic_firewall_off ?? []) steps.push(planCall('set', `${base}/config`, [[nic, `<${nic} without firewall=1>`]]));
    if (p.disable_datacenter_firewall) steps.push(planCall('set', CLUSTER_OPTIONS, [['enable', 0]], 'cortex turned it on'));
    return steps;
  },

  async run(rt) {
    const p = rt.params as unknown as RemoveParams;
    const pv = new Pvesh(rt);
    const vm = await requireVm(pv, p);
    const base = vmPath(vm.node, vm.vmid);
    const ids = new Set(p.rule_ids);
    const positions = (await listRules(pv, base)).filter((r) => ids.has(ruleIdOf(r.comment) ?? '')).map((r) => r.pos);
    await deletePositions(pv, base, positions);
    const restore = restoreParams(p);
    if (restore.some(([, v]) => v !== undefined)) {
      await pv.call('set', `${base}/firewall/options`, restore, { errorCode: 'firewall_update_failed', what: `restore the firewall options of VM ${vm.vmid}` });
    }
    if (p.nic_firewall_off?.length) {
      const config = await vmConfig(pv, vm.node, vm.vmid);
      for (const nic of p.nic_firewall_off) {
        if (typeof config[nic] !== 'string') continue;
        await pv.call('set', `${base}/config`, [[nic, withNicFirewall(config[nic] as string, false)]], { errorCode: 'firewall_update_failed', what: `turn the firewall of ${nic} of VM ${vm.vmid} off again` });
      }
    }
    if (p.disable_datacenter_firewall) await pv.call('set', CLUSTER_OPTIONS, [['enable', 0]], { errorCode: 'firewall_update_failed', what: 'turn the datacenter firewall off again' });
    return { vmid: vm.vmid, node: vm.node, removed: positions.length };
  },
};
