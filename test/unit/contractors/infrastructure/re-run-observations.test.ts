/**
 * A re-run of an action (a retry, or `cortex resume` after kill -9) must report what the FIRST
 * attempt saw before it changed anything: the compensation undoes to that state. The first attempt
 * runs against Proxmox as it was and is killed at its first change; the second runs against
 * Proxmox as the first left it, with the observations the execution record held at the kill.
 */
import { describe, expect, it } from 'vitest';
import { killPoint, observationStore } from '../runtime-helper.js';
import { compensationOf, runAction } from './helpers.js';
import { J, json, PveFake, RES_VM, upid, vmRes } from './pve-fake.js';

const W2 = vmRes(112, 'k8s-worker-02', 'pve-02');
const BASE = '/nodes/pve-02/qemu/112';

/** Runs the first attempt, killed at its first call that starts with `change`; returns the record's observations then. */
async function killedAt(action: string, params: Record<string, unknown>, before: PveFake, change: string[]): Promise<Record<string, unknown>> {
  const first = observationStore();
  const kill = killPoint(first);
  const reply = before.reply.bind(before);
  before.reply = (args) => {
    if (change.every((c, i) => args[i] === c)) kill.mark();
    return reply(args);
  };
  await runAction(action, params, before, { observed: first });
  return kill.disk();
}

/** The resumed attempt: Proxmox as the killed attempt left it, the observations read back from the record. */
async function resumed(action: string, params: Record<string, unknown>, after: PveFake, disk: Record<string, unknown>) {
  const r = await runAction(action, params, after, { observed: observationStore(disk) });
  expect(r.error).toBeUndefined();
  return { outputs: r.outputs as Record<string, unknown>, calls: r.calls };
}

describe('start_vm / stop_vm killed while the task ran', () => {
  it('start_vm: was_running stays false, so rollback stops the VM again', async () => {
    const start = upid('qmstart', 112, 'pve-02');
    const before = new PveFake()
      .on(RES_VM, json([{ ...W2, status: 'stopped' }]))
      .task(['create', `${BASE}/status/start`], start)
      .get(`${BASE}/status/current`, { status: 'running' });
    const disk = await killedAt('start_vm', { vm: 'k8s-worker-02' }, before, ['create']);
    expect(disk).toEqual({ was_running: false });
    const r = await resumed('start_vm', { vm: 'k8s-worker-02' }, new PveFake().on(RES_VM, json([W2])), disk);
    expect(r.outputs).toEqual({ vmid: 112, node: 'pve-02', status: 'running', was_running: false });
    expect(r.calls).toEqual([RES_VM]);
    expect(compensationOf('start_vm', {}, r.outputs).params).toMatchObject({ vmid: 112, skip: false });
  });

  it('stop_vm: was_stopped stays false, so rollback starts the VM again', async () => {
    const before = new PveFake()
      .on(RES_VM, json([W2]))
      .task(['create', `${BASE}/status/shutdown`, '--timeout', '120', '--forceStop', '1'], upid('qmshutdown', 112, 'pve-02'))
      .get(`${BASE}/status/current`, { status: 'stopped' });
    const disk = await killedAt('stop_vm', { vmid: 112 }, before, ['create']);
    const r = await resumed('stop_vm', { vmid: 112 }, new PveFake().on(RES_VM, json([{ ...W2, status: 'stopped' }])), disk);
    expect(r.outputs).toEqual({ vmid: 112, node: 'pve-02', status: 'stopped', was_stopped: false });
    expect(compensationOf('stop_vm', {}, r.outputs).params).toEqual({ vmid: 112, node: 'pve-02', skip: false });
  });
});

describe('create_sdn_vnet killed part-way', () => {
  const PARAMS = { zone: 'k8s', vnet: 'k8s10', tag: 10, subnet: '10.10.1.0/24', apply: false };
  const ZONE = ['create', '/cluster/sdn/zones', '--zone', 'k8s', '--type', 'vlan', '--bridge', 'vmbr0'];
  const VNET = ['create', '/cluster/sdn/vnets', '--vnet', 'k8s10', '--zone', 'k8s', '--tag', '10'];
  const SUBNET = ['create', '/cluster/sdn/vnets/k8s10/subnets', '--subnet', '10.10.1.0/24', '--type', 'subnet'];
  const fresh = () => new PveFake().get('/cluster/sdn/vnets', []).get('/cluster/sdn/zones', []).on([...ZONE, ...J], json(null)).on([...VNET, ...J], json(null)).on([...SUBNET, ...J], json(null));

  it('after the VNet was created: existed false, zone_created true, so rollback deletes both', async () => {
    const disk = await killedAt('create_sdn_vnet', PARAMS, fresh(), ['create', '/cluster/sdn/vnets']);
    expect(disk).toEqual({ sdn_before: { existed: false, zone_existed: false } });
    const after = new PveFake()
      .get('/cluster/sdn/vnets', [{ vnet: 'k8s10', zone: 'k8s', tag: 10 }])
      .get('/cluster/sdn/vnets/k8s10/subnets', [])
      .on([...SUBNET, ...J], json(null));
    const r = await resumed('create_sdn_vnet', PARAMS, after, disk);
    expect(r.outputs).toEqual({ vnet: 'k8s10', zone: 'k8s', tag: 10, zone_created: true, existed: false, nodes: [] });
    expect(r.calls.filter((c) => c[0] === 'create')).toEqual([[...SUBNET, ...J]]);
    expect(compensationOf('create_sdn_vnet', PARAMS, r.outputs)).toEqual({ action: 'delete_sdn_vnet', params: { vnet: 'k8s10', zone: 'k8s', delete_zone: true, skip: false, apply: true } });
  });

  it('after only the zone was created: the re-run creates the VNet and still reports the zone as its own', async () => {
    const disk = await killedAt('create_sdn_vnet', PARAMS, fresh(), ['create', '/cluster/sdn/zones']);
    const after = new PveFake()
      .get('/cluster/sdn/vnets', [])
      .get('/cluster/sdn/zones', [{ zone: 'k8s', type: 'vlan' }])
      .on([...VNET, ...J], json(null))
      .on([...SUBNET, ...J], json(null));
    const r = await resumed('create_sdn_vnet', PARAMS, after, disk);
    expect(r.outputs).toMatchObject({ zone_created: true, existed: false });
    expect(r.calls.filter((c) => c[0] === 'create')).toEqual([[...VNET, ...J], [...SUBNET, ...J]]);
  });
});

describe('apply_firewall_rules killed while setting the options', () => {
  const CONFIG = { name: 'k8s-worker-02', ipconfig0: 'ip=10.10.1.21/24,gw=10.10.1.1' };
  const PARAMS = { vmid: 112, policy: 'deny_all', rules: [{ id: 'ssh', type: 'in', action: 'ACCEPT', proto: 'tcp', dport: 22, source: 'bastion_host' }] };
  const ADD = ['create', `${BASE}/firewall/rules`, '--type', 'in', '--action', 'ACCEPT', '--proto', 'tcp', '--dport', '22', '--source', 'bastion_host', '--enable', '1', '--comment', 'cortex:ssh'];
  const SSH = { pos: 0, type: 'in', action: 'ACCEPT', proto: 'tcp', dport: '22', source: 'bastion_host', enable: 1, comment: 'cortex:ssh' };

  it('the previous options are those before the first attempt, so rollback turns the firewall off again', async () => {
    const before = new PveFake()
      .on(RES_VM, json([W2]))
      .get(`${BASE}/config`, CONFIG)
      .get('/cluster/firewall/options', { enable: 1 })
      .on(['get', `${BASE}/firewall/rules`, ...J], json([]), json([SSH]))
      .on([...ADD, ...J], json(null))
      .get(`${BASE}/firewall/options`, {})
      .on(['set', `${BASE}/firewall/options`, '--enable', '1', '--policy_in', 'DROP', '--policy_out', 'DROP', ...J], json(null));
    const disk = await killedAt('apply_firewall_rules', PARAMS, before, ['set', `${BASE}/firewall/options`]);
    const after = new PveFake()
      .on(RES_VM, json([W2]))
      .get(`${BASE}/config`, CONFIG)
      .get('/cluster/firewall/options', { enable: 1 })
      .get(`${BASE}/firewall/rules`, [SSH])
      .get(`${BASE}/firewall/options`, { enable: 1, policy_in: 'DROP', policy_out: 'DROP' });
    const r = await resumed('apply_firewall_rules', PARAMS, after, disk);
    expect(r.outputs).toEqual({ vmid: 112, node: 'pve-02', rule_ids: ['ssh'], rules_added: 0, previous_policy_in: null, previous_policy_out: null, previous_enable: false, datacenter_firewall_enabled: false, nic_firewall_enabled: [] });
    // The resumed attempt changes nothing: the options it reads fresh are already as wanted.
    expect(r.calls.every((c) => c[0] === 'get')).toBe(true);
    expect(compensationOf('apply_firewall_rules', PARAMS, r.outputs).params).toMatchObject({ enable_firewall: false, policy_in: null, policy_out: null });
  });
});

describe('apply_firewall_rules with enforce_firewall killed after turning the datacenter firewall on', () => {
  it('the re-run still reports it turned it on, so rollback turns it off again', async () => {
    const CONFIG = { name: 'k8s-worker-02', net0: 'virtio=BC:24:11:00:00:70,bridge=vmbr0,firewall=1' };
    const PARAMS = { vmid: 112, enforce_firewall: true, rules: [{ id: 'ssh', type: 'in', action: 'ACCEPT', proto: 'tcp', dport: 22 }] };
    const before = new PveFake().on(RES_VM, json([W2])).get(`${BASE}/config`, CONFIG).get('/cluster/firewall/options', { enable: 0 }).on(['set', '/cluster/firewall/options', '--enable', '1', ...J], json(null));
    const disk = await killedAt('apply_firewall_rules', PARAMS, before, ['set', '/cluster/firewall/options']);
    expect(disk).toEqual({ firewall_enforcement: { datacenter_off: true, nics: [] } });
    const SSH = { pos: 0, type: 'in', action: 'ACCEPT', proto: 'tcp', dport: '22', enable: 1, comment: 'cortex:ssh' };
    const after = new PveFake()
      .on(RES_VM, json([W2]))
      .get(`${BASE}/config`, CONFIG)
      .get('/cluster/firewall/options', { enable: 1 })
      .get(`${BASE}/firewall/rules`, [SSH])
      .get(`${BASE}/firewall/options`, { enable: 1 });
    const r = await resumed('apply_firewall_rules', PARAMS, after, disk);
    expect(r.outputs).toMatchObject({ datacenter_firewall_enabled: true, nic_firewall_enabled: [] });
    expect(r.calls.every((c) => c[0] === 'get')).toBe(true);
  });
});

describe('update_load_balancer killed after the old backend was removed', () => {
  const SET = 'lb-prod-lb-01-web-api';
  const IPSETS = ['get', '/cluster/firewall/ipset', ...J];
  const ENTRIES = ['get', `/cluster/firewall/ipset/${SET}`, ...J];
  const PARAMS = { load_balancer: 'prod-lb-01', backend_pool: 'web-api', action: 'replace_backends', backend_config: { version: 'v2', servers: ['10.10.1.30'], port: 30080 } };
  const OLD = [{ cidr: '10.10.1.20', comment: 'cortex:v1:30080' }];
  const NEW = { cidr: '10.10.1.30', comment: 'cortex:v2:30080' };
  const ADD = ['create', `/cluster/firewall/ipset/${SET}`, '--cidr', '10.10.1.30', '--comment', NEW.comment, ...J];

  it('previous_entries is the pool before the first attempt (not the empty pool it left), so rollback restores v1', async () => {
    const before = new PveFake()
      .on(IPSETS, json([{ name: SET }]))
      .on(ENTRIES, json(OLD), json([NEW]))
      .on(['delete', `/cluster/firewall/ipset/${SET}/10.10.1.20`, ...J], json(null))
      .on(ADD, json(null));
    const disk = await killedAt('update_load_balancer', PARAMS, before, ['delete']);
    const after = new PveFake().on(IPSETS, json([{ name: SET }])).on(ENTRIES, json([]), json([NEW])).on(ADD, json(null));
    const r = await resumed('update_load_balancer', PARAMS, after, disk);
    expect(r.outputs).toMatchObject({ entries: 1, added: [NEW], removed: [], previous_entries: OLD });
    expect(compensationOf('update_load_balancer', PARAMS, r.outputs).params).toMatchObject({ action: 'restore', entries: OLD });
  });
});
